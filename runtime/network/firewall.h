// The agent's nftables table: published ports (DNAT from outside, from the node itself
// and hairpin), and isolation between bridge networks. The whole table is rendered from a
// description and replaced in one atomic libnftables transaction, so what the kernel has
// always equals what the agent describes: reconciliation is one Apply.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/network/ipv4.h"

namespace berth::net {

struct PublishedPort {
  std::string protocol;     // "tcp" or "udp"
  Ipv4Address host_ip;      // unspecified: any local address of the node
  uint16_t host_port = 0;
  Ipv4Address container_ip;
  uint16_t container_port = 0;
  std::string comment;      // e.g. the container id, shown in `nft list`
};

struct BridgeNetwork {
  std::string bridge;  // device name
  Ipv4Prefix subnet;   // network prefix (host bits clear)
};

struct FirewallConfig {
  std::string table = "berth";  // family ip
  std::vector<BridgeNetwork> networks;
  std::vector<PublishedPort> ports;
  // Masquerade traffic from the subnets leaving through any other interface (Docker's
  // outbound NAT). Off in tests and in the test cluster, where routes carry the traffic.
  bool outbound_nat = false;
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
  // Removes the table; OK when there is none.
  absl::Status Delete(const std::string& table);
  // `nft list table ip <table>` output, empty when absent (tests and debugging).
  absl::StatusOr<std::string> List(const std::string& table);

 private:
  explicit Firewall(void* ctx) : ctx_(ctx) {}
  absl::Status Run(const std::string& script, std::string* output);
  void* ctx_ = nullptr;  // struct nft_ctx*
};

}  // namespace berth::net
