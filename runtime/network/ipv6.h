// IPv6 addresses and prefixes as values: parsing with errors a person can act on, the
// canonical text form (RFC 5952, as inet_ntop writes it), containment, overlap, and the n-th
// address of a prefix (how the agent numbers a network's v6 addresses after its v4 ones).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::net {

struct Ipv6Address {
  std::array<uint8_t, 16> bytes{};  // network byte order

  bool operator==(const Ipv6Address&) const = default;
  auto operator<=>(const Ipv6Address&) const = default;
  bool IsUnspecified() const { return *this == Ipv6Address{}; }
  bool IsLoopback() const;  // ::1
  std::string ToString() const;
  // This address plus `n` (carrying into higher bytes; wraps silently past the top).
  Ipv6Address Plus(uint64_t n) const;
};

struct Ipv6Prefix {
  Ipv6Address address;
  int length = 0;  // 0..128

  bool operator==(const Ipv6Prefix&) const = default;
  std::string ToString() const;  // "fd00:1::/64"
  Ipv6Prefix Network() const;    // host bits cleared
  bool Contains(const Ipv6Address& a) const;
  bool Overlaps(const Ipv6Prefix& other) const;
  // Offset of `a` from the network address when it fits in 64 bits and `a` is inside.
  bool HostOffset(const Ipv6Address& a, uint64_t* offset) const;
};

// "fd00::1"; INVALID_ARGUMENT naming `what` otherwise (an IPv4 literal is refused too).
absl::StatusOr<Ipv6Address> ParseIpv6(absl::string_view text, absl::string_view what = "address");
// "fd00::/64"; a missing "/len" is an error. Host bits are kept (see Network()).
absl::StatusOr<Ipv6Prefix> ParseIpv6Prefix(absl::string_view text, absl::string_view what = "subnet");

}  // namespace berth::net
