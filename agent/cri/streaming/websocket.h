// RFC 6455 WebSocket framing over an upgraded connection: whole messages in (fragments
// joined, pings answered, masks removed), frames out (masked when this end is the client).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "agent/cri/streaming/byte_stream.h"

namespace berth::agent::cri::streaming::ws {

enum Opcode : uint8_t { kContinuation = 0, kText = 1, kBinary = 2, kClose = 8, kPing = 9, kPong = 10 };

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key.
std::string AcceptKey(std::string_view client_key);

struct Message {
  Opcode opcode = kBinary;  // kText, kBinary, or kClose (the peer is closing)
  std::string data;
};

class WebSocket {
 public:
  WebSocket(ByteStream& connection, bool client) : connection_(connection), client_(client) {}

  // The next text, binary or close message. OUT_OF_RANGE when the connection ends.
  absl::StatusOr<Message> Read();
  absl::Status Send(Opcode opcode, std::string_view data);
  // A close frame with `code` (1000: normal).
  absl::Status Close(uint16_t code);

 private:
  ByteStream& connection_;
  bool client_;
};

}  // namespace berth::agent::cri::streaming::ws
