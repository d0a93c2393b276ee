// A SPDY/3.1 session over an upgraded connection: one thread runs Serve (reading frames and
// handing them to the handlers); any thread writes. Streams the peer opens are accepted with
// a SYN_REPLY unless `on_stream` refuses them; PINGs are answered. The session keeps no
// per-stream buffers: a handler that blocks holds up every stream, which is how the
// Kubernetes clients' own servers behave too (they do not do flow control either).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/cri/streaming/byte_stream.h"
#include "agent/cri/streaming/spdy_framer.h"

namespace berth::agent::cri::streaming::spdy {

struct SessionHandlers {
  // A stream the peer opened, with its headers; false refuses it (RST_STREAM).
  std::function<bool(uint32_t id, const Headers& headers)> on_stream;
  // Bytes on a stream; `fin`: the peer will send no more on it.
  std::function<void(uint32_t id, std::string_view data, bool fin)> on_data;
  // The peer reset the stream.
  std::function<void(uint32_t id)> on_reset;
};

class Session {
 public:
  // `client`: this end opens odd-numbered streams (tests); a server opens none.
  Session(ByteStream& connection, SessionHandlers handlers, bool client = false)
      : connection_(connection), handlers_(std::move(handlers)), next_stream_id_(client ? 1 : 2) {}

  // Reads until the connection ends, a GOAWAY, or a broken frame; returns why it stopped
  // (OUT_OF_RANGE for a clean end or a GOAWAY).
  absl::Status Serve();

  // Data on `id`, split into frames of at most 32 KiB; an empty write with `fin` ends the stream.
  absl::Status Write(uint32_t id, std::string_view data, bool fin = false);
  absl::Status Reset(uint32_t id, uint32_t status);
  absl::Status GoAway();
  // Opens a stream with `headers` (client side). The reply arrives as on_stream is not called
  // for it: replies are read and dropped.
  absl::StatusOr<uint32_t> Open(const Headers& headers);

 private:
  absl::Status Send(const std::function<std::string(Framer&)>& encode);

  ByteStream& connection_;
  SessionHandlers handlers_;
  std::mutex write_mu_;  // the deflate context's order is the wire's order
  Framer framer_;        // reads on Serve's thread; encodes under write_mu_
  uint32_t next_stream_id_;
  std::atomic<uint32_t> last_peer_stream_{0};
};

}  // namespace berth::agent::cri::streaming::spdy
