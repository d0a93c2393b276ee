// The OCI runtime spec (config.json) model that runtime/ consumes: the subset Berth
// implements, parsed with nlohmann-json and validated before anything is created.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::spec {

struct User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;
};

struct Rlimit {
  std::string type;  // "RLIMIT_NOFILE", ...
  uint64_t hard = 0;
  uint64_t soft = 0;
};

struct Capabilities {
  std::vector<std::string> bounding, effective, inheritable, permitted, ambient;  // "CAP_CHOWN"
};

struct ConsoleSize {
  uint32_t height = 0;
  uint32_t width = 0;
};

struct Process {
  bool terminal = false;
  std::optional<ConsoleSize> console_size;
  User user;
  std::vector<std::string> args;
  std::vector<std::string> env;  // KEY=VALUE
  std::string cwd = "/";
  std::optional<Capabilities> capabilities;
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
};

struct Root {
  std::string path;
  bool readonly = false;
};

struct Mount {
  std::string destination;
  std::string type;
  std::string source;
  std::vector<std::string> options;
};

struct Namespace {
  std::string type;  // pid, network, mount, ipc, uts, user, cgroup
  std::string path;  // join this namespace instead of making one
};

struct IdMapping {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t size = 0;
};

struct LinuxResources {
  std::optional<int64_t> memory_limit;
  std::optional<int64_t> cpu_quota;
  std::optional<uint64_t> cpu_period;
  std::optional<uint64_t> cpu_shares;
  std::optional<int64_t> pids_limit;
};

struct Linux {
  std::vector<Namespace> namespaces;
  std::vector<IdMapping> uid_mappings;
  std::vector<IdMapping> gid_mappings;
  LinuxResources resources;
  std::string cgroups_path;
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::string rootfs_propagation;  // default "private"
  std::map<std::string, std::string> sysctl;
};

struct Spec {
  std::string oci_version;
  Process process;
  Root root;
  std::string hostname;
  std::vector<Mount> mounts;
  Linux linux;
  std::map<std::string, std::string> annotations;

  bool HasNamespace(const std::string& type) const;
  const Namespace* FindNamespace(const std::string& type) const;
};

// Overlay rootfs annotations Berth writes into its bundles: when present, the runtime mounts
// overlay(lowerdir, upperdir, workdir) on root.path inside the container's mount namespace.
inline constexpr char kAnnotationOverlayLower[] = "dev.berth.overlay.lowerdir";  // ':'-separated
inline constexpr char kAnnotationOverlayUpper[] = "dev.berth.overlay.upperdir";
inline constexpr char kAnnotationOverlayWork[] = "dev.berth.overlay.workdir";

// Parses config.json text. Errors are INVALID_ARGUMENT naming the JSON field.
absl::StatusOr<Spec> ParseSpec(const std::string& json_text);

// Reads <bundle>/config.json and resolves a relative root.path against the bundle.
absl::StatusOr<Spec> LoadBundle(const std::string& bundle_dir);

// Checks what parsing cannot: absolute mount destinations without "..", known namespace and
// capability and rlimit names, non-empty args, an absolute cwd, sane resource values, no
// duplicate namespaces. INVALID_ARGUMENT naming the field on failure.
absl::Status ValidateSpec(const Spec& spec);

// Serialises back to config.json text (the agent writes bundles with it).
std::string SerializeSpec(const Spec& spec);

// The Docker-compatible default: namespaces (pid, mount, ipc, uts, network, cgroup), /proc,
// /dev (tmpfs), /dev/pts, /dev/shm, /dev/mqueue, /sys (ro), the default capability set,
// masked and read-only /proc paths. Callers fill process, root, hostname and resources.
Spec DefaultSpec();

}  // namespace berth::spec
