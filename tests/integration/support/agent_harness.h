// A real berthd for integration tests: its own root dir, socket and cgroup parent, started
// as a child of the test, and everything it made removed at the end (containers, cgroups,
// files). Tests talk to it with the generated stubs or the real `berth` CLI.
//
// berthd runs in a "test host": a fresh network namespace the harness makes and holds for its
// whole life (Restart re-enters the same one), so no test touches the machine's own network.
// Bridges, veths and nftables rules of the agent all live there and vanish with it.
//
// At destruction the harness removes every container, stops the agent and then checks that
// nothing outlived it: a process whose command line names the harness's temp dir (berthd,
// berth-shim) or a container cgroup below its cgroup parent fails the test, and is killed or
// removed so that the machine stays clean for the next test. Once every container is removed,
// a veth named bth* in the test host, a lease file under <root>/networks/*/leases or a DNAT
// rule in the agent's nftables table (ip berth) fails the test as well.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "berth/v1/containers.grpc.pb.h"
#include "berth/v1/networks.grpc.pb.h"
#include "runtime/base/unique_fd.h"
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

  // Starts berthd inside the test host and waits until it answers. Extra flags are appended.
  void Start(const std::vector<std::string>& extra_flags = {});
  // Signals berthd and reaps it (SIGKILL after 15 s if it does not exit). Like Start, it
  // replaces the channel and stubs: do not keep containers()/system() references across it.
  void Kill(int signal = SIGKILL);
  // Kill (SIGKILL) and Start again in the same test host with the flags of the last start.
  void Restart() {
    Kill();
    std::vector<std::string> flags = last_flags_;
    Start(flags);
  }
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  v1::Containers::Stub& containers() { return *containers_; }
  v1::System::Stub& system() { return *system_; }
  v1::Networks::Stub& networks() { return *networks_; }
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
  // Run, Wait and Logs: the exit code and the container's stdout and stderr.
  absl::StatusOr<CliResult> RunToExit(v1::ContainerConfig config, int timeout_seconds = 60);
  absl::StatusOr<v1::Container> StartContainer(const std::string& id);
  // `timeout_seconds` unset: the agent's default grace period.
  absl::StatusOr<v1::Container> Stop(const std::string& id, std::optional<int> timeout_seconds = std::nullopt,
                                     int signal = 0);
  absl::Status KillContainer(const std::string& id, int signal);
  absl::Status Pause(const std::string& id);
  absl::Status Resume(const std::string& id);
  absl::StatusOr<std::vector<v1::Container>> List(const std::string& label_selector = "",
                                                  const std::vector<v1::ContainerState>& states = {});
  absl::StatusOr<v1::VersionResponse> Version();
  // "v1" or "v2" as the agent reports it (System.Version); empty if it does not answer.
  std::string CgroupDriverName();
  // Polls Inspect until the container is in `state`; false after `timeout`.
  bool WaitForState(const std::string& id, v1::ContainerState state,
                    std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // Exec through the API; returns exit code and output.
  absl::StatusOr<CliResult> Exec(const std::string& id, const std::vector<std::string>& args,
                                 const std::string& stdin_data = "", bool tty = false);
  // Complete log text of a container (stdout and stderr interleaved as recorded).
  absl::StatusOr<std::string> Logs(const std::string& id);
  // Every chunk of a Logs call (follow/tail/since as in `request`; its deadline bounds follow).
  absl::StatusOr<std::vector<v1::OutputChunk>> LogChunks(const v1::LogsRequest& request, int timeout_seconds = 30);

  // Runs the real `berth` CLI against this agent.
  CliResult Cli(const std::vector<std::string>& args, const std::string& stdin_data = "", int timeout_seconds = 60);

  // The test host: the network namespace berthd (and so every shim and bridge/host-mode
  // container) runs in. Owned by the harness; valid for its whole life.
  int netns_fd() const { return netns_.get(); }
  // Runs `fn` on a helper thread inside the test host namespace.
  absl::Status RunInHostNetns(const std::function<absl::Status()>& fn) const;
  // Runs a program inside the test host namespace (like RunProgram).
  CliResult RunInHost(const std::vector<std::string>& argv, int timeout_seconds = 30,
                      const std::string& stdin_data = "") const;

  // The Networks service.
  absl::StatusOr<v1::Network> CreateNetwork(const std::string& name, const std::string& subnet = "",
                                            const std::string& gateway = "");
  absl::StatusOr<v1::Network> InspectNetwork(const std::string& id);
  absl::StatusOr<std::vector<v1::Network>> ListNetworks();
  absl::Status RemoveNetwork(const std::string& id);

  // Directory of a container's cgroup in `controller`'s hierarchy.
  std::string CgroupDir(const std::string& id, const std::string& controller) const;
  // The unpacked layer of the default busybox image (it has exactly one).
  std::string BusyboxLayerDir() const;
  // The harness's temp dir (holds root and socket; every shim's command line names it).
  const std::string& dir() const { return dir_; }

 private:
  // A new channel to socket_ (and stubs on it); it connects when first used.
  void Connect();
  // The end-of-test leak checks (see the file comment); adds a failure per leftover.
  void CheckNothingLeftBehind();
  // The network part of the checks: bth* veths, lease files, DNAT rules.
  void CheckNoNetworkLeftovers();

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
  std::unique_ptr<v1::Networks::Stub> networks_;
  UniqueFd netns_;
  std::unique_ptr<CgroupDriver> cgroups_;
};

// Grpc status code of a failed call, for assertions.
absl::Status FromGrpc(const grpc::Status& status);

// Runs a program with stdin, collecting stdout/stderr; kills it after the timeout. With
// `netns_fd` >= 0 it runs inside that network namespace (fork, setns, exec).
CliResult RunProgram(const std::vector<std::string>& argv, const std::string& stdin_data, int timeout_seconds,
                     const std::vector<std::string>& extra_env = {}, int netns_fd = -1);

// A minimal v1::ContainerConfig for busybox running `args`.
v1::ContainerConfig Busybox(const std::vector<std::string>& args);

// Reads a small file (cgroup/proc); empty string when missing.
std::string ReadText(const std::string& path);

// Polls `done` every 20 ms until it holds or `timeout` passed; returns its last value.
bool Eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(15));

// Live (non-zombie) processes, other than this one, whose command line contains `needle`.
std::vector<pid_t> ProcessesMentioning(const std::string& needle);

// Every directory named `name` directly below this process's own cgroup (or the root) in
// any hierarchy mounted under /sys/fs/cgroup.
std::vector<std::string> CgroupDirsNamed(const std::string& name);

}  // namespace berth::testing
