// The network flags of `run`/`create` (-p/--publish, --add-host, --dns, --dns-search,
// --network) as berth.v1 values, and how published ports read in `port` and `ps`. Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "berth/v1/containers.pb.h"

namespace berth::cli {

// "HOSTPORT:CTRPORT" or "HOSTIP:HOSTPORT:CTRPORT", each optionally ending in "/tcp" or
// "/udp" (any case; tcp when absent). Ports are 1..65535; HOSTIP is an IPv4 address
// ("0.0.0.0" is kept as given, an absent one stays empty: every address of the node).
absl::StatusOr<berth::v1::PortMapping> ParsePublish(std::string_view spec);

// Every --publish, parsed; two mappings that bind the same host port and protocol on
// overlapping addresses are refused, as the second could never be set up.
absl::StatusOr<std::vector<berth::v1::PortMapping>> ParsePublishes(
    const std::vector<std::string>& specs);

// "name:ip" with a host name and an IPv4 or IPv6 address (split at the first colon).
absl::Status ValidateExtraHost(std::string_view entry);

// A nameserver: an IPv4 or IPv6 address.
absl::Status ValidateDnsServer(std::string_view address);

// A search domain: non-empty, no white space.
absl::Status ValidateDnsSearch(std::string_view domain);

// The --network value as ContainerConfig.network: "" and "default" become "" (the agent's
// default network, bridge); "container:" needs a container after the colon; anything else
// (bridge, none, host, container:<ref>, a network's name or id) is passed through.
absl::StatusOr<std::string> NetworkModeFromFlag(std::string_view value);

// "tcp" for an empty protocol, otherwise the protocol as recorded.
std::string PortProtocol(const berth::v1::PortMapping& mapping);

// `berth port` line: "80/tcp -> 0.0.0.0:8080" (an empty host address reads 0.0.0.0).
std::string PortMappingLine(const berth::v1::PortMapping& mapping);

// `berth ps` cell: "0.0.0.0:8080->80/tcp, 127.0.0.1:5353->53/udp" from the ports the
// container's network was set up with (network_settings.ports); "" when none.
std::string PortsText(const berth::v1::Container& container);

// The `berth port CONTAINER PRIVATE_PORT[/PROTO]` filter: "80" or "80/udp" (tcp when absent).
struct PortFilter {
  uint32_t container_port = 0;
  std::string protocol;
};
absl::StatusOr<PortFilter> ParsePortFilter(std::string_view spec);

// The mappings of `container` that the filter selects (all when `filter` is null).
std::vector<berth::v1::PortMapping> SelectPorts(const berth::v1::Container& container,
                                                const PortFilter* filter);

}  // namespace berth::cli
