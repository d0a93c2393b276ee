// Port forward over SPDY: for each forwarded connection the client opens an "error" and a
// "data" stream carrying the same "requestID" and "port" headers. The server connects to the
// port inside the pod and copies bytes both ways; a failure is written to the error stream.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/cri/streaming/spdy_session.h"
#include "agent/cri/streaming/stream_handlers.h"
#include "runtime/base/quote.h"
#include "spdlog/spdlog.h"

namespace berth::agent::cri::streaming {
namespace {

void SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

class SpdyPortForward {
 public:
  SpdyPortForward(ByteStream& connection, const PortDialer& dial)
      : connection_(connection),
        dial_(dial),
        session_(connection, {[this](uint32_t id, const spdy::Headers& h) { return OnStream(id, h); },
                              [this](uint32_t id, std::string_view data, bool fin) { OnData(id, data, fin); },
                              [this](uint32_t id) { OnReset(id); }}) {}

  void Run() {
    absl::Status st = session_.Serve();
    if (!st.ok() && !absl::IsOutOfRange(st)) spdlog::debug("cri port-forward stream: {}", std::string(st.message()));
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [id, pair] : by_data_) {
        if (pair->socket) ::shutdown(pair->socket.get(), SHUT_RDWR);
      }
    }
    for (auto& worker : workers_) worker.join();
    connection_.Shutdown();
  }

 private:
  struct Pair {
    uint32_t error_id = 0;
    uint32_t data_id = 0;
    uint16_t port = 0;
    UniqueFd socket;
    std::string early;  // client bytes that came while dialing
    bool early_fin = false;
  };

  bool OnStream(uint32_t id, const spdy::Headers& headers) {
    std::string type = spdy::HeaderValue(headers, "streamtype");
    std::string request = spdy::HeaderValue(headers, "requestid");
    int port = 0;
    if ((type != "error" && type != "data") || !absl::SimpleAtoi(spdy::HeaderValue(headers, "port"), &port) ||
        port < 1 || port > 65535) {
      return false;
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto& pair = by_request_[request];
    if (!pair) pair = std::make_shared<Pair>();
    pair->port = static_cast<uint16_t>(port);
    if (type == "error") {
      pair->error_id = id;
      return true;
    }
    pair->data_id = id;
    by_data_[id] = pair;
    workers_.emplace_back([this, pair] { Forward(pair); });
    return true;
  }

  // Runs on its own thread: dials, then copies the pod's side to the data stream.
  void Forward(std::shared_ptr<Pair> pair) {
    auto socket = dial_(pair->port);
    if (!socket.ok()) {
      uint32_t error_id;
      {
        std::lock_guard<std::mutex> lock(mu_);
        error_id = pair->error_id;
      }
      if (error_id != 0) {
        (void)session_.Write(error_id, absl::StrCat("port forward to port ", pair->port, ": ",
                                                    socket.status().message()),
                             true);
      }
      (void)session_.Write(pair->data_id, "", true);
      return;
    }
    int fd = socket->get();
    {
      std::lock_guard<std::mutex> lock(mu_);
      pair->socket = std::move(*socket);
      SendAll(fd, pair->early);
      pair->early.clear();
      if (pair->early_fin) ::shutdown(fd, SHUT_WR);
    }
    char buf[32768];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (!session_.Write(pair->data_id, std::string_view(buf, n)).ok()) break;
    }
    (void)session_.Write(pair->data_id, "", true);
    uint32_t error_id;
    {
      std::lock_guard<std::mutex> lock(mu_);
      error_id = pair->error_id;
    }
    if (error_id != 0) (void)session_.Write(error_id, "", true);
  }

  void OnData(uint32_t id, std::string_view data, bool fin) {
    std::shared_ptr<Pair> pair;  // keeps the socket open while it is written outside the lock
    int fd;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = by_data_.find(id);
      if (it == by_data_.end()) return;  // the error stream carries nothing from the client
      pair = it->second;
      fd = pair->socket ? pair->socket.get() : -1;
      if (fd < 0) {  // still dialing
        pair->early.append(data);
        pair->early_fin |= fin;
        return;
      }
    }
    // A pod that reads slowly holds up this session only, never the other streams' bookkeeping.
    if (!data.empty()) SendAll(fd, data);
    if (fin) ::shutdown(fd, SHUT_WR);
  }

  void OnReset(uint32_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_data_.find(id);
    if (it != by_data_.end() && it->second->socket) ::shutdown(it->second->socket.get(), SHUT_RDWR);
  }

  ByteStream& connection_;
  const PortDialer& dial_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Pair>> by_request_;
  std::map<uint32_t, std::shared_ptr<Pair>> by_data_;
  std::vector<std::thread> workers_;
  spdy::Session session_;
};

}  // namespace

void ServeSpdyPortForward(ByteStream& connection, const PortDialer& dial) {
  SpdyPortForward forward(connection, dial);
  forward.Run();
}

}  // namespace berth::agent::cri::streaming
