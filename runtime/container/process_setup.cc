#include "runtime/container/process_setup.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/status_macros.h"
#include "runtime/container/sync_channel.h"

namespace berth::container_internal {

namespace {

// The signals (bit sig-1) whose disposition is not SIG_DFL: SigIgn | SigCgt of
// /proc/self/status, read into a buffer on the stack (this runs between clone and exec).
// Every signal when the file cannot be read (no /proc where this process is), or is not
// procfs's: an exec runs this inside the container's mounts, where /proc may be anything
// (non-blocking, so a FIFO there cannot hold the exec).
uint64_t SignalsNotAtDefault() {
  constexpr uint64_t kAll = ~uint64_t{0};
  int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return kAll;
  struct statfs fs;
  if (::fstatfs(fd, &fs) != 0 || fs.f_type != PROC_SUPER_MAGIC) {
    ::close(fd);
    return kAll;
  }
  char text[4096];
  size_t used = 0;
  ssize_t n;
  while (used < sizeof(text) - 1 && (n = ::read(fd, text + used, sizeof(text) - 1 - used)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    used += static_cast<size_t>(n);
  }
  ::close(fd);
  text[used] = '\0';
  uint64_t set = 0;
  for (const char* key : {"\nSigIgn:", "\nSigCgt:"}) {
    const char* at = std::strstr(text, key);
    if (at == nullptr) return kAll;
    char* end = nullptr;
    const uint64_t bits = std::strtoull(at + std::strlen(key), &end, 16);
    if (end == at + std::strlen(key)) return kAll;
    set |= bits;
  }
  return set;
}

}  // namespace

void ResetSignals() {
  // The raw syscall, not sigaction(3): glibc refuses the signals it reserves (32, 33) with
  // EINVAL, yet an ignored disposition inherited from whoever started the agent would
  // survive exec and reach the container. Only the signals not at SIG_DFL are written: a
  // shim has two or three, and writing all 62 was a seventh of a container init's calls.
  struct KernelSigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)();
    uint64_t mask;
  } dfl = {SIG_DFL, 0, nullptr, 0};
  const uint64_t changed = SignalsNotAtDefault();
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP || (changed & (uint64_t{1} << (sig - 1))) == 0) continue;
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
  for (int i = 0; i < 3; ++i) {
    if (sources[i] < 0) return SysError(EBADF, absl::StrCat("stdio fd ", i));
  }
  ProcessFailure failure;
  if (ApplyStdio(sources, &failure)) return absl::OkStatus();
  ProcessPlan plan;
  std::copy(sources, sources + 3, plan.stdio);
  return DescribeFailure(plan, failure);
}

absl::Status ApplyRlimits(const std::vector<spec::Rlimit>& rlimits) {
  ProcessPlan plan;
  ASSIGN_OR_RETURN(plan.rlimits, PlanRlimits(rlimits));
  ProcessFailure failure;
  if (ApplyRlimitPlans(plan.rlimits, &failure)) return absl::OkStatus();
  return DescribeFailure(plan, failure);
}

absl::Status ChangeDirectory(const std::string& cwd, bool create) {
  ProcessPlan plan;
  plan.cwd = cwd.empty() ? "/" : cwd;
  ProcessFailure failure;
  if (ApplyChdir(plan.cwd, &failure)) return absl::OkStatus();
  if (failure.step != ProcessStep::kChdir || failure.err != ENOENT || !create) return DescribeFailure(plan, failure);
  absl::Status made = MakeDirs(plan.cwd, 0755);
  if (!made.ok()) return SysError(EACCES, absl::StrCat("create cwd ", plan.cwd, ": ", made.message()));
  if (ApplyChdir(plan.cwd, &failure)) return absl::OkStatus();
  return DescribeFailure(plan, failure);
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
  ProcessPlan plan;
  ASSIGN_OR_RETURN(plan.credentials, PlanCredentials(user, capabilities));
  ProcessFailure failure;
  if (ApplyCredentials(*plan.credentials, &failure)) return absl::OkStatus();
  return DescribeFailure(plan, failure);
}

absl::Status LoadSeccompEarlyUnlessNoNewPrivs(const spec::Process& process, const seccomp::Program* seccomp) {
  if (process.no_new_privileges) return absl::OkStatus();
  ProcessFailure failure;
  if (ApplySeccomp(seccomp, &failure)) return absl::OkStatus();
  return DescribeFailure(ProcessPlan{}, failure);
}

absl::Status SetNoNewPrivileges() {
  ProcessFailure failure;
  if (ApplyNoNewPrivileges(&failure)) return absl::OkStatus();
  return DescribeFailure(ProcessPlan{}, failure);
}

absl::Status MarkFdsCloseOnExec(int preserve_fds) {
  ProcessFailure failure;
  if (ApplyMarkFdsCloseOnExec(preserve_fds, &failure)) return absl::OkStatus();
  return DescribeFailure(ProcessPlan{}, failure);
}

absl::Status ExecProcess(const spec::Process& process, const seccomp::Program* seccomp,
                         int preserve_fds, bool fds_marked) {
  ProcessPlan plan;
  ASSIGN_OR_RETURN(plan.exec, PlanExec(process));
  if (!fds_marked) RETURN_IF_ERROR(MarkFdsCloseOnExec(preserve_fds));
  // Last: from here on only execve (and, on failure, the error report) must be allowed.
  ProcessFailure failure;
  if (ApplySeccomp(seccomp, &failure)) ApplyExec(plan.exec, &failure);
  return DescribeFailure(plan, failure);
}

}  // namespace berth::container_internal
