// The OCI lifecycle verbs on containers that outlive the process that made them (the runc
// model): each verb is one call, checks the container's status first, and keeps what it
// knows in a StateStore. berth-runtime is a thin command line over these.
//
//   Create  -> created   init waits at the start FIFO (ROOT/<id>/exec.fifo)
//   Start   -> running   a byte through the FIFO; init execs the user's process
//   Kill, Pause/Resume, Processes, State, List
//   Delete  <- stopped (or created; anything with force)
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/cgroup/cgroup_driver.h"
#include "runtime/lifecycle/container_record.h"
#include "runtime/lifecycle/live_container.h"
#include "runtime/lifecycle/state_store.h"
#include "runtime/spec/spec.h"

namespace berth::lifecycle {

// What every verb works with: where the state lives and how cgroups are reached.
struct Runtime {
  const StateStore& store;
  CgroupDriver& cgroups;
};

struct CreateRequest {
  std::string id;
  std::string bundle;          // the directory with config.json
  std::string pid_file;        // "" = none; written before Create returns
  std::string console_socket;  // with process.terminal: a Unix socket to send the pty master to
  int preserve_fds = 0;        // fds 3.. of the caller passed on to the process
  bool no_pivot = false;       // MS_MOVE + chroot instead of pivot_root (CreateOptions)
};

// The init and cgroup a record names, for the acts of live_container.h.
LiveContainer LiveOf(const ContainerRecord& record);

// The status of a recorded container, from its init (alive, same start time) and record.
ContainerStatus CurrentStatus(const ContainerRecord& record);

// Creates the container and leaves its init at the start gate, after the prestart,
// createRuntime and createContainer hooks. The caller stays init's parent until it exits.
// On failure nothing is left: no state directory, cgroup or process.
absl::StatusOr<ContainerRecord> Create(const Runtime& rt, const CreateRequest& request);

// created -> running; then the poststart hooks (a failing one is returned as a warning
// after the container started: the status says so, the container runs).
absl::Status Start(const Runtime& rt, const std::string& id);

struct StateView {
  ContainerRecord record;
  ContainerStatus status;
};
absl::StatusOr<StateView> State(const Runtime& rt, const std::string& id);
std::vector<StateView> List(const Runtime& rt);

// Signals init, or with `all` every process in the container's cgroup.
absl::Status Kill(const Runtime& rt, const std::string& id, int signal, bool all);

absl::Status Pause(const Runtime& rt, const std::string& id);
absl::Status Resume(const Runtime& rt, const std::string& id);

// The pids in the container's cgroup, in the caller's pid namespace.
absl::StatusOr<std::vector<pid_t>> Processes(const Runtime& rt, const std::string& id);

struct ExecRequest {
  std::string id;
  spec::Process process;       // what to run, with the container's filter and cgroup
  std::string console_socket;  // with process.terminal: receives the pty master
  std::string pid_file;        // "" = none: the process's pid
  int preserve_fds = 0;
  // Return once it runs, leaving it to our caller's subreaper once we exit.
  bool detach = false;
};

struct ExecStarted {
  pid_t helper = 0;   // our child to reap for the exit code: the process (0 when detached)
  pid_t process = 0;  // the process itself, in our pid namespace
};

// One more process in a created or running container, after its filter and in its cgroup
// and namespaces. Returns once the process exec'd (or why it could not).
absl::StatusOr<ExecStarted> Exec(const Runtime& rt, const ExecRequest& request);

// The process config.json gives the container's init, as the base `exec` builds on.
absl::StatusOr<spec::Process> ContainerProcess(const Runtime& rt, const std::string& id);

// New limits for a created, running or paused container: the fields set in `changes`
// replace the recorded ones (devices cannot change), and the whole set is written to the
// cgroup.
absl::Status Update(const Runtime& rt, const std::string& id, const spec::LinuxResources& changes);

// Removes a stopped (or never started) container: its processes, cgroup and state; then
// the poststop hooks. A running or paused one needs `force` (it is killed first).
absl::Status Delete(const Runtime& rt, const std::string& id, bool force);

}  // namespace berth::lifecycle
