#include "agent/etc_files.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "runtime/base/quote.h"
#include "runtime/network/ipv4.h"

namespace berth::agent {

bool ValidHostname(absl::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_')) return false;
  }
  return true;
}

absl::StatusOr<std::vector<HostsEntry>> ParseExtraHosts(const std::vector<std::string>& extra_hosts) {
  std::vector<HostsEntry> out;
  for (size_t i = 0; i < extra_hosts.size(); ++i) {
    const std::string& line = extra_hosts[i];
    size_t colon = line.find(':');
    std::string field = absl::StrCat("extra_hosts[", i, "]");
    if (colon == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(field, " must be name:ip, got \"", line, "\""));
    }
    std::string name = line.substr(0, colon);
    std::string ip = line.substr(colon + 1);
    if (!ValidHostname(name)) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": \"", name, "\" is not a valid host name"));
    }
    if (auto a = net::ParseIpv4(ip, field); !a.ok()) return a.status();
    out.push_back({ip, name});
  }
  return out;
}

std::string RenderHosts(const HostsEntry& own, const std::vector<HostsEntry>& extra) {
  std::string out =
      "127.0.0.1\tlocalhost\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\n"
      "ff00::0\tip6-mcastprefix\n"
      "ff02::1\tip6-allnodes\n"
      "ff02::2\tip6-allrouters\n";
  if (!own.address.empty()) absl::StrAppend(&out, own.address, "\t", own.names, "\n");
  for (const auto& e : extra) absl::StrAppend(&out, e.address, "\t", e.names, "\n");
  return out;
}

absl::StatusOr<std::string> RenderResolvConf(const std::vector<std::string>& dns,
                                             const std::vector<std::string>& dns_search,
                                             const std::string& node_resolv,
                                             const std::vector<std::string>& dns_options) {
  std::vector<std::string> servers, search, options;
  for (size_t i = 0; i < dns_options.size(); ++i) {
    const std::string& o = dns_options[i];
    bool ok = !o.empty() && o.size() <= 64;
    for (char ch : o) ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(ch)) || ch == ':' || ch == '.' || ch == '_' || ch == '-');
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("dns_options[", i, "]: ", Quoted(o), " is not a resolver option (like ndots:5 or edns0)"));
    }
  }
  for (size_t i = 0; i < dns.size(); ++i) {
    auto a = net::ParseIpv4(dns[i], absl::StrCat("dns[", i, "]"));
    if (!a.ok()) return a.status();
    servers.push_back(a->ToString());
  }
  for (size_t i = 0; i < dns_search.size(); ++i) {
    if (!ValidHostname(dns_search[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("dns_search[", i, "]: \"", dns_search[i], "\" is not a valid domain"));
    }
    search.push_back(dns_search[i]);
  }
  // What the node uses, for whatever the container and the agent left unset.
  std::vector<std::string> node_servers, node_search;
  for (absl::string_view raw : absl::StrSplit(node_resolv, '\n')) {
    std::vector<absl::string_view> words = absl::StrSplit(raw, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (words.size() < 2) continue;
    if (words[0] == "nameserver") {
      auto a = net::ParseIpv4(words[1]);
      // Loopback resolvers (systemd-resolved, dnsmasq) live in the node's namespace only.
      if (a.ok() && (a->value >> 24) != 127) node_servers.push_back(a->ToString());
    } else if (words[0] == "search" || words[0] == "domain") {
      node_search.clear();
      for (size_t i = 1; i < words.size(); ++i) node_search.emplace_back(words[i]);
    } else if (words[0] == "options") {
      options.clear();
      for (size_t i = 1; i < words.size(); ++i) options.emplace_back(words[i]);
    }
  }
  if (servers.empty()) servers = node_servers;
  if (search.empty()) search = node_search;
  if (!dns_options.empty()) options = dns_options;
  std::string out;
  for (const auto& s : servers) absl::StrAppend(&out, "nameserver ", s, "\n");
  if (!search.empty()) absl::StrAppend(&out, "search ", absl::StrJoin(search, " "), "\n");
  if (!options.empty()) absl::StrAppend(&out, "options ", absl::StrJoin(options, " "), "\n");
  return out;
}

std::vector<std::string> IPv4Nameservers(const std::string& resolv_conf) {
  std::vector<std::string> out;
  for (absl::string_view raw : absl::StrSplit(resolv_conf, '\n')) {
    std::vector<absl::string_view> words = absl::StrSplit(raw, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (words.size() < 2 || words[0] != "nameserver") continue;
    if (auto a = net::ParseIpv4(words[1]); a.ok()) out.push_back(a->ToString());
  }
  return out;
}

}  // namespace berth::agent
