// Pieces both cgroup drivers share: cgroupsPath validation and resolution, parsing of the
// small control-file formats, and the bounded kill-then-rmdir loop behind Destroy.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "runtime/cgroup/cgroup_driver.h"
#include "runtime/cgroup/cgroup_kernel.h"

namespace berth {

// A validated OCI cgroupsPath.
struct CgroupPath {
  bool absolute = false;                // from the hierarchy root, not from our own cgroup
  std::vector<std::string> components;  // never empty, never "." or ".."
};

// Refuses an empty path, ".." and "." components, and a path naming the hierarchy root.
absl::StatusOr<CgroupPath> ParseCgroupPath(absl::string_view path);

// `base` + "/" + `name` without doubling slashes.
std::string JoinCgroupDir(absl::string_view base, absl::string_view name);

// The directory where `path` starts in a hierarchy mounted at `mount_point` whose cgroup for
// this process is `own_path`: the mount point for absolute paths, our own cgroup otherwise.
std::string CgroupBaseDir(absl::string_view mount_point, absl::string_view own_path,
                          const CgroupPath& path);

// The full directory of `path` in that hierarchy.
std::string CgroupDirFor(absl::string_view mount_point, absl::string_view own_path,
                         const CgroupPath& path);

// `path` from the hierarchy root, given our own cgroup there ("/a/b" + "c" -> "/a/b/c").
std::string AbsoluteCgroupPath(absl::string_view own_path, const CgroupPath& path);

// The memory+swap limit `r` asks for, in bytes; nullopt: unlimited. memory_swap_bytes when
// set (negative: unlimited), else the memory limit itself (no swap beyond it).
// InvalidArgument when a swap limit comes without a memory limit or is below it.
absl::StatusOr<std::optional<int64_t>> MemoryPlusSwapLimit(const CgroupResources& r);

// Whitespace-trimmed content of a one-value control file.
absl::StatusOr<std::string> ReadTrimmed(CgroupKernel& kernel, const std::string& file);

// A one-number control file (memory.usage_in_bytes, pids.current, ...).
absl::StatusOr<uint64_t> ReadUint(CgroupKernel& kernel, const std::string& file);

// The value of the "key N" line of a flat-keyed file (memory.events, memory.oom_control,
// cgroup.events); nullopt when the key is absent (older kernels lack some keys).
std::optional<uint64_t> FlatKeyedValue(absl::string_view text, absl::string_view key);

// The pids of a cgroup.procs file, one per line.
absl::StatusOr<std::vector<pid_t>> ParsePidList(absl::string_view text, absl::string_view file);

// Pids in `dir` and every cgroup below it (a container may make its own sub-cgroups).
// NotFound when `dir` itself is missing.
absl::StatusOr<std::vector<pid_t>> SubtreePids(CgroupKernel& kernel, const std::string& dir);

// Calls `done` with growing sleeps (1 ms up to 20 ms) until it returns true, fails, or
// `timeout` passes; on timeout returns DeadlineExceeded naming `what`.
absl::Status PollUntil(CgroupKernel& kernel, absl::Duration timeout, absl::string_view what,
                       const std::function<absl::StatusOr<bool>()>& done);

// Destroy's common half: until no process is left in any of `dirs` (or below them), kills
// them — with `kill_all` when given (v2 cgroup.kill), else SIGKILL to each pid — then removes
// each dir and its sub-cgroups deepest first. Missing directories are fine. Bounded by
// `timeout`, since a process stuck in the kernel (D state) can outlive any SIGKILL.
absl::Status KillAndRemove(CgroupKernel& kernel, const std::vector<std::string>& dirs,
                           const std::function<absl::Status(const std::string& dir)>& kill_all,
                           absl::Duration timeout);

}  // namespace berth
