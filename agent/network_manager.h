// The node's container networking: the networks (default "bridge" from the agent's config,
// plus those made through the API) with their Linux bridges, each container's address and
// veth pair, and the published ports in the agent's nftables table. On an IPv6 network a
// container's v6 address is the v6 prefix plus its v4 address's offset in the v4 subnet, so
// the v4 lease is the only one there is and the two can never disagree. The kernel work is
// runtime/network's; this class decides what should exist and keeps it so across crashes.
// Thread-safe. Runs in the agent's network namespace and never leaves it.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/background_queue.h"
#include "agent/dns_records.h"
#include "agent/dns_server.h"
#include "agent/network_store.h"
#include "berth/v1/networks.pb.h"
#include "runtime/network/firewall.h"

namespace berth::agent {

struct NetworkOptions {
  std::string root;                // networks live in <root>/networks
  std::string bridge = "berth0";   // the default network's bridge
  std::string bridge_cidr = "10.88.0.1/16";
  int mtu = 0;
  bool outbound_nat = true;  // the default network's masquerade
  bool ip_forward = true;
  // The default network is dual-stack: v6 gateway/length of its bridge ("fd00:88::1/64"), or
  // empty for a random ULA /64 chosen once and kept in its record.
  bool ipv6 = false;
  std::string bridge_ipv6_cidr;
  // Where the resolvers of user-made networks forward names that are not containers'
  // (IPv4 nameservers: the agent's `dns` setting, else the node's resolv.conf).
  std::vector<std::string> dns_upstreams;
};

inline constexpr char kDefaultNetworkName[] = "bridge";

// Host end of a container's veth pair: "bth" + the first 12 hex digits of its id.
std::string HostInterfaceFor(const std::string& container_id);
// Bridge of a network made through the API: "bbr" + the first 12 hex digits of its id.
std::string BridgeFor(const std::string& network_id);

class NetworkManager {
 public:
  explicit NetworkManager(NetworkOptions options);

  // Loads the networks, (re)defines the default one from the options, makes every bridge,
  // sets ip_forward. Call before serving.
  absl::Status Init();

  absl::StatusOr<v1::Network> CreateNetwork(const v1::CreateNetworkRequest& request);
  std::vector<v1::Network> ListNetworks() const;
  absl::StatusOr<v1::Network> InspectNetwork(const std::string& ref) const;
  absl::Status RemoveNetwork(const std::string& ref);

  // For a new container on network `network_ref` (empty: the default): checks and reserves
  // its ports and leases an address. The result is what Inspect will show. Undo: Release.
  absl::StatusOr<v1::NetworkSettings> Reserve(const std::string& container_id, const std::string& network_ref,
                                              const std::vector<v1::PortMapping>& ports);
  // Creates the veth pair into the netns of `init_pid` and publishes the ports.
  absl::Status Connect(const std::string& container_id, const v1::NetworkSettings& settings, int init_pid);
  // The container exited: its ports stop being published (and are free for others), and
  // its names stop resolving.
  void Unpublish(const std::string& container_id);
  // A connected (running) container answers on its network's resolver to `name`, its short
  // id and its aliases. No-op for networks without a resolver.
  void RegisterNames(const std::string& container_id, const std::string& name, const v1::NetworkSettings& settings);
  void RenameContainer(const std::string& container_id, const std::string& old_name, const std::string& new_name);
  // Whether containers of this network resolve names at its gateway (user-made networks).
  bool HasResolver(const std::string& network_id) const;
  // Everything of the container goes: veth, ports, address lease. Safe to repeat. The veth
  // is deleted in the background: the kernel takes 25-40 ms (an RCU grace period) per
  // deletion, which Remove need not wait for; its name and address are free already.
  void Release(const std::string& container_id, const v1::NetworkSettings& settings);

  // Start-up reconciliation with the containers that exist (`containers`: id -> settings;
  // `running`: those whose ports should be published): frees leases, veths and ports that
  // nothing owns, restores leases of recorded containers that a host crash lost (leases are
  // only process-crash safe; the container record is the durable copy), and rewrites the
  // firewall.
  void Reconcile(const std::map<std::string, v1::NetworkSettings>& containers, const std::vector<std::string>& running);

 private:
  struct Reservation {
    std::vector<net::PublishedPort> ports;
    bool published = false;  // only published ports are in the firewall
  };
  absl::StatusOr<std::vector<net::PublishedPort>> CheckPorts(const std::string& container_id,
                                                             const std::vector<v1::PortMapping>& ports,
                                                             net::Ipv4Address container_ip,
                                                             const std::string& bridge)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status EnsureNetworkBridge(const v1::Network& network);
  // Renders the table from the networks and published ports, and applies it.
  absl::Status SyncFirewall();

  NetworkOptions options_;
  NetworkStore store_;

  std::mutex mu_;  // guards reservations_ and serialises network create/remove
  std::map<std::string, Reservation> reservations_ ABSL_GUARDED_BY(mu_);

  std::mutex firewall_mu_;  // one libnftables transaction at a time
  absl::StatusOr<net::Firewall> firewall_ ABSL_GUARDED_BY(firewall_mu_);

  // The resolver of `network` (dns networks only); FAILED_PRECONDITION when it cannot listen.
  absl::Status StartResolver(const v1::Network& network);
  void StopResolver(const std::string& network_id);

  DnsRecords dns_records_;
  mutable std::mutex dns_mu_;
  std::map<std::string, std::unique_ptr<DnsServer>> resolvers_ ABSL_GUARDED_BY(dns_mu_);

  // Host ends of released veths, deleted after Release returns (the destructor finishes them).
  BackgroundQueue veth_reaper_;
};

}  // namespace berth::agent
