#include "runtime/container/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/proc_util.h"
#include "runtime/base/quote.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unique_fd.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace berth {

namespace {

// fork + exec of one hook; returns its pidfd. The state goes through a pipe the parent fills.
absl::StatusOr<UniqueFd> SpawnHook(const spec::Hook& hook, int stdin_fd, int mount_ns_fd) {
  std::vector<char*> argv;
  std::vector<std::string> args = hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = hook.env;
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  // The path resolves in the runtime's namespace even when the hook runs in the container's
  // (the spec's rule for createContainer): opened here, executed through the fd. Not
  // close-on-exec, so that a script's interpreter can still read it as /dev/fd/N.
  UniqueFd program;
  if (mount_ns_fd >= 0) {
    program.Reset(::open(hook.path.c_str(), O_PATH));
    if (!program) return ErrnoToStatus(absl::StrCat("open hook ", Quoted(hook.path)));
  }
  int pidfd = -1;
  long pid = ::syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, nullptr, &pidfd, nullptr, nullptr);
  if (pid < 0) return ErrnoToStatus("fork a hook");
  if (pid == 0) {
    if (::dup2(stdin_fd, 0) < 0) ::_exit(126);
    if (mount_ns_fd >= 0) {
      if (::setns(mount_ns_fd, CLONE_NEWNS) != 0 || ::chdir("/") != 0) ::_exit(126);
      ::syscall(SYS_execveat, program.get(), "", argv.data(), envp.data(), AT_EMPTY_PATH);
    } else {
      ::execve(hook.path.c_str(), argv.data(), envp.data());
    }
    ::_exit(errno == ENOENT ? 127 : 126);
  }
  return UniqueFd(pidfd);
}

absl::Status RunHook(const spec::Hook& hook, const std::string& name, const HookRun& run) {
  UniqueFd mount_ns;
  if (run.mount_namespace_of > 0) {
    ASSIGN_OR_RETURN(mount_ns, OpenNamespaceOf(run.mount_namespace_of,
                                               run.mount_namespace_start_time, "mnt"));
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return ErrnoToStatus("pipe");
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  ASSIGN_OR_RETURN(UniqueFd pidfd, SpawnHook(hook, read_end.get(), mount_ns ? mount_ns.get() : -1));
  read_end.Reset();
  // A hook that does not read its stdin must not block us: the state is small (one pipe
  // buffer), and a closed pipe is ignored. The old disposition comes back: a container's init
  // runs startContainer hooks, and an ignored SIGPIPE would outlive its execve.
  struct sigaction ignore = {}, old = {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &old);
  (void)!::write(write_end.get(), run.state_json.data(), run.state_json.size());
  ::sigaction(SIGPIPE, &old, nullptr);
  write_end.Reset();

  const auto deadline = hook.timeout
                            ? std::chrono::steady_clock::now() + std::chrono::seconds(*hook.timeout)
                            : std::chrono::steady_clock::time_point::max();
  for (;;) {
    int wait_ms = -1;
    if (hook.timeout) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      wait_ms = static_cast<int>(std::max<int64_t>(0, left.count()));
    }
    pollfd p = {pidfd.get(), POLLIN, 0};
    int n = ::poll(&p, 1, wait_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) {
      ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
      siginfo_t info;
      ::waitid(static_cast<idtype_t>(P_PIDFD), pidfd.get(), &info, WEXITED);
      return absl::DeadlineExceededError(
          absl::StrCat(name, " ", Quoted(hook.path), ": killed after its timeout of ", *hook.timeout, " s"));
    }
    break;
  }
  siginfo_t info = {};
  while (::waitid(static_cast<idtype_t>(P_PIDFD), pidfd.get(), &info, WEXITED) != 0) {
    if (errno != EINTR) return ErrnoToStatus(absl::StrCat("wait for ", name));
  }
  if (info.si_code == CLD_EXITED && info.si_status == 0) return absl::OkStatus();
  std::string how = info.si_code == CLD_EXITED ? absl::StrCat("exit status ", info.si_status)
                                               : absl::StrCat("killed by signal ", info.si_status);
  if (info.si_code == CLD_EXITED && info.si_status == 127) how += " (not found?)";
  return absl::FailedPreconditionError(absl::StrCat(name, " ", Quoted(hook.path), ": ", how));
}

}  // namespace

absl::Status RunHooks(const std::vector<spec::Hook>& hooks, const HookRun& run) {
  for (size_t i = 0; i < hooks.size(); ++i) {
    RETURN_IF_ERROR(RunHook(hooks[i], absl::StrCat(run.field, "[", i, "]"), run));
  }
  return absl::OkStatus();
}

}  // namespace berth
