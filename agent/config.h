// The agent's configuration: flags over a TOML file over defaults.
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::agent {

// Who may call what (docs/remote-access.md). Identities are a TCP client certificate's URI
// SAN (else its CN); Unix-socket callers are their uid (0 is always admin).
struct AuthzConfig {
  std::vector<std::string> admin, operators, viewers;  // TOML keys admin, operator, viewer
  std::map<uint32_t, std::string> uids;                // uid -> "admin" | "operator" | "viewer"
  // Operators may bind-mount host paths below these only (none: no bind mounts at all).
  std::vector<std::string> bind_mount_roots;
};

struct AgentConfig {
  std::string root = "/var/lib/berth";
  std::string socket = "/run/berth/berth.sock";
  std::string socket_group;  // set: the socket is 0660 for this group; else 0600 (root only)
  // The Kubernetes CRI (runtime.v1) socket, root only; "none" turns it off. Empty: cri.sock
  // beside `socket` (/run/berth/cri.sock by default), skipped with a warning when another
  // live agent already serves there.
  std::string cri_socket;
  // Where the CRI streaming server (exec, attach, port-forward URLs) listens: ADDR:PORT,
  // port 0 for any free one. Empty: 127.0.0.1:0, skipped with a warning when loopback is
  // not usable (one asked for must start).
  std::string cri_stream_address;
  // CNI for pods: the first network list in cni_conf_dir (empty: the agent's bridge serves
  // pods), plugins from cni_bin_dir (':'-separated).
  std::string cni_conf_dir;
  std::string cni_bin_dir = "/usr/lib/cni:/opt/cni/bin";
  // TCP listeners ("tcp://ADDR:PORT"), always mutual TLS with these three files.
  std::vector<std::string> listen;
  std::string tls_cert, tls_key, tls_client_ca;
  AuthzConfig authz;
  int max_calls_per_identity = 128;  // concurrent calls; beyond it RESOURCE_EXHAUSTED
  int64_t audit_max_bytes = 16 << 20;  // ROOT/audit.log rotates at this size...
  int audit_files = 5;                 // ...keeping this many old files
  // The event journal (ROOT/events/) keeps at most this many of the newest events and bytes;
  // a subscriber may fall this many events behind before it is cut off.
  int64_t events_max = 100000;
  int64_t events_max_bytes = 64 << 20;
  int64_t events_subscriber_queue = 4096;
  // Container logs rotate at this size, keeping this many files (docker's max-size and
  // max-file; kubelet's defaults), unless a container asks otherwise.
  int64_t log_max_size = 10 << 20;
  int log_max_files = 3;
  // Prometheus metrics over HTTP (GET /metrics); "none" turns the listener off. Empty: the
  // default, 127.0.0.1:9338, when it can be had (an agent in a namespace whose loopback is
  // down, or a second agent, goes on without it); an address given must be served.
  std::string metrics_listen;
  // Relative: below the agent's own cgroup in each hierarchy; absolute: from the root.
  std::string cgroup_parent = "berth";
  std::string log_level = "info";
  std::string log_format = "text";  // text | json
  std::string shim_path;            // default: berth-shim next to berthd
  std::string busybox_path = "/bin/busybox";  // where the default image's binary comes from
  std::string init_path;  // berth-init for --init; default: next to berthd

  // User namespaces. `--userns=auto` ranges come from this pool: "first:count" host ids,
  // handed out 65536 at a time.
  std::string userns_pool = "100000:6553600";
  std::string default_userns = "host";  // "host" or "auto": what an empty --userns means

  // Networking. The default network "bridge" is `bridge` with address `bridge_cidr`.
  std::string bridge = "berth0";
  std::string bridge_cidr = "10.88.0.1/16";  // the gateway's address and the subnet's length
  int mtu = 0;                               // 0: the kernel's default (1500)
  std::vector<std::string> dns;              // nameservers; empty: the node's non-loopback ones
  std::vector<std::string> dns_search;       // search domains; empty: the node's
  bool outbound_nat = true;   // the default network masquerades traffic leaving the node, as Docker's
  bool ip_forward = true;     // set net.ipv4.ip_forward=1 in the agent's netns at start
  bool ipv6 = false;          // the default network is dual-stack (containers get v6 addresses too)
  std::string bridge_ipv6_cidr;  // its bridge's v6 "address/length"; empty: a random ULA /64, kept

  // Registries. Loopback registries may always answer over plain HTTP.
  std::vector<std::string> insecure_registries;  // "host[:port]": plain HTTP / unverified TLS allowed
  std::map<std::string, std::vector<std::string>> registry_mirrors;  // registry host → endpoints
  std::string auth_file;  // Docker's config.json format; also read: ~/.config/berth/auth.json
};

// Reads `path` (TOML: keys root, socket, socket_group, cri_socket, cri_stream_address, cni_conf_dir, cni_bin_dir, listen, tls_cert, tls_key,
// tls_client_ca, max_calls_per_identity, audit_max_bytes, audit_files, events_max,
// events_max_bytes, events_subscriber_queue, metrics_listen, log_max_size, log_max_files, an [authz] table
// (admin, operator, viewer, uids, bind_mount_roots), cgroup_parent, log_level, log_format, shim_path,
// busybox_path, init_path, userns_pool, default_userns, bridge, bridge_cidr, mtu, dns, dns_search, outbound_nat, ip_forward, ipv6,
// bridge_ipv6_cidr,
// insecure_registries, auth_file at top level; a [registry_mirrors] table of host = [urls])
// over `base`.
absl::StatusOr<AgentConfig> LoadConfigFile(const std::string& path, AgentConfig base);

// Rejects values the agent cannot work with, naming the key.
absl::Status ValidateConfig(const AgentConfig& config);

}  // namespace berth::agent
