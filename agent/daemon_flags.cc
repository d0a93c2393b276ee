#include "agent/daemon_flags.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "runtime/base/quote.h"

namespace berth::agent {

void DefineDaemonFlags(CLI::App& app, DaemonFlags& f) {
  app.add_option("--config", f.config_file, "TOML config file");
  app.add_option("--root", f.root, "state directory (default /var/lib/berth)");
  app.add_option("--socket", f.socket, "Unix socket to serve on (default /run/berth/berth.sock)");
  app.add_option("--cri-socket", f.cri_socket,
                 "Unix socket for the Kubernetes CRI (default: cri.sock beside --socket; none: off)");
  app.add_option("--cri-stream-address", f.cri_stream_address,
                 "ADDR:PORT of the CRI streaming server for exec, attach and port-forward (default 127.0.0.1:0)");
  app.add_option("--cni-conf-dir", f.cni_conf_dir,
                 "CNI network configurations for pods, e.g. /etc/cni/net.d (default: none, the agent's bridge)");
  app.add_option("--cni-bin-dir", f.cni_bin_dir, "where CNI plugins are, ':'-separated (default /usr/lib/cni:/opt/cni/bin)");
  app.add_option("--cgroup-parent", f.cgroup_parent, "cgroup for containers; relative = below berthd's own cgroup");
  app.add_option("--log-level", f.log_level, "trace|debug|info|warn|error");
  app.add_option("--log-format", f.log_format, "text|json");
  app.add_option("--shim", f.shim, "path of berth-shim (default: next to berthd)");
  app.add_option("--socket-group", f.socket_group, "make the socket 0660 for this group (default: 0600, root only)");
  app.add_option("--listen", f.listen, "tcp://ADDR:PORT to serve on with mutual TLS (repeatable)");
  app.add_option("--tls-cert", f.tls_cert, "the agent's TLS certificate (PEM) for --listen");
  app.add_option("--tls-key", f.tls_key, "its private key (PEM)");
  app.add_option("--tls-client-ca", f.tls_client_ca, "CA that signs the client certificates it accepts (PEM)");
  app.add_option("--metrics-listen", f.metrics_listen,
                 "ADDR:PORT for Prometheus metrics at /metrics (default 127.0.0.1:9338; none: off)");
  app.add_option("--init-path", f.init_path, "path of berth-init for --init (default: next to berthd)");
  app.add_option("--userns-pool", f.userns_pool, "FIRST:COUNT host ids for --userns=auto (default 100000:6553600)");
  app.add_option("--default-userns", f.default_userns, "host|auto: the user namespace of containers that do not ask");
  app.add_option("--insecure-registry", f.insecure_registries, "host[:port] allowed over plain HTTP or unverified TLS (repeatable)");
  app.add_option("--registry-mirror", f.mirrors, "HOST=URL: try URL first for images of registry HOST (repeatable)");
  app.add_option("--auth-file", f.auth_file, "registry credentials, Docker's config.json format");
  app.add_option("--bridge", f.bridge, "bridge of the default network (default berth0)");
  app.add_option("--bridge-cidr", f.bridge_cidr, "gateway address/length of the default network (default 10.88.0.1/16)");
  app.add_option("--mtu", f.mtu, "MTU of bridges and container interfaces (default: the kernel's)");
  app.add_option("--dns", f.dns, "nameserver for containers' /etc/resolv.conf (repeatable)");
  app.add_option("--dns-search", f.dns_search, "search domain for containers' /etc/resolv.conf (repeatable)");
  app.add_flag("--outbound-nat", f.outbound_nat, "masquerade the default network's traffic that leaves the node (the default)");
  app.add_flag("--no-outbound-nat", f.no_outbound_nat, "route the default network's traffic out with container addresses")
      ->excludes("--outbound-nat");
  app.add_flag("--no-ip-forward", f.no_ip_forward, "do not set net.ipv4.ip_forward=1");
  app.add_flag("--ipv6", f.ipv6, "give the default network IPv6 too (a ULA /64 unless --bridge-ipv6-cidr)");
  app.add_option("--bridge-ipv6-cidr", f.bridge_ipv6_cidr, "v6 gateway address/length of the default network");
  // The build's, not a person's: no group keeps it out of --help and of the page itself.
  app.add_option("--generate-man", f.generate_man_dir, "write berthd.8 into this directory and exit")->group("");
}

absl::Status ApplyDaemonFlags(const DaemonFlags& f, AgentConfig& config) {
  for (auto [flag, field] : {std::pair{&f.root, &config.root}, {&f.socket, &config.socket},
                             {&f.cri_socket, &config.cri_socket}, {&f.cri_stream_address, &config.cri_stream_address},
                             {&f.cni_conf_dir, &config.cni_conf_dir}, {&f.cni_bin_dir, &config.cni_bin_dir},
                             {&f.cgroup_parent, &config.cgroup_parent}, {&f.log_level, &config.log_level},
                             {&f.log_format, &config.log_format}, {&f.shim, &config.shim_path},
                             {&f.bridge, &config.bridge}, {&f.bridge_cidr, &config.bridge_cidr},
                             {&f.init_path, &config.init_path}, {&f.userns_pool, &config.userns_pool},
                             {&f.default_userns, &config.default_userns}, {&f.socket_group, &config.socket_group},
                             {&f.tls_cert, &config.tls_cert}, {&f.tls_key, &config.tls_key},
                             {&f.tls_client_ca, &config.tls_client_ca}, {&f.metrics_listen, &config.metrics_listen}}) {
    if (!flag->empty()) *field = *flag;
  }
  if (f.mtu) config.mtu = *f.mtu;
  if (!f.listen.empty()) config.listen = f.listen;
  if (!f.dns.empty()) config.dns = f.dns;
  if (!f.dns_search.empty()) config.dns_search = f.dns_search;
  if (f.outbound_nat) config.outbound_nat = true;
  if (f.no_outbound_nat) config.outbound_nat = false;
  if (f.no_ip_forward) config.ip_forward = false;
  if (f.ipv6) config.ipv6 = true;
  if (!f.bridge_ipv6_cidr.empty()) config.bridge_ipv6_cidr = f.bridge_ipv6_cidr;
  for (const auto& r : f.insecure_registries) config.insecure_registries.push_back(r);
  for (const auto& m : f.mirrors) {
    size_t eq = m.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == m.size()) {
      return absl::InvalidArgumentError(absl::StrCat("--registry-mirror wants HOST=URL, got ", Quoted(m)));
    }
    config.registry_mirrors[m.substr(0, eq)].push_back(m.substr(eq + 1));
  }
  if (!f.auth_file.empty()) config.auth_file = f.auth_file;
  return absl::OkStatus();
}

}  // namespace berth::agent
