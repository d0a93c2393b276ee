// The CRI socket: a gRPC server of its own for runtime.v1's two services, on a root-only
// Unix socket beside berth.v1's. The kubelet is trusted like root (as with containerd's and
// CRI-O's sockets): there are no berth.v1 roles on it, the file's mode is the access rule.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "agent/call_gate.h"
#include "agent/listeners.h"

namespace berth::agent::cri {

// Where the CRI socket goes: `configured` unless empty; empty means cri.sock beside the
// agent's own socket. "none": no CRI socket (returns "").
std::string CriSocketPath(const std::string& configured, const std::string& agent_socket);

class CriEndpoint {
 public:
  // Serves `services` on `path` (0600; a stale file is replaced). FAILED_PRECONDITION when a
  // live process answers there already.
  static absl::StatusOr<std::unique_ptr<CriEndpoint>> Start(const std::string& path,
                                                            const std::vector<grpc::Service*>& services);
  ~CriEndpoint();

  const std::string& path() const { return path_; }
  // Stops accepting, lets unary calls finish until `deadline`, cancels the rest.
  void Shutdown(std::chrono::system_clock::time_point deadline);

 private:
  CriEndpoint() = default;

  std::string path_;
  UnixPeers peers_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<UnixListener> listener_;
};

}  // namespace berth::agent::cri
