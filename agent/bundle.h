// Turns a berth.v1 ContainerConfig plus its image into an OCI runtime spec (Docker's rules
// for entrypoint/cmd/env/user/workdir, Berth's security defaults) and lays out the bundle.
#pragma once

#include <map>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "agent/image/image_store.h"
#include "agent/security_spec.h"
#include "berth/v1/containers.pb.h"
#include "runtime/spec/spec.h"

namespace berth::agent {

// Where one container's files live: <root>/containers/<id>/...
struct ContainerPaths {
  std::string dir;     // the container's state dir (also the shim's)
  std::string bundle;  // dir/bundle, holds config.json
  std::string rootfs;  // mount point of the overlay inside the container's mount namespace
  std::string upper;
  std::string work;
  std::string log;     // CRI log
  std::string record;  // container.json, the agent's durable record
  std::string hosts;        // bind-mounted at /etc/hosts
  std::string hostname;     // at /etc/hostname
  std::string resolv_conf;  // at /etc/resolv.conf

  static ContainerPaths For(const std::string& containers_dir, const std::string& id);
};

// How the container's namespaces are made, decided before the spec is built: its network
// and the others it may share.
struct SpecNetwork {
  bool host = false;       // share the node's network namespace
  std::string join_netns;  // path of another container's netns to join ("container:" mode)
  std::map<std::string, std::string> join_paths;  // "ipc", "uts", "pid" -> a namespace to join
  std::set<std::string> host_namespaces;          // "ipc", "uts", "pid" kept from the node
  // Files bind-mounted over /etc/hosts, /etc/hostname, /etc/resolv.conf (empty: none).
  std::string hosts, hostname, resolv_conf;
};

// Checks and builds; every error is INVALID_ARGUMENT naming the field. `effective` (when
// given) gets the security settings the container really has.
absl::StatusOr<spec::Spec> BuildSpec(const v1::ContainerConfig& config, const image::Image& image,
                                     const std::string& id, const std::string& cgroups_path,
                                     const ContainerPaths& paths, const SpecNetwork& network = {},
                                     const SecurityInputs& security = {},
                                     v1::EffectiveSecurity* effective = nullptr);

// The hostname a container gets: its config's, else the first 12 hex digits of its id.
std::string HostnameFor(const v1::ContainerConfig& config, const std::string& id);

}  // namespace berth::agent
