// The agent's configuration: flags over a TOML file over defaults.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace berth::agent {

struct AgentConfig {
  std::string root = "/var/lib/berth";
  std::string socket = "/run/berth/berth.sock";
  // Relative: below the agent's own cgroup in each hierarchy; absolute: from the root.
  std::string cgroup_parent = "berth";
  std::string log_level = "info";
  std::string log_format = "text";  // text | json
  std::string shim_path;            // default: berth-shim next to berthd
  std::string busybox_path = "/bin/busybox";  // where the default image's binary comes from
};

// Reads `path` (TOML: keys root, socket, cgroup_parent, log_level, log_format, shim_path,
// busybox_path at top level) over `base`.
absl::StatusOr<AgentConfig> LoadConfigFile(const std::string& path, AgentConfig base);

// Rejects values the agent cannot work with, naming the key.
absl::Status ValidateConfig(const AgentConfig& config);

}  // namespace berth::agent
