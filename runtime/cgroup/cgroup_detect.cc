// Finds the cgroup hierarchies in /proc/self/mountinfo and this process's place in them
// (/proc/self/cgroup), and picks the driver that can enforce Berth's limits.
#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "runtime/base/file_util.h"
#include "runtime/base/status_macros.h"
#include "runtime/cgroup/cgroup_common.h"
#include "runtime/cgroup/cgroup_driver.h"
#include "runtime/cgroup/cgroup_kernel.h"

namespace berth {
namespace {

struct CgroupMountEntry {
  std::string root;  // the part of the hierarchy the mount shows, e.g. "/" or "/docker/x"
  std::string mount_point;
  std::string fstype;                   // "cgroup" or "cgroup2"
  std::set<std::string> super_options;  // v1: the controllers, plus rw, name=..., xattr, ...
};

struct ProcCgroupLine {
  std::vector<std::string> controllers;  // empty for the v2 line "0::/path"
  std::string path;
};

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool octal = true;
      for (size_t j = 1; j <= 3; ++j) {
        if (s[i + j] < '0' || s[i + j] > '7') {
          octal = false;
        } else {
          v = v * 8 + (s[i + j] - '0');
        }
      }
      if (octal) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// "36 25 0:31 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory": fields up to
// the "-" are fixed but for a variable run of optional fields before it.
std::vector<CgroupMountEntry> CgroupMounts(absl::string_view mountinfo) {
  std::vector<CgroupMountEntry> out;
  for (absl::string_view line : absl::StrSplit(mountinfo, '\n', absl::SkipWhitespace())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    auto dash = std::find(f.begin(), f.end(), "-");
    if (f.size() < 6 || dash == f.end() || dash - f.begin() < 6 || f.end() - dash < 4) continue;
    absl::string_view fstype = dash[1];
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    CgroupMountEntry e;
    e.root = Unescape(f[3]);
    e.mount_point = Unescape(f[4]);
    e.fstype = std::string(fstype);
    for (absl::string_view o : absl::StrSplit(dash[3], ',')) e.super_options.emplace(o);
    out.push_back(std::move(e));
  }
  return out;
}

// "4:memory:/a/b", "2:cpu,cpuacct:/", "1:name=systemd:/", "0::/a".
std::vector<ProcCgroupLine> ProcCgroupLines(absl::string_view text) {
  std::vector<ProcCgroupLine> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (f.size() != 3) continue;
    ProcCgroupLine l;
    for (absl::string_view c : absl::StrSplit(f[1], ',', absl::SkipEmpty())) {
      l.controllers.emplace_back(c);
    }
    l.path = std::string(f[2]);
    out.push_back(std::move(l));
  }
  return out;
}

// Our cgroup path as seen inside a mount showing the hierarchy from `root`; nullopt when the
// mount does not show our cgroup (a mount of some other subtree).
std::optional<std::string> InsideMount(absl::string_view root, absl::string_view path) {
  if (root == "/") return std::string(path);
  if (path == root) return std::string("/");
  if (absl::StartsWith(path, root) && path[root.size()] == '/') {
    return std::string(path.substr(root.size()));
  }
  return std::nullopt;
}

std::vector<std::string> Words(absl::string_view text) {
  return absl::StrSplit(text, absl::ByAnyChar(" \n\t"), absl::SkipEmpty());
}

bool Contains(const std::vector<std::string>& v, absl::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

std::vector<CgroupMountV1> ParseCgroupV1Mounts(absl::string_view mountinfo,
                                               absl::string_view proc_self_cgroup) {
  std::vector<CgroupMountEntry> mounts = CgroupMounts(mountinfo);
  std::vector<CgroupMountV1> out;
  // Each /proc/self/cgroup line is one v1 hierarchy; its mount is the "cgroup" mount whose
  // super options name the same controllers (hierarchies never share a controller).
  for (const ProcCgroupLine& line : ProcCgroupLines(proc_self_cgroup)) {
    if (line.controllers.empty()) continue;
    for (const CgroupMountEntry& m : mounts) {
      if (m.fstype != "cgroup") continue;
      bool same = std::all_of(line.controllers.begin(), line.controllers.end(),
                              [&](const std::string& c) { return m.super_options.count(c); });
      if (!same) continue;
      std::optional<std::string> own = InsideMount(m.root, line.path);
      if (!own) continue;  // a bind mount of another subtree; a later mount may show ours
      out.push_back(CgroupMountV1{line.controllers, m.mount_point, *own});
      break;
    }
  }
  return out;
}

std::optional<CgroupMountV2> ParseCgroupV2Mount(absl::string_view mountinfo,
                                                absl::string_view proc_self_cgroup) {
  std::optional<std::string> path;
  for (const ProcCgroupLine& line : ProcCgroupLines(proc_self_cgroup)) {
    if (line.controllers.empty()) path = line.path;
  }
  if (!path) return std::nullopt;
  for (const CgroupMountEntry& m : CgroupMounts(mountinfo)) {
    if (m.fstype != "cgroup2") continue;
    std::optional<std::string> own = InsideMount(m.root, *path);
    if (!own) continue;
    return CgroupMountV2{m.mount_point, *own, {}};
  }
  return std::nullopt;
}

absl::StatusOr<std::unique_ptr<CgroupDriver>> ChooseCgroupDriver(
    absl::string_view mountinfo, absl::string_view proc_self_cgroup,
    std::shared_ptr<CgroupKernel> kernel) {
  std::string v2_note = "no cgroup2 mount";
  if (std::optional<CgroupMountV2> v2 = ParseCgroupV2Mount(mountinfo, proc_self_cgroup)) {
    // What our children can get is what our own cgroup offers, not what the root has.
    std::string file =
        JoinCgroupDir(JoinCgroupDir(v2->mount_point, v2->own_path), "cgroup.controllers");
    ASSIGN_OR_RETURN(std::string text, kernel->Read(file));
    v2->controllers = Words(text);
    if (Contains(v2->controllers, "memory") && Contains(v2->controllers, "pids")) {
      return MakeCgroupDriverV2(std::move(*v2), std::move(kernel));
    }
    v2_note = absl::StrCat("cgroup2 at ", v2->mount_point, " offers only [",
                           absl::StrJoin(v2->controllers, " "), "], not memory and pids");
  }
  std::vector<CgroupMountV1> v1 = ParseCgroupV1Mounts(mountinfo, proc_self_cgroup);
  std::vector<std::string> missing;
  for (absl::string_view need : {"memory", "pids", "cpu"}) {
    bool found = std::any_of(v1.begin(), v1.end(),
                             [&](const CgroupMountV1& m) { return Contains(m.controllers, need); });
    if (!found) missing.emplace_back(need);
  }
  if (missing.empty()) return MakeCgroupDriverV1(std::move(v1), std::move(kernel));
  return absl::FailedPreconditionError(absl::StrCat(
      "no usable cgroup hierarchy: ", v2_note, "; cgroup v1 lacks ", absl::StrJoin(missing, ", ")));
}

absl::StatusOr<std::unique_ptr<CgroupDriver>> DetectCgroupDriver() {
  ASSIGN_OR_RETURN(std::string mountinfo, ReadFile("/proc/self/mountinfo"));
  ASSIGN_OR_RETURN(std::string cgroup, ReadFile("/proc/self/cgroup"));
  return ChooseCgroupDriver(mountinfo, cgroup, std::make_shared<LinuxCgroupKernel>());
}

}  // namespace berth
