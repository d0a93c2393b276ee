// berthd's command-line flags: declared on a CLI11 app (which also writes berthd(8) from
// them, see --generate-man in main.cc) and laid over the configuration file's values.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/status/status.h"
#include "agent/config.h"

namespace berth::agent {

// Every flag as given; an empty string or list means "not given" (the config file's value stays).
struct DaemonFlags {
  std::string config_file;
  std::string root, socket, cri_socket, cri_stream_address, cni_conf_dir, cni_bin_dir, cgroup_parent, log_level, log_format, shim;
  std::string socket_group, tls_cert, tls_key, tls_client_ca, metrics_listen;
  std::vector<std::string> listen;
  std::string init_path, userns_pool, default_userns;
  std::string bridge, bridge_cidr, bridge_ipv6_cidr;
  std::optional<int> mtu;
  std::vector<std::string> dns, dns_search;
  bool outbound_nat = false, no_outbound_nat = false, no_ip_forward = false, ipv6 = false;
  std::vector<std::string> insecure_registries, mirrors;
  std::string auth_file;
  std::string generate_man_dir;  // hidden: write berthd.8 there and exit
};

void DefineDaemonFlags(CLI::App& app, DaemonFlags& flags);

// Lays the given flags over `config`; INVALID_ARGUMENT for a malformed --registry-mirror.
absl::Status ApplyDaemonFlags(const DaemonFlags& flags, AgentConfig& config);

}  // namespace berth::agent
