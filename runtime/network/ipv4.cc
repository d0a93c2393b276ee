#include "runtime/network/ipv4.h"

#include <arpa/inet.h>

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace berth::net {

namespace {

// Decimal digits only, no sign, no whitespace, no leading zero (010 reads as octal to
// inet_aton and as ten to a person: refuse rather than guess). False when out of [0, max].
bool ParseSmallDecimal(absl::string_view text, int max, int* out) {
  if (text.empty() || text.size() > 3) return false;
  if (text.size() > 1 && text[0] == '0') return false;
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  if (value > max) return false;
  *out = value;
  return true;
}

}  // namespace

std::string Ipv4Address::ToString() const {
  return absl::StrCat((value >> 24) & 0xff, ".", (value >> 16) & 0xff, ".", (value >> 8) & 0xff, ".",
                      value & 0xff);
}

uint32_t Ipv4Address::NetworkOrder() const { return htonl(value); }

std::string Ipv4Prefix::ToString() const { return absl::StrCat(address.ToString(), "/", length); }

uint32_t Ipv4Prefix::Mask() const {
  if (length <= 0) return 0;
  if (length >= 32) return 0xffffffffu;
  return ~uint32_t{0} << (32 - length);
}

Ipv4Prefix Ipv4Prefix::Network() const { return Ipv4Prefix{Ipv4Address{address.value & Mask()}, length}; }

Ipv4Address Ipv4Prefix::Broadcast() const { return Ipv4Address{address.value | ~Mask()}; }

bool Ipv4Prefix::Contains(Ipv4Address a) const { return (a.value & Mask()) == (address.value & Mask()); }

bool Ipv4Prefix::Overlaps(const Ipv4Prefix& other) const {
  // Two prefixes overlap exactly when the shorter one contains the other's network.
  uint32_t mask = length < other.length ? Mask() : other.Mask();
  return (address.value & mask) == (other.address.value & mask);
}

absl::StatusOr<Ipv4Address> ParseIpv4(absl::string_view text, absl::string_view what) {
  auto invalid = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid ", what, " \"", text, "\": expected four numbers 0-255 separated by dots, like 10.88.0.1"));
  };
  std::vector<absl::string_view> parts = absl::StrSplit(text, '.');
  if (parts.size() != 4) return invalid();
  uint32_t value = 0;
  for (absl::string_view part : parts) {
    int octet = 0;
    if (!ParseSmallDecimal(part, 255, &octet)) return invalid();
    value = (value << 8) | static_cast<uint32_t>(octet);
  }
  return Ipv4Address{value};
}

absl::StatusOr<Ipv4Prefix> ParseIpv4Prefix(absl::string_view text, absl::string_view what) {
  size_t slash = text.find('/');
  if (slash == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid ", what, " \"", text, "\": missing the prefix length, like 10.88.0.0/16"));
  }
  absl::StatusOr<Ipv4Address> address = ParseIpv4(text.substr(0, slash), what);
  if (!address.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid ", what, " \"", text,
                     "\": expected an IPv4 address and a prefix length, like 10.88.0.0/16"));
  }
  int length = 0;
  if (!ParseSmallDecimal(text.substr(slash + 1), 32, &length)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid ", what, " \"", text, "\": the prefix length must be a number 0-32"));
  }
  return Ipv4Prefix{*address, length};
}

std::string MacForAddress(Ipv4Address a) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string mac = "02:42";
  for (int shift = 24; shift >= 0; shift -= 8) {
    uint32_t byte = (a.value >> shift) & 0xff;
    mac += ':';
    mac += kHex[byte >> 4];
    mac += kHex[byte & 0xf];
  }
  return mac;
}

}  // namespace berth::net
