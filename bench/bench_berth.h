// The Berth side of berth-bench: a private berthd, and the berth.v1 calls measured against it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "berth/v1/containers.grpc.pb.h"

namespace berth::bench {

struct AgentOptions {
  std::string berthd;  // path of berthd (berth-shim is found next to it)
  std::string root;
  std::string socket;
  std::string cgroup_parent;
  std::string log_path;
  std::string log_level;
  std::vector<std::string> extra_args;  // more berthd flags (--config, --listen, TLS files)
};

// A berthd started by the bench; Stop() (and the destructor) ends it by its pid.
class BerthAgent {
 public:
  explicit BerthAgent(AgentOptions options) : options_(std::move(options)) {}
  ~BerthAgent() { Stop(); }
  BerthAgent(const BerthAgent&) = delete;
  BerthAgent& operator=(const BerthAgent&) = delete;

  void Start();
  // Until the socket accepts connections; throws if berthd exits or `timeout` passes.
  void WaitServing(std::chrono::seconds timeout);
  // SIGTERM, then SIGKILL after 5 s; reaps it. Idempotent.
  void Stop();
  pid_t pid() const { return pid_; }
  const AgentOptions& options() const { return options_; }

 private:
  AgentOptions options_;
  pid_t pid_ = -1;
};

// The busybox layer a berthd with root `agent_root` unpacked from its embedded image (one
// layer): crun's containers run on the same directory. Throws if there is none.
std::string BusyboxLayer(const std::string& agent_root);

// Milliseconds spent in each step of one run-to-exit.
struct RunPhases {
  double create = 0;  // Create
  double attach = 0;  // Attach opened, until the agent confirms output is captured
  double start = 0;   // Start
  double exit = 0;    // from Start's reply to the exit code on the attach stream
  double close = 0;   // rest of the attach stream (its status)
  double remove = 0;  // Remove
  double total = 0;
};

struct ExecPhases {
  double started = 0;  // until the first reply (the pid)
  double exit = 0;     // until the exit code
  double total = 0;    // until the stream's status
};

class BerthClient {
 public:
  explicit BerthClient(const std::string& socket_path);
  // Over any channel (the bench's TCP + mutual TLS rows).
  explicit BerthClient(std::shared_ptr<grpc::Channel> channel);

  void WaitReady(std::chrono::seconds timeout);
  std::string Version();

  // What `berth run --rm IMAGE CMD...` does: one Run call with auto_remove, read to the exit
  // code, which the agent sends once the container is removed. In the phases: `create` until
  // the first response (the container made, its output captured), `exit` from there to the
  // exit code (start, run, removal), `close` the stream's end. Throws unless the command exits
  // 0. `network`: ContainerConfig.network ("none" matches crun's default spec: a netns with lo).
  RunPhases RunInOneCall(const std::string& image, const std::vector<std::string>& command,
                         const std::string& network = "");
  // The same in separate calls, each timed: Create, Attach (before Start, so no output is
  // lost), Start, read the attach stream to the exit code; then Remove, so the container is
  // gone when the call returns (the agent's auto-remove would do it after). Throws unless the
  // command exits 0.
  // `security`: the container's SecurityOptions (default: the hardened defaults).
  RunPhases RunToExit(const std::string& image, const std::vector<std::string>& command,
                      const std::string& network = "", const berth::v1::SecurityOptions& security = {});
  // Create + Start, detached; returns the id.
  std::string RunDetached(const std::string& image, const std::vector<std::string>& command,
                          const berth::v1::SecurityOptions& security = {});
  // Create alone, timed until it returns (ms); `network` is ContainerConfig.network ("bridge",
  // "none", ...). The container stays created (not started) until Remove; its id in `*id`.
  double TimedCreate(const std::string& image, const std::vector<std::string>& command, const std::string& network,
                     std::string* id);
  // One non-interactive exec; throws unless it exits 0.
  ExecPhases Exec(const std::string& id, const std::vector<std::string>& args);
  berth::v1::Container Inspect(const std::string& id);
  void Remove(const std::string& id, bool force);

  // Removes (force) every container this client created and did not remove; best effort.
  // Returns the ids it could not remove.
  std::vector<std::string> RemoveAll();

 private:
  std::string Create(const std::string& image, const std::vector<std::string>& command,
                     const std::string& network = "", const berth::v1::SecurityOptions& security = {});
  void Start(const std::string& id);

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<berth::v1::Containers::Stub> containers_;
  std::unique_ptr<berth::v1::System::Stub> system_;
  std::set<std::string> live_;
};

}  // namespace berth::bench
