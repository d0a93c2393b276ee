#include "agent/cri/streaming/resize_decoder.h"

#include <nlohmann/json.hpp>

namespace berth::agent::cri::streaming {

namespace {
constexpr size_t kMaxPending = 4096;  // a size object is a few dozen bytes
}

void ResizeDecoder::Feed(std::string_view bytes) {
  buffer_.append(bytes);
  // Objects are flat, so each ends at the first '}' after its '{'.
  for (;;) {
    size_t open = buffer_.find('{');
    if (open == std::string::npos) {
      buffer_.clear();
      return;
    }
    size_t close = buffer_.find('}', open);
    if (close == std::string::npos) {
      if (buffer_.size() > kMaxPending) buffer_.clear();
      else buffer_.erase(0, open);
      return;
    }
    auto object = nlohmann::json::parse(buffer_.substr(open, close - open + 1), nullptr, false);
    buffer_.erase(0, close + 1);
    if (!object.is_object()) continue;
    auto w = object.find("Width"), h = object.find("Height");
    if (w == object.end() || h == object.end() || !w->is_number_unsigned() || !h->is_number_unsigned()) continue;
    uint64_t width = w->get<uint64_t>(), height = h->get<uint64_t>();
    if (width == 0 || height == 0 || width > 0xffff || height > 0xffff) continue;
    on_size_(static_cast<uint16_t>(width), static_cast<uint16_t>(height));
  }
}

}  // namespace berth::agent::cri::streaming
