// A small rtnetlink client (libmnl) for the link, address and route operations container
// networking needs: no `ip` processes. One Rtnl talks to the network namespace it was
// opened in, whatever namespace the calling thread is in later.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"
#include "runtime/network/ipv4.h"
#include "runtime/network/ipv6.h"

namespace berth::net {

// IFLA_STATS64: what crossed a link, as its namespace sees it.
struct LinkCounters {
  uint64_t rx_bytes = 0, rx_packets = 0, rx_errors = 0, rx_dropped = 0;
  uint64_t tx_bytes = 0, tx_packets = 0, tx_errors = 0, tx_dropped = 0;
};

struct LinkInfo {
  int index = 0;
  std::string name;
  std::string kind;        // IFLA_INFO_KIND: "bridge", "veth", "" for lo/physical
  int master_index = 0;    // 0: no master
  int mtu = 0;
  bool up = false;         // IFF_UP
  std::string mac;         // aa:bb:cc:dd:ee:ff, empty when the link has none
  LinkCounters counters;   // filled by ListLinks(/*with_counters=*/true) only
};

struct RouteInfo {
  Ipv4Prefix destination;  // 0.0.0.0/0 for the default route
  Ipv4Address gateway;     // unspecified: directly connected
  int oif_index = 0;
};

// Every error keeps the kernel's errno mapped by ErrnoStatus (EEXIST -> ALREADY_EXISTS,
// ENODEV -> NOT_FOUND, ...) and names the link or address it was about.
class Rtnl {
 public:
  // A NETLINK_ROUTE socket in the calling thread's netns, or in `netns_fd`'s (opened on a
  // helper thread through RunInNetns; the caller never changes namespace).
  static absl::StatusOr<Rtnl> Open();
  static absl::StatusOr<Rtnl> OpenIn(int netns_fd);

  Rtnl(Rtnl&&) = default;
  Rtnl& operator=(Rtnl&&) = default;

  absl::StatusOr<LinkInfo> GetLink(const std::string& name);  // NOT_FOUND when missing
  // Every link; with counters, the kernel adds each one's statistics to the dump.
  absl::StatusOr<std::vector<LinkInfo>> ListLinks(bool with_counters = false);

  // A bridge, down. ALREADY_EXISTS when a link of that name exists.
  absl::Status CreateBridge(const std::string& name);
  // A veth pair: `name` here, `peer_name` created directly inside `peer_netns_fd` (so no
  // half-moved pair can be left behind). mtu 0: kernel default.
  absl::Status CreateVethPair(const std::string& name, const std::string& peer_name, int peer_netns_fd, int mtu);
  absl::Status DeleteLink(const std::string& name);  // NOT_FOUND when missing

  absl::Status SetUp(const std::string& name);
  absl::Status SetMaster(const std::string& name, const std::string& master);
  absl::Status Rename(const std::string& name, const std::string& new_name);  // link must be down
  // Hairpin mode of a bridge port: lets a frame leave through the port it came in on, which a
  // container reaching its own published port (DNAT back to itself) needs.
  absl::Status SetHairpin(const std::string& port, bool on);
  absl::Status SetMac(const std::string& name, const std::string& mac);
  absl::Status SetMtu(const std::string& name, int mtu);

  // Adds an address; ALREADY_EXISTS if the link has it already.
  absl::Status AddAddress(const std::string& name, const Ipv4Prefix& address);
  absl::StatusOr<std::vector<Ipv4Prefix>> ListAddresses(const std::string& name);
  // An IPv6 address, usable at once: no duplicate address detection (the agent numbers its
  // networks, so no other host can hold it), and ALREADY_EXISTS if the link has it.
  absl::Status AddAddress6(const std::string& name, const Ipv6Prefix& address);

  // A route in the main table; `gateway` unspecified means a link-scope route on `dev`.
  absl::Status AddRoute(const Ipv4Prefix& destination, Ipv4Address gateway, const std::string& dev);
  absl::StatusOr<std::vector<RouteInfo>> ListRoutes();
  // The IPv6 default route via `gateway` on `dev`.
  absl::Status AddDefaultRoute6(const Ipv6Address& gateway, const std::string& dev);

 private:
  explicit Rtnl(UniqueFd fd) : fd_(std::move(fd)) {}
  // Sends one request with NLM_F_ACK and returns the kernel's error as a status.
  absl::Status Request(void* nlh, const std::string& what);
  UniqueFd fd_;
  uint32_t seq_ = 0;
  uint32_t port_id_ = 0;
};

// Writes a value under /proc/sys (e.g. "net/ipv4/ip_forward", "1"). /proc/sys/net belongs
// to the netns of the thread that opens the file: netns_fd -1 means the caller's, otherwise
// the file is opened through RunInNetns.
absl::Status WriteSysctl(const std::string& key, const std::string& value, int netns_fd = -1);

}  // namespace berth::net
