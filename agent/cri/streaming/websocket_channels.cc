#include "agent/cri/streaming/websocket_channels.h"

#include <openssl/evp.h>

namespace berth::agent::cri::streaming::ws {

std::string EncodeChannelMessage(bool binary, uint8_t channel, std::string_view data) {
  if (binary) {
    std::string out(1, static_cast<char>(channel));
    out.append(data);
    return out;
  }
  std::string out(1, static_cast<char>('0' + channel));
  std::string encoded(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                          reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.append(encoded.data(), static_cast<size_t>(n));
  return out;
}

std::optional<ChannelMessage> DecodeChannelMessage(bool binary, const Message& message) {
  if (message.data.empty()) return std::nullopt;
  ChannelMessage out;
  if (binary) {
    if (message.opcode != kBinary) return std::nullopt;
    out.channel = static_cast<uint8_t>(message.data[0]);
    out.data = message.data.substr(1);
    return out;
  }
  if (message.opcode != kText || message.data[0] < '0' || message.data[0] > '9') return std::nullopt;
  out.channel = static_cast<uint8_t>(message.data[0] - '0');
  std::string_view text = std::string_view(message.data).substr(1);
  if (text.size() % 4 != 0) return std::nullopt;
  std::string decoded(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  size_t padding = 0;
  for (size_t i = text.size(); i > 0 && text[i - 1] == '=' && padding < 2; --i) ++padding;
  decoded.resize(static_cast<size_t>(n) - padding);
  out.data = std::move(decoded);
  return out;
}

}  // namespace berth::agent::cri::streaming::ws
