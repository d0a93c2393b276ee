// CgroupDriverV1: one directory per container in every v1 hierarchy Berth uses, the limits
// written to the per-controller files, device rules to devices.allow and devices.deny.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/cgroup/cgroup_common.h"
#include "runtime/cgroup/cgroup_stats.h"
#include "runtime/cgroup/cgroup_driver.h"
#include "runtime/cgroup/cgroup_kernel.h"
#include "runtime/cgroup/device_filter.h"

namespace berth {
namespace {

// Controllers Berth limits, accounts or controls. Hierarchies holding none of them (named
// ones like name=systemd, net_cls, perf_event, ...) are left alone.
constexpr absl::string_view kUsedControllers[] = {"memory",  "cpu",     "cpuacct", "pids",
                                                  "freezer", "devices", "cpuset",  "blkio"};

constexpr absl::Duration kFreezeTimeout = absl::Seconds(2);
constexpr absl::Duration kDestroyTimeout = absl::Seconds(5);
constexpr uint64_t kDefaultPeriodUs = 100000;
constexpr uint64_t kDefaultShares = 1024;
// A new cgroup's realtime budget: none, per the kernel's default period of 1 s.
constexpr uint64_t kDefaultRtPeriodUs = 1000000;
// The kernel's Linux-internal ENOTSUPP, which kmem writes leak to userspace on 5.16+.
constexpr int kKernelEnotsupp = 524;

bool Has(const CgroupMountV1& m, absl::string_view controller) {
  return std::find(m.controllers.begin(), m.controllers.end(), controller) != m.controllers.end();
}

// Whether `st` came from errno `err` (ErrnoStatus ends its message with strerror).
bool IsErrno(const absl::Status& st, int err) {
  return !st.ok() && absl::EndsWith(st.message(), std::strerror(err));
}

// How v1 shows "no limit" in a byte-limit file: INT64_MAX rounded down to a page. Any value
// past half of that is no real limit.
bool IsUnlimitedV1(absl::string_view text) {
  int64_t value = 0;
  return absl::SimpleAtoi(text, &value) && value >= std::numeric_limits<int64_t>::max() / 2;
}

std::string ParentDir(const std::string& dir) {
  size_t slash = dir.find_last_of('/');
  return slash == std::string::npos || slash == 0 ? "/" : dir.substr(0, slash);
}

// One write to devices.allow (allow) or devices.deny.
struct DeviceWriteV1 {
  bool allow = false;
  std::string line;
};

// The kernel's view of a v1 device cgroup: a default and a list of exceptions to it
// (security/device_cgroup.c). Used to refuse rule lists the kernel would not enforce as
// written: it removes an exception only on a write naming the same type and major:minor,
// so "allow c *:* rwm" then "deny c 1:3 rwm" would leave c 1:3 allowed.
class DeviceCgroupV1Model {
 public:
  explicit DeviceCgroupV1Model(bool default_allow) { Reset(default_allow); }

  void Reset(bool default_allow) {
    default_allow_ = default_allow;
    exceptions_.clear();
  }

  // `type` is 'c' or 'b'; `access` bits 1 (m), 2 (r), 4 (w).
  absl::Status Apply(size_t index, bool allow, char type, int64_t major, int64_t minor,
                     uint32_t access) {
    // An allow in a default-deny cgroup (or a deny in a default-allow one) adds an exception.
    if (allow != default_allow_) {
      for (Exception& e : exceptions_) {
        if (e.type == type && e.major == major && e.minor == minor) {
          e.access |= access;
          return absl::OkStatus();
        }
      }
      exceptions_.push_back({type, major, minor, access});
      return absl::OkStatus();
    }
    for (auto it = exceptions_.begin(); it != exceptions_.end();) {
      bool overlaps = it->type == type && (it->major == -1 || major == -1 || it->major == major) &&
                      (it->minor == -1 || minor == -1 || it->minor == minor) &&
                      (it->access & access) != 0;
      if (!overlaps) {
        ++it;
        continue;
      }
      if (it->major != major || it->minor != minor) {
        return absl::InvalidArgumentError(absl::StrCat(
            "device rule ", index, " cannot be expressed on cgroup v1: it would not undo the ",
            default_allow_ ? "deny" : "allow", " of ",
            DeviceLine(it->type, it->major, it->minor, it->access),
            " that earlier rules made (v1 only removes an entry naming the same devices)"));
      }
      it->access &= ~access;
      it = it->access == 0 ? exceptions_.erase(it) : it + 1;
    }
    return absl::OkStatus();
  }

  // The kernel's format: "c 1:3 rwm", "*" for any.
  static std::string DeviceLine(char type, int64_t major, int64_t minor, uint32_t access) {
    auto number = [](int64_t n) { return n == -1 ? std::string("*") : absl::StrCat(n); };
    std::string bits;
    if (access & 2) bits += 'r';
    if (access & 4) bits += 'w';
    if (access & 1) bits += 'm';
    return absl::StrCat(std::string(1, type), " ", number(major), ":", number(minor), " ", bits);
  }

 private:
  struct Exception {
    char type;
    int64_t major;
    int64_t minor;
    uint32_t access;
  };
  bool default_allow_ = false;
  std::vector<Exception> exceptions_;
};

// Access bits as DeviceCgroupV1Model counts them (the kernel's ACC_MKNOD/READ/WRITE).
uint32_t AccessBitsV1(absl::string_view access) {
  uint32_t bits = 0;
  for (char c : access) bits |= c == 'm' ? 1 : c == 'r' ? 2 : c == 'w' ? 4 : 0;
  return bits;
}

// The writes that make a v1 device cgroup follow `rules`: a reset ("a" to devices.deny, or
// to devices.allow when the list starts by allowing everything, which that write then
// stands for), then one write per rule in order. v1 has no atomic swap, so re-applying to a
// running container denies it, for the length of these writes, devices its list allows.
absl::StatusOr<std::vector<DeviceWriteV1>> DeviceWritesV1(
    const std::vector<CgroupDeviceRule>& rules) {
  RETURN_IF_ERROR(ValidateDeviceRules(rules));
  bool starts_with_all = !rules.empty() && IsDeviceWildcardRule(rules.front());
  bool default_allow = starts_with_all && rules.front().allow;
  std::vector<DeviceWriteV1> out = {{default_allow, "a"}};
  DeviceCgroupV1Model model(default_allow);
  for (size_t i = starts_with_all ? 1 : 0; i < rules.size(); ++i) {
    const CgroupDeviceRule& r = rules[i];
    if (IsDeviceWildcardRule(r)) {
      // The kernel reads any line starting with "a" as this reset; earlier rules are moot.
      out.push_back({r.allow, "a *:* rwm"});
      model.Reset(r.allow);
      continue;
    }
    // Since the kernel reads any "a ..." line as "a", a narrower type-a rule is written as
    // its c and b halves.
    std::vector<char> types =
        r.type == 'a' ? std::vector<char>{'c', 'b'} : std::vector<char>{r.type};
    uint32_t access = AccessBitsV1(r.access);
    for (char type : types) {
      RETURN_IF_ERROR(model.Apply(i, r.allow, type, r.major, r.minor, access));
      out.push_back({r.allow, DeviceCgroupV1Model::DeviceLine(type, r.major, r.minor, access)});
    }
  }
  return out;
}

class CgroupDriverV1 : public CgroupDriver {
 public:
  CgroupDriverV1(std::vector<CgroupMountV1> mounts, std::shared_ptr<CgroupKernel> kernel)
      : kernel_(std::move(kernel)) {
    for (CgroupMountV1& m : mounts) {
      bool used = std::any_of(std::begin(kUsedControllers), std::end(kUsedControllers),
                              [&](absl::string_view c) { return Has(m, c); });
      if (used) hierarchies_.push_back(std::move(m));
    }
  }

  absl::string_view Name() const override { return "v1"; }

  absl::StatusOr<CgroupOrigin> Create(const std::string& path) override {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    absl::StatusOr<CgroupOrigin> origin = CreateDirs(p);
    if (!origin.ok()) return Annotate(origin.status(), absl::StrCat("create cgroup ", path));
    return origin;
  }

  absl::Status Apply(const std::string& path, const CgroupResources& r, CgroupOrigin origin) override {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    // Made just now, the cgroup holds every default: only what is asked for is written.
    const bool fresh = origin == CgroupOrigin::kMade;
    // Device rules are checked (and their hierarchy found) before anything is written, so a
    // bad list changes nothing.
    std::vector<std::pair<std::string, std::vector<std::string>>> device_writes;
    absl::Status st = r.devices ? PlanDevices(p, *r.devices, device_writes) : absl::OkStatus();
    // Likewise a swap limit the memory limit contradicts.
    if (st.ok()) st = MemoryPlusSwapLimit(r).status();
    if (st.ok()) st = ApplyMemory(p, r, fresh);
    if (st.ok()) st = ApplyCpu(p, r, fresh);
    if (st.ok()) st = ApplyRealtime(p, r, fresh);
    if (st.ok()) st = ApplyCpuset(p, r, fresh);
    if (st.ok()) st = ApplyPids(p, r, fresh);
    // A failed write stops here with the list half-written: after the usual deny-all reset
    // that means fewer devices open than asked, not more.
    for (const auto& [file, lines] : device_writes) {
      if (!st.ok()) break;
      st = kernel_->WriteEach(file, lines);
    }
    return Annotate(st, absl::StrCat("apply limits to cgroup ", path));
  }

  absl::Status AddProcess(const std::string& path, pid_t pid) override {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    for (const CgroupMountV1& h : hierarchies_) {
      absl::Status st = kernel_->Write(JoinCgroupDir(Dir(h, p), "cgroup.procs"), absl::StrCat(pid));
      if (!st.ok()) return Annotate(st, absl::StrCat("add pid ", pid, " to cgroup ", path));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> SelfJoinFiles(const std::string& path) override {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    std::vector<std::string> files;
    for (const CgroupMountV1& h : hierarchies_) files.push_back(JoinCgroupDir(Dir(h, p), "tasks"));
    return files;
  }

  absl::Status Freeze(const std::string& path) override {
    ASSIGN_OR_RETURN(std::string state, FreezerState(path));
    absl::Status st = PollUntil(*kernel_, kFreezeTimeout, "freeze", [&]() -> absl::StatusOr<bool> {
      // Writing FROZEN again retries the tasks that were busy (FREEZING) the last time.
      RETURN_IF_ERROR(kernel_->Write(state, "FROZEN"));
      ASSIGN_OR_RETURN(std::string now, ReadTrimmed(*kernel_, state));
      return now == "FROZEN";
    });
    if (absl::IsDeadlineExceeded(st)) {
      // Half-frozen is the worst state to leave behind: some tasks stopped, others not.
      kernel_->Write(state, "THAWED").IgnoreError();
    }
    return Annotate(st, absl::StrCat("freeze cgroup ", path));
  }

  absl::Status Thaw(const std::string& path) override {
    ASSIGN_OR_RETURN(std::string state, FreezerState(path));
    return Annotate(kernel_->Write(state, "THAWED"), absl::StrCat("thaw cgroup ", path));
  }

  absl::Status Delegate(const std::string& path, uid_t uid, gid_t gid) override {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    for (const CgroupMountV1& h : hierarchies_) {
      std::string dir = Dir(h, p);
      for (const std::string& target : {dir, JoinCgroupDir(dir, "cgroup.procs"), JoinCgroupDir(dir, "tasks")}) {
        absl::Status st = kernel_->Chown(target, uid, gid);
        if (!st.ok()) return Annotate(st, absl::StrCat("delegate cgroup ", path));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<CgroupStats> Stats(const std::string& path) override {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    CgroupStats stats;
    absl::Status st = ReadStats(p, stats);
    if (!st.ok()) return Annotate(st, absl::StrCat("stats of cgroup ", path));
    return stats;
  }

  absl::StatusOr<uint64_t> OomKills(const std::string& path) override {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    const CgroupMountV1* h = Find("memory");
    if (h == nullptr) return 0;
    absl::StatusOr<uint64_t> kills = ReadOomKills(Dir(*h, p));
    if (!kills.ok()) return Annotate(kills.status(), absl::StrCat("OOM kills of cgroup ", path));
    return kills;
  }

  absl::StatusOr<std::vector<pid_t>> Processes(const std::string& path) override {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    // A process added to only some hierarchies (AddProcess failed half-way) still counts.
    std::set<pid_t> all;
    for (const CgroupMountV1& h : hierarchies_) {
      absl::StatusOr<std::vector<pid_t>> pids = SubtreePids(*kernel_, Dir(h, p));
      if (!pids.ok()) return Annotate(pids.status(), absl::StrCat("processes of cgroup ", path));
      all.insert(pids->begin(), pids->end());
    }
    return std::vector<pid_t>(all.begin(), all.end());
  }

  absl::Status Destroy(const std::string& path) override {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    // A v1-frozen task does not die of SIGKILL until thawed.
    if (const CgroupMountV1* freezer = Find("freezer")) {
      absl::Status st = kernel_->Write(JoinCgroupDir(Dir(*freezer, p), "freezer.state"), "THAWED");
      if (!st.ok() && !absl::IsNotFound(st)) {
        return Annotate(st, absl::StrCat("destroy cgroup ", path));
      }
    }
    std::vector<std::string> dirs;
    for (const CgroupMountV1& h : hierarchies_) dirs.push_back(Dir(h, p));
    return Annotate(KillAndRemove(*kernel_, dirs, nullptr, kDestroyTimeout),
                    absl::StrCat("destroy cgroup ", path));
  }

  absl::Status RemoveEmpty(const std::string& path) override {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    for (const CgroupMountV1& h : hierarchies_) {
      absl::Status st = kernel_->RemoveDir(Dir(h, p));
      if (!st.ok() && !absl::IsNotFound(st)) return Annotate(st, absl::StrCat("remove cgroup ", path));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> Directory(const std::string& path,
                                        absl::string_view controller) const override {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    const CgroupMountV1* h = Find(controller);
    if (h == nullptr) {
      return absl::NotFoundError(absl::StrCat("no cgroup v1 hierarchy for ", controller));
    }
    return Dir(*h, p);
  }

  absl::StatusOr<std::string> AbsolutePath(const std::string& path) const override {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    if (p.absolute || hierarchies_.empty()) return path;
    for (const CgroupMountV1& h : hierarchies_) {
      // One absolute path cannot name "below our own" in hierarchies where we sit apart.
      if (h.own_path != hierarchies_.front().own_path) return path;
    }
    return AbsoluteCgroupPath(hierarchies_.front().own_path, p);
  }

 private:
  const CgroupMountV1* Find(absl::string_view controller) const {
    for (const CgroupMountV1& h : hierarchies_) {
      if (Has(h, controller)) return &h;
    }
    return nullptr;
  }

  std::string Dir(const CgroupMountV1& h, const CgroupPath& p) const {
    return CgroupDirFor(h.mount_point, h.own_path, p);
  }

  // The hierarchy for `controller`, or FailedPrecondition when a limit needs one that is
  // not mounted; nullptr (no error) when nothing was asked of it.
  absl::StatusOr<const CgroupMountV1*> Need(absl::string_view controller, bool wanted) const {
    const CgroupMountV1* h = Find(controller);
    if (h == nullptr && wanted) {
      return absl::FailedPreconditionError(
          absl::StrCat("no cgroup v1 ", controller, " hierarchy is mounted"));
    }
    return h;
  }

  absl::StatusOr<std::string> FreezerState(const std::string& path) const {
    ASSIGN_OR_RETURN(CgroupPath p, ParseCgroupPath(path));
    ASSIGN_OR_RETURN(const CgroupMountV1* h, Need("freezer", true));
    return JoinCgroupDir(Dir(*h, p), "freezer.state");
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
    for (const CgroupMountV1& h : hierarchies_) {
      std::string dir = CgroupBaseDir(h.mount_point, h.own_path, p);
      for (size_t i = 0; i < p.components.size(); ++i) {
        std::string parent = dir;
        dir = JoinCgroupDir(dir, p.components[i]);
        // An existing directory is reused: recovery re-creates, and parents are shared.
        absl::Status st = kernel_->MakeDir(dir);
        if (st.ok()) {
          created.push_back(dir);
        } else if (!absl::IsAlreadyExists(st)) {
          return st;
        } else if (i + 1 == p.components.size()) {
          origin = CgroupOrigin::kFound;
        }
        if (!Has(h, "cpuset")) continue;
        RETURN_IF_ERROR(InheritCpuset(parent, dir));
        // A parent we made gives each new child its cpus and mems at mkdir: writing them
        // instead checks the value against every sibling and rebuilds the scheduler's domains,
        // which walks every cpuset's tasks (a cost that grows with the containers on the node).
        // Best effort: InheritCpuset writes what a child did not get.
        if (st.ok() && i + 1 < p.components.size()) {
          kernel_->Write(JoinCgroupDir(dir, "cgroup.clone_children"), "1").IgnoreError();
        }
      }
    }
    std::move(rollback).Cancel();
    return origin;
  }

  // A new v1 cpuset starts with empty cpus and mems, and no task can join it until both are
  // set; give it the parent's.
  absl::Status InheritCpuset(const std::string& parent, const std::string& dir) {
    for (absl::string_view name : {"cpuset.cpus", "cpuset.mems"}) {
      std::string file = JoinCgroupDir(dir, name);
      ASSIGN_OR_RETURN(std::string mine, ReadTrimmed(*kernel_, file));
      if (!mine.empty()) continue;
      std::string parent_file = JoinCgroupDir(parent, name);
      ASSIGN_OR_RETURN(std::string value, ReadTrimmed(*kernel_, parent_file));
      if (value.empty()) {
        return absl::FailedPreconditionError(absl::StrCat(parent_file, " is empty"));
      }
      RETURN_IF_ERROR(kernel_->Write(file, value));
    }
    return absl::OkStatus();
  }

  absl::Status ApplyMemory(const CgroupPath& p, const CgroupResources& r, bool fresh) {
    bool limited = r.memory_limit_bytes.has_value() && *r.memory_limit_bytes > 0;
    auto positive = [](const std::optional<int64_t>& v) { return v.has_value() && *v > 0; };
    bool wanted = limited || positive(r.memory_reservation_bytes) ||
                  (r.memory_swap_bytes.has_value() && *r.memory_swap_bytes >= 0) ||
                  positive(r.memory_kernel_bytes) || positive(r.memory_kernel_tcp_bytes) ||
                  r.memory_swappiness.has_value() || r.disable_oom_killer.value_or(false);
    ASSIGN_OR_RETURN(const CgroupMountV1* h, Need("memory", wanted));
    if (h == nullptr || (fresh && !wanted)) return absl::OkStatus();
    std::string dir = Dir(*h, p);
    RETURN_IF_ERROR(ApplyMemoryLimits(dir, r));
    auto bytes = [&](const std::optional<int64_t>& v) {
      return positive(v) ? std::optional<std::string>(absl::StrCat(*v)) : std::nullopt;
    };
    RETURN_IF_ERROR(WriteOrRestore(JoinCgroupDir(dir, "memory.soft_limit_in_bytes"),
                                   bytes(r.memory_reservation_bytes), fresh, RestoreUnlimited));
    // Kernel memory limits are deprecated: 5.16+ answer ENOTSUPP/EOPNOTSUPP and do not
    // enforce them (some configurations say EINVAL). Nothing to enforce is nothing to fail.
    for (const auto& [name, value] :
         {std::pair{"memory.kmem.limit_in_bytes", &r.memory_kernel_bytes},
          std::pair{"memory.kmem.tcp.limit_in_bytes", &r.memory_kernel_tcp_bytes}}) {
      absl::Status st = WriteOrRestore(JoinCgroupDir(dir, name), bytes(*value), fresh, RestoreUnlimited);
      if (IsErrno(st, EOPNOTSUPP) || IsErrno(st, kKernelEnotsupp) || IsErrno(st, EINVAL)) continue;
      RETURN_IF_ERROR(st);
    }
    // A new cgroup takes swappiness and oom_kill_disable from its parent: that is the default.
    std::string parent = ParentDir(dir);
    std::optional<std::string> swappiness;
    if (r.memory_swappiness) swappiness = absl::StrCat(*r.memory_swappiness);
    RETURN_IF_ERROR(WriteOrRestore(
        JoinCgroupDir(dir, "memory.swappiness"), swappiness, fresh,
        [&](absl::string_view current) -> absl::StatusOr<std::optional<std::string>> {
          ASSIGN_OR_RETURN(std::string inherited,
                           ReadTrimmed(*kernel_, JoinCgroupDir(parent, "memory.swappiness")));
          if (current == inherited) return std::nullopt;
          return inherited;
        }));
    std::optional<std::string> disable;
    if (r.disable_oom_killer) disable = *r.disable_oom_killer ? "1" : "0";
    return WriteOrRestore(
        JoinCgroupDir(dir, "memory.oom_control"), disable, fresh,
        [&](absl::string_view current) -> absl::StatusOr<std::optional<std::string>> {
          ASSIGN_OR_RETURN(std::string parent_oom,
                           kernel_->Read(JoinCgroupDir(parent, "memory.oom_control")));
          uint64_t inherited = FlatKeyedValue(parent_oom, "oom_kill_disable").value_or(0);
          if (FlatKeyedValue(current, "oom_kill_disable") == inherited) return std::nullopt;
          return absl::StrCat(inherited);
        });
  }

  // memory.limit_in_bytes and, with swap accounting, memory.memsw.limit_in_bytes.
  absl::Status ApplyMemoryLimits(const std::string& dir, const CgroupResources& r) {
    bool limited = r.memory_limit_bytes.has_value() && *r.memory_limit_bytes > 0;
    ASSIGN_OR_RETURN(std::optional<int64_t> memsw_limit, MemoryPlusSwapLimit(r));
    std::string mem = JoinCgroupDir(dir, "memory.limit_in_bytes");
    std::string value = limited ? absl::StrCat(*r.memory_limit_bytes) : "-1";
    std::string memsw = JoinCgroupDir(dir, "memory.memsw.limit_in_bytes");
    if (!kernel_->Exists(memsw)) {
      // Without swap accounting swap cannot be capped: the memory limit stands alone, which
      // only a request for some swap (memory+swap above the limit) cannot accept.
      bool swap_asked = r.memory_swap_bytes.has_value() && *r.memory_swap_bytes >= 0 &&
                        *r.memory_swap_bytes != *r.memory_limit_bytes;
      if (swap_asked) {
        return absl::FailedPreconditionError(absl::StrCat(
            memsw, " is missing: swap accounting is off, so a memory+swap limit cannot be set"));
      }
      return kernel_->Write(mem, value);
    }
    // memsw counts memory + swap; equal to the memory limit it leaves no room for swap. The
    // kernel insists memsw >= memory at every moment, so raise memsw first and lower it last.
    ASSIGN_OR_RETURN(std::string current_text, ReadTrimmed(*kernel_, memsw));
    int64_t current = 0;
    if (!absl::SimpleAtoi(current_text, &current)) {
      return absl::InternalError(absl::StrCat(memsw, ": not a number: \"", current_text, "\""));
    }
    std::string memsw_value = memsw_limit ? absl::StrCat(*memsw_limit) : "-1";
    int64_t target = memsw_limit.value_or(std::numeric_limits<int64_t>::max());
    if (target > current) {
      RETURN_IF_ERROR(kernel_->Write(memsw, memsw_value));
      return kernel_->Write(mem, value);
    }
    RETURN_IF_ERROR(kernel_->Write(mem, value));
    return kernel_->Write(memsw, memsw_value);
  }

  // What puts a control file back to the kernel default, given its current content: the
  // value to write, or nullopt when it already holds the default.
  using Restore = std::function<absl::StatusOr<std::optional<std::string>>(absl::string_view)>;

  static absl::StatusOr<std::optional<std::string>> RestoreUnlimited(absl::string_view current) {
    if (IsUnlimitedV1(current)) return std::nullopt;
    return std::string("-1");
  }

  // Asked for (`value` set): writes it, and the file must exist. Not asked: nothing on a
  // `fresh` cgroup (it holds the default); else writes what `restore` says when the file
  // exists, so a cgroup already at the defaults sees no write.
  absl::Status WriteOrRestore(const std::string& file, const std::optional<std::string>& value, bool fresh,
                              const Restore& restore) {
    if (value.has_value()) {
      if (!kernel_->Exists(file)) {
        return absl::FailedPreconditionError(
            absl::StrCat(file, " is missing: this kernel cannot set it"));
      }
      return kernel_->Write(file, *value);
    }
    if (fresh || !kernel_->Exists(file)) return absl::OkStatus();
    ASSIGN_OR_RETURN(std::string current, ReadTrimmed(*kernel_, file));
    ASSIGN_OR_RETURN(std::optional<std::string> default_value, restore(current));
    if (!default_value.has_value()) return absl::OkStatus();
    return kernel_->Write(file, *default_value);
  }

  absl::Status ApplyCpu(const CgroupPath& p, const CgroupResources& r, bool fresh) {
    bool quota_set = r.cpu_quota_us.has_value() && *r.cpu_quota_us > 0;
    bool wanted = quota_set || r.cpu_shares.has_value() || r.cpu_period_us.has_value();
    ASSIGN_OR_RETURN(const CgroupMountV1* h, Need("cpu", wanted));
    if (h == nullptr || (fresh && !wanted)) return absl::OkStatus();
    std::string dir = Dir(*h, p);
    std::string period_file = JoinCgroupDir(dir, "cpu.cfs_period_us");
    std::string quota_file = JoinCgroupDir(dir, "cpu.cfs_quota_us");
    uint64_t period_us = r.cpu_period_us.value_or(0) > 0 ? *r.cpu_period_us : kDefaultPeriodUs;
    std::string period = absl::StrCat(period_us);
    std::string quota = quota_set ? absl::StrCat(*r.cpu_quota_us) : "-1";
    // The kernel checks quota/period against the parent on each write, so one order can be
    // refused where the other passes (e.g. shrinking the period under an existing quota).
    absl::Status st = kernel_->Write(period_file, period);
    if (absl::IsInvalidArgument(st)) {
      RETURN_IF_ERROR(kernel_->Write(quota_file, quota));
      RETURN_IF_ERROR(kernel_->Write(period_file, period));
    } else {
      RETURN_IF_ERROR(st);
      RETURN_IF_ERROR(kernel_->Write(quota_file, quota));
    }
    return kernel_->Write(JoinCgroupDir(dir, "cpu.shares"),
                          absl::StrCat(r.cpu_shares.value_or(kDefaultShares)));
  }

  // cpu.rt_period_us and cpu.rt_runtime_us (kernels with CONFIG_RT_GROUP_SCHED).
  absl::Status ApplyRealtime(const CgroupPath& p, const CgroupResources& r, bool fresh) {
    bool wanted = r.cpu_rt_runtime_us.has_value() || r.cpu_rt_period_us.has_value();
    ASSIGN_OR_RETURN(const CgroupMountV1* h, Need("cpu", wanted));
    if (h == nullptr || (fresh && !wanted)) return absl::OkStatus();
    std::string dir = Dir(*h, p);
    std::string period_file = JoinCgroupDir(dir, "cpu.rt_period_us");
    std::string runtime_file = JoinCgroupDir(dir, "cpu.rt_runtime_us");
    if (!kernel_->Exists(period_file) || !kernel_->Exists(runtime_file)) {
      if (!wanted) return absl::OkStatus();
      return absl::FailedPreconditionError(absl::StrCat(
          period_file, " is missing: this kernel has no realtime group scheduling"));
    }
    uint64_t period_us =
        r.cpu_rt_period_us.value_or(0) > 0 ? *r.cpu_rt_period_us : kDefaultRtPeriodUs;
    std::string period = absl::StrCat(period_us);
    std::string runtime = absl::StrCat(r.cpu_rt_runtime_us.value_or(0));
    ASSIGN_OR_RETURN(std::string current_period, ReadTrimmed(*kernel_, period_file));
    ASSIGN_OR_RETURN(std::string current_runtime, ReadTrimmed(*kernel_, runtime_file));
    if (current_period == period && current_runtime == runtime) return absl::OkStatus();
    // Unasked, no budget is the default whatever the period (a new cgroup takes the
    // kernel.sched_rt_period_us of its day).
    if (!wanted && current_runtime == "0") return absl::OkStatus();
    // As with CFS, the kernel checks runtime/period on each write (against the parent's and
    // the children's budgets), so when the period first is refused, the runtime goes first.
    absl::Status st = kernel_->Write(period_file, period);
    if (absl::IsInvalidArgument(st)) {
      RETURN_IF_ERROR(kernel_->Write(runtime_file, runtime));
      return kernel_->Write(period_file, period);
    }
    RETURN_IF_ERROR(st);
    return kernel_->Write(runtime_file, runtime);
  }

  // cpuset.cpus and cpuset.mems; unset, the parent's (what Create gave the cgroup).
  absl::Status ApplyCpuset(const CgroupPath& p, const CgroupResources& r, bool fresh) {
    bool wanted = !r.cpuset_cpus.empty() || !r.cpuset_mems.empty();
    ASSIGN_OR_RETURN(const CgroupMountV1* h, Need("cpuset", wanted));
    // Create gave a new cgroup its parent's cpus and mems.
    if (h == nullptr || (fresh && !wanted)) return absl::OkStatus();
    std::string dir = Dir(*h, p);
    for (const auto& [name, asked] :
         {std::pair<const char*, const std::string*>{"cpuset.cpus", &r.cpuset_cpus},
          std::pair<const char*, const std::string*>{"cpuset.mems", &r.cpuset_mems}}) {
      std::string file = JoinCgroupDir(dir, name);
      std::string value = *asked;
      if (value.empty()) {
        ASSIGN_OR_RETURN(value, ReadTrimmed(*kernel_, JoinCgroupDir(ParentDir(dir), name)));
        ASSIGN_OR_RETURN(std::string current, ReadTrimmed(*kernel_, file));
        // An empty parent leaves nothing to copy (Create already refused one).
        if (value.empty() || current == value) continue;
      }
      RETURN_IF_ERROR(kernel_->Write(file, value));
    }
    return absl::OkStatus();
  }

  absl::Status ApplyPids(const CgroupPath& p, const CgroupResources& r, bool fresh) {
    bool limited = r.pids_limit.has_value() && *r.pids_limit > 0;
    ASSIGN_OR_RETURN(const CgroupMountV1* h, Need("pids", limited));
    if (h == nullptr || (fresh && !limited)) return absl::OkStatus();
    return kernel_->Write(JoinCgroupDir(Dir(*h, p), "pids.max"),
                          limited ? absl::StrCat(*r.pids_limit) : "max");
  }

  // The writes in order, those in a row to one file together (a default list is a reset
  // and ten allows: two opens instead of eleven).
  absl::Status PlanDevices(const CgroupPath& p, const std::vector<CgroupDeviceRule>& rules,
                           std::vector<std::pair<std::string, std::vector<std::string>>>& writes) const {
    ASSIGN_OR_RETURN(std::vector<DeviceWriteV1> lines, DeviceWritesV1(rules));
    ASSIGN_OR_RETURN(const CgroupMountV1* h, Need("devices", true));
    std::string dir = Dir(*h, p);
    for (const DeviceWriteV1& w : lines) {
      std::string file = JoinCgroupDir(dir, w.allow ? "devices.allow" : "devices.deny");
      if (writes.empty() || writes.back().first != file) writes.emplace_back(std::move(file), std::vector<std::string>());
      writes.back().second.push_back(w.line);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> ReadOomKills(const std::string& memory_dir) {
    ASSIGN_OR_RETURN(std::string oom, kernel_->Read(JoinCgroupDir(memory_dir, "memory.oom_control")));
    // Kernels before 4.13 have no "oom_kill" line.
    return FlatKeyedValue(oom, "oom_kill").value_or(0);
  }

  // The file's text, or "" when this kernel has no such file (older kernels, other schedulers).
  absl::StatusOr<std::string> ReadOptional(const std::string& file) {
    if (!kernel_->Exists(file)) return std::string();
    return kernel_->Read(file);
  }

  absl::Status ReadStats(const CgroupPath& p, CgroupStats& stats) {
    // A hierarchy that is not mounted has nothing to count: its figures stay 0.
    if (const CgroupMountV1* h = Find("memory")) {
      std::string dir = Dir(*h, p);
      ASSIGN_OR_RETURN(stats.memory_usage_bytes,
                       ReadUint(*kernel_, JoinCgroupDir(dir, "memory.usage_in_bytes")));
      ASSIGN_OR_RETURN(std::string limit, ReadOptional(JoinCgroupDir(dir, "memory.limit_in_bytes")));
      stats.memory_limit_bytes = ParseLimit(limit);
      ASSIGN_OR_RETURN(std::string failcnt, ReadOptional(JoinCgroupDir(dir, "memory.failcnt")));
      stats.memory_failcnt = ParseCount(failcnt);
      ASSIGN_OR_RETURN(std::string stat, ReadOptional(JoinCgroupDir(dir, "memory.stat")));
      // total_*: this cgroup and any below it (a container may make its own).
      stats.memory_rss_bytes = FlatKeyedValue(stat, "total_rss").value_or(FlatKeyedValue(stat, "rss").value_or(0));
      stats.memory_cache_bytes =
          FlatKeyedValue(stat, "total_cache").value_or(FlatKeyedValue(stat, "cache").value_or(0));
      stats.memory_inactive_file_bytes = FlatKeyedValue(stat, "total_inactive_file")
                                             .value_or(FlatKeyedValue(stat, "inactive_file").value_or(0));
      ASSIGN_OR_RETURN(stats.oom_kills, ReadOomKills(dir));
      stats.oom_events = stats.oom_kills;
    }
    if (const CgroupMountV1* h = Find("cpuacct")) {
      std::string dir = Dir(*h, p);
      ASSIGN_OR_RETURN(stats.cpu_usage_ns, ReadUint(*kernel_, JoinCgroupDir(dir, "cpuacct.usage")));
      ASSIGN_OR_RETURN(std::string ticks, ReadOptional(JoinCgroupDir(dir, "cpuacct.stat")));
      static const uint64_t kNsPerTick = 1'000'000'000ull / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
      stats.cpu_user_ns = FlatKeyedValue(ticks, "user").value_or(0) * kNsPerTick;
      stats.cpu_system_ns = FlatKeyedValue(ticks, "system").value_or(0) * kNsPerTick;
    }
    if (const CgroupMountV1* h = Find("cpu")) {
      ASSIGN_OR_RETURN(std::string cpu, ReadOptional(JoinCgroupDir(Dir(*h, p), "cpu.stat")));
      stats.cpu_periods = FlatKeyedValue(cpu, "nr_periods").value_or(0);
      stats.cpu_throttled_periods = FlatKeyedValue(cpu, "nr_throttled").value_or(0);
      stats.cpu_throttled_ns = FlatKeyedValue(cpu, "throttled_time").value_or(0);
    }
    if (const CgroupMountV1* h = Find("pids")) {
      std::string dir = Dir(*h, p);
      ASSIGN_OR_RETURN(stats.pids_current, ReadUint(*kernel_, JoinCgroupDir(dir, "pids.current")));
      ASSIGN_OR_RETURN(std::string max, ReadOptional(JoinCgroupDir(dir, "pids.max")));
      stats.pids_limit = ParseLimit(max);
    }
    if (const CgroupMountV1* h = Find("blkio")) {
      std::string dir = Dir(*h, p);
      // The throttle files count every request whatever the I/O scheduler; the _recursive
      // ones include cgroups below this one.
      for (auto [file, read, write] :
           {std::tuple{"blkio.throttle.io_service_bytes", &stats.io_read_bytes, &stats.io_write_bytes},
            std::tuple{"blkio.throttle.io_serviced", &stats.io_read_ops, &stats.io_write_ops}}) {
        std::string recursive = JoinCgroupDir(dir, absl::StrCat(file, "_recursive"));
        ASSIGN_OR_RETURN(std::string text,
                         ReadOptional(kernel_->Exists(recursive) ? recursive : JoinCgroupDir(dir, file)));
        AddBlkioV1(text, *read, *write);
      }
    }
    return absl::OkStatus();
  }

  std::shared_ptr<CgroupKernel> kernel_;
  std::vector<CgroupMountV1> hierarchies_;
};

}  // namespace

std::unique_ptr<CgroupDriver> MakeCgroupDriverV1(std::vector<CgroupMountV1> mounts,
                                                 std::shared_ptr<CgroupKernel> kernel) {
  return std::make_unique<CgroupDriverV1>(std::move(mounts), std::move(kernel));
}

std::unique_ptr<CgroupDriver> MakeCgroupDriverV1(std::vector<CgroupMountV1> mounts) {
  return MakeCgroupDriverV1(std::move(mounts), std::make_shared<LinuxCgroupKernel>());
}

}  // namespace berth
