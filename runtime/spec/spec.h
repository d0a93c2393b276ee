// The OCI runtime spec (config.json) model that runtime/ consumes: the subset Berth
// implements, parsed with nlohmann-json and validated before anything is created.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace berth::spec {

struct User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;
  std::optional<uint32_t> umask;  // unset: the runtime's 022

  bool operator==(const User&) const = default;
};

struct Rlimit {
  std::string type;  // "RLIMIT_NOFILE", ...
  uint64_t hard = 0;
  uint64_t soft = 0;

  bool operator==(const Rlimit&) const = default;
};

struct Capabilities {
  std::vector<std::string> bounding, effective, inheritable, permitted, ambient;  // "CAP_CHOWN"

  bool operator==(const Capabilities&) const = default;
};

struct ConsoleSize {
  uint32_t height = 0;
  uint32_t width = 0;

  bool operator==(const ConsoleSize&) const = default;
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
  std::optional<int> oom_score_adj;  // written to /proc/self/oom_score_adj before exec
  // SELinux labels: accepted only where SELinux is disabled, so that there is nothing to
  // label (CreateContainer refuses them on a node that enforces or audits SELinux).
  std::string selinux_label;

  bool operator==(const Process&) const = default;
};

struct Root {
  std::string path;
  bool readonly = false;

  bool operator==(const Root&) const = default;
};

struct IdMapping {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t size = 0;

  bool operator==(const IdMapping&) const = default;
};

struct Mount {
  std::string destination;
  std::string type;
  std::string source;
  std::vector<std::string> options;
  // An idmapped bind (OCI 1.1). Berth supports them equal to the container's own mappings,
  // which is also what the "idmap" option alone asks for.
  std::vector<IdMapping> uid_mappings;
  std::vector<IdMapping> gid_mappings;

  bool operator==(const Mount&) const = default;
};

struct Namespace {
  std::string type;  // pid, network, mount, ipc, uts, user, cgroup
  std::string path;  // join this namespace instead of making one

  bool operator==(const Namespace&) const = default;
};

// linux.devices[]: a device node made in the container's /dev.
struct Device {
  std::string path;  // absolute, inside the container
  std::string type;  // "c", "b", "u" (unbuffered char) or "p" (fifo)
  int64_t major = 0;
  int64_t minor = 0;
  std::optional<uint32_t> file_mode;  // permission bits; default 0666
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;

  bool operator==(const Device&) const = default;
};

// linux.resources.devices[]: the device cgroup. Rules are read in order and the last one
// that matches an access decides it; with no match the access is denied.
struct DeviceRule {
  bool allow = false;
  std::string type = "a";       // "a" (all), "c" or "b"
  std::optional<int64_t> major;  // unset (or -1 in JSON): any
  std::optional<int64_t> minor;
  std::string access = "rwm";   // any of r, w, m

  bool operator==(const DeviceRule&) const = default;
};

// linux.seccomp, in the OCI runtime spec's shape.
struct SeccompArg {
  uint32_t index = 0;  // 0..5
  uint64_t value = 0;
  uint64_t value_two = 0;
  std::string op;  // SCMP_CMP_NE, _LT, _LE, _EQ, _GE, _GT, _MASKED_EQ

  bool operator==(const SeccompArg&) const = default;
};

struct SeccompSyscall {
  std::vector<std::string> names;
  std::string action;                  // SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, ...
  std::optional<uint32_t> errno_ret;   // for SCMP_ACT_ERRNO / SCMP_ACT_TRACE; default EPERM
  std::vector<SeccompArg> args;        // all must hold

  bool operator==(const SeccompSyscall&) const = default;
};

struct Seccomp {
  std::string default_action;
  std::optional<uint32_t> default_errno_ret;
  std::vector<std::string> architectures;  // SCMP_ARCH_X86_64, ...
  std::vector<std::string> flags;          // SECCOMP_FILTER_FLAG_LOG, ..._SPEC_ALLOW
  std::vector<SeccompSyscall> syscalls;

  bool operator==(const Seccomp&) const = default;
};

// OCI's -1 ("unlimited") for memory.limit, memory.reservation, memory.kernel,
// memory.kernelTCP and cpu.quota reads as unset, so a set value is always a real limit; so
// does 0 for memory.reservation/kernel/kernelTCP and cpu.realtimeRuntime/realtimePeriod,
// which OCI tools write for "not set". Fields marked v1 only have no cgroup v2 equivalent:
// a node on v2 refuses them.
struct LinuxResources {
  std::optional<int64_t> memory_limit;  // bytes
  // Bytes: a soft limit, which reclaim under memory pressure pushes the container back to.
  std::optional<int64_t> memory_reservation;
  // Memory plus swap, in bytes (OCI's meaning), >= memory_limit; -1: unlimited swap. Unset:
  // no swap beyond memory_limit.
  std::optional<int64_t> memory_swap;
  std::optional<int64_t> memory_kernel;           // bytes, v1 only (the kernel may ignore it)
  std::optional<int64_t> memory_kernel_tcp;       // bytes, v1 only
  std::optional<uint64_t> memory_swappiness;      // 0..100, v1 only; unset: the parent's
  std::optional<bool> memory_disable_oom_killer;  // v1 only (v2 refuses true)
  std::optional<int64_t> cpu_quota;     // microseconds per cpu_period
  std::optional<uint64_t> cpu_period;
  std::optional<uint64_t> cpu_shares;
  // Realtime scheduling budget, v1 only: microseconds (-1: unlimited) per period.
  std::optional<int64_t> cpu_realtime_runtime;
  std::optional<uint64_t> cpu_realtime_period;
  std::string cpu_cpus;  // cpuset list, e.g. "0-3,7"; empty: the parent's
  std::string cpu_mems;  // memory nodes, same syntax
  std::optional<int64_t> pids_limit;
  std::vector<DeviceRule> devices;

  bool operator==(const LinuxResources&) const = default;
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
  std::string mount_label;         // SELinux; see Process::selinux_label
  std::map<std::string, std::string> sysctl;
  std::vector<Device> devices;
  std::optional<Seccomp> seccomp;

  bool operator==(const Linux&) const = default;
};

// One lifecycle hook: a program run by the runtime with the container's state on stdin.
struct Hook {
  std::string path;               // absolute
  std::vector<std::string> args;  // argv, including argv[0]
  std::vector<std::string> env;   // KEY=VALUE
  std::optional<int> timeout;     // seconds, > 0

  bool operator==(const Hook&) const = default;
};

struct Hooks {
  std::vector<Hook> prestart;  // deprecated; run with createRuntime
  std::vector<Hook> create_runtime;
  std::vector<Hook> create_container;
  std::vector<Hook> start_container;
  std::vector<Hook> poststart;
  std::vector<Hook> poststop;

  bool operator==(const Hooks&) const = default;
};

struct Spec {
  std::string oci_version;
  Process process;
  Root root;
  std::string hostname;
  std::string domainname;
  std::vector<Mount> mounts;
  Linux linux;
  Hooks hooks;
  std::map<std::string, std::string> annotations;

  bool HasNamespace(const std::string& type) const;
  const Namespace* FindNamespace(const std::string& type) const;

  bool operator==(const Spec&) const = default;
};

// Overlay rootfs annotations Berth writes into its bundles: when present, the runtime mounts
// overlay(lowerdir, upperdir, workdir) on root.path inside the container's mount namespace.
inline constexpr char kAnnotationOverlayLower[] = "dev.berth.overlay.lowerdir";  // ':'-separated
inline constexpr char kAnnotationOverlayUpper[] = "dev.berth.overlay.upperdir";
inline constexpr char kAnnotationOverlayWork[] = "dev.berth.overlay.workdir";

// Parses config.json text. Errors are INVALID_ARGUMENT naming the JSON field.
absl::StatusOr<Spec> ParseSpec(const std::string& json_text);

// Parses a linux.seccomp object alone (JSON text); errors name fields below `field`
// ("linux.seccomp.syscalls[2].action: ..."). Used for seccomp profile documents too.
absl::StatusOr<Seccomp> ParseSeccomp(const std::string& json_text, const std::string& field);
// Known actions, operators, architectures and flags; an errno only with ERRNO/TRACE.
absl::Status ValidateSeccomp(const Seccomp& seccomp, const std::string& field);
// The linux.seccomp object as JSON text (what ParseSeccomp reads back).
std::string SerializeSeccomp(const Seccomp& seccomp);

// Reads <bundle>/config.json, parses and validates it, and resolves a relative root.path
// against the (absolute) bundle directory, so later chdirs cannot change what it names.
absl::StatusOr<Spec> LoadBundle(const std::string& bundle_dir);

// LoadBundle in two steps, for a caller that needs config.json's bytes as well (the monitor
// checks that a compiled seccomp program was made from exactly these).
struct BundleConfig {
  std::string bundle;  // absolute
  std::string path;    // <bundle>/config.json
  std::string text;
};
absl::StatusOr<BundleConfig> ReadBundleConfig(const std::string& bundle_dir);

enum class SeccompSection {
  kParse,
  // Nothing of linux.seccomp is built or validated, and Spec::linux.seccomp stays empty: for a
  // caller that has the program compiled already (parsing the default profile is about half of
  // parsing config.json). `*had_seccomp` says whether config.json held an object there.
  kSkip,
};
absl::StatusOr<Spec> ParseBundleConfig(const BundleConfig& config, SeccompSection seccomp = SeccompSection::kParse,
                                       bool* had_seccomp = nullptr);

// Checks what parsing cannot: absolute mount destinations without "..", known namespace and
// capability and rlimit names, non-empty args, an absolute cwd, sane resource values, no
// duplicate namespaces, a hostname only with a new uts namespace, id mappings only with a user
// namespace, sysctls only in namespaces the container owns. The first problem found is returned
// as INVALID_ARGUMENT naming the field and the bad value.
absl::Status ValidateSpec(const Spec& spec);

// Serialises back to config.json text (the agent writes bundles with it). Unset optional fields
// and empty lists are omitted; ParseSpec(SerializeSpec(s)) == s.
std::string SerializeSpec(const Spec& spec);

// The hardened default: namespaces (pid, mount, ipc, uts, network, cgroup), /proc, /dev
// (tmpfs, nodev), /dev/pts, /dev/shm, /dev/mqueue, /sys (ro), the default capability set,
// no_new_privs, masked and read-only /proc paths. Callers fill process, root, hostname and
// resources.
Spec DefaultSpec();

// Lookups the runtime needs when applying a validated spec. INVALID_ARGUMENT for unknown names.
absl::StatusOr<int> RlimitResource(const std::string& type);      // "RLIMIT_NOFILE" -> RLIMIT_NOFILE
absl::StatusOr<int> CapabilityNumber(const std::string& name);    // "CAP_CHOWN" -> 0
absl::StatusOr<int> NamespaceCloneFlag(const std::string& type);  // "network" -> CLONE_NEWNET

// The capabilities a container gets by default: Podman's eleven (no NET_RAW, MKNOD or
// AUDIT_WRITE), in number order.
std::vector<std::string> DefaultCapabilities();

// The device cgroup rules every container gets after linux.resources.devices, as runc
// appends them (so a spec that denies everything still has a working /dev): making nodes
// (moot without CAP_MKNOD) and the default nodes of /dev (null, zero, full, random,
// urandom, tty, console, ptmx and the pts devices).
std::vector<DeviceRule> DefaultDeviceRules();

// A container's whole device cgroup, in order (the last match decides): deny everything,
// then linux.resources.devices, then DefaultDeviceRules().
std::vector<DeviceRule> DeviceRulesFor(const LinuxResources& resources);

// The linux.seccomp names ParseSeccomp accepts (for `berth-runtime features`).
struct SeccompNames {
  std::vector<std::string> actions, operators, archs, flags;
};
SeccompNames KnownSeccompNames();

// Every capability name Linux defines (0..40, CAP_CHOWN .. CAP_CHECKPOINT_RESTORE), in number order.
std::vector<std::string> AllCapabilityNames();

}  // namespace berth::spec
