// The network side of integration tests. Every berthd a test starts lives in a "test host":
// a fresh network namespace the harness made (AgentHarness::netns_fd()), so a test never
// touches the machine's own network. This file holds what a test observes there without
// asking the agent (links, lease files, the agent's nftables table), processes run inside a
// namespace, "peer" namespaces that stand for other machines on the test host's network, and
// the static probe binary (berth-nettool) mounted into containers.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "berth/v1/containers.pb.h"
#include "runtime/base/unique_fd.h"
#include "runtime/network/rtnetlink.h"
#include "tests/integration/support/agent_harness.h"

namespace berth::testing {

// Where containers see berth-nettool (bind-mounted read-only by WithNettool).
inline constexpr char kNettool[] = "/nettool";

// A network made through the API has the bridge kNamedBridgePrefix + the first 12 hex digits
// of its id ("bbr", not Docker's "br-", so Docker's bridges are never mistaken for ours; a
// container's veth is "bth" + 12 hex of its id).
inline constexpr char kNamedBridgePrefix[] = "bbr";

// Adds the read-only bind mount of berth-nettool at /nettool to `config`.
v1::ContainerConfig WithNettool(v1::ContainerConfig config);

// The host-side path of berth-nettool (to run it in the test host or a peer).
std::string NettoolPath();

// Runs a program inside `netns_fd` (fork, setns, exec), like RunProgram.
CliResult RunProgramInNetns(int netns_fd, const std::vector<std::string>& argv, int timeout_seconds = 30,
                            const std::string& stdin_data = "");

// A published port: `protocol` "tcp" or "udp"; `host_ip` empty: every address of the node.
v1::PortMapping Port(const std::string& protocol, uint32_t host_port, uint32_t container_port,
                     const std::string& host_ip = "");

// Polls a container's log until it contains `text`; false after `timeout`.
bool WaitForLog(AgentHarness& agent, const std::string& id, const std::string& text,
                std::chrono::milliseconds timeout = std::chrono::seconds(15));

// Runs (creates and starts) `config` and waits until its log shows every line of `ready`
// (berth-nettool servers print "listening PORT" once bound).
absl::StatusOr<v1::Container> RunAndWaitForLog(AgentHarness& agent, v1::ContainerConfig config,
                                               const std::vector<std::string>& ready);

// Every link of the namespace, by Rtnl (the test's own netlink client, not the agent's).
absl::StatusOr<std::vector<net::LinkInfo>> Links(int netns_fd);
// Names of the links in `netns_fd` that start with `prefix` ("bth": container veths).
std::vector<std::string> LinkNamesWithPrefix(int netns_fd, const std::string& prefix);
// True when a link of that name exists in the namespace.
bool LinkExists(int netns_fd, const std::string& name);
// IPv4 addresses of a link ("10.88.0.1/16"); empty when it has none or is missing.
std::vector<std::string> LinkAddresses(int netns_fd, const std::string& name);

// "<network id>/<ip>" for every lease file under <root>/networks/*/leases.
std::vector<std::string> LeaseFiles(const std::string& agent_root);

// `nft list table ip <table>` of the namespace; empty when there is no such table.
absl::StatusOr<std::string> NftTable(int netns_fd, const std::string& table = "berth");
// Lines of an nft listing that are DNAT rules.
std::vector<std::string> DnatRules(const std::string& nft_listing);

// Another machine on the test host's network: its own namespace joined to the test host by a
// veth pair, "eth0" inside with 172.31.<index>.2/24, the host end "tpeer<index>" with
// 172.31.<index>.1/24, both up (and lo in the peer). Gone when this object is.
class PeerNetns {
 public:
  static absl::StatusOr<PeerNetns> Create(int host_netns_fd, int index);
  PeerNetns(PeerNetns&&) = default;
  PeerNetns& operator=(PeerNetns&&) = default;
  ~PeerNetns();

  int fd() const { return fd_.get(); }
  // The test host's address on the peer link (what the peer dials), and the peer's own.
  const std::string& host_address() const { return host_address_; }
  const std::string& address() const { return address_; }
  const std::string& host_interface() const { return host_interface_; }
  // Runs a program inside the peer namespace.
  CliResult Run(const std::vector<std::string>& argv, int timeout_seconds = 30) const;

 private:
  PeerNetns() = default;
  UniqueFd fd_;
  int host_netns_fd_ = -1;
  std::string host_address_;
  std::string address_;
  std::string host_interface_;
};

}  // namespace berth::testing
