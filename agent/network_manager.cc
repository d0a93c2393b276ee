#include "agent/network_manager.h"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>
#include <sys/random.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "agent/ids.h"
#include "agent/logging.h"
#include "runtime/base/quote.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/crash_point.h"
#include "runtime/base/errno_status.h"
#include "runtime/network/container_link.h"
#include "runtime/network/netns.h"
#include "runtime/network/rtnetlink.h"

namespace berth::agent {

namespace {

constexpr char kVethPrefix[] = "bth";
constexpr char kBridgePrefix[] = "bbr";

absl::Status ValidateNetworkName(const std::string& name) {
  auto alnum = [](char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); };
  bool ok = !name.empty() && name.size() <= 64 && alnum(name[0]);
  for (size_t i = 1; ok && i < name.size(); ++i) ok = alnum(name[i]) || name[i] == '_' || name[i] == '.' || name[i] == '-';
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("network name \"", name, "\" must be 1 to 64 of [a-zA-Z0-9_.-], starting with a letter or digit"));
  }
  if (name == kDefaultNetworkName || name == "none" || name == "host") {
    return absl::InvalidArgumentError(absl::StrCat("network name \"", name, "\" is reserved"));
  }
  return absl::OkStatus();
}

// Two mappings clash when they take the same protocol and port on a common address.
bool Clash(const net::PublishedPort& a, const net::PublishedPort& b) {
  return a.protocol == b.protocol && a.host_port == b.host_port &&
         (a.host_ip.IsUnspecified() || b.host_ip.IsUnspecified() || a.host_ip == b.host_ip);
}

// Driver options of Networks.Create, with Docker's long names as aliases.
absl::StatusOr<bool> MasqueradeOption(const google::protobuf::Map<std::string, std::string>& options) {
  bool masquerade = true;  // Docker's default for every bridge network
  for (const auto& [key, value] : options) {
    if (key != "masquerade" && key != "com.docker.network.bridge.enable_ip_masquerade") {
      return absl::InvalidArgumentError(absl::StrCat("network option ", Quoted(key),
                                                     " is unknown; the bridge driver knows \"masquerade\""));
    }
    std::string v = absl::AsciiStrToLower(value);
    if (v == "true" || v == "1" || v == "yes") {
      masquerade = true;
    } else if (v == "false" || v == "0" || v == "no") {
      masquerade = false;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("network option ", Quoted(key), " = ", Quoted(value),
                                                     " must be true or false"));
    }
  }
  return masquerade;
}

// A random ULA /64 (RFC 4193: fd + a 40-bit global id, subnet 0) no network holds yet.
absl::StatusOr<net::Ipv6Prefix> FreeUlaSubnet(const std::vector<net::Ipv6Prefix>& taken) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    net::Ipv6Prefix p;
    p.length = 64;
    p.address.bytes[0] = 0xfd;
    if (::getrandom(&p.address.bytes[1], 5, 0) != 5) return ErrnoToStatus("getrandom for an IPv6 ULA prefix");
    if (std::none_of(taken.begin(), taken.end(), [&](const net::Ipv6Prefix& t) { return t.Overlaps(p); })) return p;
  }
  return absl::ResourceExhaustedError("no free IPv6 ULA /64 found; give --subnet fdXX:...::/64");
}

// The v6 side of a network whose v4 subnet and gateway are chosen: its prefix must leave room
// for every v4 host offset, and its gateway must be an offset no container can get.
absl::Status PlanIpv6(const std::string& subnet_text, const std::string& gateway_text, const net::Ipv4Prefix& subnet4,
                      net::Ipv4Address gateway4, const std::vector<std::pair<std::string, net::Ipv6Prefix>>& taken,
                      v1::Network* network) {
  net::Ipv6Prefix subnet;
  if (!subnet_text.empty()) {
    ASSIGN_OR_RETURN(subnet, net::ParseIpv6Prefix(subnet_text, "ipv6_subnet"));
    if (subnet.Network() != subnet) {
      return absl::InvalidArgumentError(absl::StrCat("ipv6_subnet ", Quoted(subnet_text), " has host bits set; did you mean ",
                                                     subnet.Network().ToString(), "?"));
    }
    const int host_bits4 = 32 - subnet4.length;
    if (subnet.length > 128 - host_bits4) {
      return absl::InvalidArgumentError(absl::StrCat("ipv6_subnet ", Quoted(subnet_text), ": a /", subnet.length,
                                                     " is too small for the ", subnet4.ToString(),
                                                     " addresses; use a prefix of at most /", 128 - host_bits4,
                                                     " (a /64 is usual)"));
    }
    for (const auto& [name, s] : taken) {
      if (s.Overlaps(subnet)) {
        return absl::FailedPreconditionError(
            absl::StrCat("ipv6_subnet ", subnet.ToString(), " overlaps network ", name, " (", s.ToString(), ")"));
      }
    }
  } else {
    std::vector<net::Ipv6Prefix> prefixes;
    for (const auto& t : taken) prefixes.push_back(t.second);
    ASSIGN_OR_RETURN(subnet, FreeUlaSubnet(prefixes));
  }
  const uint64_t gateway4_offset = gateway4.value - subnet4.address.value;
  net::Ipv6Address gateway = subnet.address.Plus(gateway4_offset);
  if (!gateway_text.empty()) {
    ASSIGN_OR_RETURN(gateway, net::ParseIpv6(gateway_text, "ipv6_gateway"));
    uint64_t offset = 0;
    if (!subnet.HostOffset(gateway, &offset) || offset == 0) {
      return absl::InvalidArgumentError(absl::StrCat("ipv6_gateway ", Quoted(gateway_text), " must be a host address of ",
                                                     subnet.ToString()));
    }
    if (offset != gateway4_offset && offset < subnet4.Size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ipv6_gateway ", Quoted(gateway_text), " may be given to a container (v6 addresses follow the v4 ones); use ",
          subnet.address.Plus(gateway4_offset).ToString(), " or an address beyond ",
          subnet.address.Plus(subnet4.Size() - 1).ToString()));
    }
  }
  network->set_ipv6(true);
  network->set_ipv6_subnet(subnet.ToString());
  network->set_ipv6_gateway(gateway.ToString());
  return absl::OkStatus();
}

std::vector<std::pair<std::string, net::Ipv6Prefix>> TakenIpv6(const std::vector<v1::Network>& networks,
                                                                const std::string& except_id) {
  std::vector<std::pair<std::string, net::Ipv6Prefix>> taken;
  for (const v1::Network& n : networks) {
    if (n.id() == except_id || n.ipv6_subnet().empty()) continue;
    if (auto s = net::ParseIpv6Prefix(n.ipv6_subnet()); s.ok()) taken.push_back({n.name(), *s});
  }
  return taken;
}

std::string Describe(const net::PublishedPort& p) {
  return absl::StrCat(p.host_ip.IsUnspecified() ? "0.0.0.0" : p.host_ip.ToString(), ":", p.host_port, "/",
                      p.protocol);
}

}  // namespace

std::string HostInterfaceFor(const std::string& container_id) {
  return absl::StrCat(kVethPrefix, container_id.substr(0, 12));
}
std::string BridgeFor(const std::string& network_id) { return absl::StrCat(kBridgePrefix, network_id.substr(0, 12)); }

NetworkManager::NetworkManager(NetworkOptions options)
    : options_(std::move(options)),
      store_(options_.root + "/networks"),
      firewall_(absl::UnavailableError("firewall not initialised")),
      veth_reaper_([](const std::string& name) {
        // NOT_FOUND is the common case: the veth went with the container's netns already.
        if (absl::Status st = net::DetachContainer(name); !st.ok()) {
          spdlog::warn("delete veth name={} error=\"{}\"", name, st.message());
        }
      }) {}

absl::Status NetworkManager::EnsureNetworkBridge(const v1::Network& network) {
  auto subnet = net::ParseIpv4Prefix(network.subnet());
  auto gateway = net::ParseIpv4(network.gateway());
  if (!subnet.ok()) return subnet.status();
  if (!gateway.ok()) return gateway.status();
  net::BridgeConfig bridge{network.bridge(), {*gateway, subnet->length}, options_.mtu, {}};
  if (network.ipv6()) {
    auto subnet6 = net::ParseIpv6Prefix(network.ipv6_subnet());
    auto gateway6 = net::ParseIpv6(network.ipv6_gateway());
    if (!subnet6.ok()) return subnet6.status();
    if (!gateway6.ok()) return gateway6.status();
    bridge.gateway6 = {*gateway6, subnet6->length};
    if (options_.ip_forward) {
      if (absl::Status st = net::WriteSysctl("net/ipv6/conf/all/forwarding", "1"); !st.ok()) {
        spdlog::warn("cannot enable IPv6 forwarding error=\"{}\"", st.message());
      }
    }
  }
  return Annotate(net::EnsureBridge(bridge), absl::StrCat("network ", network.name(), ": bridge ", network.bridge()));
}

absl::Status NetworkManager::Init() {
  if (absl::Status st = store_.Load(); !st.ok()) return Annotate(st, "load networks");
  auto cidr = net::ParseIpv4Prefix(options_.bridge_cidr, "bridge_cidr");
  if (!cidr.ok()) return cidr.status();

  v1::Network def;
  std::optional<v1::Network> existing = store_.FindByName(kDefaultNetworkName);
  def.set_id(existing ? existing->id() : NewContainerId());
  def.set_name(kDefaultNetworkName);
  def.set_driver("bridge");
  def.set_bridge(options_.bridge);
  def.set_subnet(cidr->Network().ToString());
  def.set_gateway(cidr->address.ToString());
  def.set_is_default(true);
  def.set_masquerade(options_.outbound_nat);
  if (options_.ipv6) {
    std::string subnet6, gateway6;
    if (!options_.bridge_ipv6_cidr.empty()) {
      auto cidr6 = net::ParseIpv6Prefix(options_.bridge_ipv6_cidr, "bridge_ipv6_cidr");
      if (!cidr6.ok()) return cidr6.status();
      subnet6 = cidr6->Network().ToString();
      gateway6 = cidr6->address.ToString();
    } else if (existing && existing->ipv6()) {
      subnet6 = existing->ipv6_subnet();  // the ULA chosen at an earlier start
      gateway6 = existing->ipv6_gateway();
    }
    if (absl::Status st = PlanIpv6(subnet6, gateway6, cidr->Network(), cidr->address,
                                   TakenIpv6(store_.List(), def.id()), &def);
        !st.ok()) {
      return Annotate(st, "default network (ipv6)");
    }
  }
  *def.mutable_created_at() = existing ? existing->created_at()
                                       : google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::GetCurrentTimeNanos());
  for (const v1::Network& other : store_.List()) {
    if (other.id() == def.id()) continue;
    auto s = net::ParseIpv4Prefix(other.subnet());
    if (s.ok() && s->Overlaps(*cidr)) {
      return absl::FailedPreconditionError(absl::StrCat("bridge_cidr ", options_.bridge_cidr, " overlaps network ",
                                                        other.name(), " (", other.subnet(), ")"));
    }
  }
  if (absl::Status st = existing ? store_.Update(def) : store_.Add(def); !st.ok()) {
    return Annotate(st, "default network");
  }
  if (options_.ip_forward) {
    // Published ports reached from other hosts and routed container subnets need forwarding.
    if (absl::Status st = net::WriteSysctl("net/ipv4/ip_forward", "1"); !st.ok()) {
      spdlog::warn("cannot enable ip_forward error=\"{}\"", st.message());
    }
  }
  for (const v1::Network& network : store_.List()) {
    if (absl::Status st = EnsureNetworkBridge(network); !st.ok()) return st;
    if (absl::Status st = StartResolver(network); !st.ok()) {
      spdlog::warn("network {}: no name resolution error=\"{}\"", network.name(), st.message());
    }
  }
  // Bridges of networks that no longer exist (a crash inside RemoveNetwork).
  if (auto rtnl = net::Rtnl::Open(); rtnl.ok()) {
    if (auto links = rtnl->ListLinks(); links.ok()) {
      for (const net::LinkInfo& link : *links) {
        if (link.kind != "bridge" || !absl::StartsWith(link.name, kBridgePrefix) || link.name.size() != 15) continue;
        bool known = false;
        for (const v1::Network& network : store_.List()) known = known || network.bridge() == link.name;
        if (!known) {
          spdlog::info("removing leftover bridge name={}", link.name);
          (void)net::DeleteBridge(link.name);
        }
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(firewall_mu_);
    firewall_ = net::Firewall::Create();
    if (!firewall_.ok()) spdlog::warn("nftables unavailable error=\"{}\"", firewall_.status().message());
  }
  spdlog::info("networks ready default_bridge={} subnet={} gateway={}", def.bridge(), def.subnet(), def.gateway());
  return absl::OkStatus();
}

absl::StatusOr<v1::Network> NetworkManager::CreateNetwork(const v1::CreateNetworkRequest& request) {
  if (absl::Status st = ValidateNetworkName(request.name()); !st.ok()) return st;
  absl::StatusOr<bool> masquerade = MasqueradeOption(request.options());
  if (!masquerade.ok()) return masquerade.status();
  v1::Network network;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (store_.FindByName(request.name())) {
      return absl::AlreadyExistsError(absl::StrCat("network ", request.name(), " already exists"));
    }
    std::vector<std::pair<std::string, net::Ipv4Prefix>> taken;
    for (const v1::Network& other : store_.List()) {
      if (auto s = net::ParseIpv4Prefix(other.subnet()); s.ok()) taken.push_back({other.name(), *s});
    }
    net::Ipv4Prefix subnet;
    if (!request.subnet().empty()) {
      auto parsed = net::ParseIpv4Prefix(request.subnet(), "subnet");
      if (!parsed.ok()) return parsed.status();
      if (parsed->length < 8 || parsed->length > 30) {
        return absl::InvalidArgumentError(
            absl::StrCat("subnet ", request.subnet(), ": the prefix length must be 8..30 to leave room for containers"));
      }
      if (parsed->Network() != *parsed) {
        return absl::InvalidArgumentError(absl::StrCat("subnet ", request.subnet(), " has host bits set; did you mean ",
                                                       parsed->Network().ToString(), "?"));
      }
      subnet = *parsed;
      for (const auto& [name, s] : taken) {
        if (s.Overlaps(subnet)) {
          return absl::FailedPreconditionError(absl::StrCat("subnet ", subnet.ToString(), " overlaps network ", name,
                                                            " (", s.ToString(), ")"));
        }
      }
    } else {
      bool found = false;
      for (uint32_t b = 89; b <= 127 && !found; ++b) {
        for (uint32_t c = 0; c <= 255 && !found; ++c) {
          net::Ipv4Prefix candidate{{(10u << 24) | (b << 16) | (c << 8)}, 24};
          found = std::none_of(taken.begin(), taken.end(), [&](const auto& t) { return t.second.Overlaps(candidate); });
          if (found) subnet = candidate;
        }
      }
      if (!found) return absl::ResourceExhaustedError("no free /24 left in 10.89.0.0-10.127.255.0; give a subnet");
    }
    net::Ipv4Address gateway{subnet.address.value + 1};
    if (!request.gateway().empty()) {
      auto g = net::ParseIpv4(request.gateway(), "gateway");
      if (!g.ok()) return g.status();
      if (!subnet.Contains(*g) || *g == subnet.address || *g == subnet.Broadcast()) {
        return absl::InvalidArgumentError(absl::StrCat("gateway ", request.gateway(), " must be a host address of ",
                                                       subnet.ToString()));
      }
      gateway = *g;
    }
    if (!request.ipv6() && (!request.ipv6_subnet().empty() || !request.ipv6_gateway().empty())) {
      return absl::InvalidArgumentError("ipv6_subnet and ipv6_gateway need ipv6 = true (berth network create --ipv6)");
    }
    if (request.ipv6()) {
      if (absl::Status st = PlanIpv6(request.ipv6_subnet(), request.ipv6_gateway(), subnet, gateway,
                                     TakenIpv6(store_.List(), ""), &network);
          !st.ok()) {
        return st;
      }
    }
    network.set_id(NewContainerId());
    network.set_name(request.name());
    network.set_driver("bridge");
    network.set_bridge(BridgeFor(network.id()));
    network.set_subnet(subnet.ToString());
    network.set_gateway(gateway.ToString());
    network.mutable_labels()->insert(request.labels().begin(), request.labels().end());
    network.mutable_options()->insert(request.options().begin(), request.options().end());
    network.set_masquerade(*masquerade);
    network.set_dns(true);
    *network.mutable_created_at() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::GetCurrentTimeNanos());
    if (absl::Status st = store_.Add(network); !st.ok()) return Annotate(st, "create network");
    absl::Status ready = EnsureNetworkBridge(network);
    if (ready.ok()) ready = StartResolver(network);
    if (!ready.ok()) {
      StopResolver(network.id());
      (void)net::DeleteBridge(network.bridge());
      (void)store_.Delete(network.id());
      return ready;
    }
  }
  if (absl::Status st = SyncFirewall(); !st.ok()) {
    StopResolver(network.id());
    std::lock_guard<std::mutex> lock(mu_);
    (void)net::DeleteBridge(network.bridge());
    (void)store_.Delete(network.id());
    return Annotate(st, absl::StrCat("create network ", network.name()));
  }
  spdlog::info("network created name={} id={} subnet={} bridge={}", network.name(), network.id(), network.subnet(),
               network.bridge());
  return network;
}

std::vector<v1::Network> NetworkManager::ListNetworks() const { return store_.List(); }

absl::StatusOr<v1::Network> NetworkManager::InspectNetwork(const std::string& ref) const { return store_.Find(ref); }

absl::Status NetworkManager::RemoveNetwork(const std::string& ref) {
  v1::Network network;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto found = store_.Find(ref);
    if (!found.ok()) return found.status();
    network = *found;
    if (network.is_default()) {
      return absl::FailedPreconditionError(absl::StrCat("network ", network.name(), " is the default network and cannot be removed"));
    }
    if (network.containers_size() > 0) {
      std::vector<std::string> ids;
      for (const auto& id : network.containers()) ids.push_back(id.substr(0, 12));
      return absl::FailedPreconditionError(absl::StrCat("network ", network.name(), " is in use by container(s) ",
                                                        absl::StrJoin(ids, ", "), "; remove them first"));
    }
    if (absl::Status st = store_.Delete(network.id()); !st.ok()) return Annotate(st, "remove network");
    StopResolver(network.id());
    if (absl::Status st = net::DeleteBridge(network.bridge()); !st.ok()) {
      spdlog::warn("remove network bridge={} error=\"{}\"", network.bridge(), st.message());
    }
  }
  if (absl::Status st = SyncFirewall(); !st.ok()) spdlog::warn("firewall after network removal error=\"{}\"", st.message());
  spdlog::info("network removed name={} id={}", network.name(), network.id());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<net::PublishedPort>> NetworkManager::CheckPorts(const std::string& container_id,
                                                                          const std::vector<v1::PortMapping>& ports,
                                                                          net::Ipv4Address container_ip,
                                                                          const std::string& bridge) {
  std::vector<net::PublishedPort> out;
  for (size_t i = 0; i < ports.size(); ++i) {
    const v1::PortMapping& m = ports[i];
    std::string field = absl::StrCat("ports[", i, "]");
    net::PublishedPort p;
    p.protocol = m.protocol().empty() ? "tcp" : absl::AsciiStrToLower(m.protocol());
    if (p.protocol != "tcp" && p.protocol != "udp") {
      return absl::InvalidArgumentError(absl::StrCat(field, ".protocol must be tcp or udp, got \"", m.protocol(), "\""));
    }
    if (m.host_port() < 1 || m.host_port() > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".host_port must be 1..65535, got ", m.host_port()));
    }
    if (m.container_port() < 1 || m.container_port() > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".container_port must be 1..65535, got ", m.container_port()));
    }
    if (!m.host_ip().empty() && m.host_ip() != "0.0.0.0") {
      auto ip = net::ParseIpv4(m.host_ip(), field + ".host_ip");
      if (!ip.ok()) return ip.status();
      p.host_ip = *ip;
    }
    p.host_port = static_cast<uint16_t>(m.host_port());
    p.container_port = static_cast<uint16_t>(m.container_port());
    p.container_ip = container_ip;
    p.comment = container_id.substr(0, 12);
    p.bridge = bridge;
    for (const auto& mine : out) {
      if (Clash(mine, p)) return absl::InvalidArgumentError(absl::StrCat(field, ": ", Describe(p), " is given twice"));
    }
    for (const auto& [owner, reservation] : reservations_) {
      for (const auto& theirs : reservation.ports) {
        if (Clash(theirs, p)) {
          return absl::AlreadyExistsError(absl::StrCat("port ", Describe(p), " is already published by container ",
                                                       owner.substr(0, 12)));
        }
      }
    }
    out.push_back(p);
  }
  return out;
}

absl::StatusOr<v1::NetworkSettings> NetworkManager::Reserve(const std::string& container_id,
                                                            const std::string& network_ref,
                                                            const std::vector<v1::PortMapping>& ports) {
  std::lock_guard<std::mutex> lock(mu_);
  auto network = store_.Find(network_ref.empty() ? std::string(kDefaultNetworkName) : network_ref);
  if (!network.ok()) return network.status();
  auto subnet = net::ParseIpv4Prefix(network->subnet());
  if (!subnet.ok()) return subnet.status();
  // Ports first: a clash must not cost an address lease.
  auto checked = CheckPorts(container_id, ports, net::Ipv4Address{}, network->bridge());
  if (!checked.ok()) return checked.status();
  auto address = store_.Allocate(network->id(), container_id);
  if (!address.ok()) return address.status();
  for (auto& p : *checked) p.container_ip = *address;
  std::optional<net::Ipv6Address> address6;
  if (network->ipv6()) {
    auto subnet6 = net::ParseIpv6Prefix(network->ipv6_subnet());
    if (!subnet6.ok()) {
      (void)store_.Release(network->id(), container_id);
      return subnet6.status();
    }
    address6 = subnet6->address.Plus(address->value - subnet->Network().address.value);
    for (auto& p : *checked) p.container_ip6 = *address6;
  }
  reservations_[container_id] = {*checked, false};

  v1::NetworkSettings s;
  s.set_mode("bridge");
  s.set_network(network->name());
  s.set_network_id(network->id());
  s.set_ip_address(address->ToString());
  s.set_prefix_length(subnet->length);
  s.set_gateway(network->gateway());
  s.set_mac_address(net::MacForAddress(*address));
  s.set_host_interface(HostInterfaceFor(container_id));
  s.set_bridge(network->bridge());
  if (address6) {
    s.set_ipv6_address(address6->ToString());
    s.set_ipv6_prefix_length(net::ParseIpv6Prefix(network->ipv6_subnet())->length);
    s.set_ipv6_gateway(network->ipv6_gateway());
  }
  for (const auto& p : *checked) {
    v1::PortMapping* m = s.add_ports();
    m->set_protocol(p.protocol);
    m->set_host_ip(p.host_ip.IsUnspecified() ? "" : p.host_ip.ToString());
    m->set_host_port(p.host_port);
    m->set_container_port(p.container_port);
  }
  return s;
}

absl::Status NetworkManager::Connect(const std::string& container_id, const v1::NetworkSettings& settings,
                                     int init_pid) {
  auto netns = net::OpenNetnsOfPid(init_pid);
  if (!netns.ok()) return Annotate(netns.status(), "network namespace of the container");
  auto address = net::ParseIpv4(settings.ip_address());
  auto gateway = net::ParseIpv4(settings.gateway());
  if (!address.ok()) return address.status();
  if (!gateway.ok()) return gateway.status();
  net::ContainerLinkConfig link;
  link.bridge = settings.bridge();
  link.host_interface = settings.host_interface();
  link.container_netns_fd = netns->get();
  link.address = {*address, settings.prefix_length()};
  link.gateway = *gateway;
  link.mac = settings.mac_address();
  if (!settings.ipv6_address().empty()) {
    auto address6 = net::ParseIpv6(settings.ipv6_address());
    auto gateway6 = net::ParseIpv6(settings.ipv6_gateway());
    if (!address6.ok()) return address6.status();
    if (!gateway6.ok()) return gateway6.status();
    link.address6 = {*address6, settings.ipv6_prefix_length()};
    link.gateway6 = *gateway6;
  }
  // Started again right after an exit, the container's last veth may outlive its process for
  // a moment (the kernel tears an emptied namespace down asynchronously). The name is this
  // container's own: delete it rather than fail on "File exists".
  if (absl::Status st = net::DetachContainer(settings.host_interface()); !st.ok()) {
    return Annotate(st, "remove the container's previous veth");
  }
  if (absl::Status st = net::AttachContainer(link); !st.ok()) return Annotate(st, "connect to network " + settings.network());
  CrashPoint("network.attached");
  if (settings.ports_size() == 0) return absl::OkStatus();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = reservations_.find(container_id);
    if (it != reservations_.end()) it->second.published = true;
  }
  if (absl::Status st = SyncFirewall(); !st.ok()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = reservations_.find(container_id);
      if (it != reservations_.end()) it->second.published = false;
    }
    (void)net::DetachContainer(settings.host_interface());
    return Annotate(st, "publish ports");
  }
  return absl::OkStatus();
}

void NetworkManager::Unpublish(const std::string& container_id) {
  dns_records_.Remove(container_id);
  bool had_rules = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = reservations_.find(container_id);
    if (it == reservations_.end()) return;
    had_rules = it->second.published && !it->second.ports.empty();
    reservations_.erase(it);
  }
  if (had_rules) {
    if (absl::Status st = SyncFirewall(); !st.ok()) spdlog::warn("unpublish id={} error=\"{}\"", container_id, st.message());
  }
}

void NetworkManager::Release(const std::string& container_id, const v1::NetworkSettings& settings) {
  Unpublish(container_id);
  if (settings.mode() != "bridge") return;
  if (!settings.host_interface().empty()) veth_reaper_.Push(settings.host_interface());
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status st = store_.Release(settings.network_id(), container_id); !st.ok()) {
    spdlog::warn("free address id={} error=\"{}\"", container_id, st.message());
  }
  CrashPoint("network.released");
}

void NetworkManager::Reconcile(const std::map<std::string, v1::NetworkSettings>& containers,
                               const std::vector<std::string>& running) {
  for (const v1::Network& network : store_.List()) {
    for (const Lease& lease : store_.Leases(network.id())) {
      if (containers.count(lease.container_id)) continue;
      spdlog::info("freeing address lease nobody owns network={} address={} id={}", network.name(),
                   lease.address.ToString(), lease.container_id);
      std::lock_guard<std::mutex> lock(mu_);
      (void)store_.Release(network.id(), lease.container_id);
    }
  }
  for (const auto& [id, s] : containers) {
    if (s.mode() != "bridge" || s.network_id().empty()) continue;
    auto address = net::ParseIpv4(s.ip_address());
    if (!address.ok()) continue;
    std::lock_guard<std::mutex> lock(mu_);
    if (absl::Status st = store_.Restore(s.network_id(), *address, id); !st.ok()) {
      spdlog::warn("container id={} keeps address {} without a lease error=\"{}\"", id, s.ip_address(), st.message());
    }
  }
  if (auto rtnl = net::Rtnl::Open(); rtnl.ok()) {
    if (auto links = rtnl->ListLinks(); links.ok()) {
      for (const net::LinkInfo& link : *links) {
        if (link.kind != "veth" || !absl::StartsWith(link.name, kVethPrefix) || link.name.size() != 15) continue;
        bool owned = false;
        for (const auto& [id, s] : containers) owned = owned || s.host_interface() == link.name;
        if (!owned) {
          spdlog::info("removing veth nobody owns name={}", link.name);
          (void)net::DetachContainer(link.name);
        }
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    reservations_.clear();
    for (const std::string& id : running) {
      auto it = containers.find(id);
      if (it == containers.end() || it->second.mode() != "bridge") continue;
      auto ip = net::ParseIpv4(it->second.ip_address());
      std::vector<v1::PortMapping> ports(it->second.ports().begin(), it->second.ports().end());
      auto checked = CheckPorts(id, ports, ip.ok() ? *ip : net::Ipv4Address{}, it->second.bridge());
      if (!checked.ok()) {
        spdlog::warn("ports of container id={} not republished error=\"{}\"", id, checked.status().message());
        continue;
      }
      if (auto ip6 = net::ParseIpv6(it->second.ipv6_address()); ip6.ok()) {
        for (auto& p : *checked) p.container_ip6 = *ip6;
      }
      reservations_[id] = {*checked, true};
    }
  }
  if (absl::Status st = SyncFirewall(); !st.ok()) spdlog::warn("firewall reconciliation error=\"{}\"", st.message());
}

absl::Status NetworkManager::StartResolver(const v1::Network& network) {
  if (!network.dns()) return absl::OkStatus();
  DnsServerOptions options;
  options.network_id = network.id();
  ASSIGN_OR_RETURN(options.listen, net::ParseIpv4(network.gateway(), "gateway"));
  ASSIGN_OR_RETURN(net::Ipv4Prefix subnet, net::ParseIpv4Prefix(network.subnet()));
  options.subnet = subnet.Network();
  for (const std::string& upstream : options_.dns_upstreams) {
    if (auto a = net::ParseIpv4(upstream); a.ok()) options.upstreams.push_back(*a);
  }
  auto server = DnsServer::Start(std::move(options), &dns_records_);
  if (!server.ok()) return Annotate(server.status(), absl::StrCat("network ", network.name(), ": name resolution"));
  std::lock_guard<std::mutex> lock(dns_mu_);
  resolvers_[network.id()] = std::move(*server);
  return absl::OkStatus();
}

void NetworkManager::StopResolver(const std::string& network_id) {
  std::unique_ptr<DnsServer> server;
  {
    std::lock_guard<std::mutex> lock(dns_mu_);
    auto it = resolvers_.find(network_id);
    if (it == resolvers_.end()) return;
    server = std::move(it->second);
    resolvers_.erase(it);
  }
  server.reset();  // joins its thread, outside the lock
}

bool NetworkManager::HasResolver(const std::string& network_id) const {
  std::lock_guard<std::mutex> lock(dns_mu_);
  return resolvers_.count(network_id) != 0;
}

void NetworkManager::RegisterNames(const std::string& container_id, const std::string& name,
                                   const v1::NetworkSettings& settings) {
  if (settings.mode() != "bridge" || !HasResolver(settings.network_id())) return;
  DnsEntry entry;
  entry.network_id = settings.network_id();
  entry.names = {name, container_id.substr(0, 12)};
  entry.names.insert(entry.names.end(), settings.aliases().begin(), settings.aliases().end());
  entry.ipv4 = settings.ip_address();
  entry.ipv6 = settings.ipv6_address();
  dns_records_.Set(container_id, std::move(entry));
}

void NetworkManager::RenameContainer(const std::string& container_id, const std::string& old_name,
                                     const std::string& new_name) {
  dns_records_.Rename(container_id, old_name, new_name);
}

absl::Status NetworkManager::SyncFirewall() {
  std::lock_guard<std::mutex> fw(firewall_mu_);
  net::FirewallConfig config;
  bool masquerade = false;
  for (const v1::Network& network : store_.List()) {
    auto subnet = net::ParseIpv4Prefix(network.subnet());
    if (!subnet.ok()) continue;
    net::BridgeNetwork n{network.bridge(), subnet->Network(), network.masquerade(), {}};
    if (auto subnet6 = net::ParseIpv6Prefix(network.ipv6_subnet()); network.ipv6() && subnet6.ok()) {
      n.subnet6 = subnet6->Network();
    }
    config.networks.push_back(n);
    masquerade = masquerade || network.masquerade();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, reservation] : reservations_) {
      if (!reservation.published) continue;
      config.ports.insert(config.ports.end(), reservation.ports.begin(), reservation.ports.end());
    }
  }
  if (!firewall_.ok()) {
    if (config.ports.empty() && config.networks.size() < 2 && !masquerade) return absl::OkStatus();
    return firewall_.status();
  }
  return firewall_->Apply(config);
}

}  // namespace berth::agent
