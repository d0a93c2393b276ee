#include "runtime/network/ipv6.h"

#include <arpa/inet.h>

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "runtime/base/quote.h"

namespace berth::net {
namespace {

// Keeps the first `length` bits of `a`.
Ipv6Address Masked(const Ipv6Address& a, int length) {
  Ipv6Address out = a;
  for (int i = 0; i < 16; ++i) {
    int keep = std::clamp(length - i * 8, 0, 8);
    out.bytes[i] &= static_cast<uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
  }
  return out;
}

}  // namespace

bool Ipv6Address::IsLoopback() const {
  Ipv6Address one;
  one.bytes[15] = 1;
  return *this == one;
}

std::string Ipv6Address::ToString() const {
  char text[INET6_ADDRSTRLEN];
  if (::inet_ntop(AF_INET6, bytes.data(), text, sizeof(text)) == nullptr) return "?";
  return text;
}

Ipv6Address Ipv6Address::Plus(uint64_t n) const {
  Ipv6Address out = *this;
  unsigned carry = 0;
  for (int i = 15; i >= 0; --i) {
    unsigned sum = out.bytes[i] + static_cast<unsigned>(n & 0xff) + carry;
    out.bytes[i] = static_cast<uint8_t>(sum & 0xff);
    carry = sum >> 8;
    n >>= 8;
  }
  return out;
}

std::string Ipv6Prefix::ToString() const { return absl::StrCat(address.ToString(), "/", length); }

Ipv6Prefix Ipv6Prefix::Network() const { return {Masked(address, length), length}; }

bool Ipv6Prefix::Contains(const Ipv6Address& a) const { return Masked(a, length) == Masked(address, length); }

bool Ipv6Prefix::Overlaps(const Ipv6Prefix& other) const {
  int shorter = std::min(length, other.length);
  return Masked(address, shorter) == Masked(other.address, shorter);
}

bool Ipv6Prefix::HostOffset(const Ipv6Address& a, uint64_t* offset) const {
  if (!Contains(a)) return false;
  Ipv6Address base = Network().address;
  // The difference must fit in the low 64 bits: the high 8 bytes are equal.
  for (int i = 0; i < 8; ++i) {
    if (a.bytes[i] != base.bytes[i]) return false;
  }
  uint64_t lo_a = 0, lo_b = 0;
  for (int i = 8; i < 16; ++i) {
    lo_a = (lo_a << 8) | a.bytes[i];
    lo_b = (lo_b << 8) | base.bytes[i];
  }
  *offset = lo_a - lo_b;
  return true;
}

absl::StatusOr<Ipv6Address> ParseIpv6(absl::string_view text, absl::string_view what) {
  Ipv6Address a;
  std::string s(text);
  if (s.find(':') == std::string::npos || ::inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", Quoted(text), " is not an IPv6 address (like fd00:1::5)"));
  }
  return a;
}

absl::StatusOr<Ipv6Prefix> ParseIpv6Prefix(absl::string_view text, absl::string_view what) {
  size_t slash = text.find('/');
  if (slash == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", Quoted(text), " has no prefix length (like fd00:1::/64)"));
  }
  absl::StatusOr<Ipv6Address> address = ParseIpv6(text.substr(0, slash), what);
  if (!address.ok()) return address.status();
  int length = 0;
  if (!absl::SimpleAtoi(text.substr(slash + 1), &length) || length < 0 || length > 128) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", Quoted(text), " has a prefix length that is not 0..128"));
  }
  return Ipv6Prefix{*address, length};
}

}  // namespace berth::net
