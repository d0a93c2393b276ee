// Remote command over SPDY: the client opens one stream per channel, named by its
// "streamType" header (error, stdin, stdout, stderr, resize); the server starts the command
// once every stream the request implies is open.
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "agent/cri/streaming/resize_decoder.h"
#include "agent/cri/streaming/spdy_session.h"
#include "agent/cri/streaming/stream_handlers.h"
#include "spdlog/spdlog.h"

namespace berth::agent::cri::streaming {
namespace {

constexpr auto kStreamsTimeout = std::chrono::seconds(30);
constexpr auto kCloseGrace = std::chrono::seconds(5);

class SpdyCommand final : public CommandOutput {
 public:
  SpdyCommand(ByteStream& connection, const CommandRequest& request)
      : connection_(connection),
        request_(request),
        resize_([this](uint16_t w, uint16_t h) { input_.Resize(w, h); }),
        session_(connection, {[this](uint32_t id, const spdy::Headers& h) { return OnStream(id, h); },
                              [this](uint32_t id, std::string_view data, bool fin) { OnData(id, data, fin); },
                              [this](uint32_t id) { OnData(id, "", true); }}) {}

  void Run(ContainerManager& containers) {
    std::thread reader([this] {
      absl::Status st = session_.Serve();
      if (!st.ok() && !absl::IsOutOfRange(st)) spdlog::debug("cri stream: {}", std::string(st.message()));
      input_.StdinEnd();
      std::lock_guard<std::mutex> lock(mu_);
      gone_ = true;
      cv_.notify_all();
    });
    bool ready;
    {
      std::unique_lock<std::mutex> lock(mu_);
      ready = cv_.wait_for(lock, kStreamsTimeout, [this] { return gone_ || AllStreamsLocked(); }) && !gone_;
    }
    if (ready) {
      (void)RunRemoteCommand(containers, request_, input_, *this);
    } else {
      if (streams_.count("error")) Finish(FailureStatus("timed out waiting for the client's streams"));
    }
    {
      // Let the client read to the end and close; then end the connection ourselves.
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, kCloseGrace, [this] { return gone_; });
    }
    (void)session_.GoAway();
    connection_.Shutdown();
    reader.join();
  }

  bool Write(OutputChannel channel, std::string_view data) override {
    uint32_t id = StreamId(channel == OutputChannel::kStdout ? "stdout" : "stderr");
    if (id == 0) return !Gone();
    return session_.Write(id, data).ok();
  }

  bool Gone() override {
    std::lock_guard<std::mutex> lock(mu_);
    return gone_;
  }

  void Finish(const std::string& status) override {
    for (const char* name : {"stdout", "stderr"}) {
      if (uint32_t id = StreamId(name)) (void)session_.Write(id, "", true);
    }
    if (uint32_t id = StreamId("error")) {
      (void)session_.Write(id, status, true);
    }
  }

 private:
  bool OnStream(uint32_t id, const spdy::Headers& headers) {
    std::string type = spdy::HeaderValue(headers, "streamtype");
    if (type != "error" && type != "stdin" && type != "stdout" && type != "stderr" && type != "resize") return false;
    std::lock_guard<std::mutex> lock(mu_);
    if (streams_.count(type)) return false;
    streams_[type] = id;
    cv_.notify_all();
    return true;
  }

  void OnData(uint32_t id, std::string_view data, bool fin) {
    if (id == StreamId("stdin")) {
      if (!data.empty()) input_.Stdin(data);
      if (fin) input_.StdinEnd();
    } else if (id == StreamId("resize")) {
      resize_.Feed(data);
    }
  }

  uint32_t StreamId(const std::string& type) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = streams_.find(type);
    return it == streams_.end() ? 0 : it->second;
  }

  bool AllStreamsLocked() const {
    auto has = [&](const char* t) { return streams_.count(t) > 0; };
    return has("error") && (!request_.stdin || has("stdin")) && (!request_.stdout || has("stdout")) &&
           (!request_.stderr || request_.tty || has("stderr")) && (!request_.tty || has("resize"));
  }

  ByteStream& connection_;
  const CommandRequest& request_;
  CommandInput input_;
  ResizeDecoder resize_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, uint32_t> streams_;
  bool gone_ = false;
  spdy::Session session_;
};

}  // namespace

void ServeSpdyCommand(ByteStream& connection, ContainerManager& containers, const CommandRequest& request) {
  SpdyCommand command(connection, request);
  command.Run(containers);
}

}  // namespace berth::agent::cri::streaming
