#include "cli/agent_client.h"

#include <unistd.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "cli/exit_codes.h"
#include "cli/terminal_style.h"
#include "cli/tls_diagnosis.h"
#include "cli/tls_files.h"

namespace berth::cli {
namespace {

// The largest answer the CLI takes.
constexpr int kMaxResponseBytes = 256 << 20;

// Red on a terminal, so that the failure stands out among a command's output.
std::string ErrorPrefix() { return Paint("Error:", Colour::kRed, ColourWantedFor(STDERR_FILENO)) + " "; }

}  // namespace

absl::StatusOr<std::unique_ptr<AgentClient>> AgentClient::Open(AgentEndpoint endpoint) {
  std::optional<TlsMaterial> tls;
  if (endpoint.address.is_tcp()) {
    absl::StatusOr<TlsMaterial> material = LoadTlsMaterial(endpoint.tls);
    if (!material.ok()) return material.status();
    tls = *std::move(material);
  }
  return std::unique_ptr<AgentClient>(new AgentClient(std::move(endpoint), std::move(tls)));
}

AgentClient::AgentClient(AgentEndpoint endpoint, std::optional<TlsMaterial> tls)
    : endpoint_(std::move(endpoint)), tls_(std::move(tls)) {}

AgentClient::StubSet& AgentClient::Stubs() {
  std::call_once(stubs_made_, [this] {
    std::shared_ptr<grpc::ChannelCredentials> credentials;
    if (tls_.has_value()) {
      grpc::SslCredentialsOptions options;
      options.pem_root_certs = tls_->ca_pem;
      options.pem_private_key = tls_->key_pem;
      options.pem_cert_chain = tls_->cert_pem;
      // gRPC checks the agent's certificate against the host part of the target (an IP address
      // or a DNS name in its subjectAltName), with TLS 1.2 or newer.
      credentials = grpc::SslCredentials(options);
    } else {
      credentials = grpc::InsecureChannelCredentials();
    }
    // gRPC's 4 MiB default cuts `ps -o json` (whole records, ~2.6 KB each) at about 1500
    // containers; the agent, not a client-side cap, decides what it sends.
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(kMaxResponseBytes);
    stubs_.channel = grpc::CreateCustomChannel(endpoint_.address.GrpcTarget(), credentials, args);
    stubs_.containers = berth::v1::Containers::NewStub(stubs_.channel);
    stubs_.system = berth::v1::System::NewStub(stubs_.channel);
    stubs_.networks = berth::v1::Networks::NewStub(stubs_.channel);
    stubs_.images = berth::v1::Images::NewStub(stubs_.channel);
    stubs_.volumes = berth::v1::Volumes::NewStub(stubs_.channel);
    stubs_.events = berth::v1::Events::NewStub(stubs_.channel);
    stubs_.health = grpc::health::v1::Health::NewStub(stubs_.channel);
    stubs_ready_ = true;
  });
  return stubs_;
}

bool AgentClient::Connected() const {
  if (agent_reached_) return true;
  return stubs_ready_ && stubs_.channel->GetState(/*try_to_connect=*/false) == GRPC_CHANNEL_READY;
}

std::string RpcErrorMessage(const grpc::Status& status, const AgentClient& client) {
  const grpc::StatusCode code = status.error_code();
  const bool unreachable = code == grpc::StatusCode::UNAVAILABLE ||
                           code == grpc::StatusCode::DEADLINE_EXCEEDED;
  // The connection is up: the agent answered, and whatever it said is its own message (an
  // UNAVAILABLE about a registry it cannot reach is not about us reaching it).
  if (!unreachable || client.Connected()) return status.error_message();
  const std::string prefix = "cannot connect to the Berth agent at " + client.address();
  if (client.endpoint().address.is_tcp()) {
    const std::string diagnosis =
        DescribeTlsFailure(client.endpoint().address, client.endpoint().tls);
    if (!diagnosis.empty()) return prefix + ": " + diagnosis;
  }
  return absl::StrCat(prefix, " (is berthd running?): ", status.error_message());
}

int ReportRpcError(const grpc::Status& status, const AgentClient& client) {
  std::cerr << ErrorPrefix() << RpcErrorMessage(status, client) << "\n";
  return kExitCliError;
}

bool ProcessStartFailed(const grpc::ClientContext& ctx) {
  const auto& trailers = ctx.GetServerTrailingMetadata();
  return trailers.find("berth-process-start-failed") != trailers.end();
}

int ReportStartError(const grpc::Status& status, const AgentClient& client, bool process_failed) {
  int code = ReportRpcError(status, client);
  if (!process_failed) return code;
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return kExitCommandNotFound;
  if (status.error_code() == grpc::StatusCode::PERMISSION_DENIED) return kExitCannotInvoke;
  return code;
}

int ReportError(std::string_view message) {
  std::cerr << ErrorPrefix() << message << "\n";
  return kExitCliError;
}

int ReportError(const absl::Status& status) {
  return ReportError(std::string_view(status.message().data(), status.message().size()));
}

}  // namespace berth::cli
