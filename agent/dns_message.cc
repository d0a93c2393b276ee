#include "agent/dns_message.h"

#include "absl/strings/ascii.h"

namespace berth::agent::dns {
namespace {

constexpr size_t kHeaderSize = 12;
constexpr size_t kMaxNameLength = 255;
constexpr int kMaxPointerJumps = 16;

uint16_t Read16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

void Put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v & 0xff));
}

void Put32(std::vector<uint8_t>& out, uint32_t v) {
  Put16(out, static_cast<uint16_t>(v >> 16));
  Put16(out, static_cast<uint16_t>(v & 0xffff));
}

// Reads the name at `*offset`, leaving `*offset` just past it in the packet (past the first
// pointer when it is compressed).
absl::StatusOr<std::string> ReadName(const uint8_t* data, size_t size, size_t* offset) {
  std::string name;
  size_t pos = *offset;
  bool jumped = false;
  int jumps = 0;
  for (;;) {
    if (pos >= size) return absl::InvalidArgumentError("dns: name runs past the packet");
    uint8_t len = data[pos];
    if ((len & 0xc0) == 0xc0) {
      if (pos + 1 >= size) return absl::InvalidArgumentError("dns: pointer runs past the packet");
      if (++jumps > kMaxPointerJumps) return absl::InvalidArgumentError("dns: too many compression pointers");
      size_t target = static_cast<size_t>(((len & 0x3f) << 8) | data[pos + 1]);
      if (!jumped) *offset = pos + 2;
      jumped = true;
      if (target >= pos) return absl::InvalidArgumentError("dns: compression pointer does not point back");
      pos = target;
      continue;
    }
    if ((len & 0xc0) != 0) return absl::InvalidArgumentError("dns: unknown label type");
    if (len == 0) {
      if (!jumped) *offset = pos + 1;
      return absl::AsciiStrToLower(name);
    }
    if (pos + 1 + len > size) return absl::InvalidArgumentError("dns: label runs past the packet");
    if (!name.empty()) name.push_back('.');
    name.append(reinterpret_cast<const char*>(data + pos + 1), len);
    if (name.size() > kMaxNameLength) return absl::InvalidArgumentError("dns: name longer than 255");
    pos += 1 + len;
  }
}

}  // namespace

absl::StatusOr<Question> ParseQuery(const uint8_t* data, size_t size) {
  if (size < kHeaderSize) return absl::InvalidArgumentError("dns: shorter than a header");
  Question q;
  q.id = Read16(data);
  const uint16_t flags = Read16(data + 2);
  if ((flags & 0x8000) != 0) return absl::InvalidArgumentError("dns: a response, not a query");
  q.opcode = static_cast<uint8_t>((flags >> 11) & 0xf);
  q.recursion_desired = (flags & 0x0100) != 0;
  if (Read16(data + 4) != 1) return absl::InvalidArgumentError("dns: not exactly one question");
  size_t offset = kHeaderSize;
  auto name = ReadName(data, size, &offset);
  if (!name.ok()) return name.status();
  if (offset + 4 > size) return absl::InvalidArgumentError("dns: question runs past the packet");
  q.name = *name;
  q.type = Read16(data + offset);
  q.qclass = Read16(data + offset + 2);
  q.raw_question.assign(data + kHeaderSize, data + offset + 4);
  return q;
}

std::vector<uint8_t> BuildResponse(const Question& q, uint8_t rcode, const std::vector<std::vector<uint8_t>>& addresses,
                                   uint32_t ttl) {
  std::vector<uint8_t> out;
  const bool with_records = rcode == kRcodeNoError;
  const uint16_t answers = with_records ? static_cast<uint16_t>(addresses.size()) : 0;
  Put16(out, q.id);
  uint16_t flags = 0x8000 | static_cast<uint16_t>(q.opcode << 11) | 0x0400 /* AA */ | 0x0080 /* RA */ | rcode;
  if (q.recursion_desired) flags |= 0x0100;
  Put16(out, flags);
  Put16(out, q.raw_question.empty() ? 0 : 1);
  Put16(out, answers);
  Put16(out, 0);
  Put16(out, 0);
  out.insert(out.end(), q.raw_question.begin(), q.raw_question.end());
  for (uint16_t i = 0; i < answers; ++i) {
    Put16(out, 0xc000 | static_cast<uint16_t>(kHeaderSize));  // the question's name
    Put16(out, q.type);
    Put16(out, kClassIN);
    Put32(out, ttl);
    Put16(out, static_cast<uint16_t>(addresses[i].size()));
    out.insert(out.end(), addresses[i].begin(), addresses[i].end());
  }
  return out;
}

std::optional<uint16_t> MessageId(const uint8_t* data, size_t size) {
  if (size < kHeaderSize) return std::nullopt;
  return Read16(data);
}

void SetMessageId(std::vector<uint8_t>& message, uint16_t id) {
  if (message.size() < 2) return;
  message[0] = static_cast<uint8_t>(id >> 8);
  message[1] = static_cast<uint8_t>(id & 0xff);
}

bool IsResponse(const uint8_t* data, size_t size) { return size >= kHeaderSize && (data[2] & 0x80) != 0; }

}  // namespace berth::agent::dns
