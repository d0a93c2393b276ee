#include "tests/integration/support/network_support.h"

#include <unistd.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/base/file_util.h"
#include "runtime/network/firewall.h"
#include "runtime/network/ipv4.h"
#include "runtime/network/netns.h"

namespace berth::testing {

v1::ContainerConfig WithNettool(v1::ContainerConfig config) {
  v1::Mount* m = config.add_mounts();
  m->set_source(BERTH_NETTOOL_PATH);
  m->set_destination(kNettool);
  m->set_read_only(true);
  return config;
}

std::string NettoolPath() { return BERTH_NETTOOL_PATH; }

v1::PortMapping Port(const std::string& protocol, uint32_t host_port, uint32_t container_port,
                     const std::string& host_ip) {
  v1::PortMapping p;
  p.set_protocol(protocol);
  p.set_host_port(host_port);
  p.set_container_port(container_port);
  p.set_host_ip(host_ip);
  return p;
}

bool WaitForLog(AgentHarness& agent, const std::string& id, const std::string& text,
                std::chrono::milliseconds timeout) {
  return Eventually(
      [&] {
        absl::StatusOr<std::string> logs = agent.Logs(id);
        return logs.ok() && absl::StrContains(*logs, text);
      },
      timeout);
}

absl::StatusOr<v1::Container> RunAndWaitForLog(AgentHarness& agent, v1::ContainerConfig config,
                                               const std::vector<std::string>& ready) {
  absl::StatusOr<v1::Container> c = agent.Run(std::move(config));
  if (!c.ok()) return c;
  for (const std::string& line : ready) {
    if (!WaitForLog(agent, c->id(), line)) {
      absl::StatusOr<std::string> logs = agent.Logs(c->id());
      return absl::DeadlineExceededError(absl::StrCat("container ", c->name(), " never logged \"", line,
                                                      "\"; its log: ", logs.ok() ? *logs : logs.status().ToString()));
    }
  }
  return agent.Inspect(c->id());
}

CliResult RunProgramInNetns(int netns_fd, const std::vector<std::string>& argv, int timeout_seconds,
                            const std::string& stdin_data) {
  return RunProgram(argv, stdin_data, timeout_seconds, {}, netns_fd);
}

absl::StatusOr<std::vector<net::LinkInfo>> Links(int netns_fd) {
  absl::StatusOr<net::Rtnl> rtnl = net::Rtnl::OpenIn(netns_fd);
  if (!rtnl.ok()) return rtnl.status();
  return rtnl->ListLinks();
}

std::vector<std::string> LinkNamesWithPrefix(int netns_fd, const std::string& prefix) {
  std::vector<std::string> out;
  absl::StatusOr<std::vector<net::LinkInfo>> links = Links(netns_fd);
  if (!links.ok()) {
    // Unknown is not "none": say so in the name list, so a check on it fails loudly.
    out.push_back(absl::StrCat("<cannot list links: ", links.status().ToString(), ">"));
    return out;
  }
  for (const net::LinkInfo& l : *links) {
    if (absl::StartsWith(l.name, prefix)) out.push_back(l.name);
  }
  return out;
}

bool LinkExists(int netns_fd, const std::string& name) {
  absl::StatusOr<net::Rtnl> rtnl = net::Rtnl::OpenIn(netns_fd);
  return rtnl.ok() && rtnl->GetLink(name).ok();
}

std::vector<std::string> LinkAddresses(int netns_fd, const std::string& name) {
  std::vector<std::string> out;
  absl::StatusOr<net::Rtnl> rtnl = net::Rtnl::OpenIn(netns_fd);
  if (!rtnl.ok()) return out;
  absl::StatusOr<std::vector<net::Ipv4Prefix>> addrs = rtnl->ListAddresses(name);
  if (!addrs.ok()) return out;
  for (const net::Ipv4Prefix& p : *addrs) out.push_back(p.ToString());
  return out;
}

std::vector<std::string> LeaseFiles(const std::string& agent_root) {
  std::vector<std::string> out;
  const std::string networks = agent_root + "/networks";
  for (const std::string& net : ListDirectory(networks)) {
    for (const std::string& lease : ListDirectory(absl::StrCat(networks, "/", net, "/leases"))) {
      out.push_back(absl::StrCat(net, "/", lease));
    }
  }
  return out;
}

absl::StatusOr<std::string> NftTable(int netns_fd, const std::string& table) {
  std::string listing;
  absl::Status st = net::RunInNetns(netns_fd, [&]() -> absl::Status {
    absl::StatusOr<net::Firewall> fw = net::Firewall::Create();
    if (!fw.ok()) return fw.status();
    absl::StatusOr<std::string> out = fw->List(table);
    if (!out.ok()) return out.status();
    listing = std::move(*out);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return listing;
}

std::vector<std::string> DnatRules(const std::string& nft_listing) {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(nft_listing, '\n', absl::SkipEmpty())) {
    if (absl::StrContains(line, " dnat to ")) out.emplace_back(line);
  }
  return out;
}

absl::StatusOr<PeerNetns> PeerNetns::Create(int host_netns_fd, int index) {
  PeerNetns peer;
  absl::StatusOr<UniqueFd> fd = net::CreateNetns();
  if (!fd.ok()) return fd.status();
  peer.fd_ = std::move(*fd);
  peer.host_netns_fd_ = host_netns_fd;
  peer.host_interface_ = absl::StrCat("tpeer", index);
  peer.host_address_ = absl::StrCat("172.31.", index, ".1");
  peer.address_ = absl::StrCat("172.31.", index, ".2");
  absl::StatusOr<net::Rtnl> host = net::Rtnl::OpenIn(host_netns_fd);
  if (!host.ok()) return host.status();
  absl::StatusOr<net::Rtnl> inside = net::Rtnl::OpenIn(peer.fd_.get());
  if (!inside.ok()) return inside.status();
  absl::Status st = host->CreateVethPair(peer.host_interface_, "eth0", peer.fd_.get(), 0);
  if (!st.ok()) return st;
  absl::StatusOr<net::Ipv4Prefix> host_addr = net::ParseIpv4Prefix(peer.host_address_ + "/24");
  absl::StatusOr<net::Ipv4Prefix> peer_addr = net::ParseIpv4Prefix(peer.address_ + "/24");
  if (!host_addr.ok()) return host_addr.status();
  if (!peer_addr.ok()) return peer_addr.status();
  if (st = host->AddAddress(peer.host_interface_, *host_addr); !st.ok()) return st;
  if (st = host->SetUp(peer.host_interface_); !st.ok()) return st;
  if (st = inside->AddAddress("eth0", *peer_addr); !st.ok()) return st;
  if (st = inside->SetUp("eth0"); !st.ok()) return st;
  if (st = inside->SetUp("lo"); !st.ok()) return st;
  return peer;
}

PeerNetns::~PeerNetns() {
  // The pair goes with the peer namespace once its fd is closed; deleting the host end
  // first makes that immediate rather than whenever the kernel reaps the namespace.
  if (!fd_.valid() || host_netns_fd_ < 0) return;
  absl::StatusOr<net::Rtnl> host = net::Rtnl::OpenIn(host_netns_fd_);
  if (host.ok()) (void)host->DeleteLink(host_interface_);
}

CliResult PeerNetns::Run(const std::vector<std::string>& argv, int timeout_seconds) const {
  return RunProgramInNetns(fd_.get(), argv, timeout_seconds);
}

}  // namespace berth::testing
