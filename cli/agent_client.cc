#include "cli/agent_client.h"

#include <iostream>

#include "cli/exit_codes.h"

namespace berth::cli {

AgentClient::AgentClient(std::string target)
    : target_(std::move(target)),
      channel_(grpc::CreateChannel(target_, grpc::InsecureChannelCredentials())),
      containers_(berth::v1::Containers::NewStub(channel_)),
      system_(berth::v1::System::NewStub(channel_)),
      networks_(berth::v1::Networks::NewStub(channel_)),
      images_(berth::v1::Images::NewStub(channel_)),
      health_(grpc::health::v1::Health::NewStub(channel_)) {}

int ReportRpcError(const grpc::Status& status, const AgentClient& client) {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    std::cerr << "Error: cannot connect to the Berth agent at " << client.target()
              << " (is berthd running?): " << status.error_message() << "\n";
  } else {
    std::cerr << "Error: " << status.error_message() << "\n";
  }
  return kExitCliError;
}

int ReportError(std::string_view message) {
  std::cerr << "Error: " << message << "\n";
  return kExitCliError;
}

int ReportError(const absl::Status& status) {
  return ReportError(std::string_view(status.message().data(), status.message().size()));
}

}  // namespace berth::cli
