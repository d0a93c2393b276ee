// The channel.k8s.io framing over WebSocket: each message belongs to a numbered channel.
// Binary ("channel.k8s.io", "v4.channel.k8s.io"): the first byte is the channel. Base64
// ("base64.channel.k8s.io", for clients that can only send text): the first character is the
// channel's digit and the rest is base64.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/cri/streaming/websocket.h"

namespace berth::agent::cri::streaming::ws {

struct ChannelMessage {
  uint8_t channel = 0;
  std::string data;
};

std::string EncodeChannelMessage(bool binary, uint8_t channel, std::string_view data);
// Nullopt for a message that is not a channel message of this framing.
std::optional<ChannelMessage> DecodeChannelMessage(bool binary, const Message& message);

}  // namespace berth::agent::cri::streaming::ws
