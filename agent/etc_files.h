// The three files every container gets in /etc, written into its state dir and bind-mounted:
// hosts (localhost, its own name and address, --add-host entries), hostname, resolv.conf.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::agent {

struct HostsEntry {
  std::string address;
  std::string names;  // space-separated
};

// Checks "name:ip" lines (extra_hosts); INVALID_ARGUMENT naming the bad one.
// 1 to 253 of letters, digits, '-', '.' and '_' (names in /etc/hosts, search domains, aliases).
bool ValidHostname(absl::string_view name);

absl::StatusOr<std::vector<HostsEntry>> ParseExtraHosts(const std::vector<std::string>& extra_hosts);

// `own` is the container's address line (empty address: none, as for "none" mode).
std::string RenderHosts(const HostsEntry& own, const std::vector<HostsEntry>& extra);

// Nameservers and search domains: the container's when given, else the agent's, else those
// of the node's /etc/resolv.conf (`node_resolv`), minus loopback nameservers, which cannot
// answer from inside another network namespace. No nameserver at all is valid.
// INVALID_ARGUMENT for a nameserver that is not an IPv4 address.
// `dns_options` replace the node's "options" when given (INVALID_ARGUMENT for one that is
// not a single word of letters, digits, ':', '.', '_' or '-').
absl::StatusOr<std::string> RenderResolvConf(const std::vector<std::string>& dns,
                                             const std::vector<std::string>& dns_search,
                                             const std::string& node_resolv,
                                             const std::vector<std::string>& dns_options = {});

// The IPv4 `nameserver` lines of a resolv.conf, loopback ones included (for the agent itself,
// which runs in the node's network namespace).
std::vector<std::string> IPv4Nameservers(const std::string& resolv_conf);

}  // namespace berth::agent
