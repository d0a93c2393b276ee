// The agent's side of berth-shim: launching one per container and its requests. Launching
// uses posix_spawn (vfork+exec, no code runs in the child before exec), so no gRPC thread
// ever forks a copy of the agent.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"
#include "runtime/shim/shim_protocol.h"

namespace berth::agent {

// One container's shim: what it is started with (the program itself is ShimLauncher's).
struct ShimLaunch {
  std::string id;
  std::string bundle;
  std::string state_dir;
  std::string log_path;
  bool open_stdin = false;
  int64_t log_max_size_bytes = 0;  // rotation of log_path (0: never)
  int log_max_files = 1;
  // Passed as the shim's fds 4, 5, ... (--preserve-fds); the bundle names them
  // /proc/self/fd/4, ...
  std::vector<int> inherit_fds;
};

struct LaunchedShim {
  pid_t init_pid = 0;
  uint64_t init_start_time = 0;
};

// Starts berth-shim and waits for its report: the container's init once it exists and
// waits at the start gate, or the status the shim reported. shim_path names the shim in
// messages and is executed unless exec_fd (a sealed copy: runtime/base/sealed_copy.h) is >= 0.
// (ShimLauncher does the same with a shim started ahead of time.) `on_init` runs once the
// shim reports init's pid, while init sets up its root (before it is ready, or when the shim
// gave its final report only): work on the new container that need not wait for it, such as
// connecting its network namespace, overlapped with it. It does not run when the shim fails
// before init exists; when init fails after it, the launch returns the error.
absl::StatusOr<LaunchedShim> LaunchShim(const std::string& shim_path, int exec_fd, const ShimLaunch& launch,
                                        absl::FunctionRef<void(const LaunchedShim&)> on_init);

// The pieces of a launch, for ShimLauncher: the shim's arguments for `launch` (the program's
// name, --detached and --preserve-fds aside); starting the shim, detached
// (runtime/base/detached_spawn.h), with report_fd as its fd 3 and inherit_fds as 4, ...;
// reading the report lines from report_fd.
std::vector<std::string> ShimArguments(const ShimLaunch& launch);
absl::Status SpawnShim(const std::string& shim_path, int exec_fd, const std::vector<std::string>& arguments,
                       int report_fd, const std::vector<int>& inherit_fds);
absl::StatusOr<LaunchedShim> ReadShimReport(int report_fd, absl::FunctionRef<void(const LaunchedShim&)> on_init);

// One request on a fresh connection, for requests with a single reply (kStart, kState).
absl::StatusOr<shim::Message> ShimRequest(const std::string& state_dir, shim::MsgType type,
                                          const std::string& payload = "");

// Opens a connection and sends one request, leaving the connection for the caller to read
// (kExec, kAttach, kWait).
absl::StatusOr<UniqueFd> ShimOpen(const std::string& state_dir, shim::MsgType type,
                                  const std::string& payload = "");

}  // namespace berth::agent
