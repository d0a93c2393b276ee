// ExecInContainer: one more process inside a running container.
//
//   caller --fork--> helper C: joins the container's cgroup (itself), then its namespaces
//                    --fork--> G: inside the pid namespace; stdio, rlimits, user,
//                                 capabilities, no_new_privs; sends "ready"; execs
//                    C waits for G, forwards it the usual signals (SIGTERM, SIGINT, ...;
//                    G dies with C via PDEATHSIG) and exits with G's exit code.
// Errors before G's exec travel back on one CLOEXEC seqpacket pair (G's copy closes on
// exec; C closes its own after forking G), so the caller sees {ready, EOF} on success and
// a kError otherwise.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <cerrno>
#include <vector>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/container/container.h"
#include "runtime/container/container_pty.h"
#include "runtime/container/namespaces.h"
#include "runtime/container/process_setup.h"
#include "runtime/container/sync_channel.h"

namespace berth {

namespace {

using container_internal::SyncChannel;
using container_internal::SyncKind;

[[noreturn]] void Fail(SyncChannel& channel, const absl::Status& status, int code) {
  (void)channel.SendError(status);
  ::_exit(code);
}

absl::Status PrepareProcess(const ExecOptions& options, int devnull_fd) {
  const spec::Process& p = options.process;
  ContainerStdio stdio = options.stdio;
  container_internal::ContainerPty pty;
  if (p.terminal && stdio.terminal < 0) {
    // In the container's mount namespace now: its root is the container's.
    UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return container_internal::SysError("open /");
    RETURN_IF_ERROR(container_internal::OpenContainerPty(root.get(), pty));
    RETURN_IF_ERROR(container_internal::SendPtyMaster(options.console_socket_fd, pty));
    stdio.terminal = pty.slave.get();
  }
  RETURN_IF_ERROR(container_internal::ChangeDirectory(p.cwd, /*create=*/false));
  RETURN_IF_ERROR(container_internal::SetupStdio(stdio, p.terminal, p.console_size, devnull_fd));
  RETURN_IF_ERROR(container_internal::ApplyRlimits(p.rlimits));
  // Before a filter that may refuse close_range.
  RETURN_IF_ERROR(container_internal::MarkFdsCloseOnExec(options.preserve_fds));
  RETURN_IF_ERROR(container_internal::LoadSeccompEarlyUnlessNoNewPrivs(p, options.seccomp));
  RETURN_IF_ERROR(container_internal::SwitchUserAndCapabilities(p.user, p.capabilities));
  if (p.no_new_privileges) RETURN_IF_ERROR(container_internal::SetNoNewPrivileges());
  return absl::OkStatus();
}

// G: the process itself.
// Signals the helper passes on to the process, so that signalling the pid the caller knows
// (the helper's) reaches the process.
constexpr int kForwardedSignals[] = {SIGHUP,  SIGINT,  SIGQUIT,  SIGTERM,
                                     SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};

// The forwarding target. A signal handler can only reach it through a static; it is set
// once, in the helper process only.
volatile sig_atomic_t forward_to = 0;

void ForwardSignal(int sig) {
  if (forward_to > 0) ::kill(static_cast<pid_t>(forward_to), sig);
}

[[noreturn]] void RunProcess(const ExecOptions& options, SyncChannel& channel, int devnull_fd) {
  container_internal::ResetSignals();  // the helper's forwarding set was blocked
  // The helper is the caller's handle on this process: if it is SIGKILLed, so are we
  // (unless detached: then the helper is gone on purpose).
  if (!options.detach) ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (absl::Status st = PrepareProcess(options, devnull_fd); !st.ok()) Fail(channel, st, 127);
  if (!channel.Send(SyncKind::kReady).ok()) ::_exit(125);
  if (options.before_exec) {
    absl::Status go = container_internal::ExpectMessage(channel, SyncKind::kGo, absl::CancelledError("caller gone"));
    if (!go.ok()) ::_exit(125);
  }
  absl::Status exec = container_internal::ExecProcess(
      options.process, options.process.no_new_privileges ? options.seccomp : nullptr,
      options.preserve_fds, /*fds_marked=*/true);
  Fail(channel, exec, 127);
}

// Closes every fd but `keep` (the helper's stdio sources, the channel, /dev/null): the
// caller's sockets, log and epoll fds must not sit in a process that enters the container.
void CloseAllBut(std::vector<int> keep) {
  std::sort(keep.begin(), keep.end());
  unsigned next = 0;
  for (int fd : keep) {
    if (fd < 0 || static_cast<unsigned>(fd) < next) continue;
    if (static_cast<unsigned>(fd) > next) ::syscall(SYS_close_range, next, static_cast<unsigned>(fd) - 1, 0U);
    next = static_cast<unsigned>(fd) + 1;
  }
  ::syscall(SYS_close_range, next, ~0U, 0U);
}

// C: the helper that joins and waits.
[[noreturn]] void RunHelper(const ExecOptions& options, CgroupDriver& cgroups, SyncChannel& channel,
                            int devnull_fd) {
  // A copy of the caller until the process execs: not to be ptraced or robbed of fds by
  // anything in the container it is about to join.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  std::vector<int> keep = {0, 1, 2, channel.fd(), devnull_fd, options.stdio.stdin_fd, options.stdio.stdout_fd,
                           options.stdio.stderr_fd, options.stdio.terminal, options.console_socket_fd};
  for (int fd = 3; fd < 3 + options.preserve_fds; ++fd) keep.push_back(fd);
  CloseAllBut(std::move(keep));
  container_internal::ResetSignals();  // waitpid needs SIGCHLD not ignored
  if (absl::Status st = channel.MoveAbove(3 + options.preserve_fds); !st.ok()) Fail(channel, st, 1);
  if (!options.cgroups_path.empty()) {
    absl::Status st = cgroups.AddProcess(options.cgroups_path, ::getpid());
    if (!st.ok()) Fail(channel, Annotate(st, "join the container's cgroup"), 1);
  }
  if (absl::Status st = container_internal::JoinNamespacesOf(options.container_pid); !st.ok()) {
    Fail(channel, st, 1);
  }
  sigset_t forwarded;
  sigemptyset(&forwarded);
  for (int sig : kForwardedSignals) sigaddset(&forwarded, sig);
  ::sigprocmask(SIG_BLOCK, &forwarded, nullptr);  // none may slip by before the handlers
  pid_t child = ::fork();
  if (child < 0) Fail(channel, container_internal::SysError("fork"), 1);
  if (child == 0) RunProcess(options, channel, devnull_fd);
  {
    // The caller learns the process's pid from a pidfd (ours is the caller's pid namespace).
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, child, 0)));
    std::vector<int> fds;
    if (pidfd) fds.push_back(pidfd.get());
    (void)channel.Send(SyncKind::kProcess, fds);
  }
  if (options.detach) ::_exit(0);
  forward_to = child;
  struct sigaction forward = {};
  forward.sa_handler = ForwardSignal;
  forward.sa_flags = SA_RESTART;
  sigemptyset(&forward.sa_mask);
  for (int sig : kForwardedSignals) ::sigaction(sig, &forward, nullptr);
  ::sigprocmask(SIG_UNBLOCK, &forwarded, nullptr);
  // Nothing of the caller's is needed any more; above all not the channel, whose EOF
  // the caller waits for.
  ::syscall(SYS_close_range, 3U, ~0U, 0U);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) ::_exit(126);
  }
  ::_exit(ExitCodeFromWaitStatus(status));
}

// The pid behind a pidfd, from its fdinfo.
pid_t PidOfPidfd(int pidfd) {
  std::ifstream in(absl::StrCat("/proc/self/fdinfo/", pidfd));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Pid:", 0) == 0) return static_cast<pid_t>(std::atoi(line.c_str() + 4));
  }
  return 0;
}

absl::StatusOr<ExecProcesses> ExecImpl(const ExecOptions& options, CgroupDriver& cgroups) {
  if (options.container_pid <= 0) {
    return absl::InvalidArgumentError("container_pid: must be a pid");
  }
  if (options.process.args.empty()) return absl::InvalidArgumentError("process.args: empty");
  if (options.process.terminal && options.stdio.terminal < 0 && options.console_socket_fd < 0) {
    return absl::InvalidArgumentError("process.terminal: no terminal fd or console socket was given");
  }
  for (int fd = 3; fd < 3 + options.preserve_fds; ++fd) {
    if (::fcntl(fd, F_GETFD) < 0) {
      return absl::InvalidArgumentError(absl::StrCat("preserve_fds: fd ", fd, " is not open"));
    }
  }
  RETURN_IF_ERROR(container_internal::CheckRlimitsAllowed(options.process.rlimits));
  UniqueFd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull) return ErrnoToStatus("open /dev/null");

  SyncChannel parent_end, child_end;
  RETURN_IF_ERROR(SyncChannel::MakePair(&parent_end, &child_end));
  pid_t helper = ::fork();
  if (helper < 0) return ErrnoToStatus("fork");
  if (helper == 0) {
    parent_end.Close();
    RunHelper(options, cgroups, child_end, devnull.get());
  }
  child_end.Close();

  auto reap = [helper]() -> std::string {
    int status = 0;
    while (::waitpid(helper, &status, 0) < 0) {
      if (errno != EINTR) return "not reaped";
    }
    if (WIFEXITED(status)) return absl::StrCat("exit status ", WEXITSTATUS(status));
    return absl::StrCat("killed by signal ", WTERMSIG(status));
  };
  bool ready = false;
  bool released = false;
  bool forked = false;  // C said so (with the process's pidfd)
  ExecProcesses started{helper, 0};
  for (;;) {
    absl::StatusOr<std::optional<container_internal::SyncMessage>> msg = parent_end.Receive();
    if (!msg.ok()) {
      ::kill(helper, SIGKILL);
      reap();
      return msg.status();
    }
    if (!msg->has_value()) {
      if (ready) {  // exec'd: G's copy of the channel closed
        if (options.detach) {
          reap();  // C exited right after forking G
          started.helper = 0;
        }
        return started;
      }
      std::string how = reap();
      return absl::InternalError(
          absl::StrCat("exec helper exited before the process started (", how, ")"));
    }
    if ((*msg)->kind == SyncKind::kProcess) {
      if (!(*msg)->fds.empty()) started.process = PidOfPidfd((*msg)->fds[0].get());
      forked = true;
    } else if ((*msg)->kind == SyncKind::kReady && !ready) {
      ready = true;
    } else if ((*msg)->kind != SyncKind::kError) {
      ::kill(helper, SIGKILL);
      reap();
      return absl::InternalError("exec: unexpected sync message");
    }
    if ((*msg)->kind != SyncKind::kError) {
      // Both known (in either order): the caller's last word before the process execs.
      if (ready && forked && options.before_exec && !released) {
        released = true;
        absl::Status st = options.before_exec(started.process);
        if (st.ok()) st = parent_end.Send(SyncKind::kGo);
        if (!st.ok()) {
          ::kill(started.process, SIGKILL);
          ::kill(helper, SIGKILL);
          reap();
          return st;
        }
      }
      continue;
    }
    if ((*msg)->kind == SyncKind::kError) {
      reap();  // C exits once G has
      return (*msg)->status;
    }
  }
}

}  // namespace

int ExitCodeFromWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

absl::StatusOr<ExecProcesses> StartExecInContainer(const ExecOptions& options, CgroupDriver& cgroups) {
  absl::StatusOr<ExecProcesses> started = ExecImpl(options, cgroups);
  if (!started.ok()) return Annotate(started.status(), "exec in container");
  return started;
}

absl::StatusOr<pid_t> ExecInContainer(const ExecOptions& options, CgroupDriver& cgroups) {
  if (options.detach) return absl::InvalidArgumentError("exec in container: detach has no helper to return");
  absl::StatusOr<ExecProcesses> started = StartExecInContainer(options, cgroups);
  if (!started.ok()) return started.status();
  return started->helper;
}

}  // namespace berth
