// The security half of a container's OCI spec: capabilities, seccomp, no_new_privs, devices,
// masked and read-only paths, user namespace mappings, sysctls, rlimits, tmpfs mounts,
// /dev/shm, the --init reaper, and --privileged as the one way out of the defaults. Also
// what the container really got, for Inspect (v1::EffectiveSecurity).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "berth/v1/containers.pb.h"
#include "runtime/spec/spec.h"

namespace berth::agent {

struct SecurityInputs {
  // First node id of the container's 65536-id range when it runs with --userns=auto.
  std::optional<uint32_t> userns_first_host_id;
  std::string init_path;          // berth-init on the node, for config.init()
  bool private_network = true;    // its own network namespace (bridge or none)
};

// "auto" or "host": the container's user namespace mode, given the agent's default.
// INVALID_ARGUMENT for anything else, or for "auto" where it cannot work (privileged, the
// node's or another container's network namespace).
absl::StatusOr<std::string> UsernsMode(const v1::ContainerConfig& config,
                                       const std::string& default_userns);

// Applies everything above to `s`, which holds DefaultSpec() with process and mounts filled
// in, and describes the outcome in `effective`. Every error is INVALID_ARGUMENT naming the
// field of the request ("security.cap_add[1]: unknown capability \"CAP_FOO\"").
absl::Status ApplySecurity(const v1::ContainerConfig& config, const SecurityInputs& inputs,
                           spec::Spec& s, v1::EffectiveSecurity* effective);

// An absolute path without a ".." component (mount and device paths in requests).
bool CleanAbsolute(const std::string& path);

// "NET_RAW", "net_raw", "CAP_NET_RAW" -> "CAP_NET_RAW"; INVALID_ARGUMENT naming `field`.
absl::StatusOr<std::string> CapabilityName(const std::string& name, const std::string& field);

}  // namespace berth::agent
