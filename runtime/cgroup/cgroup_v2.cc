// CgroupDriverV2: one directory per container in the unified hierarchy; controllers are
// delegated level by level through cgroup.subtree_control. Device rules become a
// BPF_CGROUP_DEVICE program attached to the directory (it needs no controller).
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/cgroup/cgroup_common.h"
#include "runtime/cgroup/cgroup_stats.h"
#include "runtime/cgroup/cgroup_driver.h"
#include "runtime/cgroup/cgroup_kernel.h"
#include "runtime/cgroup/device_filter.h"

namespace berth {
namespace {

// Controllers handed down to every level Berth creates (when the parent offers them).
// io carries no Berth limit yet but must be delegated before a child can use it.
constexpr absl::string_view kDelegated[] = {"cpu", "cpuset", "io", "memory", "pids"};

constexpr absl::Duration kFreezeTimeout = absl::Seconds(2);
constexpr absl::Duration kDestroyTimeout = absl::Seconds(5);
constexpr uint64_t kDefaultPeriodUs = 100000;
constexpr uint64_t kDefaultWeight = 100;

std::set<std::string> Words(absl::string_view text) {
  std::set<std::string> out;
  for (absl::string_view w : absl::StrSplit(text, absl::ByAnyChar(" \n\t"), absl::SkipEmpty())) {
    out.emplace(w);
  }
  return out;
}

class CgroupDriverV2 : public CgroupDriver {
 public:
  CgroupDriverV2(CgroupMountV2 mount, std::shared_ptr<CgroupKernel> kernel)
      : mount_(std::move(mount)), kernel_(std::move(kernel)) {}

  absl::string_view Name() const override { return "v2"; }

  absl::StatusOr<CgroupOrigin> Create(const std::string& path) override {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    absl::StatusOr<CgroupOrigin> origin = CreateDirs(p);
    if (!origin.ok()) return Annotate(origin.status(), absl::StrCat("create cgroup ", path));
    return origin;
  }

  absl::Status Apply(const std::string& path, const CgroupResources& r, CgroupOrigin origin) override {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    std::string dir = Dir(p);
    // Made just now, the cgroup holds every default: only what is asked for is written.
    const bool fresh = origin == CgroupOrigin::kMade;
    // Built (and so validated) before anything is written, so a bad rule list changes nothing.
    std::optional<std::vector<bpf_insn>> device_program;
    if (r.devices) {
      absl::StatusOr<std::vector<bpf_insn>> built = BuildDeviceFilter(*r.devices);
      if (!built.ok()) {
        return Annotate(built.status(), absl::StrCat("apply limits to cgroup ", path));
      }
      device_program = *std::move(built);
    }
    // Limits v2 cannot express, and a contradictory swap limit, change nothing either.
    absl::Status st = RefuseV1Only(r);
    if (st.ok()) st = MemoryPlusSwapLimit(r).status();
    if (st.ok()) st = ApplyMemory(dir, r, fresh);
    if (st.ok()) st = ApplyCpu(dir, r, fresh);
    if (st.ok()) st = ApplyCpuset(dir, r, fresh);
    if (st.ok()) st = ApplyPids(dir, r, fresh);
    if (st.ok() && device_program) st = kernel_->SetDeviceProgram(dir, *device_program);
    return Annotate(st, absl::StrCat("apply limits to cgroup ", path));
  }

  absl::Status AddProcess(const std::string& path, pid_t pid) override {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    return Annotate(kernel_->Write(JoinCgroupDir(Dir(p), "cgroup.procs"), absl::StrCat(pid)),
                    absl::StrCat("add pid ", pid, " to cgroup ", path));
  }

  absl::StatusOr<std::vector<std::string>> SelfJoinFiles(const std::string& path) override {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    // cgroup.threads would move one thread only within a threaded subtree: a domain
    // cgroup is joined through cgroup.procs, which takes the global lock (clone3's
    // CLONE_INTO_CGROUP is what avoids it on v2).
    return std::vector<std::string>{JoinCgroupDir(Dir(p), "cgroup.procs")};
  }

  absl::Status Freeze(const std::string& path) override {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    std::string dir = Dir(p);
    std::string freeze = JoinCgroupDir(dir, "cgroup.freeze");
    std::string events = JoinCgroupDir(dir, "cgroup.events");
    absl::Status st = kernel_->Write(freeze, "1");
    // The write only starts freezing; cgroup.events says "frozen 1" once every task stopped.
    if (st.ok()) {
      st = PollUntil(*kernel_, kFreezeTimeout, "freeze", [&]() -> absl::StatusOr<bool> {
        ASSIGN_OR_RETURN(std::string text, kernel_->Read(events));
        return FlatKeyedValue(text, "frozen").value_or(0) == 1;
      });
      // Half-frozen is the worst state to leave behind: some tasks stopped, others not.
      if (absl::IsDeadlineExceeded(st)) kernel_->Write(freeze, "0").IgnoreError();
    }
    return Annotate(st, absl::StrCat("freeze cgroup ", path));
  }

  absl::Status Thaw(const std::string& path) override {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    return Annotate(kernel_->Write(JoinCgroupDir(Dir(p), "cgroup.freeze"), "0"),
                    absl::StrCat("thaw cgroup ", path));
  }

  absl::Status Delegate(const std::string& path, uid_t uid, gid_t gid) override {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    std::string dir = Dir(p);
    // The files cgroups(7) names for delegation.
    for (const char* name : {"", "cgroup.procs", "cgroup.threads", "cgroup.subtree_control"}) {
      std::string target = *name ? JoinCgroupDir(dir, name) : dir;
      absl::Status st = kernel_->Chown(target, uid, gid);
      if (!st.ok()) return Annotate(st, absl::StrCat("delegate cgroup ", path));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<CgroupStats> Stats(const std::string& path) override {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    CgroupStats stats;
    absl::Status st = ReadStats(Dir(p), stats);
    if (!st.ok()) return Annotate(st, absl::StrCat("stats of cgroup ", path));
    return stats;
  }

  absl::StatusOr<uint64_t> OomKills(const std::string& path) override {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    const std::string dir = Dir(p);
    if (!kernel_->Exists(dir)) return Annotate(ErrnoStatus(ENOENT, dir), absl::StrCat("OOM kills of cgroup ", path));
    // No memory.events: no memory controller here, and nothing counted.
    absl::StatusOr<std::string> events = ReadOptional(JoinCgroupDir(dir, "memory.events"));
    if (!events.ok()) return Annotate(events.status(), absl::StrCat("OOM kills of cgroup ", path));
    return FlatKeyedValue(*events, "oom_kill").value_or(0);
  }

  absl::StatusOr<std::vector<pid_t>> Processes(const std::string& path) override {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    absl::StatusOr<std::vector<pid_t>> pids = SubtreePids(*kernel_, Dir(p));
    if (!pids.ok()) return Annotate(pids.status(), absl::StrCat("processes of cgroup ", path));
    return pids;
  }

  absl::Status Destroy(const std::string& path) override {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    std::string dir = Dir(p);
    // v2 delivers SIGKILL to frozen tasks, but thawing first lets them exit without waiting
    // on the freezer; a missing file (cgroup gone, or kernel < 5.2) is fine.
    absl::Status st = kernel_->Write(JoinCgroupDir(dir, "cgroup.freeze"), "0");
    if (!st.ok() && !absl::IsNotFound(st)) {
      return Annotate(st, absl::StrCat("destroy cgroup ", path));
    }
    std::function<absl::Status(const std::string&)> kill_all;
    // cgroup.kill (5.14+) kills the whole subtree atomically, so forks cannot race it.
    if (kernel_->Exists(JoinCgroupDir(dir, "cgroup.kill"))) {
      kill_all = [this](const std::string& d) {
        return kernel_->Write(JoinCgroupDir(d, "cgroup.kill"), "1");
      };
    }
    return Annotate(KillAndRemove(*kernel_, {dir}, kill_all, kDestroyTimeout),
                    absl::StrCat("destroy cgroup ", path));
  }

  absl::Status RemoveEmpty(const std::string& path) override {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    absl::Status st = kernel_->RemoveDir(Dir(p));
    if (!st.ok() && !absl::IsNotFound(st)) return Annotate(st, absl::StrCat("remove cgroup ", path));
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> Directory(const std::string& path,
                                        absl::string_view controller) const override {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    return Dir(p);
  }

  absl::StatusOr<std::string> AbsolutePath(const std::string& path) const override {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    return AbsoluteCgroupPath(mount_.own_path, p);
  }

 private:
  std::string Dir(const CgroupPath& p) const {
    return CgroupDirFor(mount_.mount_point, mount_.own_path, p);
  }

  absl::StatusOr<CgroupOrigin> CreateDirs(const CgroupPath& p) {
    std::vector<std::string> created;
    CgroupOrigin origin = p.components.empty() ? CgroupOrigin::kFound : CgroupOrigin::kMade;
    // A half-made cgroup would be left to nobody: undo this call's mkdirs on failure.
    absl::Cleanup rollback = [&] {
      for (auto it = created.rbegin(); it != created.rend(); ++it) {
        kernel_->RemoveDir(*it).IgnoreError();
      }
    };
    std::string dir = CgroupBaseDir(mount_.mount_point, mount_.own_path, p);
    for (const std::string& component : p.components) {
      // A child only gets the controllers its parent enabled in cgroup.subtree_control.
      RETURN_IF_ERROR(Delegate(dir));
      dir = JoinCgroupDir(dir, component);
      // An existing directory is reused: recovery re-creates, and parents are shared.
      absl::Status st = kernel_->MakeDir(dir);
      if (st.ok()) {
        created.push_back(dir);
        origin = CgroupOrigin::kMade;
      } else if (!absl::IsAlreadyExists(st)) {
        return st;
      } else {
        origin = CgroupOrigin::kFound;  // what counts is the last level, the cgroup itself
      }
    }
    std::move(rollback).Cancel();
    return origin;
  }

  // Enables in `parent`'s subtree_control those of kDelegated it offers and lacks.
  absl::Status Delegate(const std::string& parent) {
    ASSIGN_OR_RETURN(std::string offered,
                     kernel_->Read(JoinCgroupDir(parent, "cgroup.controllers")));
    std::string control = JoinCgroupDir(parent, "cgroup.subtree_control");
    ASSIGN_OR_RETURN(std::string enabled_text, kernel_->Read(control));
    std::set<std::string> available = Words(offered);
    std::set<std::string> enabled = Words(enabled_text);
    std::vector<std::string> add;
    for (absl::string_view c : kDelegated) {
      std::string name(c);
      if (available.count(name) && !enabled.count(name)) add.push_back(absl::StrCat("+", name));
    }
    if (add.empty()) return absl::OkStatus();
    absl::Status st = kernel_->Write(control, absl::StrJoin(add, " "));
    if (absl::IsFailedPrecondition(st)) {
      // EBUSY: the no-internal-process rule — a non-root cgroup holding processes cannot
      // delegate controllers. Our own cgroup must be a leaf-free parent for relative paths.
      return Annotate(st, absl::StrCat(parent, " holds processes, so it cannot enable ",
                                       absl::StrJoin(add, " "), " for children"));
    }
    return st;
  }

  // Writes `value` to `file` when present. A missing file means the controller is not
  // enabled for this cgroup: an error only when a limit was asked for.
  absl::Status WriteControl(const std::string& dir, absl::string_view name, absl::string_view value,
                            bool wanted) {
    std::string file = JoinCgroupDir(dir, name);
    if (!kernel_->Exists(file)) {
      if (!wanted) return absl::OkStatus();
      return absl::FailedPreconditionError(
          absl::StrCat(file, " is missing: controller not enabled for this cgroup"));
    }
    return kernel_->Write(file, value);
  }

  // The v1 knobs with no v2 file: asking for one is refused rather than dropped.
  static absl::Status RefuseV1Only(const CgroupResources& r) {
    auto refuse = [](absl::string_view what, absl::string_view why) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, " cannot be set on cgroup v2 (", why, ")"));
    };
    if (r.cpu_rt_runtime_us.has_value() || r.cpu_rt_period_us.has_value()) {
      return refuse("a realtime cpu budget (cpu.realtimeRuntime, cpu.realtimePeriod)",
                    "v2 has no realtime group scheduling");
    }
    if (r.memory_kernel_bytes.has_value()) {
      return refuse("a kernel memory limit (memory.kernel)",
                    "v2 counts kernel memory within memory.max");
    }
    if (r.memory_kernel_tcp_bytes.has_value()) {
      return refuse("a TCP buffer memory limit (memory.kernelTCP)",
                    "v2 counts socket memory within memory.max");
    }
    if (r.memory_swappiness.has_value()) {
      return refuse("memory.swappiness", "v2 has no per-cgroup swappiness");
    }
    if (r.disable_oom_killer.value_or(false)) {
      return refuse("memory.disableOOMKiller", "v2 cannot turn the OOM killer off");
    }
    return absl::OkStatus();
  }

  absl::Status ApplyMemory(const std::string& dir, const CgroupResources& r, bool fresh) {
    bool limited = r.memory_limit_bytes.has_value() && *r.memory_limit_bytes > 0;
    if (fresh && !limited && !r.memory_swap_bytes.has_value() &&
        r.memory_reservation_bytes.value_or(0) <= 0) {
      return absl::OkStatus();
    }
    RETURN_IF_ERROR(WriteControl(dir, "memory.max",
                                 limited ? absl::StrCat(*r.memory_limit_bytes) : "max", limited));
    // v2 counts swap apart from memory (memory.swap.max is swap alone, unlike v1 memsw), so
    // OCI's memory+swap becomes swap = memory+swap - memory. Unset, as on v1 where memsw =
    // limit, a limited container gets no swap, else swap could carry it past its limit. The
    // file is absent without swap accounting: then only a request for some swap fails.
    ASSIGN_OR_RETURN(std::optional<int64_t> memsw_limit, MemoryPlusSwapLimit(r));
    std::optional<int64_t> swap_bytes;  // unlimited
    if (memsw_limit.has_value()) swap_bytes = *memsw_limit - *r.memory_limit_bytes;
    bool swap_asked = r.memory_swap_bytes.has_value() && swap_bytes.value_or(0) > 0;
    RETURN_IF_ERROR(WriteControl(dir, "memory.swap.max",
                                 swap_bytes ? absl::StrCat(*swap_bytes) : "max", swap_asked));
    bool reserved = r.memory_reservation_bytes.has_value() && *r.memory_reservation_bytes > 0;
    return WriteControl(dir, "memory.low",
                        reserved ? absl::StrCat(*r.memory_reservation_bytes) : "0", reserved);
  }

  absl::Status ApplyCpu(const std::string& dir, const CgroupResources& r, bool fresh) {
    bool quota_set = r.cpu_quota_us.has_value() && *r.cpu_quota_us > 0;
    if (fresh && !quota_set && !r.cpu_period_us.has_value() && !r.cpu_shares.has_value()) {
      return absl::OkStatus();
    }
    uint64_t period = r.cpu_period_us.value_or(0) > 0 ? *r.cpu_period_us : kDefaultPeriodUs;
    std::string max = absl::StrCat(quota_set ? absl::StrCat(*r.cpu_quota_us) : "max", " ", period);
    RETURN_IF_ERROR(WriteControl(dir, "cpu.max", max, quota_set || r.cpu_period_us.has_value()));
    uint64_t weight = r.cpu_shares ? CpuSharesToWeight(*r.cpu_shares) : kDefaultWeight;
    return WriteControl(dir, "cpu.weight", absl::StrCat(weight), r.cpu_shares.has_value());
  }

  // cpuset.cpus and cpuset.mems (when the cpuset controller is enabled here); empty means
  // the parent's, which is also what a new cgroup starts with, so that needs no write.
  absl::Status ApplyCpuset(const std::string& dir, const CgroupResources& r, bool fresh) {
    if (fresh && r.cpuset_cpus.empty() && r.cpuset_mems.empty()) return absl::OkStatus();
    for (const auto& [name, asked] :
         {std::pair<const char*, const std::string*>{"cpuset.cpus", &r.cpuset_cpus},
          std::pair<const char*, const std::string*>{"cpuset.mems", &r.cpuset_mems}}) {
      std::string file = JoinCgroupDir(dir, name);
      if (asked->empty()) {
        if (!kernel_->Exists(file)) continue;
        ASSIGN_OR_RETURN(std::string current, ReadTrimmed(*kernel_, file));
        if (current.empty()) continue;
      }
      // "\n" rather than nothing: the kernel parses an empty (whitespace-stripped) list as
      // "inherit", and a zero-length write might not reach it at all.
      RETURN_IF_ERROR(WriteControl(dir, name, asked->empty() ? "\n" : *asked, !asked->empty()));
    }
    return absl::OkStatus();
  }

  absl::Status ApplyPids(const std::string& dir, const CgroupResources& r, bool fresh) {
    bool limited = r.pids_limit.has_value() && *r.pids_limit > 0;
    if (fresh && !limited) return absl::OkStatus();
    return WriteControl(dir, "pids.max", limited ? absl::StrCat(*r.pids_limit) : "max", limited);
  }

  // The file's text, or "" when the controller is not enabled here (no such file).
  absl::StatusOr<std::string> ReadOptional(const std::string& file) {
    if (!kernel_->Exists(file)) return std::string();
    return kernel_->Read(file);
  }

  absl::Status ReadStats(const std::string& dir, CgroupStats& stats) {
    if (!kernel_->Exists(dir)) return ErrnoStatus(ENOENT, dir);
    // A controller that is not enabled here has nothing to count: its figures stay 0.
    // cpu.stat's usage lines are there even without the cpu controller.
    ASSIGN_OR_RETURN(std::string cpu, ReadOptional(JoinCgroupDir(dir, "cpu.stat")));
    stats.cpu_usage_ns = FlatKeyedValue(cpu, "usage_usec").value_or(0) * 1000;
    stats.cpu_user_ns = FlatKeyedValue(cpu, "user_usec").value_or(0) * 1000;
    stats.cpu_system_ns = FlatKeyedValue(cpu, "system_usec").value_or(0) * 1000;
    stats.cpu_periods = FlatKeyedValue(cpu, "nr_periods").value_or(0);
    stats.cpu_throttled_periods = FlatKeyedValue(cpu, "nr_throttled").value_or(0);
    stats.cpu_throttled_ns = FlatKeyedValue(cpu, "throttled_usec").value_or(0) * 1000;
    std::string current = JoinCgroupDir(dir, "memory.current");
    if (kernel_->Exists(current)) {
      ASSIGN_OR_RETURN(stats.memory_usage_bytes, ReadUint(*kernel_, current));
      ASSIGN_OR_RETURN(std::string max, ReadOptional(JoinCgroupDir(dir, "memory.max")));
      stats.memory_limit_bytes = ParseLimit(max);
      ASSIGN_OR_RETURN(std::string stat, ReadOptional(JoinCgroupDir(dir, "memory.stat")));
      stats.memory_rss_bytes = FlatKeyedValue(stat, "anon").value_or(0);
      stats.memory_cache_bytes = FlatKeyedValue(stat, "file").value_or(0);
      stats.memory_inactive_file_bytes = FlatKeyedValue(stat, "inactive_file").value_or(0);
      ASSIGN_OR_RETURN(std::string events, kernel_->Read(JoinCgroupDir(dir, "memory.events")));
      stats.memory_failcnt = FlatKeyedValue(events, "max").value_or(0);
      stats.oom_events = FlatKeyedValue(events, "oom").value_or(0);
      stats.oom_kills = FlatKeyedValue(events, "oom_kill").value_or(0);
    }
    std::string pids = JoinCgroupDir(dir, "pids.current");
    if (kernel_->Exists(pids)) {
      ASSIGN_OR_RETURN(stats.pids_current, ReadUint(*kernel_, pids));
      ASSIGN_OR_RETURN(std::string max, ReadOptional(JoinCgroupDir(dir, "pids.max")));
      stats.pids_limit = ParseLimit(max);
    }
    ASSIGN_OR_RETURN(std::string io, ReadOptional(JoinCgroupDir(dir, "io.stat")));
    IoTotals t = ParseIoStatV2(io);
    stats.io_read_bytes = t.read_bytes;
    stats.io_write_bytes = t.write_bytes;
    stats.io_read_ops = t.read_ops;
    stats.io_write_ops = t.write_ops;
    return absl::OkStatus();
  }

  CgroupMountV2 mount_;
  std::shared_ptr<CgroupKernel> kernel_;
};

}  // namespace

uint64_t CpuSharesToWeight(uint64_t shares) {
  shares = std::clamp<uint64_t>(shares, 2, 262144);
  return 1 + ((shares - 2) * 9999) / 262142;
}

std::unique_ptr<CgroupDriver> MakeCgroupDriverV2(CgroupMountV2 mount,
                                                 std::shared_ptr<CgroupKernel> kernel) {
  return std::make_unique<CgroupDriverV2>(std::move(mount), std::move(kernel));
}

std::unique_ptr<CgroupDriver> MakeCgroupDriverV2(CgroupMountV2 mount) {
  return MakeCgroupDriverV2(std::move(mount), std::make_shared<LinuxCgroupKernel>());
}

}  // namespace berth
