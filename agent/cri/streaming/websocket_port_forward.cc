// Port forward over WebSocket (binary channel framing): the URL names the ports; port i has
// data channel 2i and error channel 2i+1. Each channel's first message from the server is
// the port, two bytes little-endian; then data flows both ways on the data channel and a
// failure is reported on the error channel. One connection to each port per session.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/cri/streaming/stream_handlers.h"
#include "agent/cri/streaming/websocket_channels.h"

namespace berth::agent::cri::streaming {

void ServeWebSocketPortForward(ByteStream& connection, const std::vector<uint16_t>& ports, const PortDialer& dial) {
  ws::WebSocket socket(connection, /*client=*/false);
  auto send = [&](size_t channel, std::string_view data) {
    return socket.Send(ws::kBinary, ws::EncodeChannelMessage(true, static_cast<uint8_t>(channel), data)).ok();
  };
  std::vector<UniqueFd> targets(ports.size());
  for (size_t i = 0; i < ports.size(); ++i) {
    std::string prefix = {static_cast<char>(ports[i] & 0xff), static_cast<char>(ports[i] >> 8)};
    send(2 * i, prefix);
    send(2 * i + 1, prefix);
    auto target = dial(ports[i]);
    if (!target.ok()) {
      send(2 * i + 1, absl::StrCat("port forward to port ", ports[i], ": ", target.status().message()));
      continue;
    }
    targets[i] = std::move(*target);
  }
  std::vector<std::thread> pumps;
  for (size_t i = 0; i < targets.size(); ++i) {
    if (!targets[i]) continue;
    pumps.emplace_back([&, i] {
      char buf[32768];
      for (;;) {
        ssize_t n = ::read(targets[i].get(), buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || !send(2 * i, std::string_view(buf, n))) break;
      }
    });
  }
  for (;;) {
    auto message = socket.Read();
    if (!message.ok() || message->opcode == ws::kClose) break;
    auto channel_message = ws::DecodeChannelMessage(true, *message);
    if (!channel_message || channel_message->channel % 2 != 0) continue;
    size_t i = channel_message->channel / 2;
    if (i >= targets.size() || !targets[i]) continue;
    std::string_view data = channel_message->data;
    while (!data.empty()) {
      ssize_t n = ::send(targets[i].get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      data.remove_prefix(static_cast<size_t>(n));
    }
  }
  for (auto& target : targets) {
    if (target) ::shutdown(target.get(), SHUT_RDWR);
  }
  for (auto& pump : pumps) pump.join();
  (void)socket.Close(1000);
  connection.Shutdown();
}

}  // namespace berth::agent::cri::streaming
