#include "runtime/container/process_plan.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/container/process_setup.h"
#include "runtime/container/sync_channel.h"
#include "runtime/seccomp/seccomp_filter.h"

namespace berth::container_internal {

namespace {

constexpr char kDefaultPath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string LimitText(uint64_t v) {
  return v == RLIM_INFINITY ? std::string("unlimited") : absl::StrCat(v);
}

absl::StatusOr<std::vector<int>> CapabilityNumbers(const std::vector<std::string>& names, const char* set,
                                                   int last) {
  std::vector<int> out;
  for (const std::string& name : names) {
    absl::StatusOr<int> cap = spec::CapabilityNumber(name);
    if (!cap.ok()) {
      return SysError(EINVAL, absl::StrCat("process.capabilities.", set, ": ", cap.status().message()));
    }
    if (*cap > last) continue;  // unknown to this kernel: nothing to grant
    out.push_back(*cap);
  }
  return out;
}

void SetBit(__user_cap_data_struct* sets, uint32_t __user_cap_data_struct::*field, int cap) {
  sets[cap / 32].*field |= 1U << (cap % 32);
}

bool HaveEffectiveCapability(cap_value_t cap) {
  cap_t caps = cap_get_proc();
  if (caps == nullptr) return false;
  cap_flag_value_t value = CAP_CLEAR;
  cap_get_flag(caps, cap, CAP_EFFECTIVE, &value);
  cap_free(caps);
  return value == CAP_SET;
}

bool Fail(ProcessFailure* failure, ProcessStep step, int err, int detail = 0) {
  *failure = {step, err, detail};
  return false;
}

}  // namespace

absl::Status CheckRlimitsAllowed(const std::vector<spec::Rlimit>& rlimits) {
  bool can_raise = HaveEffectiveCapability(CAP_SYS_RESOURCE);
  for (const spec::Rlimit& r : rlimits) {
    absl::StatusOr<int> resource = spec::RlimitResource(r.type);
    if (!resource.ok()) return Annotate(resource.status(), "process.rlimits");
    if (r.soft > r.hard) {
      return absl::InvalidArgumentError(absl::StrCat(r.type, " soft ", r.soft, " exceeds its hard limit ", r.hard));
    }
    struct rlimit current;
    if (::getrlimit(*resource, &current) != 0) return ErrnoToStatus(absl::StrCat("getrlimit ", r.type));
    if (!can_raise && r.hard > current.rlim_max) {
      return absl::FailedPreconditionError(absl::StrCat(r.type, " hard ", LimitText(r.hard),
                                                        " exceeds the runtime's own hard limit ",
                                                        LimitText(current.rlim_max), "; this host lacks CAP_SYS_RESOURCE"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<CredentialPlan> PlanCredentials(const spec::User& user,
                                               const std::optional<spec::Capabilities>& capabilities) {
  CredentialPlan plan;
  plan.uid = user.uid;
  plan.gid = user.gid;
  plan.groups.assign(user.additional_gids.begin(), user.additional_gids.end());
  if (!capabilities) return plan;
  plan.capabilities = true;
  plan.last_cap = static_cast<int>(cap_max_bits()) - 1;
  const spec::Capabilities& caps = *capabilities;
  ASSIGN_OR_RETURN(std::vector<int> bounding, CapabilityNumbers(caps.bounding, "bounding", plan.last_cap));
  for (int cap : bounding) plan.bounding |= uint64_t{1} << cap;
  ASSIGN_OR_RETURN(std::vector<int> effective, CapabilityNumbers(caps.effective, "effective", plan.last_cap));
  ASSIGN_OR_RETURN(std::vector<int> permitted, CapabilityNumbers(caps.permitted, "permitted", plan.last_cap));
  ASSIGN_OR_RETURN(std::vector<int> inheritable,
                   CapabilityNumbers(caps.inheritable, "inheritable", plan.last_cap));
  ASSIGN_OR_RETURN(plan.ambient, CapabilityNumbers(caps.ambient, "ambient", plan.last_cap));
  for (int cap : effective) SetBit(plan.sets, &__user_cap_data_struct::effective, cap);
  for (int cap : permitted) SetBit(plan.sets, &__user_cap_data_struct::permitted, cap);
  for (int cap : inheritable) SetBit(plan.sets, &__user_cap_data_struct::inheritable, cap);
  return plan;
}

absl::StatusOr<std::vector<RlimitPlan>> PlanRlimits(const std::vector<spec::Rlimit>& rlimits) {
  std::vector<RlimitPlan> out;
  for (const spec::Rlimit& r : rlimits) {
    absl::StatusOr<int> resource = spec::RlimitResource(r.type);
    if (!resource.ok()) return SysError(EINVAL, resource.status().message());
    out.push_back({*resource, {static_cast<rlim_t>(r.soft), static_cast<rlim_t>(r.hard)}, r});
  }
  return out;
}

absl::StatusOr<ExecPlan> PlanExec(const spec::Process& process) {
  if (process.args.empty()) return SysError(EINVAL, "process.args is empty");
  ExecPlan plan;
  for (const std::string& a : process.args) plan.argv.push_back(const_cast<char*>(a.c_str()));
  plan.argv.push_back(nullptr);
  plan.path_var = kDefaultPath;
  for (const std::string& e : process.env) {
    plan.envp.push_back(const_cast<char*>(e.c_str()));
    if (absl::StartsWith(e, "PATH=")) plan.path_var = e.substr(5);
  }
  plan.envp.push_back(nullptr);
  plan.name = process.args[0];
  if (plan.name.find('/') != std::string::npos) {
    plan.candidates.push_back(plan.name);
    return plan;
  }
  plan.searched = true;
  for (absl::string_view dir : absl::StrSplit(plan.path_var, ':')) {
    plan.candidates.push_back(dir.empty() ? plan.name : absl::StrCat(dir, dir.back() == '/' ? "" : "/", plan.name));
  }
  return plan;
}

absl::StatusOr<ProcessPlan> PlanProcess(const spec::Process& process, const int stdio[3], int devnull_fd,
                                        const seccomp::Program* seccomp, int preserve_fds) {
  ProcessPlan plan;
  plan.cwd = process.cwd.empty() ? "/" : process.cwd;
  for (int i = 0; i < 3; ++i) {
    plan.stdio[i] = stdio[i] >= 0 ? stdio[i] : devnull_fd;
    if (plan.stdio[i] < 0) return SysError(EBADF, absl::StrCat("stdio fd ", i));
  }
  ASSIGN_OR_RETURN(plan.rlimits, PlanRlimits(process.rlimits));
  plan.preserve_fds = preserve_fds;
  if (process.no_new_privileges) {
    plan.seccomp_late = seccomp;
  } else {
    plan.seccomp_early = seccomp;
  }
  ASSIGN_OR_RETURN(plan.credentials, PlanCredentials(process.user, process.capabilities));
  plan.no_new_privileges = process.no_new_privileges;
  ASSIGN_OR_RETURN(plan.exec, PlanExec(process));
  return plan;
}

bool ApplyChdir(const std::string& dir, ProcessFailure* failure) {
  if (::chdir(dir.c_str()) != 0) return Fail(failure, ProcessStep::kChdir, errno);
  // getcwd(2) names a directory outside the caller's root "(unreachable)/..." (or fails):
  // that is how a working directory leaked from the node looks from inside.
  char buf[PATH_MAX];
  if (::getcwd(buf, sizeof(buf)) == nullptr) {
    if (errno == ERANGE) return true;  // too deep to name, but named from our root
    return Fail(failure, ProcessStep::kCwdOutsideRoot, errno);
  }
  if (buf[0] != '/') return Fail(failure, ProcessStep::kCwdOutsideRoot, EPERM);
  return true;
}

bool ApplyStdio(const int stdio[3], ProcessFailure* failure) {
  // Copy every source above 2 first: a source may itself be 0, 1 or 2, and dup2 onto an
  // equal number would keep a close-on-exec flag.
  int copies[3];
  for (int i = 0; i < 3; ++i) {
    copies[i] = ::fcntl(stdio[i], F_DUPFD_CLOEXEC, 3);
    if (copies[i] < 0) return Fail(failure, ProcessStep::kDupStdio, errno, i);
  }
  for (int i = 0; i < 3; ++i) {
    if (::dup2(copies[i], i) < 0) return Fail(failure, ProcessStep::kDup2Stdio, errno, i);
  }
  for (int fd : copies) ::close(fd);
  return true;
}

bool ApplyRlimitPlans(const std::vector<RlimitPlan>& rlimits, ProcessFailure* failure) {
  for (size_t i = 0; i < rlimits.size(); ++i) {
    if (::setrlimit(rlimits[i].resource, &rlimits[i].limit) != 0) {
      return Fail(failure, ProcessStep::kRlimit, errno, static_cast<int>(i));
    }
  }
  return true;
}

bool ApplyMarkFdsCloseOnExec(int preserve_fds, ProcessFailure* failure) {
  for (int fd = 3; fd < 3 + preserve_fds; ++fd) {
    if (::fcntl(fd, F_SETFD, 0) != 0) return Fail(failure, ProcessStep::kKeepPreservedFd, errno, fd);
  }
  if (::syscall(SYS_close_range, static_cast<unsigned>(3 + preserve_fds), ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    return Fail(failure, ProcessStep::kCloseRange, errno);
  }
  return true;
}

bool ApplySeccomp(const seccomp::Program* seccomp, ProcessFailure* failure) {
  if (seccomp == nullptr) return true;
  if (int err = seccomp::LoadOrErrno(*seccomp); err != 0) return Fail(failure, ProcessStep::kSeccomp, err);
  return true;
}

// Raw syscalls for the ids: glibc's wrappers would signal every thread of a process it
// believes it is part of, and a child sharing its parent's memory shares that belief.
bool ApplyCredentials(const CredentialPlan& plan, ProcessFailure* failure) {
  // In the order the kernel needs: bounding set dropped while still root, ids changed keeping
  // permitted capabilities, then effective/permitted/inheritable and ambient sets.
  if (plan.capabilities) {
    for (int cap = 0; cap <= plan.last_cap; ++cap) {
      if ((plan.bounding >> cap) & 1) continue;
      if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
        return Fail(failure, ProcessStep::kDropBounding, errno, cap);
      }
    }
    if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return Fail(failure, ProcessStep::kSetKeepcaps, errno);
  }
  if (::syscall(SYS_setgroups, plan.groups.size(), plan.groups.empty() ? nullptr : plan.groups.data()) != 0) {
    return Fail(failure, ProcessStep::kSetgroups, errno);
  }
  if (::syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) != 0) return Fail(failure, ProcessStep::kSetresgid, errno);
  if (::syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0) return Fail(failure, ProcessStep::kSetresuid, errno);
  if (!plan.capabilities) return true;
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return Fail(failure, ProcessStep::kClearKeepcaps, errno);
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  if (::syscall(SYS_capset, &header, plan.sets) != 0) return Fail(failure, ProcessStep::kSetCapabilities, errno);
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return Fail(failure, ProcessStep::kClearAmbient, errno);
  }
  for (int cap : plan.ambient) {
    // The kernel only raises what is both permitted and inheritable; like runc, a request
    // beyond that is skipped rather than fatal.
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0 && errno != EPERM && errno != EINVAL) {
      return Fail(failure, ProcessStep::kRaiseAmbient, errno, cap);
    }
  }
  return true;
}

bool ApplyNoNewPrivileges(ProcessFailure* failure) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return Fail(failure, ProcessStep::kNoNewPrivs, errno);
  return true;
}

bool ApplyExec(const ExecPlan& plan, ProcessFailure* failure) {
  if (!plan.searched) {
    ::execve(plan.candidates[0].c_str(), plan.argv.data(), plan.envp.data());
    return Fail(failure, ProcessStep::kExec, errno, -1);
  }
  bool denied = false;
  for (size_t i = 0; i < plan.candidates.size(); ++i) {
    ::execve(plan.candidates[i].c_str(), plan.argv.data(), plan.envp.data());
    switch (errno) {
      case ENOENT:
      case ENOTDIR:
      case ESTALE:
      case ENODEV:
      case ETIMEDOUT:
        continue;
      case EACCES:
        denied = true;
        continue;
      default:
        return Fail(failure, ProcessStep::kExec, errno, static_cast<int>(i));
    }
  }
  return Fail(failure, ProcessStep::kExecSearch, denied ? EACCES : ENOENT);
}

bool ApplyProcessPlan(const ProcessPlan& plan, ProcessFailure* failure) {
  ResetSignals();
  if (!ApplyChdir(plan.cwd, failure)) return false;
  if (!ApplyStdio(plan.stdio, failure)) return false;
  if (!ApplyRlimitPlans(plan.rlimits, failure)) return false;
  // Before a filter that may refuse close_range.
  if (!ApplyMarkFdsCloseOnExec(plan.preserve_fds, failure)) return false;
  if (!ApplySeccomp(plan.seccomp_early, failure)) return false;
  if (plan.credentials && !ApplyCredentials(*plan.credentials, failure)) return false;
  if (plan.no_new_privileges && !ApplyNoNewPrivileges(failure)) return false;
  // Last: from here on only execve (and, on failure, the exit) must be allowed.
  if (!ApplySeccomp(plan.seccomp_late, failure)) return false;
  return ApplyExec(plan.exec, failure);
}

absl::Status DescribeFailure(const ProcessPlan& plan, const ProcessFailure& f) {
  const int err = f.err;
  switch (f.step) {
    case ProcessStep::kNone:
      return absl::OkStatus();
    case ProcessStep::kChdir:
      return SysError(err, absl::StrCat("chdir ", plan.cwd));
    case ProcessStep::kCwdOutsideRoot:
      return SysError(err, absl::StrCat("cwd ", plan.cwd, " is outside the container's root"));
    case ProcessStep::kDupStdio:
      return SysError(err, absl::StrCat("dup stdio fd ", f.detail >= 0 && f.detail < 3 ? plan.stdio[f.detail] : -1));
    case ProcessStep::kDup2Stdio:
      return SysError(err, absl::StrCat("dup2 onto fd ", f.detail));
    case ProcessStep::kRlimit: {
      if (f.detail < 0 || static_cast<size_t>(f.detail) >= plan.rlimits.size()) return SysError(err, "setrlimit");
      const spec::Rlimit& r = plan.rlimits[f.detail].requested;
      return SysError(err, absl::StrCat("setrlimit ", r.type, " soft ", LimitText(r.soft), " hard ", LimitText(r.hard)));
    }
    case ProcessStep::kKeepPreservedFd:
      return SysError(err, absl::StrCat("keep preserved fd ", f.detail));
    case ProcessStep::kCloseRange:
      return SysError(err, "close_range");
    case ProcessStep::kSeccomp:
      return SysError(err, "load seccomp filter");
    case ProcessStep::kDropBounding:
      return SysError(err, absl::StrCat("drop capability ", f.detail, " from the bounding set"));
    case ProcessStep::kSetKeepcaps:
      return SysError(err, "set keepcaps");
    case ProcessStep::kSetgroups:
      return SysError(err, "setgroups");
    case ProcessStep::kSetresgid:
      return SysError(err, absl::StrCat("setresgid ", plan.credentials ? plan.credentials->gid : 0));
    case ProcessStep::kSetresuid:
      return SysError(err, absl::StrCat("setresuid ", plan.credentials ? plan.credentials->uid : 0));
    case ProcessStep::kClearKeepcaps:
      return SysError(err, "clear keepcaps");
    case ProcessStep::kSetCapabilities:
      return SysError(err, "set capabilities");
    case ProcessStep::kClearAmbient:
      return SysError(err, "clear ambient capabilities");
    case ProcessStep::kRaiseAmbient:
      return SysError(err, absl::StrCat("raise ambient capability ", f.detail));
    case ProcessStep::kNoNewPrivs:
      return SysError(err, "set no_new_privs");
    case ProcessStep::kExec: {
      const std::vector<std::string>& c = plan.exec.candidates;
      const std::string& what =
          f.detail >= 0 && static_cast<size_t>(f.detail) < c.size() ? c[f.detail] : plan.exec.name;
      return SysError(err, absl::StrCat("exec ", what));
    }
    case ProcessStep::kExecSearch:
      return SysError(err, absl::StrCat("exec ", plan.exec.name, " (searched PATH ", plan.exec.path_var, ")"));
  }
  return SysError(err, "start the process");
}

}  // namespace berth::container_internal
