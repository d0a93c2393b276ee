#include "runtime/container/process_setup.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/status_macros.h"
#include "runtime/container/sync_channel.h"
#include "runtime/seccomp/seccomp_filter.h"

namespace berth::container_internal {

namespace {

constexpr char kDefaultPath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

bool HaveEffectiveCapability(cap_value_t cap) {
  cap_t caps = cap_get_proc();
  if (caps == nullptr) return false;
  cap_flag_value_t value = CAP_CLEAR;
  cap_get_flag(caps, cap, CAP_EFFECTIVE, &value);
  cap_free(caps);
  return value == CAP_SET;
}

std::string LimitText(uint64_t v) {
  return v == RLIM_INFINITY ? std::string("unlimited") : absl::StrCat(v);
}

absl::StatusOr<std::vector<int>> CapabilityNumbers(const std::vector<std::string>& names,
                                                   const char* set) {
  std::vector<int> out;
  int last = static_cast<int>(cap_max_bits()) - 1;
  for (const std::string& name : names) {
    absl::StatusOr<int> cap = spec::CapabilityNumber(name);
    if (!cap.ok()) {
      return SysError(EINVAL,
                      absl::StrCat("process.capabilities.", set, ": ", cap.status().message()));
    }
    if (*cap > last) continue;  // unknown to this kernel: nothing to grant
    out.push_back(*cap);
  }
  return out;
}

absl::Status DropBoundingSet(const spec::Capabilities& caps) {
  ASSIGN_OR_RETURN(std::vector<int> keep, CapabilityNumbers(caps.bounding, "bounding"));
  int last = static_cast<int>(cap_max_bits()) - 1;
  for (int cap = 0; cap <= last; ++cap) {
    bool kept = false;
    for (int k : keep) kept |= k == cap;
    if (kept) continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      return SysError(absl::StrCat("drop capability ", cap, " from the bounding set"));
    }
  }
  return absl::OkStatus();
}

absl::Status SetCapabilitySets(const spec::Capabilities& caps) {
  ASSIGN_OR_RETURN(std::vector<int> effective, CapabilityNumbers(caps.effective, "effective"));
  ASSIGN_OR_RETURN(std::vector<int> permitted, CapabilityNumbers(caps.permitted, "permitted"));
  ASSIGN_OR_RETURN(std::vector<int> inheritable,
                   CapabilityNumbers(caps.inheritable, "inheritable"));
  ASSIGN_OR_RETURN(std::vector<int> ambient, CapabilityNumbers(caps.ambient, "ambient"));
  cap_t state = cap_init();
  if (state == nullptr) return SysError("cap_init");
  auto set = [&](const std::vector<int>& list, cap_flag_t flag) {
    for (int cap : list) {
      cap_value_t value = static_cast<cap_value_t>(cap);
      cap_set_flag(state, flag, 1, &value, CAP_SET);
    }
  };
  set(effective, CAP_EFFECTIVE);
  set(permitted, CAP_PERMITTED);
  set(inheritable, CAP_INHERITABLE);
  int rc = cap_set_proc(state);
  int err = errno;
  cap_free(state);
  if (rc != 0) return SysError(err, "set capabilities");
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return SysError("clear ambient capabilities");
  }
  for (int cap : ambient) {
    // The kernel only raises what is both permitted and inheritable; like runc, a request
    // beyond that is skipped rather than fatal.
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0 && errno != EPERM &&
        errno != EINVAL) {
      return SysError(absl::StrCat("raise ambient capability ", cap));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckRlimitsAllowed(const std::vector<spec::Rlimit>& rlimits) {
  bool can_raise = HaveEffectiveCapability(CAP_SYS_RESOURCE);
  for (const spec::Rlimit& r : rlimits) {
    absl::StatusOr<int> resource = spec::RlimitResource(r.type);
    if (!resource.ok()) return Annotate(resource.status(), "process.rlimits");
    if (r.soft > r.hard) {
      return absl::InvalidArgumentError(
          absl::StrCat(r.type, " soft ", r.soft, " exceeds its hard limit ", r.hard));
    }
    struct rlimit current;
    if (::getrlimit(*resource, &current) != 0) {
      return ErrnoToStatus(absl::StrCat("getrlimit ", r.type));
    }
    if (!can_raise && r.hard > current.rlim_max) {
      return absl::FailedPreconditionError(
          absl::StrCat(r.type, " hard ", LimitText(r.hard), " exceeds the runtime's own hard limit ",
                       LimitText(current.rlim_max), "; this host lacks CAP_SYS_RESOURCE"));
    }
  }
  return absl::OkStatus();
}

void ResetSignals() {
  // The raw syscall, not sigaction(3): glibc refuses the signals it reserves (32, 33) with
  // EINVAL, yet an ignored disposition inherited from whoever started the agent would
  // survive exec and reach the container.
  struct KernelSigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)();
    uint64_t mask;
  } dfl = {SIG_DFL, 0, nullptr, 0};
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::syscall(SYS_rt_sigaction, sig, &dfl, nullptr, sizeof(dfl.mask));
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

absl::Status SetupStdio(const ContainerStdio& stdio, bool terminal,
                        const std::optional<spec::ConsoleSize>& console_size, int devnull_fd) {
  int sources[3];
  if (terminal) {
    if (stdio.terminal < 0) return SysError(EINVAL, "process.terminal without a terminal fd");
    if (::setsid() < 0) return SysError("setsid");
    if (::ioctl(stdio.terminal, TIOCSCTTY, 0) != 0) return SysError("set controlling terminal");
    if (console_size && console_size->height > 0 && console_size->width > 0) {
      struct winsize ws = {};
      ws.ws_row = static_cast<unsigned short>(console_size->height);
      ws.ws_col = static_cast<unsigned short>(console_size->width);
      if (::ioctl(stdio.terminal, TIOCSWINSZ, &ws) != 0) return SysError("set console size");
    }
    sources[0] = sources[1] = sources[2] = stdio.terminal;
  } else {
    sources[0] = stdio.stdin_fd >= 0 ? stdio.stdin_fd : devnull_fd;
    sources[1] = stdio.stdout_fd >= 0 ? stdio.stdout_fd : devnull_fd;
    sources[2] = stdio.stderr_fd >= 0 ? stdio.stderr_fd : devnull_fd;
  }
  // Copy every source above 2 first: a source may itself be 0, 1 or 2, and dup2 onto an
  // equal number would keep a close-on-exec flag.
  UniqueFd copies[3];
  for (int i = 0; i < 3; ++i) {
    if (sources[i] < 0) return SysError(EBADF, absl::StrCat("stdio fd ", i));
    copies[i].Reset(::fcntl(sources[i], F_DUPFD_CLOEXEC, 3));
    if (!copies[i]) return SysError(absl::StrCat("dup stdio fd ", sources[i]));
  }
  for (int i = 0; i < 3; ++i) {
    if (::dup2(copies[i].get(), i) < 0) return SysError(absl::StrCat("dup2 onto fd ", i));
  }
  return absl::OkStatus();
}

absl::Status ApplyRlimits(const std::vector<spec::Rlimit>& rlimits) {
  for (const spec::Rlimit& r : rlimits) {
    absl::StatusOr<int> resource = spec::RlimitResource(r.type);
    if (!resource.ok()) return SysError(EINVAL, resource.status().message());
    struct rlimit limit = {static_cast<rlim_t>(r.soft), static_cast<rlim_t>(r.hard)};
    if (::setrlimit(*resource, &limit) != 0) {
      return SysError(absl::StrCat("setrlimit ", r.type, " soft ", LimitText(r.soft), " hard ",
                                   LimitText(r.hard)));
    }
  }
  return absl::OkStatus();
}

namespace {

// getcwd(2) names a directory outside the caller's root "(unreachable)/..." (or fails):
// that is how a working directory leaked from the node looks from inside.
absl::Status CheckCwdInsideRoot(const std::string& dir) {
  char buf[PATH_MAX];
  if (::getcwd(buf, sizeof(buf)) == nullptr) {
    if (errno == ERANGE) return absl::OkStatus();  // too deep to name, but named from our root
    return SysError(absl::StrCat("cwd ", dir, " is outside the container's root"));
  }
  if (buf[0] != '/') {
    return SysError(EPERM, absl::StrCat("cwd ", dir, " is outside the container's root"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ChangeDirectory(const std::string& cwd, bool create) {
  const std::string& dir = cwd.empty() ? std::string("/") : cwd;
  if (::chdir(dir.c_str()) == 0) return CheckCwdInsideRoot(dir);
  if (errno != ENOENT || !create) return SysError(absl::StrCat("chdir ", dir));
  absl::Status made = MakeDirs(dir, 0755);
  if (!made.ok()) return SysError(EACCES, absl::StrCat("create cwd ", dir, ": ", made.message()));
  if (::chdir(dir.c_str()) != 0) return SysError(absl::StrCat("chdir ", dir));
  return CheckCwdInsideRoot(dir);
}

absl::Status SetOomScoreAdj(int value) {
  UniqueFd fd(::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC));
  if (!fd) return SysError("open /proc/self/oom_score_adj");
  std::string text = absl::StrCat(value);
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    return SysError(absl::StrCat("set oom_score_adj ", value));
  }
  return absl::OkStatus();
}

absl::Status SwitchUserAndCapabilities(const spec::User& user,
                                       const std::optional<spec::Capabilities>& capabilities) {
  if (capabilities) {
    RETURN_IF_ERROR(DropBoundingSet(*capabilities));
    if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return SysError("set keepcaps");
  }
  std::vector<gid_t> groups(user.additional_gids.begin(), user.additional_gids.end());
  if (::setgroups(groups.size(), groups.empty() ? nullptr : groups.data()) != 0) {
    return SysError("setgroups");
  }
  if (::setresgid(user.gid, user.gid, user.gid) != 0) {
    return SysError(absl::StrCat("setresgid ", user.gid));
  }
  if (::setresuid(user.uid, user.uid, user.uid) != 0) {
    return SysError(absl::StrCat("setresuid ", user.uid));
  }
  if (capabilities) {
    if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return SysError("clear keepcaps");
    RETURN_IF_ERROR(SetCapabilitySets(*capabilities));
  }
  return absl::OkStatus();
}

absl::Status LoadSeccompEarlyUnlessNoNewPrivs(const spec::Process& process, const seccomp::Program* seccomp) {
  if (process.no_new_privileges || seccomp == nullptr) return absl::OkStatus();
  if (int err = seccomp::LoadOrErrno(*seccomp); err != 0) return SysError(err, "load seccomp filter");
  return absl::OkStatus();
}

absl::Status SetNoNewPrivileges() {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return SysError("set no_new_privs");
  return absl::OkStatus();
}

absl::Status MarkFdsCloseOnExec(int preserve_fds) {
  for (int fd = 3; fd < 3 + preserve_fds; ++fd) {
    if (::fcntl(fd, F_SETFD, 0) != 0) return SysError(absl::StrCat("keep preserved fd ", fd));
  }
  if (::syscall(SYS_close_range, static_cast<unsigned>(3 + preserve_fds), ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    return SysError("close_range");
  }
  return absl::OkStatus();
}

absl::Status ExecProcess(const spec::Process& process, const seccomp::Program* seccomp,
                         int preserve_fds, bool fds_marked) {
  if (process.args.empty()) return SysError(EINVAL, "process.args is empty");
  std::vector<char*> argv;
  for (const std::string& a : process.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  std::string path_var = kDefaultPath;
  for (const std::string& e : process.env) {
    envp.push_back(const_cast<char*>(e.c_str()));
    if (absl::StartsWith(e, "PATH=")) path_var = e.substr(5);
  }
  envp.push_back(nullptr);

  if (!fds_marked) RETURN_IF_ERROR(MarkFdsCloseOnExec(preserve_fds));
  // Last: from here on only execve (and, on failure, the error report) must be allowed.
  if (seccomp != nullptr) {
    if (int err = seccomp::LoadOrErrno(*seccomp); err != 0) return SysError(err, "load seccomp filter");
  }
  const std::string& name = process.args[0];
  if (name.find('/') != std::string::npos) {
    ::execve(name.c_str(), argv.data(), envp.data());
    return SysError(absl::StrCat("exec ", name));
  }
  int err = ENOENT;
  bool denied = false;
  for (absl::string_view dir : absl::StrSplit(path_var, ':')) {
    std::string candidate =
        dir.empty() ? name : absl::StrCat(dir, dir.back() == '/' ? "" : "/", name);
    ::execve(candidate.c_str(), argv.data(), envp.data());
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
        return SysError(absl::StrCat("exec ", candidate));
    }
  }
  if (denied) err = EACCES;
  return SysError(err, absl::StrCat("exec ", name, " (searched PATH ", path_var, ")"));
}

}  // namespace berth::container_internal
