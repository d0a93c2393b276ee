// The resize channel's content: JSON objects {"Width":W,"Height":H}, one after another
// (client-go's json.Encoder ends each with a newline), possibly split across frames.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace berth::agent::cri::streaming {

class ResizeDecoder {
 public:
  explicit ResizeDecoder(std::function<void(uint16_t width, uint16_t height)> on_size)
      : on_size_(std::move(on_size)) {}
  // Takes more bytes; calls on_size for each whole object. Objects that are not sizes are skipped.
  void Feed(std::string_view bytes);

 private:
  std::function<void(uint16_t, uint16_t)> on_size_;
  std::string buffer_;
};

}  // namespace berth::agent::cri::streaming
