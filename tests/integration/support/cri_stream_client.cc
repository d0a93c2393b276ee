#include "tests/integration/support/cri_stream_client.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/cri/streaming/byte_stream.h"
#include "agent/cri/streaming/spdy_session.h"
#include "agent/cri/streaming/websocket.h"
#include "agent/cri/streaming/websocket_channels.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/unique_fd.h"
#include "runtime/network/netns.h"

namespace berth::testing {
namespace {

using agent::cri::streaming::ByteStream;
namespace spdy = agent::cri::streaming::spdy;
namespace ws = agent::cri::streaming::ws;

struct Url {
  uint16_t port = 0;
  std::string path;
};

absl::StatusOr<Url> ParseUrl(const std::string& url) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "http://127.0.0.1:")) return absl::InvalidArgumentError("not a loopback URL: " + url);
  size_t slash = rest.find('/');
  int port = 0;
  if (slash == absl::string_view::npos || !absl::SimpleAtoi(rest.substr(0, slash), &port)) {
    return absl::InvalidArgumentError("bad URL: " + url);
  }
  return Url{static_cast<uint16_t>(port), std::string(rest.substr(slash))};
}

// Connects in the netns, sends `request_head` (ending in an empty line), and returns the
// socket with the response head read: its status line and what came after the head.
struct Upgraded {
  UniqueFd fd;
  std::string head;
  std::string rest;
};

absl::StatusOr<Upgraded> Request(int netns_fd, uint16_t port, const std::string& request_head) {
  Upgraded out;
  absl::Status st = net::RunInNetns(netns_fd, [&]() -> absl::Status {
    out.fd.Reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(out.fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return ErrnoToStatus("connect to the streaming server");
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  ByteStream stream(out.fd.get(), "");
  if (auto w = stream.Write(request_head); !w.ok()) return w;
  std::string buf;
  char c;
  while (buf.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = ::read(out.fd.get(), &c, 1);  // byte by byte: nothing past the head is taken
    if (n <= 0) return absl::UnavailableError("the streaming server closed before answering: " + buf);
    buf.push_back(c);
    if (buf.size() > 65536) return absl::DataLossError("response head too long");
  }
  out.head = buf;
  return out;
}

std::string StatusLine(const std::string& head) { return head.substr(0, head.find("\r\n")); }

absl::StatusOr<Upgraded> UpgradeSpdy(int netns_fd, const std::string& url, const char* protocol) {
  auto parsed = ParseUrl(url);
  if (!parsed.ok()) return parsed.status();
  auto up = Request(netns_fd, parsed->port,
                    absl::StrCat("POST ", parsed->path, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n",
                                 "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ", protocol,
                                 "\r\nContent-Length: 0\r\n\r\n"));
  if (!up.ok()) return up.status();
  if (!absl::StrContains(StatusLine(up->head), " 101 ")) return absl::FailedPreconditionError(up->head);
  return up;
}

absl::StatusOr<Upgraded> UpgradeWebSocket(int netns_fd, const std::string& path_and_query, uint16_t port,
                                          const char* protocol) {
  const std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
  auto up = Request(netns_fd, port,
                    absl::StrCat("GET ", path_and_query, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n",
                                 "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ", key,
                                 "\r\nSec-WebSocket-Protocol: ", protocol, "\r\n\r\n"));
  if (!up.ok()) return up.status();
  if (!absl::StrContains(StatusLine(up->head), " 101 ") ||
      !absl::StrContains(up->head, ws::AcceptKey(key))) {
    return absl::FailedPreconditionError(up->head);
  }
  return up;
}

// Data per stream of a SPDY client session, and which streams the server ended.
class SpdyCollector {
 public:
  void Data(uint32_t id, std::string_view data, bool fin) {
    std::lock_guard<std::mutex> lock(mu_);
    data_[id].append(data);
    if (fin) ended_[id] = true;
    cv_.notify_all();
  }
  void End() {
    std::lock_guard<std::mutex> lock(mu_);
    connection_ended_ = true;
    cv_.notify_all();
  }
  bool WaitEnded(const std::vector<uint32_t>& ids, std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      if (connection_ended_) return true;
      for (uint32_t id : ids) {
        if (!ended_[id]) return false;
      }
      return true;
    });
  }
  std::string Of(uint32_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    return data_[id];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint32_t, std::string> data_;
  std::map<uint32_t, bool> ended_;
  bool connection_ended_ = false;
};

// A client session on an upgraded connection, its reader running until Close.
class SpdyClient {
 public:
  explicit SpdyClient(Upgraded& up)
      : connection_(up.fd.get(), up.rest),
        session_(connection_,
                 {nullptr, [this](uint32_t id, std::string_view d, bool fin) { collected_.Data(id, d, fin); },
                  [this](uint32_t id) { collected_.Data(id, "", true); }},
                 /*client=*/true),
        reader_([this] {
          (void)session_.Serve();
          collected_.End();
        }) {}
  ~SpdyClient() { Close(); }
  void Close() {
    if (!reader_.joinable()) return;
    (void)session_.GoAway();
    connection_.Shutdown();
    reader_.join();
  }
  spdy::Session& session() { return session_; }
  SpdyCollector& collected() { return collected_; }

 private:
  ByteStream connection_;
  SpdyCollector collected_;
  spdy::Session session_;
  std::thread reader_;
};

absl::StatusOr<StreamResult> RunSpdy(int netns_fd, const std::string& url, const StreamOptions& options) {
  auto up = UpgradeSpdy(netns_fd, url, "v4.channel.k8s.io");
  if (!up.ok()) return up.status();
  SpdyClient client(*up);
  spdy::Session& session = client.session();
  SpdyCollector& collected = client.collected();
  auto open = [&](const char* type) { return session.Open({{"streamtype", type}}); };
  std::vector<uint32_t> outputs;
  auto error_id = open("error");
  absl::StatusOr<uint32_t> stdin_id = 0u, stdout_id = 0u, stderr_id = 0u, resize_id = 0u;
  if (options.stdin_data) stdin_id = open("stdin");
  if (options.stdout) stdout_id = open("stdout");
  if (options.stderr && !options.tty) stderr_id = open("stderr");
  if (options.tty) resize_id = open("resize");
  if (options.size && *resize_id) {
    (void)session.Write(*resize_id, absl::StrCat("{\"Width\":", options.size->first, ",\"Height\":",
                                                 options.size->second, "}\n"));
  }
  if (options.stdin_data) {
    (void)session.Write(*stdin_id, *options.stdin_data);
    // With a terminal the client keeps stdin open; the data itself ends the program.
    if (!options.tty) (void)session.Write(*stdin_id, "", true);
  }
  for (auto id : {*error_id, *stdout_id, *stderr_id}) {
    if (id) outputs.push_back(id);
  }
  bool ended = collected.WaitEnded(outputs, std::chrono::seconds(60));
  client.Close();
  if (!ended) return absl::DeadlineExceededError("the streams did not end within 60 s");
  StreamResult result;
  if (*stdout_id) result.stdout_data = collected.Of(*stdout_id);
  if (*stderr_id) result.stderr_data = collected.Of(*stderr_id);
  result.status = collected.Of(*error_id);
  return result;
}

absl::StatusOr<StreamResult> RunWebSocket(int netns_fd, const std::string& url, const StreamOptions& options) {
  auto parsed = ParseUrl(url);
  if (!parsed.ok()) return parsed.status();
  auto up = UpgradeWebSocket(netns_fd, parsed->path, parsed->port, "v4.channel.k8s.io");
  if (!up.ok()) return up.status();
  ByteStream connection(up->fd.get(), up->rest);
  ws::WebSocket socket(connection, /*client=*/true);
  auto send = [&](uint8_t channel, const std::string& data) {
    return socket.Send(ws::kBinary, ws::EncodeChannelMessage(true, channel, data));
  };
  if (options.size) {
    (void)send(4, absl::StrCat("{\"Width\":", options.size->first, ",\"Height\":", options.size->second, "}"));
  }
  if (options.stdin_data) (void)send(0, *options.stdin_data);
  StreamResult result;
  for (;;) {
    auto message = socket.Read();
    if (!message.ok() || message->opcode == ws::kClose) break;
    auto m = ws::DecodeChannelMessage(true, *message);
    if (!m) continue;
    if (m->channel == 1) result.stdout_data += m->data;
    if (m->channel == 2) result.stderr_data += m->data;
    if (m->channel == 3) result.status += m->data;
  }
  (void)socket.Close(1000);
  connection.Shutdown();
  return result;
}

}  // namespace

absl::StatusOr<StreamResult> RunStreamUrl(int netns_fd, const std::string& url, const StreamOptions& options) {
  return options.websocket ? RunWebSocket(netns_fd, url, options) : RunSpdy(netns_fd, url, options);
}

absl::StatusOr<std::string> ForwardOnce(int netns_fd, const std::string& url, uint16_t port, const std::string& payload,
                                        bool websocket) {
  if (websocket) {
    auto parsed = ParseUrl(url);
    if (!parsed.ok()) return parsed.status();
    auto up = UpgradeWebSocket(netns_fd, absl::StrCat(parsed->path, "?port=", port), parsed->port,
                               "v4.channel.k8s.io");
    if (!up.ok()) return up.status();
    ByteStream connection(up->fd.get(), up->rest);
    ws::WebSocket socket(connection, /*client=*/true);
    (void)socket.Send(ws::kBinary, ws::EncodeChannelMessage(true, 0, payload));
    std::string data, error;
    int prefixes = 0;
    for (;;) {
      auto message = socket.Read();
      if (!message.ok() || message->opcode == ws::kClose) break;
      auto m = ws::DecodeChannelMessage(true, *message);
      if (!m) continue;
      if (prefixes < 2) {  // each channel's first message is the port
        ++prefixes;
        continue;
      }
      if (m->channel == 1) {
        error += m->data;
        break;
      }
      data += m->data;
      if (data.find('\n') != std::string::npos) break;  // a line is all the tests send back
    }
    (void)socket.Close(1000);
    connection.Shutdown();
    if (!error.empty()) return absl::UnavailableError(error);
    return data;
  }
  auto up = UpgradeSpdy(netns_fd, url, "portforward.k8s.io");
  if (!up.ok()) return up.status();
  SpdyClient client(*up);
  spdy::Session& session = client.session();
  SpdyCollector& collected = client.collected();
  const std::string port_text = std::to_string(port);
  auto error_id = session.Open({{"streamtype", "error"}, {"port", port_text}, {"requestid", "0"}});
  auto data_id = session.Open({{"streamtype", "data"}, {"port", port_text}, {"requestid", "0"}});
  if (error_id.ok() && data_id.ok()) {
    (void)session.Write(*data_id, payload, true);
    collected.WaitEnded({*data_id}, std::chrono::seconds(30));
  }
  client.Close();
  if (!error_id.ok() || !data_id.ok()) return absl::UnavailableError("could not open the streams");
  std::string error = collected.Of(*error_id);
  if (!error.empty()) return absl::UnavailableError(error);
  return collected.Of(*data_id);
}

absl::StatusOr<std::string> StatusLineOf(int netns_fd, const std::string& url, const std::string& extra_headers) {
  auto parsed = ParseUrl(url);
  if (!parsed.ok()) return parsed.status();
  auto up = Request(netns_fd, parsed->port,
                    absl::StrCat("POST ", parsed->path, " HTTP/1.1\r\nHost: 127.0.0.1\r\n", extra_headers,
                                 "Content-Length: 0\r\n\r\n"));
  if (!up.ok()) return up.status();
  return StatusLine(up->head);
}

}  // namespace berth::testing
