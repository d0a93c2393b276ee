// The CRI streaming server: Exec, Attach and PortForward answer with a URL of this server
// (http://ADDR:PORT/{exec,attach,portforward}/TOKEN) and the client upgrades its request
// there, to SPDY/3.1 (client-go's executor and port-forwarder: crictl, the kubelet) or to a
// WebSocket (channel.k8s.io framing). Plain HTTP on loopback by default, like CRI-O's and
// containerd's: the token is the credential. libmicrohttpd does HTTP and the upgrade; every
// upgraded connection gets a thread of its own for its session.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "agent/container_manager.h"
#include "agent/cri/streaming/byte_stream.h"
#include "agent/cri/streaming/stream_tokens.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace berth::agent::cri::streaming {

class StreamingServer {
 public:
  // Listens on `address` ("127.0.0.1:0" picks a free port).
  static absl::StatusOr<std::unique_ptr<StreamingServer>> Start(const std::string& address,
                                                                ContainerManager& containers);
  // Ends every session (their commands see the client gone), then stops listening.
  ~StreamingServer();
  StreamingServer(const StreamingServer&) = delete;
  StreamingServer& operator=(const StreamingServer&) = delete;

  // A URL for the request, good once within a minute. RESOURCE_EXHAUSTED when too many
  // URLs are outstanding.
  absl::StatusOr<std::string> UrlFor(StreamRequest request);

  const std::string& base_url() const { return base_url_; }

  // libmicrohttpd's callbacks (streaming_server.cc).
  int HandleRequest(MHD_Connection* connection, const char* url, const char* method);
  void RunSession(ByteStream& stream, const StreamRequest& request, const std::string& protocol);

  // Session bookkeeping, so that the destructor can end them.
  bool SessionBegins(ByteStream* stream);
  void SessionEnds(ByteStream* stream);

  // What an upgrade queued with a 101 needs once libmicrohttpd hands over the socket, kept
  // by connection. A client that leaves before the upgrade completes never comes back for
  // it: such entries go after a minute (at the next request) or with the server.
  struct Pending {
    StreamRequest request;
    std::string protocol;  // "spdy", "ws-binary" or "ws-base64"
  };
  void AddPending(MHD_Connection* connection, Pending pending);
  std::optional<Pending> TakePending(MHD_Connection* connection);

 private:
  explicit StreamingServer(ContainerManager& containers) : containers_(containers) {}

  ContainerManager& containers_;
  TokenCache tokens_;
  MHD_Daemon* daemon_ = nullptr;
  std::string base_url_;
  std::mutex mu_;
  std::condition_variable sessions_done_;
  std::set<ByteStream*> sessions_;
  bool stopping_ = false;
  std::map<MHD_Connection*, std::pair<std::chrono::steady_clock::time_point, Pending>> pending_;  // under mu_
};

}  // namespace berth::agent::cri::streaming
