// SPDY/3.1 framing (the draft-mbelshe-httpbis-spdy-00 wire, version 3), as Kubernetes'
// remote-command and port-forward clients speak it: 8-byte frame headers, name/value header
// blocks compressed with one zlib context per direction that uses the SPDY/3 dictionary, and
// the control frames those clients send or expect. Flow control is not enforced by those
// clients, so WINDOW_UPDATE and SETTINGS are read and ignored.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/cri/streaming/byte_stream.h"

namespace berth::agent::cri::streaming::spdy {

// Names are lower case on the wire.
using Headers = std::vector<std::pair<std::string, std::string>>;

// The value of `name` in `headers`, or "".
std::string HeaderValue(const Headers& headers, std::string_view name);

enum class ControlType : uint16_t {
  kSynStream = 1,
  kSynReply = 2,
  kRstStream = 3,
  kSettings = 4,
  kPing = 6,
  kGoAway = 7,
  kHeaders = 8,
  kWindowUpdate = 9,
};

inline constexpr uint8_t kFlagFin = 0x01;
// RST_STREAM status codes used here.
inline constexpr uint32_t kRstProtocolError = 1;
inline constexpr uint32_t kRstRefusedStream = 3;
inline constexpr uint32_t kRstCancel = 5;

struct Frame {
  bool control = false;
  ControlType type = ControlType::kSynStream;  // control frames only
  uint8_t flags = 0;
  uint32_t stream_id = 0;  // data frames, and the control frames that name a stream
  std::string data;        // a data frame's payload
  Headers headers;         // SYN_STREAM, SYN_REPLY, HEADERS
  uint32_t status = 0;     // RST_STREAM, GOAWAY
  uint32_t ping_id = 0;    // PING
  bool fin() const { return (flags & kFlagFin) != 0; }
};

// The SPDY/3 header-compression dictionary (1423 bytes).
const std::string& HeaderDictionary();

// One endpoint's framing state: its outgoing and incoming compression contexts. Encode*
// calls must be serialized by the caller (they share the deflate context); Read is for one
// reader thread.
class Framer {
 public:
  Framer();
  ~Framer();
  Framer(const Framer&) = delete;
  Framer& operator=(const Framer&) = delete;

  // The next frame. OUT_OF_RANGE at a clean end of the connection; DATA_LOSS or
  // INVALID_ARGUMENT for a broken frame (the session cannot go on after either).
  absl::StatusOr<Frame> Read(ByteStream& in);

  std::string Data(uint32_t stream_id, std::string_view data, bool fin);
  std::string SynStream(uint32_t stream_id, const Headers& headers, bool fin);
  std::string SynReply(uint32_t stream_id, const Headers& headers, bool fin);
  std::string RstStream(uint32_t stream_id, uint32_t status);
  std::string Ping(uint32_t id);
  std::string GoAway(uint32_t last_good_stream_id, uint32_t status);

 private:
  std::string CompressHeaders(const Headers& headers);
  absl::StatusOr<Headers> DecompressHeaders(std::string_view block);

  struct Zlib;
  std::unique_ptr<Zlib> zlib_;
};

}  // namespace berth::agent::cri::streaming::spdy
