// The little of the DNS wire format (RFC 1035) the embedded resolver needs: read the one
// question of a query, answer it with A/AAAA records or an error code, and swap the id of a
// message it forwards. Every read is bounds-checked; a packet that does not parse is refused,
// never trusted.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::agent::dns {

inline constexpr uint16_t kTypeA = 1;
inline constexpr uint16_t kTypeAAAA = 28;
inline constexpr uint16_t kClassIN = 1;
inline constexpr uint8_t kRcodeNoError = 0;
inline constexpr uint8_t kRcodeServFail = 2;
inline constexpr uint8_t kRcodeNxDomain = 3;
inline constexpr uint8_t kRcodeNotImp = 4;
inline constexpr uint8_t kRcodeRefused = 5;

struct Question {
  uint16_t id = 0;
  bool recursion_desired = false;
  uint8_t opcode = 0;
  std::string name;  // lower case, no trailing dot; "" for the root
  uint16_t type = 0;
  uint16_t qclass = 0;
  // The question section as it came (name, type, class), echoed back in answers.
  std::vector<uint8_t> raw_question;
};

// A query with exactly one question; INVALID_ARGUMENT for anything else (a response, a
// truncated packet, a label or pointer out of bounds, a pointer loop).
absl::StatusOr<Question> ParseQuery(const uint8_t* data, size_t size);

// The answer to `q`: `addresses` are 4-byte (A) or 16-byte (AAAA) records of q.type, each
// with `ttl`. With no addresses and rcode NOERROR it is an empty answer ("no such record of
// this type"); rcode NXDOMAIN/SERVFAIL/NOTIMP carry no records.
std::vector<uint8_t> BuildResponse(const Question& q, uint8_t rcode, const std::vector<std::vector<uint8_t>>& addresses,
                                   uint32_t ttl);

// The message's id (the first two bytes); nullopt for a packet shorter than a header.
std::optional<uint16_t> MessageId(const uint8_t* data, size_t size);
void SetMessageId(std::vector<uint8_t>& message, uint16_t id);
// A response (QR set), as an upstream sends.
bool IsResponse(const uint8_t* data, size_t size);

}  // namespace berth::agent::dns
