#include "runtime/runtime_cli/foreground.h"

#include <signal.h>
#include <sys/wait.h>

#include <cerrno>

#include "runtime/container/container.h"

namespace berth::runtime_cli {

namespace {

constexpr int kForwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};

sigset_t ForwardedAndChld() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : kForwarded) sigaddset(&set, s);
  sigaddset(&set, SIGCHLD);
  return set;
}

}  // namespace

SignalForwarding::SignalForwarding() {
  sigset_t set = ForwardedAndChld();
  sigprocmask(SIG_BLOCK, &set, nullptr);
}

absl::StatusOr<int> SignalForwarding::Wait(pid_t child) {
  sigset_t set = ForwardedAndChld();
  int status = 0;
  for (;;) {
    pid_t done = ::waitpid(child, &status, WNOHANG);
    if (done == child) return ExitCodeFromWaitStatus(status);
    if (done < 0 && errno != EINTR) return absl::InternalError("lost the container's process");
    siginfo_t info;
    int sig = sigwaitinfo(&set, &info);
    if (sig > 0 && sig != SIGCHLD) ::kill(child, sig);
  }
}

}  // namespace berth::runtime_cli
