#include "runtime/network/firewall.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <nftables/libnftables.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unique_fd.h"

namespace berth::net {
namespace {

// nft refuses rule comments longer than this (NFTNL_UDATA_COMMENT_MAXLEN).
constexpr size_t kMaxCommentLength = 128;
constexpr size_t kMaxTableNameLength = 64;
constexpr size_t kMaxBridgeNameLength = 15;  // IFNAMSIZ - 1

nft_ctx* Ctx(void* p) { return static_cast<nft_ctx*>(p); }

// A comment lands inside "..." in the script: keep a plain subset and replace the rest, so
// no quote, newline or other byte can end the string early.
std::string SanitizeComment(const std::string& comment) {
  std::string out;
  for (char c : comment.substr(0, kMaxCommentLength)) {
    bool plain = absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                 std::strchr(" _.:/@+=,-", c) != nullptr;
    out.push_back(plain && c != '\0' ? c : '_');
  }
  return out;
}

std::string Quoted(const std::string& s) { return absl::StrCat("\"", s, "\""); }

// Published ports DNAT the same way in prerouting (from outside) and output (from the node),
// except that a port published on a loopback address has no rule in prerouting: a packet
// from another host that claims 127.0.0.1 as its destination is forged (moby#41872).
void AppendDnatRules(const FirewallConfig& config, bool from_outside, std::string* out) {
  for (const PublishedPort& p : config.ports) {
    if (from_outside && IsLoopback(p.host_ip)) continue;
    std::string match = p.host_ip.IsUnspecified()
                            ? std::string("fib daddr type local")
                            : absl::StrCat("ip daddr ", p.host_ip.ToString());
    absl::StrAppend(out, "\t\t", match, " ", p.protocol, " dport ", p.host_port, " dnat to ",
                    p.container_ip.ToString(), ":", p.container_port);
    std::string comment = SanitizeComment(p.comment);
    if (!comment.empty()) absl::StrAppend(out, " comment ", Quoted(comment));
    out->push_back('\n');
  }
}

bool IsTableName(const std::string& name) {
  if (name.empty() || name.size() > kMaxTableNameLength) return false;
  if (!absl::ascii_isalpha(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

bool IsBridgeName(const std::string& name) {
  if (name.empty() || name.size() > kMaxBridgeNameLength) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

absl::Status CheckTableName(const std::string& table) {
  if (IsTableName(table)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "table: \"", absl::CEscape(table), "\" is not a letter followed by up to ",
      kMaxTableNameLength - 1, " letters, digits or '_'"));
}

// Checks everything RenderFirewall trusts, so a rendered script is always well-formed.
absl::Status Validate(const FirewallConfig& config) {
  RETURN_IF_ERROR(CheckTableName(config.table));
  std::set<std::string> bridges;
  for (size_t i = 0; i < config.networks.size(); ++i) {
    const BridgeNetwork& n = config.networks[i];
    std::string field = absl::StrCat("networks[", i, "]");
    if (!IsBridgeName(n.bridge)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".bridge: \"", absl::CEscape(n.bridge), "\" is not 1 to ",
                       kMaxBridgeNameLength, " of [A-Za-z0-9_.-]"));
    }
    if (!bridges.insert(n.bridge).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".bridge: ", n.bridge, " is listed twice"));
    }
    if (n.subnet.length < 1 || n.subnet.length > 32) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".subnet: prefix length ", n.subnet.length, " is not 1..32"));
    }
    if (n.subnet6.length != 0 && (n.subnet6.length > 128 || n.subnet6.Network() != n.subnet6)) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".subnet6: ", n.subnet6.ToString(),
                                                     " is not a network prefix of length 1..128"));
    }
    if (n.subnet.Network() != n.subnet) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".subnet: ", n.subnet.ToString(),
                                                     " has host bits set (the network is ",
                                                     n.subnet.Network().ToString(), ")"));
    }
  }
  for (size_t i = 0; i < config.ports.size(); ++i) {
    const PublishedPort& p = config.ports[i];
    std::string field = absl::StrCat("ports[", i, "]");
    if (p.protocol != "tcp" && p.protocol != "udp") {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".protocol: \"", absl::CEscape(p.protocol), "\" is not tcp or udp"));
    }
    if (p.host_port == 0) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".host_port: 0 is not 1..65535"));
    }
    if (p.container_port == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".container_port: 0 is not 1..65535"));
    }
    if (p.container_ip.IsUnspecified()) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".container_ip: unspecified"));
    }
    if (IsLoopback(p.host_ip) && !IsBridgeName(p.bridge)) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".bridge: \"", absl::CEscape(p.bridge),
                                                     "\" is not a device name (needed for a loopback port)"));
    }
    // A second rule for the same host address and port would never match: refuse it
    // rather than publish a port that silently goes to the other container.
    for (size_t j = 0; j < i; ++j) {
      const PublishedPort& q = config.ports[j];
      bool same_address = p.host_ip == q.host_ip || p.host_ip.IsUnspecified() ||
                          q.host_ip.IsUnspecified();
      if (p.protocol == q.protocol && p.host_port == q.host_port && same_address) {
        return absl::InvalidArgumentError(absl::StrCat(
            field, ": ", p.protocol, " port ", p.host_port, " on ",
            p.host_ip.IsUnspecified() ? "all addresses" : p.host_ip.ToString(),
            " is already published by ports[", j, "]"));
      }
    }
  }
  return absl::OkStatus();
}

// libnftables prints errors as "Error: ..." lines, each followed by the offending input
// and a caret line; the "Error:" lines alone make a one-line status message.
std::string ErrorSummary(const std::string& text) {
  std::vector<std::string> errors;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumePrefix(&line, "netlink: ");
    if (absl::ConsumePrefix(&line, "Error: ")) errors.emplace_back(line);
  }
  if (errors.empty()) {
    std::string trimmed(absl::StripAsciiWhitespace(text));
    return trimmed.empty() ? "failed without a message" : trimmed;
  }
  // A syntax error makes the parser report a cascade; the first one is the cause.
  if (errors.size() == 1) return errors[0];
  return absl::StrCat(errors[0], " (and ", errors.size() - 1, " more)");
}

// The parser and evaluator reject a script before anything is sent: INVALID_ARGUMENT. Errors
// from the kernel (nft says "Could not process rule: <strerror>") or from the netlink socket
// ("netlink: Error: ...") keep their errno's meaning where it matters to a caller.
absl::Status NftError(const std::string& text, int err) {
  std::string message = absl::StrCat("nft: ", ErrorSummary(text));
  bool from_kernel = absl::StrContains(text, "Could not process rule:") ||
                     absl::StrContains(text, "netlink: ");
  if (!from_kernel) return absl::InvalidArgumentError(message);
  // errno after the call is only trustworthy when nft printed that same error.
  if (err != 0 && !absl::StrContains(text, std::strerror(err))) err = 0;
  switch (err) {
    case EPERM:
    case EACCES:
      return absl::PermissionDeniedError(message);
    case EAGAIN:
    case EINTR:
    case EBUSY:
    case ENOBUFS:
    case ENOMEM:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

// libnftables opens its netlink socket without SOCK_CLOEXEC; a process forked by the agent
// must not inherit a handle on the node's firewall. Marking every netfilter netlink socket
// is harmless for the others (they should be close-on-exec anyway).
void MarkNetfilterSocketsCloexec() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return;
  while (dirent* entry = ::readdir(dir)) {
    char* end = nullptr;
    long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == ::dirfd(dir)) continue;
    int flags = ::fcntl(static_cast<int>(fd), F_GETFD);
    if (flags < 0 || (flags & FD_CLOEXEC) != 0) continue;
    int domain = 0, protocol = 0;
    socklen_t len = sizeof(domain);
    if (::getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 ||
        domain != AF_NETLINK) {
      continue;
    }
    len = sizeof(protocol);
    if (::getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_PROTOCOL, &protocol, &len) != 0 ||
        protocol != NETLINK_NETFILTER) {
      continue;
    }
    ::fcntl(static_cast<int>(fd), F_SETFD, flags | FD_CLOEXEC);
  }
  ::closedir(dir);
}

bool HasIpv6(const FirewallConfig& config) {
  for (const BridgeNetwork& n : config.networks) {
    if (n.subnet6.length != 0) return true;
  }
  return false;
}

// Containers of one bridge never reach those of another (either family).
void AppendForwardChain(const FirewallConfig& config, std::string* out) {
  absl::StrAppend(out, "\tchain forward {\n", "\t\ttype filter hook forward priority filter; policy accept;\n");
  for (const BridgeNetwork& n : config.networks) {
    std::vector<std::string> others;
    for (const BridgeNetwork& other : config.networks) {
      if (other.bridge != n.bridge) others.push_back(Quoted(other.bridge));
    }
    if (others.empty()) continue;
    std::string to = others.size() == 1 ? others[0] : absl::StrCat("{ ", absl::StrJoin(others, ", "), " }");
    absl::StrAppend(out, "\t\tiifname ", Quoted(n.bridge), " oifname ", to, " drop\n");
  }
  absl::StrAppend(out, "\t}\n");
}

std::string NotMasqueradedSet(const FirewallConfig& config);

// The ip6 table: published ports on every address also answer over IPv6 (there is no
// route_localnet for ::1, so nothing is published on it), hairpin, outbound NAT, isolation.
std::string RenderIpv6Table(const FirewallConfig& config) {
  std::string out = absl::StrCat("table ip6 ", config.table, " {\n");
  absl::StrAppend(&out, "\tchain raw_prerouting {\n",
                  "\t\ttype filter hook prerouting priority raw; policy accept;\n",
                  "\t\tiifname != \"lo\" ip6 daddr ::1 drop\n", "\t}\n\n");
  std::string dnat;
  for (const PublishedPort& p : config.ports) {
    if (!p.host_ip.IsUnspecified() || p.container_ip6.IsUnspecified()) continue;
    absl::StrAppend(&dnat, "\t\tfib daddr type local ", p.protocol, " dport ", p.host_port, " dnat to [",
                    p.container_ip6.ToString(), "]:", p.container_port);
    std::string comment = SanitizeComment(p.comment);
    if (!comment.empty()) absl::StrAppend(&dnat, " comment ", Quoted(comment));
    dnat.push_back('\n');
  }
  absl::StrAppend(&out, "\tchain prerouting {\n",
                  "\t\ttype nat hook prerouting priority dstnat; policy accept;\n", dnat, "\t}\n\n");
  absl::StrAppend(&out, "\tchain output {\n", "\t\ttype nat hook output priority -100; policy accept;\n", dnat,
                  "\t}\n\n");
  absl::StrAppend(&out, "\tchain postrouting {\n",
                  "\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
  for (const BridgeNetwork& n : config.networks) {
    if (n.subnet6.length == 0) continue;
    std::string subnet = n.subnet6.ToString();
    absl::StrAppend(&out, "\t\toifname ", Quoted(n.bridge), " ct status dnat ip6 saddr ", subnet, " masquerade\n");
    if (n.masquerade) {
      absl::StrAppend(&out, "\t\tip6 saddr ", subnet, " oifname != ", NotMasqueradedSet(config), " masquerade\n");
    }
  }
  absl::StrAppend(&out, "\t}\n\n");
  AppendForwardChain(config, &out);
  absl::StrAppend(&out, "}\n");
  return out;
}

// What outbound NAT never applies to: the container bridges, and "lo" (the node talking to
// itself from a gateway address, which would otherwise be rewritten to another address).
std::string NotMasqueradedSet(const FirewallConfig& config) {
  std::vector<std::string> names = {Quoted("lo")};
  for (const BridgeNetwork& n : config.networks) names.push_back(Quoted(n.bridge));
  return absl::StrCat("{ ", absl::StrJoin(names, ", "), " }");
}

}  // namespace

bool IsLoopback(Ipv4Address a) { return (a.value >> 24) == 127; }

std::string RenderFirewall(const FirewallConfig& config) {
  const std::string& t = config.table;
  // "add" then "delete" makes the delete valid whether or not the table exists, and the
  // whole buffer is one transaction: the kernel swaps old for new or keeps the old.
  std::string out = absl::StrCat("add table ip ", t, "\ndelete table ip ", t, "\nadd table ip6 ", t,
                                 "\ndelete table ip6 ", t, "\n");
  absl::StrAppend(&out, "table ip ", t, " {\n");

  // Before conntrack and NAT: what no other host may send at all.
  absl::StrAppend(&out, "\tchain raw_prerouting {\n",
                  "\t\ttype filter hook prerouting priority raw; policy accept;\n");
  // The bridges have route_localnet (for the node's own 127.0.0.1 connections to published
  // ports, whose replies come back through them), so forged packets to the node's loopback
  // services would otherwise be delivered. Replies are still addressed to the bridge here.
  absl::StrAppend(&out, "\t\tiifname != \"lo\" ip daddr 127.0.0.0/8 drop\n");
  // Ports published on 127.0.0.1 stay unreachable through a route to the container's
  // address (moby#45610); other containers of its bridge still reach it.
  for (const PublishedPort& p : config.ports) {
    if (!IsLoopback(p.host_ip)) continue;
    absl::StrAppend(&out, "\t\tiifname != ", Quoted(p.bridge), " ip daddr ", p.container_ip.ToString(), " ",
                    p.protocol, " dport ", p.container_port, " drop\n");
  }
  absl::StrAppend(&out, "\t}\n\n");

  absl::StrAppend(&out, "\tchain prerouting {\n",
                  "\t\ttype nat hook prerouting priority dstnat; policy accept;\n");
  AppendDnatRules(config, /*from_outside=*/true, &out);
  absl::StrAppend(&out, "\t}\n\n");

  // Connections made by the node itself, including to 127.0.0.1, never pass prerouting.
  absl::StrAppend(&out, "\tchain output {\n",
                  "\t\ttype nat hook output priority -100; policy accept;\n");
  AppendDnatRules(config, /*from_outside=*/false, &out);
  absl::StrAppend(&out, "\t}\n\n");

  absl::StrAppend(&out, "\tchain postrouting {\n",
                  "\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
  for (const BridgeNetwork& n : config.networks) {
    std::string bridge = Quoted(n.bridge);
    std::string subnet = n.subnet.ToString();
    // Hairpin: a container reaching a published port of its own bridge must see replies
    // come back through the node, not straight from the peer.
    absl::StrAppend(&out, "\t\toifname ", bridge, " ct status dnat ip saddr ", subnet,
                    " masquerade\n");
    // The node's own 127.0.0.1 connections, DNATed in output (route_localnet on the bridge).
    absl::StrAppend(&out, "\t\toifname ", bridge, " ip saddr 127.0.0.0/8 masquerade\n");
    // Never between container networks: those are isolated in forward, and a masqueraded
    // source would hide which container spoke.
    if (n.masquerade) {
      absl::StrAppend(&out, "\t\tip saddr ", subnet, " oifname != ", NotMasqueradedSet(config), " masquerade\n");
    }
  }
  absl::StrAppend(&out, "\t}\n\n");

  AppendForwardChain(config, &out);
  absl::StrAppend(&out, "}\n");
  if (HasIpv6(config)) absl::StrAppend(&out, RenderIpv6Table(config));
  return out;
}

absl::StatusOr<Firewall> Firewall::Create() {
  // nft_ctx_new exits the process when it cannot open its netlink socket; find out first.
  UniqueFd probe(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER));
  if (!probe) return ErrnoToStatus("open a netfilter netlink socket");
  probe.Reset();

  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (ctx == nullptr) return absl::InternalError("nft_ctx_new failed");
  MarkNetfilterSocketsCloexec();
  if (nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0) {
    nft_ctx_free(ctx);
    return absl::InternalError("nft: cannot buffer output");
  }
  return Firewall(ctx);
}

Firewall::Firewall(Firewall&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}

Firewall& Firewall::operator=(Firewall&& other) noexcept {
  if (this != &other) {
    if (ctx_ != nullptr) nft_ctx_free(Ctx(ctx_));
    ctx_ = std::exchange(other.ctx_, nullptr);
  }
  return *this;
}

Firewall::~Firewall() {
  if (ctx_ != nullptr) nft_ctx_free(Ctx(ctx_));
}

absl::Status Firewall::Apply(const FirewallConfig& config) {
  RETURN_IF_ERROR(Validate(config));
  return Annotate(Run(RenderFirewall(config), nullptr),
                  absl::StrCat("replace nftables table ip ", config.table));
}

absl::Status Firewall::Delete(const std::string& table) {
  RETURN_IF_ERROR(CheckTableName(table));
  return Annotate(
      Run(absl::StrCat("add table ip ", table, "\ndelete table ip ", table, "\nadd table ip6 ", table,
                       "\ndelete table ip6 ", table, "\n"),
          nullptr),
      absl::StrCat("delete nftables table ", table));
}

absl::StatusOr<std::string> Firewall::List(const std::string& table, const std::string& family) {
  RETURN_IF_ERROR(CheckTableName(table));
  if (family != "ip" && family != "ip6") {
    return absl::InvalidArgumentError(absl::StrCat("family ", Quoted(family), " is not ip or ip6"));
  }
  // Listing an absent table is an error whose text is all nft gives; ask which tables
  // exist instead of parsing it.
  std::string tables;
  RETURN_IF_ERROR(Annotate(Run(absl::StrCat("list tables ", family), &tables), "list nftables tables"));
  bool present = false;
  for (absl::string_view line : absl::StrSplit(tables, '\n')) {
    if (absl::StripAsciiWhitespace(line) == absl::StrCat("table ", family, " ", table)) present = true;
  }
  if (!present) return std::string();
  std::string listing;
  RETURN_IF_ERROR(Annotate(Run(absl::StrCat("list table ", family, " ", table), &listing),
                           absl::StrCat("list nftables table ", family, " ", table)));
  return listing;
}

absl::Status Firewall::Run(const std::string& script, std::string* output) {
  if (ctx_ == nullptr) return absl::FailedPreconditionError("nft: firewall was moved from");
  errno = 0;
  int rc = nft_run_cmd_from_buffer(Ctx(ctx_), script.c_str());
  int err = errno;
  // Reading a buffer also empties it for the next call: always read both.
  std::string out = nft_ctx_get_output_buffer(Ctx(ctx_));
  std::string errors = nft_ctx_get_error_buffer(Ctx(ctx_));
  if (rc != 0) return NftError(errors, err);
  if (output != nullptr) *output = std::move(out);
  return absl::OkStatus();
}

}  // namespace berth::net
