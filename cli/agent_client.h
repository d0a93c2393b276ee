// The CLI's connection to berthd, and the one place agent errors become "Error: ..." + 125.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "berth/v1/containers.grpc.pb.h"
#include "berth/v1/images.grpc.pb.h"
#include "berth/v1/networks.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace berth::cli {

class AgentClient {
 public:
  // `target` is a gRPC target from ResolveHostTarget(). The channel connects lazily, on the
  // first call, so commands that fail before talking to the agent cost nothing.
  explicit AgentClient(std::string target);

  berth::v1::Containers::Stub& containers() { return *containers_; }
  berth::v1::System::Stub& system() { return *system_; }
  berth::v1::Networks::Stub& networks() { return *networks_; }
  berth::v1::Images::Stub& images() { return *images_; }
  grpc::health::v1::Health::Stub& health() { return *health_; }
  const std::string& target() const { return target_; }

 private:
  std::string target_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<berth::v1::Containers::Stub> containers_;
  std::unique_ptr<berth::v1::System::Stub> system_;
  std::unique_ptr<berth::v1::Networks::Stub> networks_;
  std::unique_ptr<berth::v1::Images::Stub> images_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

// Prints "Error: <message>" to stderr and returns kExitCliError. An unreachable agent is named
// with its address.
int ReportRpcError(const grpc::Status& status, const AgentClient& client);
int ReportError(std::string_view message);
int ReportError(const absl::Status& status);

}  // namespace berth::cli
