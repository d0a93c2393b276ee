#include "runtime/network/container_link.h"

#include "absl/cleanup/cleanup.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/network/rtnetlink.h"

namespace berth::net {

namespace {

// The container end is born with this name inside the container's netns: no rename, so no
// window in which a half-configured link carries a temporary name.
constexpr char kContainerInterface[] = "eth0";

absl::Status CheckIsBridge(const LinkInfo& link) {
  if (link.kind == "bridge") return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(link.name, " exists but is not a bridge (it is ",
                                                    link.kind.empty() ? "a device without a kind" : link.kind,
                                                    ")"));
}

absl::Status EnsureBridgeLink(Rtnl& rtnl, const BridgeConfig& bridge) {
  absl::StatusOr<LinkInfo> link = rtnl.GetLink(bridge.name);
  if (absl::IsNotFound(link.status())) {
    absl::Status created = rtnl.CreateBridge(bridge.name);
    // ALREADY_EXISTS: another EnsureBridge won the race, which is fine.
    if (!created.ok() && !absl::IsAlreadyExists(created)) return created;
    link = rtnl.GetLink(bridge.name);
  }
  if (!link.ok()) return link.status();
  RETURN_IF_ERROR(CheckIsBridge(*link));
  // A bridge without an explicit MAC takes the lowest MAC of its ports, so it would change as
  // containers come and go and leave stale gateway entries in their ARP caches.
  const std::string mac = MacForAddress(bridge.gateway.address);
  if (link->mac != mac) RETURN_IF_ERROR(rtnl.SetMac(bridge.name, mac));
  if (bridge.mtu > 0 && link->mtu != bridge.mtu) RETURN_IF_ERROR(rtnl.SetMtu(bridge.name, bridge.mtu));

  ASSIGN_OR_RETURN(std::vector<Ipv4Prefix> addresses, rtnl.ListAddresses(bridge.name));
  bool has_gateway = false;
  for (const Ipv4Prefix& address : addresses) has_gateway = has_gateway || address == bridge.gateway;
  if (!has_gateway) {
    absl::Status added = rtnl.AddAddress(bridge.name, bridge.gateway);
    if (!added.ok() && !absl::IsAlreadyExists(added)) return added;
  }
  if (!bridge.gateway6.address.IsUnspecified()) {
    absl::Status added = rtnl.AddAddress6(bridge.name, bridge.gateway6);
    if (!added.ok() && !absl::IsAlreadyExists(added)) return added;
  }
  RETURN_IF_ERROR(rtnl.SetUp(bridge.name));
  // Published ports DNAT 127.0.0.1 to containers; the kernel drops such packets on their way
  // out unless the egress device allows loopback sources.
  return WriteSysctl(absl::StrCat("net/ipv4/conf/", bridge.name, "/route_localnet"), "1");
}

absl::Status ValidateLinkConfig(const ContainerLinkConfig& link) {
  if (link.bridge.empty()) return absl::InvalidArgumentError("no bridge");
  if (link.host_interface.empty()) return absl::InvalidArgumentError("no host interface name");
  if (link.container_netns_fd < 0) return absl::InvalidArgumentError("no container netns fd");
  if (link.address.length <= 0 || link.address.length > 32 || link.address.address.IsUnspecified()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid container address ", link.address.ToString()));
  }
  if (link.gateway.IsUnspecified() || !link.address.Contains(link.gateway) ||
      link.gateway == link.address.address) {
    return absl::InvalidArgumentError(absl::StrCat("gateway ", link.gateway.ToString(),
                                                   " is not another address in ",
                                                   link.address.Network().ToString()));
  }
  if (!link.address6.address.IsUnspecified() &&
      (link.gateway6.IsUnspecified() || !link.address6.Contains(link.gateway6) ||
       link.gateway6 == link.address6.address)) {
    return absl::InvalidArgumentError(absl::StrCat("IPv6 gateway ", link.gateway6.ToString(),
                                                   " is not another address in ",
                                                   link.address6.Network().ToString()));
  }
  return absl::OkStatus();
}

// The container end, through a socket opened in the container's netns.
absl::Status ConfigureContainerEnd(Rtnl& container, const ContainerLinkConfig& link) {
  const std::string mac = link.mac.empty() ? MacForAddress(link.address.address) : link.mac;
  RETURN_IF_ERROR(
      container.SetMac(kContainerInterface, mac));  // while down: not every driver takes a live change
  RETURN_IF_ERROR(container.AddAddress(kContainerInterface, link.address));
  const bool v6 = !link.address6.address.IsUnspecified();
  if (v6) RETURN_IF_ERROR(container.AddAddress6(kContainerInterface, link.address6));
  RETURN_IF_ERROR(container.SetUp(kContainerInterface));
  RETURN_IF_ERROR(container.SetUp("lo"));
  // After the address and the link are up, so the gateway is reachable through the
  // connected route the kernel has just added.
  RETURN_IF_ERROR(container.AddRoute(Ipv4Prefix{}, link.gateway, kContainerInterface));
  if (v6) RETURN_IF_ERROR(container.AddDefaultRoute6(link.gateway6, kContainerInterface));
  return absl::OkStatus();
}

}  // namespace

absl::Status EnsureBridge(const BridgeConfig& bridge) {
  if (bridge.gateway.address.IsUnspecified() || bridge.gateway.length <= 0 || bridge.gateway.length > 32 ||
      bridge.gateway6.length < 0 || bridge.gateway6.length > 128) {
    return absl::InvalidArgumentError(
        absl::StrCat("ensure bridge ", bridge.name, ": invalid gateway ", bridge.gateway.ToString()));
  }
  absl::StatusOr<Rtnl> rtnl = Rtnl::Open();
  if (!rtnl.ok()) return Annotate(rtnl.status(), absl::StrCat("ensure bridge ", bridge.name));
  return Annotate(EnsureBridgeLink(*rtnl, bridge), absl::StrCat("ensure bridge ", bridge.name));
}

absl::Status DeleteBridge(const std::string& name) {
  const std::string what = absl::StrCat("delete bridge ", name);
  absl::StatusOr<Rtnl> rtnl = Rtnl::Open();
  if (!rtnl.ok()) return Annotate(rtnl.status(), what);
  absl::StatusOr<LinkInfo> link = rtnl->GetLink(name);
  if (absl::IsNotFound(link.status())) return absl::OkStatus();
  if (!link.ok()) return Annotate(link.status(), what);
  RETURN_IF_ERROR(Annotate(CheckIsBridge(*link), what));
  absl::Status deleted = rtnl->DeleteLink(name);
  if (absl::IsNotFound(deleted)) return absl::OkStatus();
  return Annotate(deleted, what);
}

absl::Status AttachContainer(const ContainerLinkConfig& link) {
  const std::string what = absl::StrCat("attach ", link.host_interface, " to bridge ", link.bridge);
  RETURN_IF_ERROR(Annotate(ValidateLinkConfig(link), what));
  absl::StatusOr<Rtnl> host = Rtnl::Open();
  if (!host.ok()) return Annotate(host.status(), what);
  absl::StatusOr<LinkInfo> bridge = host->GetLink(link.bridge);
  if (!bridge.ok()) return Annotate(bridge.status(), what);
  RETURN_IF_ERROR(Annotate(CheckIsBridge(*bridge), what));
  // Both sockets exist before anything is created: a bad netns fd leaves nothing to undo.
  absl::StatusOr<Rtnl> container = Rtnl::OpenIn(link.container_netns_fd);
  if (!container.ok()) return Annotate(container.status(), what);

  RETURN_IF_ERROR(Annotate(
      host->CreateVethPair(link.host_interface, kContainerInterface, link.container_netns_fd, bridge->mtu),
      what));
  // Deleting the host end deletes the container end with it.
  absl::Cleanup undo = [&] { (void)host->DeleteLink(link.host_interface); };
  RETURN_IF_ERROR(Annotate(host->SetMaster(link.host_interface, link.bridge), what));
  RETURN_IF_ERROR(Annotate(host->SetHairpin(link.host_interface, true), what));
  RETURN_IF_ERROR(Annotate(host->SetUp(link.host_interface), what));
  RETURN_IF_ERROR(Annotate(ConfigureContainerEnd(*container, link), absl::StrCat(what, ": container end")));
  std::move(undo).Cancel();
  return absl::OkStatus();
}

absl::Status DetachContainer(const std::string& host_interface) {
  absl::StatusOr<Rtnl> rtnl = Rtnl::Open();
  if (!rtnl.ok()) return Annotate(rtnl.status(), absl::StrCat("detach ", host_interface));
  absl::Status deleted = rtnl->DeleteLink(host_interface);
  if (absl::IsNotFound(deleted)) return absl::OkStatus();
  return Annotate(deleted, "detach container");
}

absl::Status LoopbackUp(int netns_fd) {
  absl::StatusOr<Rtnl> rtnl = Rtnl::OpenIn(netns_fd);
  if (!rtnl.ok()) return Annotate(rtnl.status(), "bring lo up");
  return rtnl->SetUp("lo");
}

}  // namespace berth::net
