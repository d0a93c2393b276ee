// Bridge networking for one node: the bridge with its gateway address, and a container's
// veth pair (host end on the bridge, "eth0" inside the container's netns with its address,
// MAC, the bridge's MTU and a default route via the gateway).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "runtime/network/ipv4.h"
#include "runtime/network/ipv6.h"

namespace berth::net {

struct BridgeConfig {
  std::string name;      // e.g. "berth0"
  Ipv4Prefix gateway;    // the bridge's address with the subnet's length: 10.88.0.1/16
  int mtu = 0;           // 0: kernel default (1500)
  Ipv6Prefix gateway6;   // IPv6 networks: fd00:1::1/64; unspecified: none
};

// Makes the bridge if missing, gives it the gateway address if missing, brings it up.
// Also sets route_localnet on it so published ports answer on 127.0.0.1. Idempotent;
// works in the calling thread's netns (the agent's).
absl::Status EnsureBridge(const BridgeConfig& bridge);
// Deletes the bridge (and so detaches whatever was on it); OK when it is already gone.
absl::Status DeleteBridge(const std::string& name);

struct ContainerLinkConfig {
  std::string bridge;          // an existing bridge in the calling thread's netns
  std::string host_interface;  // host end, <= 15 characters, e.g. "bth" + 12 hex of the id
  int container_netns_fd = -1;
  Ipv4Prefix address;          // the container's address with the subnet length
  Ipv4Address gateway;
  std::string mac;             // empty: MacForAddress(address)
  Ipv6Prefix address6;         // IPv6 networks: the v6 address with its length; unspecified: none
  Ipv6Address gateway6;
};

// Creates the pair and configures both ends; on error nothing of it is left behind.
absl::Status AttachContainer(const ContainerLinkConfig& link);
// Deletes the host end (the container end goes with it); OK when already gone.
absl::Status DetachContainer(const std::string& host_interface);

// Brings "lo" up inside `netns_fd` (what a netns of a "none" container needs).
absl::Status LoopbackUp(int netns_fd);

}  // namespace berth::net
