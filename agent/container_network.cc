// ContainerManager's network side of Create: which namespace a container gets (new,
// the node's, or another container's), its address and ports, and its /etc files.
#include <spdlog/spdlog.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/container_manager.h"
#include "agent/etc_files.h"
#include "agent/logging.h"
#include "runtime/base/file_util.h"
#include "runtime/base/proc_util.h"
#include "runtime/base/quote.h"

namespace berth::agent {

absl::StatusOr<ContainerManager::NetworkPlan> ContainerManager::PlanNetwork(const v1::ContainerConfig& config,
                                                                            const std::string& id) {
  NetworkPlan plan;
  const std::string& mode = config.network();
  const bool bridge = mode.empty() || (mode != "none" && mode != "host" && !absl::StartsWith(mode, "container:"));
  if (!bridge && config.network_aliases_size() > 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "network aliases need a network made with `berth network create`, not network ", Quoted(mode)));
  }
  if (!bridge && config.ports_size() > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("ports can only be published on a bridge network, not with network \"", mode, "\""));
  }
  for (int i = 0; i < config.network_aliases_size(); ++i) {
    if (!ValidHostname(config.network_aliases(i))) {
      return absl::InvalidArgumentError(absl::StrCat("network_aliases[", i, "]: ", Quoted(config.network_aliases(i)),
                                                     " is not a host name (letters, digits, '-', '.', '_')"));
    }
  }
  if (mode == "none") {
    plan.settings.set_mode("none");
  } else if (mode == "host") {
    plan.spec.host = true;
    plan.settings.set_mode("host");
  } else if (absl::StartsWith(mode, "container:")) {
    std::string ref = mode.substr(std::string("container:").size());
    if (ref.empty()) return absl::InvalidArgumentError("network \"container:\" needs a container id or name");
    auto target = Find(ref);
    if (!target.ok()) {
      if (absl::IsNotFound(target.status())) {
        return absl::NotFoundError(absl::StrCat("network container:", Quoted(ref), ": no such container"));
      }
      return target.status();
    }
    std::lock_guard<std::mutex> lock((*target)->mu);
    const v1::Container& t = (*target)->record;
    if ((*target)->removed || t.state() != v1::RUNNING || t.pid() <= 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("network container:", ref, ": container ", t.name(), " is not running; start it first"));
    }
    if (t.network_settings().mode() == "host") {
      plan.spec.host = true;  // its namespace is the node's
    } else {
      // Opened here, from that very process (a reused pid cannot hand over a stranger's
      // namespace), and passed to the shim as its fd 4.
      auto netns = OpenNamespaceOf(t.pid(), (*target)->pid_start_time, "net");
      if (!netns.ok()) {
        return absl::FailedPreconditionError(
            absl::StrCat("network container:", Quoted(ref), ": ", netns.status().message()));
      }
      plan.netns = std::move(*netns);
      plan.spec.join_netns = "/proc/self/fd/4";
    }
    plan.settings = t.network_settings();
    plan.settings.set_mode("container");
    plan.settings.set_container_id(t.id());
    plan.settings.clear_ports();
    plan.settings.clear_host_interface();
  } else {
    std::vector<v1::PortMapping> ports(config.ports().begin(), config.ports().end());
    auto settings = networks_.Reserve(id, mode, ports);
    if (!settings.ok()) return settings.status();
    plan.settings = *settings;
    if (config.network_aliases_size() > 0 && !networks_.HasResolver(settings->network_id())) {
      networks_.Release(id, plan.settings);
      return absl::InvalidArgumentError(absl::StrCat(
          "network aliases need a network made with `berth network create` (it resolves names); network ",
          Quoted(settings->network()), " does not"));
    }
    plan.settings.mutable_aliases()->CopyFrom(config.network_aliases());
  }
  return plan;
}

absl::Status ContainerManager::WriteEtcFiles(const v1::ContainerConfig& config, const std::string& id,
                                             const std::string& name, const ContainerPaths& paths,
                                             const v1::NetworkSettings& settings) {
  std::vector<std::string> extra(config.extra_hosts().begin(), config.extra_hosts().end());
  auto extra_hosts = ParseExtraHosts(extra);
  if (!extra_hosts.ok()) return extra_hosts.status();
  const std::string hostname = HostnameFor(config, id);
  std::string hosts;
  if (settings.mode() == "host") {
    // The node's names stay valid in its own namespace, as Docker does for --network host.
    auto node_hosts = ReadFile("/etc/hosts");
    if (!node_hosts.ok()) {
      hosts = RenderHosts({}, *extra_hosts);
    } else {
      hosts = *node_hosts;
      if (!hosts.empty() && hosts.back() != '\n') hosts += '\n';
      for (const auto& e : *extra_hosts) absl::StrAppend(&hosts, e.address, "\t", e.names, "\n");
    }
  } else {
    std::string names = hostname == name ? hostname : absl::StrCat(hostname, " ", name);
    hosts = RenderHosts({settings.ip_address(), names}, *extra_hosts);
    if (!settings.ipv6_address().empty()) absl::StrAppend(&hosts, settings.ipv6_address(), "\t", names, "\n");
  }
  std::vector<std::string> dns(config.dns().begin(), config.dns().end());
  std::vector<std::string> search(config.dns_search().begin(), config.dns_search().end());
  auto node_resolv = ReadFile(options_.node_resolv_conf);
  // On a network with a resolver, the container asks it (its gateway), which knows the other
  // containers and forwards the rest; an explicit --dns still wins.
  if (dns.empty() && settings.mode() == "bridge" && networks_.HasResolver(settings.network_id())) {
    dns = {settings.gateway()};
  }
  auto resolv = RenderResolvConf(dns.empty() ? options_.dns : dns, search.empty() ? options_.dns_search : search,
                                 node_resolv.ok() ? *node_resolv : "",
                                 {config.dns_options().begin(), config.dns_options().end()});
  if (!resolv.ok()) return resolv.status();
  for (auto [path, text] : {std::pair{&paths.hosts, &hosts}, {&paths.hostname, nullptr}, {&paths.resolv_conf, &*resolv}}) {
    std::string data = text ? *text : hostname + "\n";
    if (absl::Status st = WriteNewFile(*path, data, 0644); !st.ok()) return st;
  }
  return absl::OkStatus();
}

}  // namespace berth::agent
