#include "agent/cri/streaming/streaming_server.h"

#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/cri/streaming/pod_dialer.h"
#include "agent/cri/streaming/stream_handlers.h"
#include "agent/cri/streaming/websocket.h"
#include "agent/tcp_address.h"
#include "runtime/base/quote.h"
#include "runtime/base/unique_fd.h"
#include "spdlog/spdlog.h"

namespace berth::agent::cri::streaming {
namespace {

MHD_Result Reply(MHD_Connection* connection, unsigned int code, const std::string& body) {
  std::string text = body + "\n";
  MHD_Response* response = MHD_create_response_from_buffer(text.size(), text.data(), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, "Content-Type", "text/plain; charset=utf-8");
  MHD_Result ret = MHD_queue_response(connection, code, response);
  MHD_destroy_response(response);
  return ret;
}

// Every value of header `name` (repeated headers and comma-separated lists alike), trimmed.
std::vector<std::string> HeaderValues(MHD_Connection* connection, enum MHD_ValueKind kind, const char* name) {
  struct Collect {
    const char* name;
    std::vector<std::string> values;
  } collect{name, {}};
  MHD_get_connection_values(
      connection, kind,
      [](void* cls, enum MHD_ValueKind, const char* key, const char* value) -> MHD_Result {
        auto* c = static_cast<Collect*>(cls);
        if (key != nullptr && value != nullptr && absl::EqualsIgnoreCase(key, c->name)) {
          for (absl::string_view part : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
            c->values.emplace_back(absl::StripAsciiWhitespace(part));
          }
        }
        return MHD_YES;
      },
      &collect);
  return collect.values;
}

// The first of `wanted` (in order of preference) that the client offered.
std::string Choose(const std::vector<std::string>& offered, std::initializer_list<const char*> wanted) {
  for (const char* w : wanted) {
    if (std::find(offered.begin(), offered.end(), w) != offered.end()) return w;
  }
  return "";
}

void OnUpgrade(void* cls, MHD_Connection* connection, void*, const char* extra_in, size_t extra_in_size,
               MHD_socket sock, MHD_UpgradeResponseHandle* urh) {
  auto* server = static_cast<StreamingServer*>(cls);
  std::optional<StreamingServer::Pending> pending = server->TakePending(connection);
  if (!pending) {  // given up on: the upgrade came more than a minute after its 101
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
    return;
  }
  std::string extra(extra_in == nullptr ? "" : std::string(extra_in, extra_in_size));
  std::thread([server, pending = std::move(*pending), extra = std::move(extra), sock, urh]() mutable {
    ByteStream stream(sock, std::move(extra));
    bool admitted = server->SessionBegins(&stream);
    if (admitted) server->RunSession(stream, pending.request, pending.protocol);
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
    if (admitted) server->SessionEnds(&stream);
  }).detach();
}

MHD_Result Handle(void* self, MHD_Connection* connection, const char* url, const char* method, const char*,
                  const char*, size_t* upload_data_size, void** state) {
  // The first call announces the request; answer on the next one, past any body.
  if (*state == nullptr) {
    *state = connection;
    return MHD_YES;
  }
  if (*upload_data_size != 0) {
    *upload_data_size = 0;
    return MHD_YES;
  }
  return static_cast<MHD_Result>(static_cast<StreamingServer*>(self)->HandleRequest(connection, url, method));
}

}  // namespace

absl::StatusOr<std::unique_ptr<StreamingServer>> StreamingServer::Start(const std::string& address,
                                                                        ContainerManager& containers) {
  auto parsed = ParseTcpAddress(address, "CRI streaming address", "127.0.0.1:0");
  if (!parsed.ok()) return parsed.status();
  sockaddr_storage storage = *parsed;
  unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_UPGRADE;
  if (storage.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  // A trial bind first, for a message that says why (libmicrohttpd only says it failed).
  {
    UniqueFd probe(::socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    if (probe) (void)::setsockopt(probe.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    const socklen_t len = storage.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    if (!probe || ::bind(probe.get(), reinterpret_cast<sockaddr*>(&storage), len) != 0) {
      return absl::UnavailableError(absl::StrCat("CRI streaming server on ", Quoted(address), ": ",
                                                 std::strerror(errno), "; choose another with --cri-stream-address"));
    }
  }
  std::unique_ptr<StreamingServer> server(new StreamingServer(containers));
  server->daemon_ = MHD_start_daemon(flags, static_cast<uint16_t>(PortOf(storage)), nullptr, nullptr, &Handle,
                                     server.get(), MHD_OPTION_SOCK_ADDR, reinterpret_cast<sockaddr*>(&storage),
                                     MHD_OPTION_CONNECTION_LIMIT, 256u, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                                     MHD_OPTION_END);
  if (server->daemon_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("CRI streaming server on ", Quoted(address),
                                               " could not start (address in use?); choose another with "
                                               "--cri-stream-address"));
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(server->daemon_, MHD_DAEMON_INFO_BIND_PORT);
  int port = info != nullptr ? info->port : PortOf(storage);
  std::string host = address.substr(0, address.rfind(':'));
  server->base_url_ = absl::StrCat("http://", host, ":", port);
  return server;
}

StreamingServer::~StreamingServer() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    stopping_ = true;
    for (ByteStream* stream : sessions_) stream->Shutdown();
    sessions_done_.wait(lock, [this] { return sessions_.empty(); });
  }
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

bool StreamingServer::SessionBegins(ByteStream* stream) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return false;
  sessions_.insert(stream);
  return true;
}

void StreamingServer::SessionEnds(ByteStream* stream) {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.erase(stream);
  sessions_done_.notify_all();
}

absl::StatusOr<std::string> StreamingServer::UrlFor(StreamRequest request) {
  const char* path = request.kind == StreamRequest::Kind::kExec     ? "exec"
                     : request.kind == StreamRequest::Kind::kAttach ? "attach"
                                                                    : "portforward";
  auto token = tokens_.Insert(std::move(request));
  if (!token.ok()) return token.status();
  return absl::StrCat(base_url_, "/", path, "/", *token);
}

int StreamingServer::HandleRequest(MHD_Connection* connection, const char* url, const char* method) {
  std::vector<std::string> parts = absl::StrSplit(url, '/', absl::SkipEmpty());
  if (parts.size() != 2 || (parts[0] != "exec" && parts[0] != "attach" && parts[0] != "portforward")) {
    return Reply(connection, MHD_HTTP_NOT_FOUND, "not found: stream URLs are /exec/, /attach/ or /portforward/TOKEN");
  }
  std::optional<StreamRequest> request = tokens_.Take(parts[1]);
  const StreamRequest::Kind kind = parts[0] == "exec"     ? StreamRequest::Kind::kExec
                                   : parts[0] == "attach" ? StreamRequest::Kind::kAttach
                                                          : StreamRequest::Kind::kPortForward;
  if (!request || request->kind != kind) {
    return Reply(connection, MHD_HTTP_NOT_FOUND,
                 "unknown or expired stream URL: each is good once, within a minute; ask the runtime for a new one");
  }
  const bool port_forward = kind == StreamRequest::Kind::kPortForward;
  std::vector<std::string> upgrade = HeaderValues(connection, MHD_HEADER_KIND, "Upgrade");
  auto upgrading_to = [&](const char* what) {
    return std::any_of(upgrade.begin(), upgrade.end(), [&](const std::string& u) { return absl::EqualsIgnoreCase(u, what); });
  };

  Pending pending;
  std::vector<std::pair<std::string, std::string>> headers;
  if (upgrading_to("SPDY/3.1")) {
    std::vector<std::string> offered = HeaderValues(connection, MHD_HEADER_KIND, "X-Stream-Protocol-Version");
    std::string chosen = port_forward ? Choose(offered, {"portforward.k8s.io"}) : Choose(offered, {"v4.channel.k8s.io"});
    if (chosen.empty()) {
      return Reply(connection, MHD_HTTP_BAD_REQUEST,
                   absl::StrCat("no stream protocol in common: this server speaks ",
                                port_forward ? "portforward.k8s.io" : "v4.channel.k8s.io",
                                " (X-Stream-Protocol-Version)"));
    }
    pending.protocol = "spdy";
    headers = {{"Upgrade", "SPDY/3.1"}, {"X-Stream-Protocol-Version", chosen}};
  } else if (upgrading_to("websocket")) {
    const char* key = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Sec-WebSocket-Key");
    if (key == nullptr || *key == '\0') {
      return Reply(connection, MHD_HTTP_BAD_REQUEST, "a WebSocket upgrade needs Sec-WebSocket-Key");
    }
    std::vector<std::string> offered = HeaderValues(connection, MHD_HEADER_KIND, "Sec-WebSocket-Protocol");
    std::string chosen = port_forward ? Choose(offered, {"v4.channel.k8s.io", "portforward.k8s.io"})
                                      : Choose(offered, {"v4.channel.k8s.io", "channel.k8s.io", "base64.channel.k8s.io"});
    if (!offered.empty() && chosen.empty()) {
      return Reply(connection, MHD_HTTP_BAD_REQUEST,
                   absl::StrCat("no WebSocket subprotocol in common: this server speaks ",
                                port_forward ? "v4.channel.k8s.io or portforward.k8s.io"
                                             : "v4.channel.k8s.io, channel.k8s.io or base64.channel.k8s.io"));
    }
    pending.protocol = chosen == "base64.channel.k8s.io" ? "ws-base64" : "ws-binary";
    headers = {{"Upgrade", "websocket"}, {"Sec-WebSocket-Accept", ws::AcceptKey(key)}};
    if (!chosen.empty()) headers.emplace_back("Sec-WebSocket-Protocol", chosen);
    if (port_forward) {
      std::vector<uint16_t> ports;
      for (const std::string& value : HeaderValues(connection, MHD_GET_ARGUMENT_KIND, "port")) {
        int port = 0;
        if (!absl::SimpleAtoi(value, &port) || port < 1 || port > 65535) {
          return Reply(connection, MHD_HTTP_BAD_REQUEST, absl::StrCat("bad port ", Quoted(value, 16), " in the URL"));
        }
        ports.push_back(static_cast<uint16_t>(port));
      }
      if (!ports.empty()) request->ports = ports;
      if (request->ports.empty()) {
        return Reply(connection, MHD_HTTP_BAD_REQUEST, "a WebSocket port forward names its ports: ?port=N");
      }
    }
  } else {
    return Reply(connection, MHD_HTTP_BAD_REQUEST,
                 absl::StrCat(method, " ", parts[0],
                              ": this URL must be upgraded, to SPDY/3.1 or websocket (Connection: Upgrade)"));
  }
  pending.request = std::move(*request);
  MHD_Response* response = MHD_create_response_for_upgrade(&OnUpgrade, this);
  if (response == nullptr) return MHD_NO;
  for (const auto& [name, value] : headers) MHD_add_response_header(response, name.c_str(), value.c_str());
  AddPending(connection, std::move(pending));
  MHD_Result ret = MHD_queue_response(connection, MHD_HTTP_SWITCHING_PROTOCOLS, response);
  MHD_destroy_response(response);
  if (ret != MHD_YES) TakePending(connection);
  return ret;
}

void StreamingServer::AddPending(MHD_Connection* connection, Pending pending) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = pending_.begin(); it != pending_.end();) {
    it = now - it->second.first > std::chrono::minutes(1) ? pending_.erase(it) : std::next(it);
  }
  pending_[connection] = {now, std::move(pending)};
}

std::optional<StreamingServer::Pending> StreamingServer::TakePending(MHD_Connection* connection) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(connection);
  if (it == pending_.end()) return std::nullopt;
  Pending pending = std::move(it->second.second);
  pending_.erase(it);
  return pending;
}

void StreamingServer::RunSession(ByteStream& stream, const StreamRequest& request, const std::string& protocol) {
  PortDialer dial = [this, sandbox = request.sandbox_id](uint16_t port) -> absl::StatusOr<UniqueFd> {
    auto pod = containers_.Inspect(sandbox);
    if (!pod.ok()) return pod.status();
    if (pod->pid() <= 0) {
      return absl::FailedPreconditionError(absl::StrCat("pod sandbox ", Quoted(sandbox, 64), " is not running"));
    }
    return DialLoopbackOf(pod->pid(), port);
  };
  if (request.kind == StreamRequest::Kind::kPortForward) {
    if (protocol == "spdy") {
      ServeSpdyPortForward(stream, dial);
    } else {
      ServeWebSocketPortForward(stream, request.ports, dial);
    }
    return;
  }
  if (protocol == "spdy") {
    ServeSpdyCommand(stream, containers_, request.command);
  } else {
    ServeWebSocketCommand(stream, protocol == "ws-binary", containers_, request.command);
  }
}

}  // namespace berth::agent::cri::streaming
