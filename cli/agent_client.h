// The CLI's connection to berthd (a unix socket, or TCP with mutual TLS), and the one place
// agent errors become "Error: ..." + 125.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "berth/v1/containers.grpc.pb.h"
#include "berth/v1/events.grpc.pb.h"
#include "berth/v1/images.grpc.pb.h"
#include "berth/v1/networks.grpc.pb.h"
#include "berth/v1/volumes.grpc.pb.h"
#include "cli/host_target.h"
#include "cli/tls_files.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace berth::cli {

class AgentClient {
 public:
  // A client of `endpoint`. For tcp:// the TLS files are read and checked here (errors name the
  // file) and the channel uses grpc::SslCredentials with them. The channel is made on the first
  // use of a stub and connects on the first call, so commands that fail before talking to the
  // agent, or that talk to it without gRPC's core (unix_grpc_call.h), do not start gRPC.
  static absl::StatusOr<std::unique_ptr<AgentClient>> Open(AgentEndpoint endpoint);

  berth::v1::Containers::Stub& containers() { return *Stubs().containers; }
  berth::v1::System::Stub& system() { return *Stubs().system; }
  berth::v1::Networks::Stub& networks() { return *Stubs().networks; }
  berth::v1::Images::Stub& images() { return *Stubs().images; }
  berth::v1::Volumes::Stub& volumes() { return *Stubs().volumes; }
  berth::v1::Events::Stub& events() { return *Stubs().events; }
  grpc::health::v1::Health::Stub& health() { return *Stubs().health; }
  const AgentEndpoint& endpoint() const { return endpoint_; }
  // "unix:///run/berth/berth.sock", "tcp://node:7443".
  std::string address() const { return endpoint_.address.Uri(); }

  // True while the channel has a working connection, or once a call without the channel got
  // the agent's answer: a call that failed then failed in the agent (an UNAVAILABLE it passed
  // on, say), not on the way there.
  bool Connected() const;
  // A call made without the channel (unix_grpc_call.h) heard from the agent.
  void NoteAgentReached() { agent_reached_ = true; }

 private:
  struct StubSet {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<berth::v1::Containers::Stub> containers;
    std::unique_ptr<berth::v1::System::Stub> system;
    std::unique_ptr<berth::v1::Networks::Stub> networks;
    std::unique_ptr<berth::v1::Images::Stub> images;
    std::unique_ptr<berth::v1::Volumes::Stub> volumes;
    std::unique_ptr<berth::v1::Events::Stub> events;
    std::unique_ptr<grpc::health::v1::Health::Stub> health;
  };

  AgentClient(AgentEndpoint endpoint, std::optional<TlsMaterial> tls);
  // The channel and its stubs, made on the first call (the CLI's commands run on one thread;
  // a signal's Kill may come from another, hence the once_flag).
  StubSet& Stubs();

  AgentEndpoint endpoint_;
  std::optional<TlsMaterial> tls_;  // tcp:// only
  std::once_flag stubs_made_;
  std::atomic<bool> stubs_ready_{false};  // set once stubs_ is complete, for Connected
  StubSet stubs_;
  bool agent_reached_ = false;
};

// The text for a failed call: the agent's own message when the call reached it; when it did
// not (UNAVAILABLE, or a deadline while not connected), "cannot connect to the Berth agent at
// ADDRESS: ..." with, for tcp://, what a diagnostic TLS handshake found (tls_diagnosis.h).
std::string RpcErrorMessage(const grpc::Status& status, const AgentClient& client);

// Prints "Error: <RpcErrorMessage>" to stderr and returns kExitCliError.
int ReportRpcError(const grpc::Status& status, const AgentClient& client);

// Whether a finished Start or Exec call failed because the container's process could not be
// started (the agent's trailing metadata, containers.proto).
bool ProcessStartFailed(const grpc::ClientContext& ctx);

// ReportRpcError for Start and Exec: a process that could not be started exits as docker's
// does, 127 when its executable is missing and 126 when it cannot be run; else 125.
int ReportStartError(const grpc::Status& status, const AgentClient& client, bool process_failed);
int ReportError(std::string_view message);
int ReportError(const absl::Status& status);

}  // namespace berth::cli
