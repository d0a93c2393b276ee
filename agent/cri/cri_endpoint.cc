#include "agent/cri/cri_endpoint.h"

#include "absl/strings/str_cat.h"
#include "runtime/base/file_util.h"
#include "runtime/base/quote.h"

namespace berth::agent::cri {

std::string CriSocketPath(const std::string& configured, const std::string& agent_socket) {
  if (configured == "none") return "";
  if (!configured.empty()) return configured;
  size_t slash = agent_socket.find_last_of('/');
  return absl::StrCat(slash == std::string::npos ? "" : agent_socket.substr(0, slash), "/cri.sock");
}

absl::StatusOr<std::unique_ptr<CriEndpoint>> CriEndpoint::Start(const std::string& path,
                                                                const std::vector<grpc::Service*>& services) {
  if (SocketInUse(path)) {
    return absl::FailedPreconditionError(absl::StrCat("another process serves on ", Quoted(path)));
  }
  std::string dir = path.substr(0, path.find_last_of('/'));
  if (absl::Status st = MakeDirs(dir.empty() ? "/" : dir, 0755); !st.ok()) return st;
  std::unique_ptr<CriEndpoint> endpoint(new CriEndpoint());
  endpoint->path_ = path;
  grpc::ServerBuilder builder;
  // The kubelet's own limit for CRI messages (ListContainers on a busy node is large).
  builder.SetMaxReceiveMessageSize(16 << 20);
  builder.SetMaxSendMessageSize(16 << 20);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 3);
  for (grpc::Service* service : services) builder.RegisterService(service);
  auto listener = UnixListener::Open(path, /*group=*/"");
  if (!listener.ok()) return listener.status();
  endpoint->listener_ = std::move(*listener);
  endpoint->server_ = builder.BuildAndStart();
  if (!endpoint->server_) return absl::InternalError("cannot start the CRI gRPC server");
  endpoint->listener_->Serve(endpoint->server_.get(), &endpoint->peers_);
  return endpoint;
}

void CriEndpoint::Shutdown(std::chrono::system_clock::time_point deadline) {
  if (listener_) listener_->Stop();
  if (server_) server_->Shutdown(deadline);
}

CriEndpoint::~CriEndpoint() {
  Shutdown(std::chrono::system_clock::now());  // a second Shutdown of a server does nothing
  if (server_) server_->Wait();
}

}  // namespace berth::agent::cri
