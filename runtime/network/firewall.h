// The agent's nftables table: published ports (DNAT from outside, from the node itself
// and hairpin), outbound NAT, isolation between bridge networks, and the drops that keep a
// port published on 127.0.0.1 off the wire. The whole table is rendered from a
// description and replaced in one atomic libnftables transaction, so what the kernel has
// always equals what the agent describes: reconciliation is one Apply.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/network/ipv4.h"
#include "runtime/network/ipv6.h"

namespace berth::net {

struct PublishedPort {
  std::string protocol;     // "tcp" or "udp"
  Ipv4Address host_ip;      // unspecified: any local address of the node
  uint16_t host_port = 0;
  Ipv4Address container_ip;
  uint16_t container_port = 0;
  std::string comment;      // e.g. the container id, shown in `nft list`
  // The container's bridge. A port published on a loopback address is reachable only from
  // the node: other hosts may neither DNAT to it with forged 127.0.0.1 packets nor reach the
  // container's port directly through a route to its subnet, except from its own bridge.
  std::string bridge;
  // IPv6 networks: the container's v6 address. A port published on every address (host_ip
  // unspecified) then answers over IPv6 too, in the ip6 table.
  Ipv6Address container_ip6;
};

bool IsLoopback(Ipv4Address a);

struct BridgeNetwork {
  std::string bridge;  // device name
  Ipv4Prefix subnet;   // network prefix (host bits clear)
  // Traffic from the subnet leaving through an interface that is not a container bridge
  // goes out with that interface's address (Docker's outbound NAT). Off in the test
  // cluster, where routes between nodes carry container addresses.
  bool masquerade = false;
  Ipv6Prefix subnet6;  // IPv6 networks: the v6 prefix (host bits clear); length 0: none
};

// Rendered as two tables of one name: family ip, and family ip6 when a network has IPv6.
struct FirewallConfig {
  std::string table = "berth";
  std::vector<BridgeNetwork> networks;
  std::vector<PublishedPort> ports;
};

// The nft script that replaces the table (deterministic: tests compare it).
std::string RenderFirewall(const FirewallConfig& config);

// Owns a libnftables context. libnftables opens the context's netlink socket when the context
// is made, so a Firewall acts on the netns of the thread that called Create, whichever thread
// calls it later (to manage another netns, Create it inside RunInNetns). Not thread-safe: the
// agent serialises calls.
class Firewall {
 public:
  static absl::StatusOr<Firewall> Create();
  Firewall(Firewall&&) noexcept;
  Firewall& operator=(Firewall&&) noexcept;
  ~Firewall();

  // Replaces the table with `config` in one transaction. The config is checked first
  // (INVALID_ARGUMENT naming the field); on any failure the previous table stays as it was.
  absl::Status Apply(const FirewallConfig& config);
  // Removes the table of both families; OK when there is none.
  absl::Status Delete(const std::string& table);
  // `nft list table <family> <table>` output, empty when absent (tests and debugging).
  absl::StatusOr<std::string> List(const std::string& table, const std::string& family = "ip");

 private:
  explicit Firewall(void* ctx) : ctx_(ctx) {}
  absl::Status Run(const std::string& script, std::string* output);
  void* ctx_ = nullptr;  // struct nft_ctx*
};

}  // namespace berth::net
