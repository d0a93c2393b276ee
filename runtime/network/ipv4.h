// IPv4 addresses and prefixes as values: parsing with errors a person can act on,
// formatting, containment and overlap. Host byte order inside.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::net {

struct Ipv4Address {
  uint32_t value = 0;  // host byte order: 10.88.0.1 == 0x0a580001

  bool operator==(const Ipv4Address&) const = default;
  auto operator<=>(const Ipv4Address&) const = default;
  bool IsUnspecified() const { return value == 0; }
  std::string ToString() const;  // dotted quad
  uint32_t NetworkOrder() const;  // for sockaddr_in / netlink attributes
};

// An address with a prefix length: an interface address (10.88.0.1/16) or a network
// (10.88.0.0/16; Network() clears the host bits).
struct Ipv4Prefix {
  Ipv4Address address;
  int length = 0;  // 0..32

  bool operator==(const Ipv4Prefix&) const = default;
  std::string ToString() const;  // "10.88.0.1/16"
  uint32_t Mask() const;
  Ipv4Prefix Network() const;             // host bits cleared
  Ipv4Address Broadcast() const;          // all host bits set
  bool Contains(Ipv4Address a) const;
  bool Overlaps(const Ipv4Prefix& other) const;
  uint64_t Size() const { return uint64_t{1} << (32 - length); }
};

// "10.88.0.1"; INVALID_ARGUMENT naming `what` otherwise.
absl::StatusOr<Ipv4Address> ParseIpv4(absl::string_view text, absl::string_view what = "address");
// "10.88.0.0/16"; a missing "/len" is an error. Host bits are kept (see Network()).
absl::StatusOr<Ipv4Prefix> ParseIpv4Prefix(absl::string_view text, absl::string_view what = "subnet");

// 6-byte MAC derived from an IPv4 address (02:42:a.b.c.d, locally administered, like Docker).
std::string MacForAddress(Ipv4Address a);

}  // namespace berth::net
