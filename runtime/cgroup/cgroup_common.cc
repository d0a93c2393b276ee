#include "runtime/cgroup/cgroup_common.h"

#include <signal.h>

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"

namespace berth {

absl::StatusOr<CgroupPath> ParseCgroupPath(absl::string_view path) {
  if (path.empty()) return absl::InvalidArgumentError("cgroup path is empty");
  if (path.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("cgroup path contains a NUL byte");
  }
  CgroupPath out;
  out.absolute = path.front() == '/';
  for (absl::string_view c : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    // ".." would escape the cgroup we were given; "." only hides what a path means.
    if (c == ".." || c == ".") {
      return absl::InvalidArgumentError(
          absl::StrCat("cgroup path \"", path, "\" has a \"", c, "\" component"));
    }
    out.components.emplace_back(c);
  }
  if (out.components.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cgroup path \"", path, "\" names the hierarchy root"));
  }
  return out;
}

std::string JoinCgroupDir(absl::string_view base, absl::string_view name) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  while (!name.empty() && name.front() == '/') name.remove_prefix(1);
  if (name.empty()) return std::string(base.empty() ? "/" : base);
  return absl::StrCat(base, "/", name);
}

std::string CgroupBaseDir(absl::string_view mount_point, absl::string_view own_path,
                          const CgroupPath& path) {
  return path.absolute ? JoinCgroupDir(mount_point, "") : JoinCgroupDir(mount_point, own_path);
}

std::string AbsoluteCgroupPath(absl::string_view own_path, const CgroupPath& path) {
  std::string out = path.absolute ? "" : std::string(own_path);
  while (!out.empty() && out.back() == '/') out.pop_back();
  for (const std::string& c : path.components) absl::StrAppend(&out, "/", c);
  return out;
}

std::string CgroupDirFor(absl::string_view mount_point, absl::string_view own_path,
                         const CgroupPath& path) {
  return JoinCgroupDir(CgroupBaseDir(mount_point, own_path, path),
                       absl::StrJoin(path.components, "/"));
}

absl::StatusOr<std::optional<int64_t>> MemoryPlusSwapLimit(const CgroupResources& r) {
  bool limited = r.memory_limit_bytes.has_value() && *r.memory_limit_bytes > 0;
  if (!r.memory_swap_bytes.has_value()) {
    return limited ? std::optional<int64_t>(*r.memory_limit_bytes) : std::nullopt;
  }
  int64_t swap = *r.memory_swap_bytes;
  if (swap < 0) return std::nullopt;
  if (!limited) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a memory+swap limit (", swap, " bytes) needs a memory limit (-1: unlimited swap)"));
  }
  if (swap < *r.memory_limit_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the memory+swap limit (", swap, " bytes) is below the memory limit (",
                     *r.memory_limit_bytes, " bytes); it counts memory plus swap"));
  }
  return swap;
}

absl::StatusOr<std::string> ReadTrimmed(CgroupKernel& kernel, const std::string& file) {
  ASSIGN_OR_RETURN(std::string text, kernel.Read(file));
  return std::string(absl::StripAsciiWhitespace(text));
}

absl::StatusOr<uint64_t> ReadUint(CgroupKernel& kernel, const std::string& file) {
  ASSIGN_OR_RETURN(std::string text, ReadTrimmed(kernel, file));
  uint64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) {
    return absl::InternalError(absl::StrCat(file, ": not a number: \"", text, "\""));
  }
  return value;
}

std::optional<uint64_t> FlatKeyedValue(absl::string_view text, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    uint64_t value = 0;
    if (f.size() == 2 && f[0] == key && absl::SimpleAtoi(f[1], &value)) return value;
  }
  return std::nullopt;
}

absl::StatusOr<std::vector<pid_t>> ParsePidList(absl::string_view text, absl::string_view file) {
  std::vector<pid_t> pids;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    int pid = 0;
    if (!absl::SimpleAtoi(line, &pid) || pid <= 0) {
      return absl::InternalError(absl::StrCat(file, ": bad pid \"", line, "\""));
    }
    pids.push_back(pid);
  }
  return pids;
}

namespace {

absl::Status CollectPids(CgroupKernel& kernel, const std::string& dir, std::set<pid_t>& out) {
  std::string procs = JoinCgroupDir(dir, "cgroup.procs");
  ASSIGN_OR_RETURN(std::string text, kernel.Read(procs));
  ASSIGN_OR_RETURN(std::vector<pid_t> pids, ParsePidList(text, procs));
  out.insert(pids.begin(), pids.end());
  ASSIGN_OR_RETURN(std::vector<std::string> children, kernel.ListSubdirs(dir));
  for (const std::string& child : children) {
    absl::Status st = CollectPids(kernel, JoinCgroupDir(dir, child), out);
    // A sub-cgroup may vanish while we walk; that is not a failure.
    if (!st.ok() && !absl::IsNotFound(st)) return st;
  }
  return absl::OkStatus();
}

// rmdir of `dir` after its sub-cgroups, deepest first; a missing directory is fine.
absl::Status RemoveSubtree(CgroupKernel& kernel, const std::string& dir) {
  absl::StatusOr<std::vector<std::string>> children = kernel.ListSubdirs(dir);
  if (absl::IsNotFound(children.status())) return absl::OkStatus();
  if (!children.ok()) return children.status();
  for (const std::string& child : *children) {
    RETURN_IF_ERROR(RemoveSubtree(kernel, JoinCgroupDir(dir, child)));
  }
  absl::Status st = kernel.RemoveDir(dir);
  if (absl::IsNotFound(st)) return absl::OkStatus();
  return st;
}

}  // namespace

absl::StatusOr<std::vector<pid_t>> SubtreePids(CgroupKernel& kernel, const std::string& dir) {
  std::set<pid_t> pids;
  RETURN_IF_ERROR(CollectPids(kernel, dir, pids));
  return std::vector<pid_t>(pids.begin(), pids.end());
}

absl::Status PollUntil(CgroupKernel& kernel, absl::Duration timeout, absl::string_view what,
                       const std::function<absl::StatusOr<bool>()>& done) {
  const absl::Time deadline = kernel.Now() + timeout;
  absl::Duration pause = absl::Milliseconds(1);
  for (;;) {
    ASSIGN_OR_RETURN(bool finished, done());
    if (finished) return absl::OkStatus();
    if (kernel.Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(what, ": still not done after ", absl::FormatDuration(timeout)));
    }
    kernel.SleepFor(pause);
    pause = std::min(pause * 2, absl::Milliseconds(20));
  }
}

absl::Status KillAndRemove(CgroupKernel& kernel, const std::vector<std::string>& dirs,
                           const std::function<absl::Status(const std::string& dir)>& kill_all,
                           absl::Duration timeout) {
  const absl::Time deadline = kernel.Now() + timeout;
  // Killing once is not enough: a process may fork between our read of cgroup.procs and the
  // signal, so we repeat until a read comes back empty.
  std::vector<pid_t> left;
  absl::Status killed =
      PollUntil(kernel, timeout, "kill cgroup processes", [&]() -> absl::StatusOr<bool> {
        left.clear();
        bool any = false;
        for (const std::string& dir : dirs) {
          absl::StatusOr<std::vector<pid_t>> pids = SubtreePids(kernel, dir);
          if (absl::IsNotFound(pids.status())) continue;
          if (!pids.ok()) return pids.status();
          if (pids->empty()) continue;
          any = true;
          left.insert(left.end(), pids->begin(), pids->end());
          if (kill_all) {
            RETURN_IF_ERROR(kill_all(dir));
          } else {
            for (pid_t pid : *pids) RETURN_IF_ERROR(kernel.Kill(pid, SIGKILL));
          }
        }
        return !any;
      });
  if (!killed.ok()) {
    return Annotate(killed, absl::StrCat("pids left: ", absl::StrJoin(left, " ")));
  }
  for (const std::string& dir : dirs) {
    // An emptied cgroup can stay busy for a moment while the kernel finishes the exits.
    absl::Status removed;
    absl::Duration remaining = std::max(deadline - kernel.Now(), absl::Milliseconds(100));
    absl::Status polled =
        PollUntil(kernel, remaining, absl::StrCat("rmdir ", dir), [&]() -> absl::StatusOr<bool> {
          removed = RemoveSubtree(kernel, dir);
          if (absl::IsFailedPrecondition(removed)) return false;
          if (!removed.ok()) return removed;
          return true;
        });
    if (!polled.ok()) return removed.ok() ? polled : removed;
  }
  return absl::OkStatus();
}

}  // namespace berth
