// Linux containers from an OCI spec: CreateContainer clones the init process into new
// namespaces, places it in its cgroup, builds its root filesystem and holds it at a start
// gate; Start() releases it to exec the user's command. ExecInContainer runs one more process
// inside an existing container's namespaces and cgroup.
//
// Parent/child protocol on one SOCK_SEQPACKET pair (numbered, every wait matched by a send;
// a child failure comes back as errno + text, the child never logs):
//   1 parent: cgroup created, resources applied
//   2 clone(namespaces) -> child blocks until the parent says "cgroup joined"; then it joins
//     the namespaces that have a path (a pid namespace with a path is entered by the parent
//     around clone) and unshares its cgroup namespace, so that its own cgroup is the root
//   3 with a new user namespace: the parent writes the uid/gid maps, hands the cgroup to the
//     container's root, idmaps the image layers and binds that ask for it and builds the
//     root on them; "cgroup joined" then carries the root (SCM_RIGHTS)
//   4 child: rootfs (the parent's detached root and binds attached, other mounts, /dev,
//     pivot_root, masked/ro paths), hostname, loopback up in a new netns, sysctls, rlimits,
//     user/groups, capabilities, no_new_privs -> sends "ready" (or an error)
//   5 child blocks on the start gate; Start() sends "go"; child loads its seccomp filter and
//     execs (exec failure is reported back on the socket, which is CLOEXEC so success closes
//     it)
// The child is non-dumpable from clone to execve: nothing in the container can ptrace it or
// take its fds while it still is a copy of its parent.
// The caller must be single-threaded (berth-shim is): clone/setns from a threaded process
// is what the architecture forbids.
#pragma once

#include <sys/types.h>

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

class CreatedContainer {
 public:
  virtual ~CreatedContainer() = default;
  virtual pid_t pid() const = 0;  // init's pid in the caller's pid namespace
  // Releases the start gate. Returns once the user's process exec'd (or why it could not:
  // e.g. NOT_FOUND for a missing executable).
  virtual absl::Status Start() = 0;
  // After Start() or to abandon: the destructor of a container never started kills init
  // and destroys the cgroup; after a successful Start() it only closes fds.
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
    const seccomp::Program* seccomp = nullptr);

struct ExecOptions {
  pid_t container_pid = 0;   // init of the target container
  std::string cgroups_path;  // the container's linux.cgroupsPath ("" = do not join one)
  spec::Process process;     // args, env, cwd, user, terminal, rlimits, capabilities
  ContainerStdio stdio;
  const seccomp::Program* seccomp = nullptr;  // the container's filter: loaded before execve
};

// Forks a helper that joins the container's cgroup and namespaces (read from
// /proc/<container_pid>/ns/*), forks the process itself inside the pid namespace, and exits
// with the process's status (a signal N becomes exit code 128+N). Returns the helper's pid:
// reap it to learn the exit code. Errors before the exec are returned (not exit codes).
// The helper keeps no fd of the caller's but its stdio and channel, and it and the process
// are non-dumpable until the process's execve.
absl::StatusOr<pid_t> ExecInContainer(const ExecOptions& options, CgroupDriver& cgroups);

// Exit code from a waitpid status: WEXITSTATUS, or 128 + signal.
int ExitCodeFromWaitStatus(int status);

}  // namespace berth
