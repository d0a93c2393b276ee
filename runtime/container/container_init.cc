#include "runtime/container/container_init.h"

#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "absl/strings/str_cat.h"
#include "runtime/base/status_macros.h"
#include "runtime/container/hooks.h"
#include "runtime/container/process_setup.h"
#include "runtime/container/rootfs.h"

namespace berth::container_internal {

namespace {

// Exit code of a child that gave up because its parent went away: nobody reads it.
constexpr int kParentGone = 125;

// Steps 2-4: from "cgroup joined" to just before "ready". Returns the old root, which
// SealInit detaches.
absl::StatusOr<UniqueFd> PrepareInit(const InitArgs& args) {
  const spec::Spec& spec = *args.spec;
  if (args.plan->new_user) {
    // The maps are written: become the namespace's root, so that what the setup creates
    // (directories, device files) belongs to a mapped id.
    if (::setresgid(0, 0, 0) != 0) return SysError("setresgid 0 in the user namespace");
    if (::setresuid(0, 0, 0) != 0) return SysError("setresuid 0 in the user namespace");
  }
  RETURN_IF_ERROR(JoinNamespaces(*args.plan));

  RootfsContext rootfs;
  rootfs.new_net = args.plan->new_net;
  rootfs.user_namespace = args.plan->new_user || args.plan->joins_user;
  rootfs.mounts = args.mounts;
  rootfs.no_pivot = args.options->no_pivot;
  ContainerPty pty;
  ContainerStdio stdio = *args.stdio;
  const bool pty_in_container = spec.process.terminal && stdio.terminal < 0;
  if (pty_in_container) {
    rootfs.new_pty = &pty;
  } else if (spec.process.terminal) {
    rootfs.terminal_fd = stdio.terminal;
  }
  ASSIGN_OR_RETURN(UniqueFd old_root, SetupRootfs(spec, rootfs));
  if (pty_in_container) {
    // The console socket gets the master; the slave is our terminal from here on.
    RETURN_IF_ERROR(SendPtyMaster(args.options->console_socket_fd, pty));
    stdio.terminal = pty.slave.get();
  }

  if (!spec.hostname.empty() && ::sethostname(spec.hostname.data(), spec.hostname.size()) != 0) {
    return SysError(absl::StrCat("sethostname ", spec.hostname));
  }
  if (!spec.domainname.empty() &&
      ::setdomainname(spec.domainname.data(), spec.domainname.size()) != 0) {
    return SysError(absl::StrCat("setdomainname ", spec.domainname));
  }
  if (args.plan->new_net) RETURN_IF_ERROR(BringUpLoopback());
  // Before the read-only paths: /proc/sys is usually one of them.
  RETURN_IF_ERROR(WriteSysctls(spec.linux.sysctl));
  RETURN_IF_ERROR(FinishRootfs(spec));
  RETURN_IF_ERROR(ChangeDirectory(spec.process.cwd, /*create=*/true));

  RETURN_IF_ERROR(
      SetupStdio(stdio, spec.process.terminal, spec.process.console_size, args.devnull_fd));
  RETURN_IF_ERROR(ApplyRlimits(spec.process.rlimits));
  if (spec.process.oom_score_adj) RETURN_IF_ERROR(SetOomScoreAdj(*spec.process.oom_score_adj));
  // Before the filter, which may refuse close_range.
  RETURN_IF_ERROR(MarkFdsCloseOnExec(args.options->preserve_fds));
  return old_root;
}

// The rest of step 4, which nothing the creator does after "ready" depends on: the old
// root's detach (the slow part: an RCU grace period), then what takes CAP_SYS_ADMIN away.
// With the start gate, init runs it while its creator handles "ready"; a failure is
// reported when the gate opens, as a failed exec would be.
absl::Status SealInit(const InitArgs& args, UniqueFd old_root) {
  const spec::Spec& spec = *args.spec;
  RETURN_IF_ERROR(DetachOldRoot(std::move(old_root)));
  // Without no_new_privs, only CAP_SYS_ADMIN may load a filter: load it while we still have
  // it (runc does the same), so the rest of the setup already runs under it.
  RETURN_IF_ERROR(LoadSeccompEarlyUnlessNoNewPrivs(spec.process, args.seccomp));
  RETURN_IF_ERROR(SwitchUserAndCapabilities(spec.process.user, spec.process.capabilities));
  if (spec.process.no_new_privileges) RETURN_IF_ERROR(SetNoNewPrivileges());
  ::umask(spec.process.user.umask.value_or(022));
  return absl::OkStatus();
}

[[noreturn]] void Fail(SyncChannel& channel, const absl::Status& status, int code) {
  (void)channel.SendError(status);
  ::_exit(code);
}

// Blocks until someone writes the start byte into the FIFO. Init holds it open for reading
// and writing, so the read never sees end-of-file while it waits.
absl::Status AwaitStartFifo(int fifo_fd) {
  char byte;
  for (;;) {
    ssize_t n = ::read(fifo_fd, &byte, 1);
    if (n == 1) return absl::OkStatus();
    if (n < 0 && errno == EINTR) continue;
    return SysError("read the start FIFO");
  }
}

absl::Status RunStartContainerHooks(const CreateOptions& options) {
  if (options.start_container_hooks.empty()) return absl::OkStatus();
  HookRun run;
  run.field = "hooks.startContainer";
  if (options.start_container_state) run.state_json = options.start_container_state(::getpid());
  return RunHooks(options.start_container_hooks, run);
}

void ReportExecError(int fd, const absl::Status& status) {
  if (fd < 0) return;
  std::string text(status.message());
  (void)!::write(fd, text.data(), text.size());
}

}  // namespace

void RunContainerInit(const InitArgs& args) {
  SyncChannel& channel = *args.channel;
  // Until execve, this process is a copy of the monitor: nothing in the container may ptrace
  // it, read its memory or take its fds (pidfd_getfd). execve makes the new program dumpable.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  ResetSignals();
  // Holding the parent's end would hide the parent's death from our own reads.
  args.parent_channel->Close();
  ::umask(022);
  const CreateOptions& options = *args.options;
  // Preserved fds keep their numbers: the channel must not sit among them.
  if (absl::Status st = channel.MoveAbove(3 + options.preserve_fds); !st.ok()) Fail(channel, st, 1);

  // Step 2/3: wait until the parent is done (the id maps written and the root file system
  // sent, with a user namespace), then move into the cgroup: before the cgroup namespace is
  // unshared (so that the cgroup is its root) and before anything is charged to it.
  std::vector<UniqueFd> fds;
  absl::Status parent_done = ExpectMessage(channel, SyncKind::kParentDone,
                                           absl::CancelledError("parent gone"), &fds);
  if (absl::IsCancelled(parent_done)) ::_exit(kParentGone);
  if (!parent_done.ok()) Fail(channel, parent_done, 1);
  if (!fds.empty()) args.mounts->root = std::move(fds[0]);
  if (absl::Status st = args.cgroup_join->Join(); !st.ok()) Fail(channel, st, 1);
  args.cgroup_join->Close();

  absl::StatusOr<UniqueFd> old_root = PrepareInit(args);
  if (!old_root.ok()) Fail(channel, old_root.status(), 1);

  const seccomp::Program* late_filter = args.spec->process.no_new_privileges ? args.seccomp : nullptr;
  if (options.start_fifo_fd >= 0) {
    // The creator runs createContainer hooks in our mount namespace once we are ready, and
    // is gone by the time the gate opens: sealed first, then nobody reads the channel.
    if (absl::Status st = SealInit(args, *std::move(old_root)); !st.ok()) Fail(channel, st, 1);
    if (absl::Status st = channel.Send(SyncKind::kReady); !st.ok()) ::_exit(kParentGone);
    channel.Close();
    if (absl::Status st = AwaitStartFifo(options.start_fifo_fd); !st.ok()) ::_exit(1);
    if (absl::Status st = RunStartContainerHooks(options); !st.ok()) {
      ReportExecError(options.exec_error_fd, st);
      ::_exit(1);
    }
    absl::Status exec = ExecProcess(args.spec->process, late_filter, options.preserve_fds, /*fds_marked=*/true);
    ReportExecError(options.exec_error_fd, exec);
    ::_exit(127);
  }
  // Step 5: the start gate, sealed while the creator handles "ready".
  if (absl::Status st = channel.Send(SyncKind::kReady); !st.ok()) ::_exit(kParentGone);
  absl::Status sealed = SealInit(args, *std::move(old_root));
  absl::Status go = ExpectMessage(channel, SyncKind::kGo, absl::CancelledError("parent gone"));
  if (absl::IsCancelled(go)) ::_exit(kParentGone);
  if (!go.ok()) Fail(channel, go, 1);
  if (!sealed.ok()) Fail(channel, sealed, 1);
  if (absl::Status st = RunStartContainerHooks(options); !st.ok()) Fail(channel, st, 1);

  // Returns only on failure; on success the CLOEXEC channel closes and the parent sees EOF.
  absl::Status exec = ExecProcess(args.spec->process, late_filter, options.preserve_fds, /*fds_marked=*/true);
  Fail(channel, exec, 127);
}

}  // namespace berth::container_internal
