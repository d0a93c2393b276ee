// The berth-shim event loop: one container, one thread. It creates the container (held at its
// start gate), serves the agent's requests on <state-dir>/shim.sock (shim_protocol.h), carries
// the container's output into the CRI log and to attached clients, reaps init and exec'd processes,
// and on init's exit records the result in state.json, removes the cgroup and the socket.
//
// Single-threaded by design: CreateContainer and ExecInContainer clone/fork and setns, which a
// threaded process must not do. Signals arrive through a signalfd in the same epoll set.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"
#include "runtime/cgroup/cgroup_driver.h"
#include "runtime/container/container.h"
#include "runtime/lifecycle/live_container.h"
#include "runtime/shim/cri_log.h"
#include "runtime/seccomp/seccomp_filter.h"
#include "runtime/shim/shim_protocol.h"
#include "runtime/spec/spec.h"

namespace berth::shim {

struct ShimOptions {
  std::string id;
  std::string bundle;     // absolute; holds config.json
  std::string state_dir;  // absolute; gets shim.sock and state.json
  std::string log_path;   // the CRI log file, appended to
  crilog::LogRotation log_rotation;  // --log-max-size, --log-max-files
  bool stdin = false;     // give the container a stdin pipe (attach hands it over once)
  int preserve_fds = 0;   // fds 4 .. 3+N the bundle may name (closed once the container exists)
};

class ShimServer {
 public:
  // Everything that must hold before the shim reports "ok": the bundle is loaded, the container
  // exists and waits at its start gate, state.json says "created", shim.sock listens. On error,
  // whatever was made (child, cgroup, state.json, socket) is gone when this returns.
  // `signal_fd` is a signalfd for SIGCHLD, SIGTERM, SIGINT and SIGHUP (blocked by the caller).
  // `cgroups`: the node's cgroup driver when the caller detected it ahead of time (a standby
  // shim, while it waited); detected here when null. `on_init_cloned` (may be empty) gets init's
  // pid and start time as soon as it exists, before it is ready (CreateOptions::on_cloned).
  static absl::StatusOr<std::unique_ptr<ShimServer>> Create(
      const ShimOptions& options, UniqueFd signal_fd, std::unique_ptr<CgroupDriver> cgroups = nullptr,
      std::function<void(pid_t pid, uint64_t start_time)> on_init_cloned = {});
  ~ShimServer();

  pid_t container_pid() const { return init_pid_; }
  uint64_t container_start_time() const { return state_.pid_start_time; }

  // Serves until the container has exited, its output is drained, state.json says "exited" and
  // every waiter was told; then closes every connection and removes shim.sock.
  void Run();

 private:
  enum class Mode { kIdle, kExec, kAttach, kWait };
  struct Connection {
    UniqueFd fd;
    Mode mode = Mode::kIdle;
    pid_t exec_pid = 0;
    uint64_t dropped_bytes = 0;  // attach output this client missed, not yet reported
  };

  explicit ShimServer(const ShimOptions& options) : options_(options) {}

  absl::Status Init(UniqueFd signal_fd, const std::function<void(pid_t, uint64_t)>& on_init_cloned);
  absl::Status Listen();
  // state.json ("created"), the socket and the loop's epoll with the signals and the socket:
  // all but the container's output, which exists only once CreateContainer returns.
  absl::Status PrepareToServe(pid_t init_pid);
  absl::Status Watch(int fd, uint64_t key);
  void Unwatch(int fd);

  void HandleEvent(uint64_t key, uint32_t events);
  void HandleSignals();
  void Reap();
  void OnInitExit(int wait_status);
  void OnExecExit(pid_t process, int wait_status);
  void FinishExit();

  void Accept();
  void HandleRequest(uint64_t key);
  absl::Status DoStart(Connection& conn);
  absl::Status DoExec(uint64_t key, Connection& conn, const std::string& payload);
  absl::Status DoAttach(Connection& conn, const std::string& payload);
  absl::Status DoWait(Connection& conn);
  absl::Status DoKill(Connection& conn, const std::string& payload);
  absl::Status DoPause(Connection& conn, bool pause);
  absl::Status DoUpdate(Connection& conn, const std::string& payload);
  absl::Status DoProcesses(Connection& conn);
  absl::Status DoReopenLog(Connection& conn);
  lifecycle::LiveContainer Live() const;
  void Drop(uint64_t key);

  void ReadOutput(UniqueFd& fd, crilog::Stream stream);
  void CloseOutput(UniqueFd& fd);
  bool OutputsOpen() const { return stdout_fd_.valid() || stderr_fd_.valid(); }
  void Broadcast(MsgType type, absl::string_view data);
  std::string ExitPayload() const;
  absl::Status SaveState();

  ShimOptions options_;
  spec::Spec spec_;
  // Compiled once; loaded by init and by every exec'd process.
  std::optional<seccomp::Program> seccomp_;
  std::unique_ptr<CgroupDriver> cgroups_;
  std::unique_ptr<CreatedContainer> container_;
  std::optional<crilog::LogWriter> log_;

  UniqueFd epoll_;
  UniqueFd signal_fd_;
  UniqueFd listen_fd_;
  std::string socket_path_;
  bool socket_bound_ = false;

  bool terminal_ = false;
  UniqueFd stdout_fd_;  // with a terminal: the pty master (output and, duplicated, input)
  UniqueFd stderr_fd_;
  UniqueFd stdin_writer_;  // --stdin without terminal: handed to the first attacher

  // The container's mount namespace, held until its exit is reported: were init's exit the
  // last reference, the kernel would unmount the whole tree (with an RCU grace period) before
  // init became a zombie, and the SIGCHLD that tells of the exit would come milliseconds late.
  UniqueFd mount_ns_;

  // Memory to give back once the loop has been idle for kIdleReleaseMs (runtime/base/idle_memory.h): after
  // the create, the start and each exec.
  static constexpr int kIdleReleaseMs = 100;
  bool release_pending_ = true;

  ShimState state_;
  pid_t init_pid_ = 0;
  bool init_exited_ = false;
  bool cgroup_removed_ = false;  // by OnInitExit: the exit report tells the agent
  int64_t drain_deadline_ns_ = 0;
  bool done_ = false;

  uint64_t next_key_;
  std::map<uint64_t, Connection> connections_;
  struct RunningExec {
    uint64_t key = 0;   // its connection (0: none any more)
    UniqueFd process;   // a pidfd of the exec's process (kKill with exec_pid), or none
  };
  std::map<pid_t, RunningExec> execs_;  // by the process's pid (our child)
  std::vector<char> buffer_;                // output read buffer, allocated on first use
};

}  // namespace berth::shim
