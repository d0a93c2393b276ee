// Linux containers from an OCI spec: CreateContainer clones the init process into new
// namespaces, has it join its cgroup, builds its root filesystem and holds it at a start
// gate; Start() releases it to exec the user's command. ExecInContainer runs one more process
// inside an existing container's namespaces and cgroup.
//
// Parent/child protocol on one SOCK_SEQPACKET pair (numbered, every wait matched by a send;
// a child failure comes back as errno + text, the child never logs):
//   1 parent: cgroup created, resources applied, its self-join files opened
//     (cgroup_self_join.h: the kernel moves a thread that moves itself without waiting for
//     an RCU grace period, which moving another process waits for)
//   2 clone(namespaces) -> child blocks until the parent says "parent done"; then it writes
//     itself into its cgroup through those files, joins the namespaces that have a path (a
//     pid namespace with a path is entered by the parent around clone) and unshares its
//     cgroup namespace, so that its own cgroup is the root
//   3 with a new user namespace: the parent writes the uid/gid maps, hands the cgroup to the
//     container's root, idmaps the image layers and binds that ask for it and builds the
//     root on them; "parent done" then carries the root (SCM_RIGHTS)
//   4 child: rootfs (the parent's detached root and binds attached, other mounts, /dev,
//     pivot_root, masked/ro paths), hostname, loopback up in a new netns, sysctls, rlimits
//     -> sends "ready" (or an error)
//   5 child seals itself while the parent handles "ready": the node's old root detached,
//     user/groups, capabilities, no_new_privs (with a start FIFO, before "ready": the
//     createContainer hooks join the mount namespace); then blocks on the start gate;
//     Start() sends "go"; child loads its seccomp filter and execs (a sealing or exec failure
//     is reported back on the socket, which is CLOEXEC so success closes it)
// The child is non-dumpable from clone to execve: nothing in the container can ptrace it or
// take its fds while it still is a copy of its parent.
// The caller must be single-threaded (berth-shim is): clone/setns from a threaded process
// is what the architecture forbids.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"
#include "runtime/cgroup/cgroup_driver.h"
#include "runtime/spec/spec.h"

namespace berth::seccomp {
struct Program;
}

namespace berth {

struct ContainerStdio {
  // The child's ends. With spec.process.terminal, `terminal` (a pty slave) is used for 0/1/2
  // and becomes the controlling terminal; otherwise the three fds (-1 = /dev/null).
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  int terminal = -1;
};

// What CreateContainer needs beyond the spec when the container outlives its creator (the
// runc model: `create` exits, a later `start` opens the gate).
struct CreateOptions {
  // -1: Start() opens the gate. Otherwise a FIFO opened O_RDWR: init blocks reading one byte
  // from it, so any process that opens the FIFO for writing and writes a byte starts it.
  int start_fifo_fd = -1;
  // With start_fifo_fd: where init writes why its execve failed (nobody reads the channel).
  int exec_error_fd = -1;
  // The caller's fds 3 .. 3+preserve_fds-1 are passed on to the process (runc --preserve-fds).
  int preserve_fds = 0;
  // runc's --no-pivot: the rootfs is moved over / and chrooted into instead of pivot_root
  // (for roots on an initramfs; weaker: the old root stays reachable with CAP_SYS_CHROOT).
  bool no_pivot = false;
  // With process.terminal and no ContainerStdio::terminal: a connected Unix socket. Init opens
  // a pty in the container's own /dev/pts (so `tty` names it), makes the slave its terminal
  // and /dev/console, and sends the master here (SCM_RIGHTS, payload "/dev/pts/N").
  int console_socket_fd = -1;
  // Run by init once the start gate opens, before the user's process: in the container's
  // namespaces and root, as its user, the path resolved there (the spec's startContainer).
  // Each gets on stdin what `start_container_state` makes of init's own pid. One that fails
  // is Start()'s error (or, with start_fifo_fd, exec_error_fd's) and init exits.
  std::vector<spec::Hook> start_container_hooks;
  std::function<std::string(pid_t init_pid)> start_container_state;
  // Called once init exists (in its user namespace, not yet in its cgroup), just before it is
  // let go to set up its root: for work on its namespaces that can go on beside that set-up (a
  // caller connects its network namespace here). Not after: once init runs it may take the
  // caller's CPU for its whole set-up while the other one idles (the scheduler did, for 2 ms
  // of 4). Init may still fail after it; CreateContainer then returns the error.
  std::function<void(pid_t init_pid)> on_cloned;
  // Called once init has been let go, before the wait for its ready: the caller's own work
  // that must be done before the container is reported created but needs nothing of init's
  // set-up (the monitor writes its state file and opens its socket here), in what would
  // otherwise be a wait of 2 ms or more. Init may still fail after it; CreateContainer then
  // returns the error.
  std::function<void()> while_init_sets_up;
};

class CreatedContainer {
 public:
  virtual ~CreatedContainer() = default;
  virtual pid_t pid() const = 0;  // init's pid in the caller's pid namespace
  // Releases the start gate. Returns once the user's process exec'd (or why it could not:
  // e.g. NOT_FOUND for a missing executable).
  virtual absl::Status Start() = 0;
  // With CreateOptions::start_fifo_fd: hands the container to whoever opens the FIFO. The
  // destructor then neither kills init nor destroys the cgroup.
  virtual void Release() = 0;
  // After Start() or to abandon: the destructor of a container never started (nor released)
  // kills init and destroys the cgroup; after a successful Start() it only closes fds.
};

// Validates the spec, then runs the protocol above. On any failure everything made so far
// (child, cgroup) is removed before returning. Errors read "create container: <step>: <why>"
// (e.g. "create container: mount proc on /proc: Operation not permitted"); a hard rlimit
// above the caller's own is refused up front (FAILED_PRECONDITION) unless the caller has
// CAP_SYS_RESOURCE. An empty linux.cgroupsPath means no cgroup (allowed only without
// resources). `cgroups` must outlive the returned object; after a successful Start() the
// caller reaps init (waitpid on pid()) and destroys the cgroup itself. linux.seccomp is
// compiled here unless the caller passes it compiled (`seccomp`, which must outlive Start).
// The device cgroup always denies what the default /dev nodes and linux.resources.devices do
// not allow (a node in linux.devices needs its own rule there, as with runc).
absl::StatusOr<std::unique_ptr<CreatedContainer>> CreateContainer(
    const spec::Spec& spec, const ContainerStdio& stdio, CgroupDriver& cgroups,
    const seccomp::Program* seccomp = nullptr, const CreateOptions& options = {});

struct ExecOptions {
  pid_t container_pid = 0;   // init of the target container
  std::string cgroups_path;  // the container's linux.cgroupsPath ("" = do not join one)
  spec::Process process;     // args, env, cwd, user, terminal, rlimits, capabilities
  ContainerStdio stdio;
  const seccomp::Program* seccomp = nullptr;  // the container's filter: loaded before execve
  // With process.terminal and no stdio.terminal: as CreateOptions::console_socket_fd, the pty
  // is opened in the container's /dev/pts and its master sent over this connected socket.
  int console_socket_fd = -1;
  int preserve_fds = 0;  // the caller's fds 3 .. 3+preserve_fds-1 reach the process
  // The caller returns once the process runs, without a pid to reap: the process is left to
  // the caller's subreaper (conmon, containerd's shim: runc's `exec --detach`) once the
  // caller exits.
  bool detach = false;
  // Called with the process's pid once it is ready, before it execs (a pid file written here
  // exists before the process can exit, so whoever reaps it can tell it apart). An error
  // kills the process and is returned.
  std::function<absl::Status(pid_t process)> before_exec;
};

struct ExecProcesses {
  pid_t helper = 0;   // reap it for the exit code (the process itself); 0 with `detach`
  pid_t process = 0;  // the process, in the caller's pid namespace
};

// Starts the process inside the container: a short-lived joiner that shares the caller's
// memory joins the container's cgroup and namespaces (read from /proc/<container_pid>/ns/*)
// and makes the process as the caller's own child (without a terminal it too shares the
// caller's memory until its execve, applying a plan made beforehand; with one it is a fork). Returns its pid (in the caller's pid
// namespace): signal it, and reap it for the exit code (ExitCodeFromWaitStatus). Errors
// before the exec are returned (not exit codes). The process keeps no fd of the caller's but
// its stdio, and is non-dumpable until its execve; the caller is made non-dumpable for good.
// The caller must be single-threaded (the process is forked without atfork handlers).
absl::StatusOr<pid_t> ExecInContainer(const ExecOptions& options, CgroupDriver& cgroups);
// The same, telling the process's own pid too (and honouring `detach`).
absl::StatusOr<ExecProcesses> StartExecInContainer(const ExecOptions& options, CgroupDriver& cgroups);

// linux.resources as the cgroup driver applies them (the device rules in full, see
// spec::DeviceRulesFor). For CreateContainer and for live updates.
CgroupResources CgroupResourcesFor(const spec::LinuxResources& resources);

// Exit code from a waitpid status: WEXITSTATUS, or 128 + signal.
int ExitCodeFromWaitStatus(int status);

}  // namespace berth
