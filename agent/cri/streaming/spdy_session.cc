#include "agent/cri/streaming/spdy_session.h"

#include <algorithm>

namespace berth::agent::cri::streaming::spdy {

namespace {
constexpr size_t kMaxDataFrame = 32 << 10;
}

absl::Status Session::Send(const std::function<std::string(Framer&)>& encode) {
  std::lock_guard<std::mutex> lock(write_mu_);
  return connection_.Write(encode(framer_));
}

absl::Status Session::Serve() {
  for (;;) {
    auto frame = framer_.Read(connection_);
    if (!frame.ok()) return frame.status();
    if (!frame->control) {
      if (handlers_.on_data) handlers_.on_data(frame->stream_id, frame->data, frame->fin());
      continue;
    }
    switch (frame->type) {
      case ControlType::kSynStream: {
        uint32_t id = frame->stream_id;
        last_peer_stream_ = std::max(last_peer_stream_.load(), id);
        bool accept = handlers_.on_stream ? handlers_.on_stream(id, frame->headers) : false;
        absl::Status st = accept ? Send([&](Framer& f) { return f.SynReply(id, {}, false); })
                                 : Reset(id, kRstRefusedStream);
        if (!st.ok()) return st;
        if (accept && frame->fin() && handlers_.on_data) handlers_.on_data(id, "", true);
        break;
      }
      case ControlType::kRstStream:
        if (handlers_.on_reset) handlers_.on_reset(frame->stream_id);
        break;
      case ControlType::kPing:
        if (auto st = Send([&](Framer& f) { return f.Ping(frame->ping_id); }); !st.ok()) return st;
        break;
      case ControlType::kGoAway:
        return absl::OutOfRangeError("the client ended the session");
      case ControlType::kHeaders:
        if (frame->fin() && handlers_.on_data) handlers_.on_data(frame->stream_id, "", true);
        break;
      default:  // SYN_REPLY to our own streams, SETTINGS, WINDOW_UPDATE
        break;
    }
  }
}

absl::Status Session::Write(uint32_t id, std::string_view data, bool fin) {
  do {
    std::string_view chunk = data.substr(0, kMaxDataFrame);
    data.remove_prefix(chunk.size());
    bool last = data.empty();
    if (auto st = Send([&](Framer& f) { return f.Data(id, chunk, fin && last); }); !st.ok()) return st;
  } while (!data.empty());
  return absl::OkStatus();
}

absl::Status Session::Reset(uint32_t id, uint32_t status) {
  return Send([&](Framer& f) { return f.RstStream(id, status); });
}

absl::Status Session::GoAway() {
  return Send([&](Framer& f) { return f.GoAway(last_peer_stream_, 0); });
}

absl::StatusOr<uint32_t> Session::Open(const Headers& headers) {
  uint32_t id = 0;
  absl::Status st = Send([&](Framer& f) {
    id = next_stream_id_;
    next_stream_id_ += 2;
    return f.SynStream(id, headers, false);
  });
  if (!st.ok()) return st;
  return id;
}

}  // namespace berth::agent::cri::streaming::spdy
