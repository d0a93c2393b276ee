// A real berthd for integration tests: its own root dir, socket and cgroup parent, started
// as a child of the test, and everything it made removed at the end (containers, cgroups,
// files). Tests talk to it with the generated stubs or the real `berth` CLI.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "berth/v1/containers.grpc.pb.h"
#include "runtime/cgroup/cgroup_driver.h"

namespace berth::testing {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class AgentHarness {
 public:
  AgentHarness();
  ~AgentHarness();
  AgentHarness(const AgentHarness&) = delete;
  AgentHarness& operator=(const AgentHarness&) = delete;

  // Starts berthd and waits until it answers. Extra flags are appended.
  void Start(const std::vector<std::string>& extra_flags = {});
  void Kill(int signal = SIGKILL);  // and reaps it
  void Restart() { Kill(); Start(); }
  bool running() const { return pid_ > 0; }

  v1::Containers::Stub& containers() { return *containers_; }
  v1::System::Stub& system() { return *system_; }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }
  const std::string& socket() const { return socket_; }
  const std::string& root() const { return root_; }
  const std::string& cgroup_parent() const { return cgroup_parent_; }

  // Creates (and optionally starts) a busybox container running `args`.
  absl::StatusOr<v1::Container> Create(v1::ContainerConfig config);
  absl::StatusOr<v1::Container> Run(v1::ContainerConfig config);  // Create + Start
  absl::StatusOr<v1::Container> Inspect(const std::string& id);
  absl::StatusOr<v1::WaitResponse> Wait(const std::string& id, int timeout_seconds = 60);
  absl::Status Remove(const std::string& id, bool force = true);
  // Exec through the API; returns exit code and output.
  absl::StatusOr<CliResult> Exec(const std::string& id, const std::vector<std::string>& args,
                                 const std::string& stdin_data = "", bool tty = false);
  // Complete log text of a container (stdout and stderr interleaved as recorded).
  absl::StatusOr<std::string> Logs(const std::string& id);

  // Runs the real `berth` CLI against this agent.
  CliResult Cli(const std::vector<std::string>& args, const std::string& stdin_data = "", int timeout_seconds = 60);

  // Directory of a container's cgroup in `controller`'s hierarchy.
  std::string CgroupDir(const std::string& id, const std::string& controller) const;

 private:
  std::string dir_;  // holds root and socket
  std::string root_;
  std::string socket_;
  std::string cgroup_parent_;
  std::string log_path_;
  pid_t pid_ = -1;
  std::vector<std::string> last_flags_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Containers::Stub> containers_;
  std::unique_ptr<v1::System::Stub> system_;
  std::unique_ptr<CgroupDriver> cgroups_;
};

// Grpc status code of a failed call, for assertions.
absl::Status FromGrpc(const grpc::Status& status);

// Runs a program with stdin, collecting stdout/stderr; kills it after the timeout.
CliResult RunProgram(const std::vector<std::string>& argv, const std::string& stdin_data, int timeout_seconds,
                     const std::vector<std::string>& extra_env = {});

// A minimal v1::ContainerConfig for busybox running `args`.
v1::ContainerConfig Busybox(const std::vector<std::string>& args);

// Reads a small file (cgroup/proc); empty string when missing.
std::string ReadText(const std::string& path);

}  // namespace berth::testing
