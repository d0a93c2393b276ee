// ExecInContainer: one more process inside a running container.
//
//   caller --clone(CLONE_VM | CLONE_VFORK)--> joiner J: shares the caller's memory while the
//            caller waits; moves itself into the container's cgroup through files the
//            caller opened, closes the caller's fds but stdio (and channel), joins the
//            container's namespaces, and makes P, the caller's own child (CLONE_PARENT),
//            inside the pid namespace. J exits once P has exec'd or failed; the caller
//            resumes, reaps J and knows P's pid.
// P is made one of two ways:
//  - planned (no terminal to open inside the container, no caller's word before the exec):
//    the caller plans the process with the heap (process_plan.h), and P, cloned with
//    CLONE_VM | CLONE_VFORK as well, applies the plan and execs without allocating. A
//    failure is a step and an errno in the memory P shares with the caller.
//  - forked (the rest): P is a copy of the caller, free to allocate; its errors before the
//    exec travel back on one CLOEXEC seqpacket pair (P's copy closes on exec), so the caller
//    sees {ready, EOF} on success and a kError otherwise.
// The caller is P's parent, so it reaps P and signals it directly. On this kind of host
// (page tables are costly to copy and every page fault costs tens of microseconds) sharing
// the caller's memory instead of copying it is most of an exec's speed. J allocates only
// what it frees before it ends, or what it hands to the caller (its error), since whatever it
// left behind would stay in the caller's heap.
#include <fcntl.h>
#include <signal.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <cstdlib>
#include <cerrno>
#include <vector>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/cgroup/cgroup_self_join.h"
#include "runtime/container/container.h"
#include "runtime/container/container_pty.h"
#include "runtime/container/namespaces.h"
#include "runtime/container/process_plan.h"
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

// P: the process itself.
[[noreturn]] void RunProcess(const ExecOptions& options, SyncChannel& channel, int devnull_fd) {
  // The caller's dispositions and mask (a shim blocks SIGCHLD for its signalfd) are not the
  // process's.
  container_internal::ResetSignals();
  if (absl::Status st = channel.MoveAbove(3 + options.preserve_fds); !st.ok()) Fail(channel, st, 1);
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

// What the joiner and the caller share: the joiner (and a planned P) run on the caller's
// memory.
struct Joiner {
  const ExecOptions* options;
  const CgroupSelfJoin* cgroup_join;  // empty: no cgroup to join
  SyncChannel* channel;  // forked P only: the child's end (P takes its copy; J leaves it alone)
  int devnull_fd;
  const container_internal::ProcessPlan* plan;  // planned P only
  char* process_stack;                          // planned P only: the top of its stack
  pid_t process = 0;                            // set by J: P, in the caller's pid namespace
  absl::Status status;                          // set by J when it fails before P exists
  container_internal::ProcessFailure failure;   // set by a planned P that could not exec
};

// A planned P: returns (and so exits) only when the plan failed.
int RunPlannedProcess(void* arg) {
  Joiner& j = *static_cast<Joiner*>(arg);
  container_internal::ApplyProcessPlan(*j.plan, &j.failure);
  return 127;
}

// J. Runs while the caller is suspended (CLONE_VFORK), in the caller's memory but with its
// own fd table, fs root and namespaces.
int RunJoiner(void* arg) {
  Joiner& j = *static_cast<Joiner*>(arg);
  const ExecOptions& options = *j.options;
  std::vector<int> keep = {0, 1, 2, j.channel ? j.channel->fd() : -1, j.devnull_fd, options.stdio.stdin_fd,
                           options.stdio.stdout_fd, options.stdio.stderr_fd, options.stdio.terminal,
                           options.console_socket_fd};
  for (int fd = 3; fd < 3 + options.preserve_fds; ++fd) keep.push_back(fd);
  // First: the files go with the rest of the caller's fds. P is made in the cgroup.
  if (absl::Status st = j.cgroup_join->Join(); !st.ok()) {
    j.status = Annotate(st, "join the container's cgroup");
    return 1;
  }
  CloseAllBut(std::move(keep));
  if (absl::Status st = container_internal::JoinNamespacesOf(options.container_pid); !st.ok()) {
    j.status = std::move(st);
    return 1;
  }
  long pid;
  if (j.plan != nullptr) {
    // Returns once P has exec'd or given up (CLONE_VFORK).
    pid = ::clone(RunPlannedProcess, j.process_stack, CLONE_VM | CLONE_VFORK | CLONE_PARENT | SIGCHLD, &j);
  } else {
    // A copy of our memory (the caller's). A raw clone returns in both, like fork (no atfork
    // handlers: the callers, a shim and berth-runtime, are single-threaded).
    pid = ::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
    if (pid == 0) RunProcess(options, *j.channel, j.devnull_fd);
  }
  if (pid < 0) {
    j.status = container_internal::SysError("fork");
    return 1;
  }
  j.process = static_cast<pid_t>(pid);
  return 0;
}

// The joiner's stack; a planned P takes its lower half. J and a forked P (on its copy) run
// the cgroup, namespace and process set-up.
constexpr size_t kJoinerStackSize = 256 * 1024;

// Only what needs nothing of the caller's between the process being ready and its exec, and
// no terminal opened from inside the container, can be planned ahead.
bool CanPlan(const ExecOptions& options) { return !options.process.terminal && !options.before_exec; }

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

  // J moves itself into the cgroup (cgroup_self_join.h), which the kernel does without the
  // wait for an RCU grace period that moving another process may take.
  absl::StatusOr<CgroupSelfJoin> cgroup_join = CgroupSelfJoin::Open(cgroups, options.cgroups_path);
  if (!cgroup_join.ok()) return Annotate(cgroup_join.status(), "join the container's cgroup");

  std::unique_ptr<char[]> stack(new char[kJoinerStackSize]);
  Joiner joiner{&options, &*cgroup_join, nullptr, devnull.get(), nullptr, stack.get() + kJoinerStackSize / 2};
  std::optional<container_internal::ProcessPlan> plan;
  SyncChannel parent_end, child_end;
  if (CanPlan(options)) {
    const int stdio[3] = {options.stdio.stdin_fd, options.stdio.stdout_fd, options.stdio.stderr_fd};
    absl::StatusOr<container_internal::ProcessPlan> planned = container_internal::PlanProcess(
        options.process, stdio, devnull.get(), options.seccomp, options.preserve_fds);
    if (!planned.ok()) return planned.status();
    plan = std::move(*planned);
    joiner.plan = &*plan;
  } else {
    RETURN_IF_ERROR(SyncChannel::MakePair(&parent_end, &child_end));
    joiner.channel = &child_end;
  }
  // J and P are copies of us, or share our memory, until P execs: not to be ptraced or robbed
  // of fds by anything in the container they enter. Dumpability belongs to the memory, which
  // J shares, so it is ours that is cleared (for good: a caller that execs into containers
  // has no business being dumped).
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  pid_t joiner_pid =
      ::clone(RunJoiner, stack.get() + kJoinerStackSize, CLONE_VM | CLONE_VFORK | SIGCHLD, &joiner);
  if (joiner_pid < 0) return ErrnoToStatus("clone the exec's joiner");
  // It has exited (CLONE_VFORK): reaped here, before anyone else's waitpid could see it.
  while (::waitpid(joiner_pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  child_end.Close();
  if (!joiner.status.ok()) return joiner.status;
  const pid_t process = joiner.process;

  auto reap = [process]() -> std::string {
    int status = 0;
    while (::waitpid(process, &status, 0) < 0) {
      if (errno != EINTR) return "not reaped";
    }
    if (WIFEXITED(status)) return absl::StrCat("exit status ", WEXITSTATUS(status));
    return absl::StrCat("killed by signal ", WTERMSIG(status));
  };
  if (plan) {
    if (joiner.failure.step == container_internal::ProcessStep::kNone) {
      // Exec'd. A detached process is left to the caller's subreaper once the caller is gone.
      return ExecProcesses{options.detach ? 0 : process, process};
    }
    reap();  // it exits right after
    return container_internal::DescribeFailure(*plan, joiner.failure);
  }
  bool ready = false;
  for (;;) {
    absl::StatusOr<std::optional<container_internal::SyncMessage>> msg = parent_end.Receive();
    if (!msg.ok()) {
      ::kill(process, SIGKILL);
      reap();
      return msg.status();
    }
    if (!msg->has_value()) {
      // Exec'd: P's copy of the channel closed. A detached process is left to the caller's
      // subreaper once the caller is gone.
      if (ready) return ExecProcesses{options.detach ? 0 : process, process};
      std::string how = reap();
      return absl::InternalError(absl::StrCat("exec: the process ended before it started (", how, ")"));
    }
    const container_internal::SyncMessage& m = **msg;
    if (m.kind == SyncKind::kError) {
      reap();  // it exits right after
      return m.status;
    }
    if (m.kind != SyncKind::kReady || ready) {
      ::kill(process, SIGKILL);
      reap();
      return absl::InternalError("exec: unexpected sync message");
    }
    ready = true;
    if (options.before_exec) {
      // The caller's last word before the process execs.
      absl::Status st = options.before_exec(process);
      if (st.ok()) st = parent_end.Send(SyncKind::kGo);
      if (!st.ok()) {
        ::kill(process, SIGKILL);
        reap();
        return st;
      }
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
