#include "agent/cri/streaming/websocket.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <random>

namespace berth::agent::cri::streaming::ws {
namespace {

constexpr uint64_t kMaxMessage = 16 << 20;

}  // namespace

std::string AcceptKey(std::string_view client_key) {
  std::string text(client_key);
  text.append("258EAFA5-E914-47DA-95CA-C5AB0DC85B11");  // RFC 6455's fixed GUID
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  unsigned char encoded[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  int n = EVP_EncodeBlock(encoded, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<char*>(encoded), static_cast<size_t>(n));
}

absl::StatusOr<Message> WebSocket::Read() {
  Message message;
  bool started = false;
  for (;;) {
    unsigned char head[2];
    if (auto st = connection_.ReadExact(reinterpret_cast<char*>(head), 2); !st.ok()) return st;
    bool fin = head[0] & 0x80;
    auto opcode = static_cast<Opcode>(head[0] & 0x0f);
    bool masked = head[1] & 0x80;
    uint64_t length = head[1] & 0x7f;
    if (length >= 126) {
      unsigned char ext[8];
      size_t n = length == 126 ? 2 : 8;
      if (auto st = connection_.ReadExact(reinterpret_cast<char*>(ext), n); !st.ok()) return st;
      length = 0;
      for (size_t i = 0; i < n; ++i) length = (length << 8) | ext[i];
    }
    if (length > kMaxMessage || message.data.size() + length > kMaxMessage) {
      return absl::ResourceExhaustedError("websocket: a message is over 16 MiB");
    }
    unsigned char mask[4] = {0, 0, 0, 0};
    if (masked) {
      if (auto st = connection_.ReadExact(reinterpret_cast<char*>(mask), 4); !st.ok()) return st;
    }
    std::string payload(length, '\0');
    if (length > 0) {
      if (auto st = connection_.ReadExact(payload.data(), length); !st.ok()) return st;
    }
    if (masked) {
      for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(payload[i] ^ mask[i % 4]);
    }
    if (opcode == kPing) {
      if (auto st = Send(kPong, payload); !st.ok()) return st;
      continue;
    }
    if (opcode == kPong) continue;
    if (opcode == kClose) return Message{kClose, std::move(payload)};
    if (opcode != kContinuation) {
      if (started) return absl::InvalidArgumentError("websocket: a new message inside a fragmented one");
      message.opcode = opcode;
      started = true;
    } else if (!started) {
      return absl::InvalidArgumentError("websocket: a continuation frame without a message");
    }
    message.data.append(payload);
    if (fin) return message;
  }
}

absl::Status WebSocket::Send(Opcode opcode, std::string_view data) {
  std::string frame;
  frame.push_back(static_cast<char>(0x80 | opcode));
  unsigned char mask_bit = client_ ? 0x80 : 0;
  if (data.size() < 126) {
    frame.push_back(static_cast<char>(mask_bit | data.size()));
  } else if (data.size() <= 0xffff) {
    frame.push_back(static_cast<char>(mask_bit | 126));
    frame.push_back(static_cast<char>(data.size() >> 8));
    frame.push_back(static_cast<char>(data.size() & 0xff));
  } else {
    frame.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8) frame.push_back(static_cast<char>((data.size() >> shift) & 0xff));
  }
  if (!client_) {
    frame.append(data);
    return connection_.Write(frame);
  }
  static thread_local std::mt19937 random{std::random_device{}()};
  unsigned char mask[4];
  for (auto& b : mask) b = static_cast<unsigned char>(random());
  frame.append(reinterpret_cast<char*>(mask), 4);
  size_t at = frame.size();
  frame.append(data);
  for (size_t i = 0; i < data.size(); ++i) frame[at + i] = static_cast<char>(frame[at + i] ^ mask[i % 4]);
  return connection_.Write(frame);
}

absl::Status WebSocket::Close(uint16_t code) {
  std::string payload = {static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
  return Send(kClose, payload);
}

}  // namespace berth::agent::cri::streaming::ws
