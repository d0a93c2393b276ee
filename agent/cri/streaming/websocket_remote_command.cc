// Remote command over WebSocket (channel.k8s.io framing): channel 0 stdin, 1 stdout,
// 2 stderr, 3 the error channel (the final metav1.Status), 4 resize. Every channel exists from
// the start; the client ends the session with a close frame or by closing the connection.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "agent/cri/streaming/resize_decoder.h"
#include "agent/cri/streaming/stream_handlers.h"
#include "agent/cri/streaming/websocket_channels.h"
#include "spdlog/spdlog.h"

namespace berth::agent::cri::streaming {
namespace {

constexpr uint8_t kStdinChannel = 0, kErrorChannel = 3, kResizeChannel = 4;

class WebSocketCommand final : public CommandOutput {
 public:
  WebSocketCommand(ByteStream& connection, bool binary)
      : connection_(connection), socket_(connection, /*client=*/false), binary_(binary) {}

  void Run(ContainerManager& containers, const CommandRequest& request) {
    ResizeDecoder resize([this](uint16_t w, uint16_t h) { input_.Resize(w, h); });
    std::thread reader([&] {
      for (;;) {
        auto message = socket_.Read();
        if (!message.ok() || message->opcode == ws::kClose) break;
        auto channel_message = ws::DecodeChannelMessage(binary_, *message);
        if (!channel_message) continue;
        if (channel_message->channel == kStdinChannel) input_.Stdin(channel_message->data);
        if (channel_message->channel == kResizeChannel) resize.Feed(channel_message->data);
      }
      input_.StdinEnd();
      {
        std::lock_guard<std::mutex> lock(gone_mu_);
        gone_ = true;
      }
      gone_cv_.notify_all();
    });
    (void)RunRemoteCommand(containers, request, input_, *this);
    (void)socket_.Close(1000);
    // The client answers the close frame; a client that does not is cut off after 5 s.
    {
      std::unique_lock<std::mutex> lock(gone_mu_);
      gone_cv_.wait_for(lock, std::chrono::seconds(5), [this] { return gone_.load(); });
    }
    connection_.Shutdown();
    reader.join();
  }

  bool Write(OutputChannel channel, std::string_view data) override {
    if (gone_) return false;
    return socket_.Send(binary_ ? ws::kBinary : ws::kText,
                        ws::EncodeChannelMessage(binary_, static_cast<uint8_t>(channel), data))
        .ok();
  }
  bool Gone() override { return gone_; }
  void Finish(const std::string& status) override {
    (void)socket_.Send(binary_ ? ws::kBinary : ws::kText, ws::EncodeChannelMessage(binary_, kErrorChannel, status));
  }

 private:
  ByteStream& connection_;
  ws::WebSocket socket_;
  bool binary_;
  CommandInput input_;
  std::atomic<bool> gone_{false};  // read without the lock by Write and Gone
  std::mutex gone_mu_;
  std::condition_variable gone_cv_;
};

}  // namespace

void ServeWebSocketCommand(ByteStream& connection, bool binary, ContainerManager& containers,
                           const CommandRequest& request) {
  WebSocketCommand command(connection, binary);
  command.Run(containers, request);
}

}  // namespace berth::agent::cri::streaming
