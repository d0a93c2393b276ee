// A relay from a Unix socket of the test's to a TCP port inside a test host's network
// namespace. gRPC connects from threads of its own, which live in the machine's namespace:
// a channel to "unix:<relay>" reaches the agent's TCP listener as a TCP peer on 127.0.0.1 of
// its test host, TLS and all (the bytes pass through untouched).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"

namespace berth::testing {

class TcpRelay {
 public:
  // Listens on `socket_path`; every connection is relayed to 127.0.0.1:`port` in `netns_fd`.
  static absl::StatusOr<std::unique_ptr<TcpRelay>> Start(int netns_fd, int port, const std::string& socket_path);
  ~TcpRelay();  // stops accepting, closes every relayed connection, joins the threads

  const std::string& path() const { return path_; }
  // "unix:<path>", for grpc::CreateCustomChannel.
  std::string target() const { return "unix:" + path_; }

 private:
  TcpRelay() = default;
  void AcceptLoop();
  void Pump(UniqueFd client, UniqueFd server);

  int netns_fd_ = -1;
  int port_ = 0;
  std::string path_;
  UniqueFd listen_fd_;
  UniqueFd wake_fd_;
  std::thread accept_thread_;
  std::vector<std::thread> pumps_;
};

}  // namespace berth::testing
