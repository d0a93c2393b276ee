// The cgroup driver interface: one container cgroup = one relative path, resolved against
// every hierarchy the host mounts (v1: one per controller; v2: the unified one).
// Two implementations: CgroupDriverV1 and CgroupDriverV2; DetectCgroupDriver() picks one.
// Both reach the kernel only through CgroupKernel (cgroup_kernel.h), so tests can fake it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace berth {

class CgroupKernel;

// One rule of the device cgroup (v1 devices.allow/deny; v2 a BPF_CGROUP_DEVICE program).
struct CgroupDeviceRule {
  bool allow = false;
  char type = 'a';          // 'a' (any), 'c' or 'b'
  int64_t major = -1;       // -1: any
  int64_t minor = -1;       // -1: any
  std::string access = "rwm";  // any non-empty subset of "rwm"

  bool operator==(const CgroupDeviceRule&) const = default;
};

// Apply writes the whole set: an unset field restores the kernel default (no limit, shares
// 1024 / weight 100, period 100000 us, no realtime budget, the parent's cpuset, swappiness
// and OOM-killer setting), so an update must pass every value it wants to keep. A cgroup
// Create has just made already holds those defaults: applied with CgroupOrigin::kMade, what
// is unset is neither read nor written there (on v1, some 80 system calls fewer per
// container). Fields marked "v1 only" have no v2 equivalent: the v2 driver refuses them
// (FailedPrecondition).
struct CgroupResources {
  std::optional<int64_t> memory_limit_bytes;  // bytes; unset or <= 0: no limit
  // Soft limit (v1 memory.soft_limit_in_bytes, v2 memory.low); unset or <= 0: none.
  std::optional<int64_t> memory_reservation_bytes;
  // Memory plus swap (OCI's meaning); needs memory_limit_bytes and is >= it, else
  // InvalidArgument. -1: unlimited swap. Unset: no swap beyond the memory limit.
  std::optional<int64_t> memory_swap_bytes;
  // v1 only; unset or <= 0: no limit. Kernels that dropped kmem limits ignore it.
  std::optional<int64_t> memory_kernel_bytes;
  std::optional<int64_t> memory_kernel_tcp_bytes;  // v1 only; unset or <= 0: no limit
  std::optional<uint64_t> memory_swappiness;       // v1 only; 0..100
  std::optional<bool> disable_oom_killer;          // v1 only (v2 accepts false)
  std::optional<int64_t> cpu_quota_us;        // with cpu_period_us: --cpus; unset or <= 0: none
  std::optional<uint64_t> cpu_period_us;
  std::optional<uint64_t> cpu_shares;  // v1 scale 2..262144; v2 maps it onto cpu.weight 1..10000
  // v1 only (cpu.rt_runtime_us per cpu.rt_period_us); runtime -1: unlimited. Unset: runtime
  // 0 (no realtime tasks), period 1000000.
  std::optional<int64_t> cpu_rt_runtime_us;
  std::optional<uint64_t> cpu_rt_period_us;
  std::string cpuset_cpus;  // e.g. "0-3,7"; empty: the parent's
  std::string cpuset_mems;  // memory nodes; empty: the parent's
  std::optional<int64_t> pids_limit;   // unset or <= 0: no limit
  // The device cgroup: rules in order, the last one matching an access decides, no match
  // denies. Unset: the device cgroup is left as the kernel made it (inherits the parent's).
  std::optional<std::vector<CgroupDeviceRule>> devices;
};

// What a cgroup has used, as the kernel counts it (a controller that is not there leaves
// its figures 0). Both drivers fill the same fields; where v1 and v2 differ is noted.
struct CgroupStats {
  uint64_t cpu_usage_ns = 0;   // v1 cpuacct.usage; v2 cpu.stat usage_usec
  uint64_t cpu_user_ns = 0;    // v1 cpuacct.stat (clock ticks); v2 user_usec
  uint64_t cpu_system_ns = 0;
  uint64_t cpu_periods = 0;    // CFS periods with the quota active (cpu.stat nr_periods)
  uint64_t cpu_throttled_periods = 0;
  uint64_t cpu_throttled_ns = 0;

  uint64_t memory_usage_bytes = 0;  // v1 memory.usage_in_bytes; v2 memory.current
  uint64_t memory_limit_bytes = 0;  // 0: no limit
  uint64_t memory_rss_bytes = 0;    // v1 total_rss; v2 anon
  uint64_t memory_cache_bytes = 0;  // v1 total_cache; v2 file
  uint64_t memory_inactive_file_bytes = 0;
  uint64_t memory_failcnt = 0;  // times the limit was hit: v1 memory.failcnt; v2 memory.events max
  uint64_t oom_events = 0;      // v2 memory.events oom; v1 has no such count: its oom_kill
  uint64_t oom_kills = 0;

  uint64_t pids_current = 0;
  uint64_t pids_limit = 0;  // 0: no limit

  uint64_t io_read_bytes = 0;  // v1 blkio.throttle.io_service*_recursive; v2 io.stat
  uint64_t io_write_bytes = 0;
  uint64_t io_read_ops = 0;
  uint64_t io_write_ops = 0;

  // cAdvisor's working set: usage less the inactive page cache the kernel can drop.
  uint64_t memory_working_set_bytes() const {
    return memory_usage_bytes > memory_inactive_file_bytes ? memory_usage_bytes - memory_inactive_file_bytes : 0;
  }
};

// Whether Create made the cgroup or found it there (recovery creates again, and parents are
// shared). A cgroup made in every hierarchy by the call holds the kernel's defaults.
enum class CgroupOrigin { kMade, kFound };

class CgroupDriver {
 public:
  virtual ~CgroupDriver() = default;

  virtual absl::string_view Name() const = 0;  // "v1" or "v2"

  // `path` is the OCI linux.cgroupsPath: absolute ("/a/b") is taken from each hierarchy's
  // root; relative ("a/b") is below the cgroup this process is in. ".." is refused.
  virtual absl::StatusOr<CgroupOrigin> Create(const std::string& path) = 0;
  // `origin`: kFound for an update or a cgroup that was already there; kMade only for what
  // Create just made and reported so.
  virtual absl::Status Apply(const std::string& path, const CgroupResources& resources, CgroupOrigin origin) = 0;
  virtual absl::Status AddProcess(const std::string& path, pid_t pid) = 0;
  // The control files through which a process moves itself into the cgroup at `path`, one
  // per hierarchy, by writing "0" (see cgroup_self_join.h): v1's `tasks`, which moves the
  // writing thread, all of a single-threaded process; v2's cgroup.procs. A thread moving
  // itself through v1's `tasks` is the one move the kernel makes without its global
  // threadgroup lock, whose taking waits for an RCU grace period when no move happened in
  // the last one: 5-15 ms on the development VM, for AddProcess of a new process.
  virtual absl::StatusOr<std::vector<std::string>> SelfJoinFiles(const std::string& path) = 0;
  virtual absl::Status Freeze(const std::string& path) = 0;  // returns once frozen
  virtual absl::Status Thaw(const std::string& path) = 0;
  // Hands the cgroup to a container's root (a user namespace's uid/gid 0 on the node): the
  // directory and the files that move processes and enable controllers below it.
  virtual absl::Status Delegate(const std::string& path, uid_t uid, gid_t gid) = 0;
  virtual absl::StatusOr<CgroupStats> Stats(const std::string& path) = 0;
  // Stats' oom_kills alone, from the one file that counts them (0 without a memory
  // controller): what a container's end reads, without the rest of Stats' dozen files.
  virtual absl::StatusOr<uint64_t> OomKills(const std::string& path) = 0;
  virtual absl::StatusOr<std::vector<pid_t>> Processes(const std::string& path) = 0;
  // Thaws, SIGKILLs every process, waits (bounded) until the cgroup is empty, removes it in
  // every hierarchy. Missing directories are not an error.
  virtual absl::Status Destroy(const std::string& path) = 0;
  // Removes the cgroup in every hierarchy if nothing is in it (no process, no child cgroup);
  // kills nothing. Missing directories are not an error; a busy one is (and stays).
  virtual absl::Status RemoveEmpty(const std::string& path) = 0;
  // `path` as an absolute cgroupsPath, so that a process in another cgroup (a later
  // berth-runtime call) finds the same cgroup: a relative path is joined to our own cgroup.
  // On v1, when this process sits in different cgroups in different hierarchies, no single
  // absolute path says that: the relative path comes back unchanged.
  virtual absl::StatusOr<std::string> AbsolutePath(const std::string& path) const = 0;
  // Directory of `path` in the hierarchy of `controller` ("memory", "pids", ...; v2 ignores it).
  virtual absl::StatusOr<std::string> Directory(const std::string& path,
                                                absl::string_view controller) const = 0;
};

// A v1 hierarchy: where a controller set is mounted and where this process sits in it.
struct CgroupMountV1 {
  std::vector<std::string> controllers;  // e.g. {"cpu"} or {"cpu", "cpuacct"} or {"name=systemd"}
  std::string mount_point;               // e.g. /sys/fs/cgroup/cpu
  std::string own_path;                  // this process's cgroup inside it, e.g. /process_api/x
};

struct CgroupMountV2 {
  std::string mount_point;  // e.g. /sys/fs/cgroup or /sys/fs/cgroup/unified
  std::string own_path;
  // cgroup.controllers of own_path (what our child cgroups can get); the parser leaves it
  // empty, DetectCgroupDriver fills it.
  std::vector<std::string> controllers;
};

// Reads /proc/self/mountinfo and /proc/self/cgroup. Chooses v2 when a cgroup2 mount offers
// the memory and pids controllers, else v1 when v1 memory/pids/cpu hierarchies exist (hybrid
// hosts whose cgroup2 mount has no controllers run on v1).
absl::StatusOr<std::unique_ptr<CgroupDriver>> DetectCgroupDriver();

// Parsers, exposed for tests.
std::vector<CgroupMountV1> ParseCgroupV1Mounts(absl::string_view mountinfo,
                                               absl::string_view proc_self_cgroup);
std::optional<CgroupMountV2> ParseCgroupV2Mount(absl::string_view mountinfo,
                                                absl::string_view proc_self_cgroup);

// DetectCgroupDriver's choice, given the two files' text; reads cgroup.controllers through
// `kernel`. Exposed for tests.
absl::StatusOr<std::unique_ptr<CgroupDriver>> ChooseCgroupDriver(
    absl::string_view mountinfo, absl::string_view proc_self_cgroup,
    std::shared_ptr<CgroupKernel> kernel);

// The drivers on the real kernel (LinuxCgroupKernel)...
std::unique_ptr<CgroupDriver> MakeCgroupDriverV1(std::vector<CgroupMountV1> mounts);
std::unique_ptr<CgroupDriver> MakeCgroupDriverV2(CgroupMountV2 mount);
// ...or on any CgroupKernel (tests pass a FakeCgroupKernel).
std::unique_ptr<CgroupDriver> MakeCgroupDriverV1(std::vector<CgroupMountV1> mounts,
                                                 std::shared_ptr<CgroupKernel> kernel);
std::unique_ptr<CgroupDriver> MakeCgroupDriverV2(CgroupMountV2 mount,
                                                 std::shared_ptr<CgroupKernel> kernel);

// v1 cpu.shares (2..262144, clamped) onto v2 cpu.weight (1..10000) with runc's linear
// formula 1 + ((shares - 2) * 9999) / 262142, so 2 -> 1 and 262144 -> 10000 (1024 -> 39).
uint64_t CpuSharesToWeight(uint64_t shares);

}  // namespace berth
