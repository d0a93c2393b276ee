// Where berthd listens. The Unix socket is accepted by the agent itself, so that each
// connection's peer uid (SO_PEERCRED) is known before gRPC gets the fd; TCP listeners are
// gRPC's own, always with mutual TLS (gRPC's file-watcher certificate provider, so rotated
// files are picked up without a restart and streams in flight are kept).
#pragma once

#include <memory>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/call_gate.h"
#include "runtime/base/unique_fd.h"

namespace berth::agent {

// Whether a live process answers on the Unix socket `path` (a file a dead agent left does not).
bool SocketInUse(const std::string& path);

class UnixListener {
 public:
  // Binds `path` (a stale socket file is replaced): 0600, or 0660 owned by `group` when set.
  static absl::StatusOr<std::unique_ptr<UnixListener>> Open(const std::string& path, const std::string& group);
  ~UnixListener();

  // Hands every connection to `server` (started), recording its peer in `peers`, on a thread
  // of its own until Stop().
  void Serve(grpc::Server* server, UnixPeers* peers);
  void Stop();

 private:
  UnixListener() = default;
  void Loop(grpc::Server* server, UnixPeers* peers);

  std::string path_;
  UniqueFd listen_fd_;
  UniqueFd wake_fd_;  // eventfd: Stop() wakes the loop
  std::thread thread_;
};

// Checks that the three files are usable (PEM, the key matches the certificate, the CA is a
// CA) and says what is wrong with them otherwise. Also run on SIGHUP.
absl::Status CheckTlsFiles(const std::string& cert, const std::string& key, const std::string& client_ca);

// gRPC server credentials for mutual TLS: client certificates required and verified against
// `client_ca`; the files are watched and reloaded when they change.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MutualTlsCredentials(const std::string& cert,
                                                                              const std::string& key,
                                                                              const std::string& client_ca);

}  // namespace berth::agent
