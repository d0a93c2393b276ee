// The CLI's connection to berthd (a unix socket, or TCP with mutual TLS), and the one place
// agent errors become "Error: ..." + 125.
#pragma once

#include <memory>
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
#include "grpc/health/v1/health.grpc.pb.h"

namespace berth::cli {

class AgentClient {
 public:
  // A client of `endpoint`. For tcp:// the TLS files are read and checked here (errors name the
  // file) and the channel uses grpc::SslCredentials with them. The channel connects lazily, on
  // the first call, so commands that fail before talking to the agent cost nothing.
  static absl::StatusOr<std::unique_ptr<AgentClient>> Open(AgentEndpoint endpoint);

  berth::v1::Containers::Stub& containers() { return *containers_; }
  berth::v1::System::Stub& system() { return *system_; }
  berth::v1::Networks::Stub& networks() { return *networks_; }
  berth::v1::Images::Stub& images() { return *images_; }
  berth::v1::Volumes::Stub& volumes() { return *volumes_; }
  berth::v1::Events::Stub& events() { return *events_; }
  grpc::health::v1::Health::Stub& health() { return *health_; }
  const AgentEndpoint& endpoint() const { return endpoint_; }
  // "unix:///run/berth/berth.sock", "tcp://node:7443".
  std::string address() const { return endpoint_.address.Uri(); }

  // True while the channel has a working connection: a call that failed then failed in the
  // agent (an UNAVAILABLE it passed on, say), not on the way there.
  bool Connected() const;

 private:
  AgentClient(AgentEndpoint endpoint, std::shared_ptr<grpc::Channel> channel);

  AgentEndpoint endpoint_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<berth::v1::Containers::Stub> containers_;
  std::unique_ptr<berth::v1::System::Stub> system_;
  std::unique_ptr<berth::v1::Networks::Stub> networks_;
  std::unique_ptr<berth::v1::Images::Stub> images_;
  std::unique_ptr<berth::v1::Volumes::Stub> volumes_;
  std::unique_ptr<berth::v1::Events::Stub> events_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
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
