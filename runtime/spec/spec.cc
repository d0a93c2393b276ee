// The OCI config.json model: parsing (nlohmann-json, every exception caught here), validation,
// serialisation, the Docker-like default, and the name -> kernel-constant lookups.
#include "runtime/spec/spec.h"

#include <sched.h>
#include <sys/resource.h>

#include <array>
#include <cmath>
#include <exception>
#include <filesystem>
#include <limits>
#include <set>
#include <system_error>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/status_macros.h"

namespace berth::spec {
namespace {

using Json = nlohmann::json;
// Serialisation keeps insertion order so written bundles read like the spec's own examples.
using OrderedJson = nlohmann::ordered_json;

// ---------------------------------------------------------------------------------------------
// Name tables.

struct NamedValue {
  const char* name;
  int value;
};

// Numbers are the kernel ABI (include/uapi/linux/capability.h) and never change.
constexpr std::array<NamedValue, 41> kCapabilities = {{
    {"CAP_CHOWN", 0},
    {"CAP_DAC_OVERRIDE", 1},
    {"CAP_DAC_READ_SEARCH", 2},
    {"CAP_FOWNER", 3},
    {"CAP_FSETID", 4},
    {"CAP_KILL", 5},
    {"CAP_SETGID", 6},
    {"CAP_SETUID", 7},
    {"CAP_SETPCAP", 8},
    {"CAP_LINUX_IMMUTABLE", 9},
    {"CAP_NET_BIND_SERVICE", 10},
    {"CAP_NET_BROADCAST", 11},
    {"CAP_NET_ADMIN", 12},
    {"CAP_NET_RAW", 13},
    {"CAP_IPC_LOCK", 14},
    {"CAP_IPC_OWNER", 15},
    {"CAP_SYS_MODULE", 16},
    {"CAP_SYS_RAWIO", 17},
    {"CAP_SYS_CHROOT", 18},
    {"CAP_SYS_PTRACE", 19},
    {"CAP_SYS_PACCT", 20},
    {"CAP_SYS_ADMIN", 21},
    {"CAP_SYS_BOOT", 22},
    {"CAP_SYS_NICE", 23},
    {"CAP_SYS_RESOURCE", 24},
    {"CAP_SYS_TIME", 25},
    {"CAP_SYS_TTY_CONFIG", 26},
    {"CAP_MKNOD", 27},
    {"CAP_LEASE", 28},
    {"CAP_AUDIT_WRITE", 29},
    {"CAP_AUDIT_CONTROL", 30},
    {"CAP_SETFCAP", 31},
    {"CAP_MAC_OVERRIDE", 32},
    {"CAP_MAC_ADMIN", 33},
    {"CAP_SYSLOG", 34},
    {"CAP_WAKE_ALARM", 35},
    {"CAP_BLOCK_SUSPEND", 36},
    {"CAP_AUDIT_READ", 37},
    {"CAP_PERFMON", 38},
    {"CAP_BPF", 39},
    {"CAP_CHECKPOINT_RESTORE", 40},
}};

const std::array<NamedValue, 16> kRlimits = {{
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
}};

constexpr std::array<NamedValue, 7> kNamespaces = {{
    {"pid", CLONE_NEWPID},
    {"network", CLONE_NEWNET},
    {"mount", CLONE_NEWNS},
    {"ipc", CLONE_NEWIPC},
    {"uts", CLONE_NEWUTS},
    {"user", CLONE_NEWUSER},
    {"cgroup", CLONE_NEWCGROUP},
}};

template <size_t N>
const NamedValue* FindNamed(const std::array<NamedValue, N>& table, absl::string_view name) {
  for (const NamedValue& entry : table) {
    if (name == entry.name) return &entry;
  }
  return nullptr;
}

template <size_t N>
std::string JoinNames(const std::array<NamedValue, N>& table) {
  std::vector<std::string> names;
  for (const NamedValue& entry : table) names.emplace_back(entry.name);
  return absl::StrJoin(names, ", ");
}

// Quotes a value for an error message; JSON escaping keeps control characters readable.
std::string Quote(const std::string& value) {
  return Json(value).dump(-1, ' ', false, Json::error_handler_t::replace);
}

absl::Status FieldError(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

// ---------------------------------------------------------------------------------------------
// Parsing. Each reader checks the JSON type itself so errors name the field instead of
// surfacing nlohmann's generic type_error text; ParseSpec still catches anything thrown.

std::string Child(const std::string& parent, const char* key) {
  return parent.empty() ? std::string(key) : absl::StrCat(parent, ".", key);
}

std::string Index(const std::string& field, size_t i) { return absl::StrCat(field, "[", i, "]"); }

// The member `key` of object `obj`, or nullptr when absent or null (null means unset in OCI).
const Json* Member(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

absl::Status ExpectObject(const Json& v, const std::string& field) {
  if (!v.is_object()) return FieldError(field, "must be an object");
  return absl::OkStatus();
}

absl::Status Read(const Json& v, const std::string& field, std::string* out) {
  if (!v.is_string()) return FieldError(field, "must be a string");
  *out = v.get<std::string>();
  return absl::OkStatus();
}

absl::Status Read(const Json& v, const std::string& field, bool* out) {
  if (!v.is_boolean()) return FieldError(field, "must be a boolean");
  *out = v.get<bool>();
  return absl::OkStatus();
}

// Declared up front: the templates below find these by ordinary lookup (the model types live in
// berth::spec, so argument-dependent lookup would not see this unnamed namespace).
absl::Status Read(const Json& v, const std::string& field, std::map<std::string, std::string>* out);
absl::Status Read(const Json& v, const std::string& field, ConsoleSize* out);
absl::Status Read(const Json& v, const std::string& field, User* out);
absl::Status Read(const Json& v, const std::string& field, Capabilities* out);
absl::Status Read(const Json& v, const std::string& field, Rlimit* out);
absl::Status Read(const Json& v, const std::string& field, Process* out);
absl::Status Read(const Json& v, const std::string& field, Root* out);
absl::Status Read(const Json& v, const std::string& field, Mount* out);
absl::Status Read(const Json& v, const std::string& field, Namespace* out);
absl::Status Read(const Json& v, const std::string& field, IdMapping* out);
absl::Status Read(const Json& v, const std::string& field, LinuxResources* out);
absl::Status Read(const Json& v, const std::string& field, Linux* out);
absl::Status Read(const Json& v, const std::string& field, Device* out);
absl::Status Read(const Json& v, const std::string& field, DeviceRule* out);
absl::Status Read(const Json& v, const std::string& field, SeccompArg* out);
absl::Status Read(const Json& v, const std::string& field, SeccompSyscall* out);
absl::Status Read(const Json& v, const std::string& field, Seccomp* out);
absl::Status Read(const Json& v, const std::string& field, Hook* out);
absl::Status Read(const Json& v, const std::string& field, Hooks* out);

template <typename T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
absl::Status Read(const Json& v, const std::string& field, T* out) {
  auto out_of_range = [&](const std::string& shown) {
    return FieldError(field, absl::StrCat(shown, " is out of range [",
                                          std::numeric_limits<T>::min(), ", ",
                                          std::numeric_limits<T>::max(), "]"));
  };
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (!std::in_range<T>(u)) return out_of_range(absl::StrCat(u));
    *out = static_cast<T>(u);
    return absl::OkStatus();
  }
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if (!std::in_range<T>(i)) return out_of_range(absl::StrCat(i));
    *out = static_cast<T>(i);
    return absl::OkStatus();
  }
  return FieldError(field, "must be an integer");
}

template <typename T>
absl::Status Read(const Json& v, const std::string& field, std::vector<T>* out) {
  if (!v.is_array()) return FieldError(field, "must be an array");
  std::vector<T> items(v.size());
  for (size_t i = 0; i < v.size(); ++i) RETURN_IF_ERROR(Read(v[i], Index(field, i), &items[i]));
  *out = std::move(items);
  return absl::OkStatus();
}

absl::Status Read(const Json& v, const std::string& field,
                  std::map<std::string, std::string>* out) {
  if (!v.is_object()) return FieldError(field, "must be an object of strings");
  std::map<std::string, std::string> items;
  for (const auto& [key, value] : v.items()) {
    if (!value.is_string()) return FieldError(absl::StrCat(field, ".", key), "must be a string");
    items[key] = value.get<std::string>();
  }
  *out = std::move(items);
  return absl::OkStatus();
}

template <typename T>
absl::Status Read(const Json& v, const std::string& field, std::optional<T>* out) {
  T value{};
  RETURN_IF_ERROR(Read(v, field, &value));
  *out = std::move(value);
  return absl::OkStatus();
}

// Reads obj[key] into *out when present; leaves *out (its default) alone when absent or null.
template <typename T>
absl::Status Get(const Json& obj, const char* key, const std::string& parent, T* out) {
  const Json* v = Member(obj, key);
  if (v == nullptr) return absl::OkStatus();
  return Read(*v, Child(parent, key), out);
}

// Parts of the OCI runtime spec Berth does not implement. Asking for one is refused, naming
// the field: silently running a container without it would be worse. Empty values (null, "",
// [], {}, false, 0) ask for nothing and pass.
bool IsEmptyValue(const Json& v) {
  if (v.is_object()) {
    for (const auto& [key, member] : v.items()) {
      if (!IsEmptyValue(member)) return false;
    }
    return true;
  }
  return v.is_null() || (v.is_string() && v.get<std::string>().empty()) ||
         (v.is_array() && v.empty()) || (v.is_boolean() && !v.get<bool>()) ||
         (v.is_number() && v == 0);
}

absl::Status RefuseUnsupported(const Json& obj, const std::string& parent,
                               std::initializer_list<std::pair<const char*, const char*>> keys) {
  for (const auto& [key, why] : keys) {
    auto it = obj.find(key);
    if (it == obj.end() || IsEmptyValue(*it)) continue;
    return FieldError(Child(parent, key), absl::StrCat("is not supported by Berth (", why, ")"));
  }
  return absl::OkStatus();
}

absl::Status Read(const Json& v, const std::string& field, ConsoleSize* out) {
  RETURN_IF_ERROR(ExpectObject(v, field));
  RETURN_IF_ERROR(Get(v, "height", field, &out->height));
  return Get(v, "width", field, &out->width);
}

absl::Status Read(const Json& v, const std::string& field, User* out) {
  RETURN_IF_ERROR(ExpectObject(v, field));
  RETURN_IF_ERROR(RefuseUnsupported(v, field, {{"username", "a Windows field"}}));
  RETURN_IF_ERROR(Get(v, "uid", field, &out->uid));
  RETURN_IF_ERROR(Get(v, "gid", field, &out->gid));
  RETURN_IF_ERROR(Get(v, "umask", field, &out->umask));
  return Get(v, "additionalGids", field, &out->additional_gids);
}

absl::Status Read(const Json& v, const std::string& field, Capabilities* out) {
  RETURN_IF_ERROR(ExpectObject(v, field));
  RETURN_IF_ERROR(Get(v, "bounding", field, &out->bounding));
  RETURN_IF_ERROR(Get(v, "effective", field, &out->effective));
  RETURN_IF_ERROR(Get(v, "inheritable", field, &out->inheritable));
  RETURN_IF_ERROR(Get(v, "permitted", field, &out->permitted));
  return Get(v, "ambient", field, &out->ambient);
}

absl::Status Read(const Json& v, const std::string& field, Rlimit* out) {
  RETURN_IF_ERROR(ExpectObject(v, field));
  RETURN_IF_ERROR(Get(v, "type", field, &out->type));
  RETURN_IF_ERROR(Get(v, "hard", field, &out->hard));
  return Get(v, "soft", field, &out->soft);
}

absl::Status Read(const Json& v, const std::string& field, Hook* out) {
  RETURN_IF_ERROR(ExpectObject(v, field));
  RETURN_IF_ERROR(Get(v, "path", field, &out->path));
  RETURN_IF_ERROR(Get(v, "args", field, &out->args));
  RETURN_IF_ERROR(Get(v, "env", field, &out->env));
  RETURN_IF_ERROR(Get(v, "timeout", field, &out->timeout));
  if (out->path.empty() || out->path[0] != '/') {
    return FieldError(Child(field, "path"), "must be an absolute path");
  }
  if (out->timeout.has_value() && *out->timeout <= 0) {
    return FieldError(Child(field, "timeout"), "must be a positive number of seconds");
  }
  return absl::OkStatus();
}

absl::Status Read(const Json& v, const std::string& field, Hooks* out) {
  RETURN_IF_ERROR(ExpectObject(v, field));
  RETURN_IF_ERROR(Get(v, "prestart", field, &out->prestart));
  RETURN_IF_ERROR(Get(v, "createRuntime", field, &out->create_runtime));
  RETURN_IF_ERROR(Get(v, "createContainer", field, &out->create_container));
  RETURN_IF_ERROR(Get(v, "startContainer", field, &out->start_container));
  RETURN_IF_ERROR(Get(v, "poststart", field, &out->poststart));
  return Get(v, "poststop", field, &out->poststop);
}

absl::Status Read(const Json& v, const std::string& field, Process* out) {
  RETURN_IF_ERROR(ExpectObject(v, field));
  RETURN_IF_ERROR(RefuseUnsupported(v, field,
                                    {{"apparmorProfile", "AppArmor is not available"},
                                     {"commandLine", "a Windows field"},
                                     {"ioPriority", "not implemented"},
                                     {"scheduler", "not implemented"},
                                     {"execCPUAffinity", "not implemented"}}));
  RETURN_IF_ERROR(Get(v, "terminal", field, &out->terminal));
  RETURN_IF_ERROR(Get(v, "selinuxLabel", field, &out->selinux_label));
  RETURN_IF_ERROR(Get(v, "consoleSize", field, &out->console_size));
  RETURN_IF_ERROR(Get(v, "user", field, &out->user));
  if (const Json* args = Member(v, "args"); args != nullptr) {
    const std::string args_field = Child(field, "args");
    if (!args->is_array() || args->empty()) {
      return FieldError(args_field, "must be a non-empty array of strings");
    }
    RETURN_IF_ERROR(Read(*args, args_field, &out->args));
  }
  RETURN_IF_ERROR(Get(v, "env", field, &out->env));
  RETURN_IF_ERROR(Get(v, "cwd", field, &out->cwd));
  RETURN_IF_ERROR(Get(v, "capabilities", field, &out->capabilities));
  RETURN_IF_ERROR(Get(v, "rlimits", field, &out->rlimits));
  RETURN_IF_ERROR(Get(v, "oomScoreAdj", field, &out->oom_score_adj));
  return Get(v, "noNewPrivileges", field, &out->no_new_privileges);
}

absl::Status Read(const Json& v, const std::string& field, Root* out) {
  RETURN_IF_ERROR(ExpectObject(v, field));
  RETURN_IF_ERROR(Get(v, "path", field, &out->path));
  return Get(v, "readonly", field, &out->readonly);
}

absl::Status Read(const Json& v, const std::string& field, Mount* out) {
  RETURN_IF_ERROR(ExpectObject(v, field));
  RETURN_IF_ERROR(Get(v, "destination", field, &out->destination));
  RETURN_IF_ERROR(Get(v, "type", field, &out->type));
  RETURN_IF_ERROR(Get(v, "source", field, &out->source));
  RETURN_IF_ERROR(Get(v, "options", field, &out->options));
  RETURN_IF_ERROR(Get(v, "uidMappings", field, &out->uid_mappings));
  return Get(v, "gidMappings", field, &out->gid_mappings);
}

absl::Status Read(const Json& v, const std::string& field, Namespace* out) {
  RETURN_IF_ERROR(ExpectObject(v, field));
  RETURN_IF_ERROR(Get(v, "type", field, &out->type));
  return Get(v, "path", field, &out->path);
}

absl::Status Read(const Json& v, const std::string& field, IdMapping* out) {
  RETURN_IF_ERROR(ExpectObject(v, field));
  RETURN_IF_ERROR(Get(v, "containerID", field, &out->container_id));
  RETURN_IF_ERROR(Get(v, "hostID", field, &out->host_id));
  return Get(v, "size", field, &out->size);
}

// OCI spells "no limit" as -1 for memory.limit and cpu.quota; Berth models it as unset so
// consumers never see a negative limit.
void UnlimitedIsUnset(std::optional<int64_t>* value) {
  if (value->has_value() && **value == -1) value->reset();
}

// OCI tools write 0 for "not set" in fields where 0 would otherwise ask for something odd
// (a soft limit of nothing, a realtime period of nothing); runc skips them too.
template <typename T>
void ZeroIsUnset(std::optional<T>* value) {
  if (value->has_value() && **value == 0) value->reset();
}

absl::Status Read(const Json& v, const std::string& field, LinuxResources* out) {
  RETURN_IF_ERROR(ExpectObject(v, field));
  RETURN_IF_ERROR(RefuseUnsupported(v, field,
                                    {{"blockIO", "not implemented"},
                                     {"hugepageLimits", "not implemented"},
                                     {"network", "not implemented"},
                                     {"rdma", "not implemented"},
                                     {"unified", "not implemented"}}));
  if (const Json* memory = Member(v, "memory"); memory != nullptr) {
    const std::string memory_field = Child(field, "memory");
    RETURN_IF_ERROR(ExpectObject(*memory, memory_field));
    RETURN_IF_ERROR(RefuseUnsupported(*memory, memory_field,
                                      {{"useHierarchy", "not implemented"},
                                       {"checkBeforeUpdate", "not implemented"}}));
    RETURN_IF_ERROR(Get(*memory, "limit", memory_field, &out->memory_limit));
    UnlimitedIsUnset(&out->memory_limit);
    RETURN_IF_ERROR(Get(*memory, "reservation", memory_field, &out->memory_reservation));
    UnlimitedIsUnset(&out->memory_reservation);
    ZeroIsUnset(&out->memory_reservation);
    // -1 stays: unlimited swap differs from unset (no swap beyond the memory limit).
    RETURN_IF_ERROR(Get(*memory, "swap", memory_field, &out->memory_swap));
    RETURN_IF_ERROR(Get(*memory, "kernel", memory_field, &out->memory_kernel));
    UnlimitedIsUnset(&out->memory_kernel);
    ZeroIsUnset(&out->memory_kernel);
    RETURN_IF_ERROR(Get(*memory, "kernelTCP", memory_field, &out->memory_kernel_tcp));
    UnlimitedIsUnset(&out->memory_kernel_tcp);
    ZeroIsUnset(&out->memory_kernel_tcp);
    RETURN_IF_ERROR(Get(*memory, "swappiness", memory_field, &out->memory_swappiness));
    RETURN_IF_ERROR(
        Get(*memory, "disableOOMKiller", memory_field, &out->memory_disable_oom_killer));
  }
  if (const Json* cpu = Member(v, "cpu"); cpu != nullptr) {
    const std::string cpu_field = Child(field, "cpu");
    RETURN_IF_ERROR(ExpectObject(*cpu, cpu_field));
    RETURN_IF_ERROR(RefuseUnsupported(*cpu, cpu_field,
                                      {{"idle", "not implemented"},
                                       {"burst", "not implemented"}}));
    RETURN_IF_ERROR(Get(*cpu, "shares", cpu_field, &out->cpu_shares));
    RETURN_IF_ERROR(Get(*cpu, "quota", cpu_field, &out->cpu_quota));
    RETURN_IF_ERROR(Get(*cpu, "period", cpu_field, &out->cpu_period));
    UnlimitedIsUnset(&out->cpu_quota);
    RETURN_IF_ERROR(Get(*cpu, "realtimeRuntime", cpu_field, &out->cpu_realtime_runtime));
    ZeroIsUnset(&out->cpu_realtime_runtime);
    RETURN_IF_ERROR(Get(*cpu, "realtimePeriod", cpu_field, &out->cpu_realtime_period));
    ZeroIsUnset(&out->cpu_realtime_period);
    RETURN_IF_ERROR(Get(*cpu, "cpus", cpu_field, &out->cpu_cpus));
    RETURN_IF_ERROR(Get(*cpu, "mems", cpu_field, &out->cpu_mems));
  }
  if (const Json* pids = Member(v, "pids"); pids != nullptr) {
    const std::string pids_field = Child(field, "pids");
    RETURN_IF_ERROR(ExpectObject(*pids, pids_field));
    RETURN_IF_ERROR(Get(*pids, "limit", pids_field, &out->pids_limit));
  }
  return Get(v, "devices", field, &out->devices);
}

absl::Status Read(const Json& v, const std::string& field, Device* out) {
  RETURN_IF_ERROR(ExpectObject(v, field));
  RETURN_IF_ERROR(Get(v, "path", field, &out->path));
  RETURN_IF_ERROR(Get(v, "type", field, &out->type));
  RETURN_IF_ERROR(Get(v, "major", field, &out->major));
  RETURN_IF_ERROR(Get(v, "minor", field, &out->minor));
  RETURN_IF_ERROR(Get(v, "fileMode", field, &out->file_mode));
  RETURN_IF_ERROR(Get(v, "uid", field, &out->uid));
  return Get(v, "gid", field, &out->gid);
}

absl::Status Read(const Json& v, const std::string& field, DeviceRule* out) {
  RETURN_IF_ERROR(ExpectObject(v, field));
  if (Member(v, "allow") == nullptr) return FieldError(Child(field, "allow"), "is required");
  RETURN_IF_ERROR(Get(v, "allow", field, &out->allow));
  RETURN_IF_ERROR(Get(v, "type", field, &out->type));
  RETURN_IF_ERROR(Get(v, "major", field, &out->major));
  RETURN_IF_ERROR(Get(v, "minor", field, &out->minor));
  // -1 is how runc's own specs spell "any".
  if (out->major == -1) out->major.reset();
  if (out->minor == -1) out->minor.reset();
  return Get(v, "access", field, &out->access);
}

absl::Status Read(const Json& v, const std::string& field, SeccompArg* out) {
  RETURN_IF_ERROR(ExpectObject(v, field));
  RETURN_IF_ERROR(Get(v, "index", field, &out->index));
  RETURN_IF_ERROR(Get(v, "value", field, &out->value));
  RETURN_IF_ERROR(Get(v, "valueTwo", field, &out->value_two));
  return Get(v, "op", field, &out->op);
}

absl::Status Read(const Json& v, const std::string& field, SeccompSyscall* out) {
  RETURN_IF_ERROR(ExpectObject(v, field));
  RETURN_IF_ERROR(Get(v, "names", field, &out->names));
  RETURN_IF_ERROR(Get(v, "action", field, &out->action));
  RETURN_IF_ERROR(Get(v, "errnoRet", field, &out->errno_ret));
  return Get(v, "args", field, &out->args);
}

absl::Status Read(const Json& v, const std::string& field, Seccomp* out) {
  RETURN_IF_ERROR(ExpectObject(v, field));
  RETURN_IF_ERROR(RefuseUnsupported(v, field,
                                    {{"listenerPath", "seccomp user notification"},
                                     {"listenerMetadata", "seccomp user notification"}}));
  RETURN_IF_ERROR(Get(v, "defaultAction", field, &out->default_action));
  RETURN_IF_ERROR(Get(v, "defaultErrnoRet", field, &out->default_errno_ret));
  RETURN_IF_ERROR(Get(v, "architectures", field, &out->architectures));
  RETURN_IF_ERROR(Get(v, "flags", field, &out->flags));
  return Get(v, "syscalls", field, &out->syscalls);
}

absl::Status Read(const Json& v, const std::string& field, Linux* out) {
  RETURN_IF_ERROR(ExpectObject(v, field));
  RETURN_IF_ERROR(RefuseUnsupported(v, field,
                                    {{"timeOffsets", "not implemented"},
                                     {"intelRdt", "not implemented"},
                                     {"personality", "not implemented"},
                                     {"memoryPolicy", "not implemented"},
                                     {"netDevices", "not implemented"}}));
  RETURN_IF_ERROR(Get(v, "namespaces", field, &out->namespaces));
  RETURN_IF_ERROR(Get(v, "mountLabel", field, &out->mount_label));
  RETURN_IF_ERROR(Get(v, "uidMappings", field, &out->uid_mappings));
  RETURN_IF_ERROR(Get(v, "gidMappings", field, &out->gid_mappings));
  RETURN_IF_ERROR(Get(v, "resources", field, &out->resources));
  RETURN_IF_ERROR(Get(v, "cgroupsPath", field, &out->cgroups_path));
  RETURN_IF_ERROR(Get(v, "maskedPaths", field, &out->masked_paths));
  RETURN_IF_ERROR(Get(v, "readonlyPaths", field, &out->readonly_paths));
  RETURN_IF_ERROR(Get(v, "rootfsPropagation", field, &out->rootfs_propagation));
  RETURN_IF_ERROR(Get(v, "devices", field, &out->devices));
  RETURN_IF_ERROR(Get(v, "seccomp", field, &out->seccomp));
  return Get(v, "sysctl", field, &out->sysctl);
}

absl::Status Read(const Json& v, Spec* out) {
  RETURN_IF_ERROR(ExpectObject(v, "config.json"));
  RETURN_IF_ERROR(RefuseUnsupported(v, "",
                                    {{"solaris", "a Solaris field"},
                                     {"windows", "a Windows field"},
                                     {"vm", "virtual-machine containers"},
                                     {"zos", "a z/OS field"}}));
  RETURN_IF_ERROR(Get(v, "ociVersion", "", &out->oci_version));
  RETURN_IF_ERROR(Get(v, "hooks", "", &out->hooks));
  RETURN_IF_ERROR(Get(v, "process", "", &out->process));
  RETURN_IF_ERROR(Get(v, "root", "", &out->root));
  RETURN_IF_ERROR(Get(v, "hostname", "", &out->hostname));
  RETURN_IF_ERROR(Get(v, "domainname", "", &out->domainname));
  RETURN_IF_ERROR(Get(v, "mounts", "", &out->mounts));
  RETURN_IF_ERROR(Get(v, "linux", "", &out->linux));
  return Get(v, "annotations", "", &out->annotations);
}

// ---------------------------------------------------------------------------------------------
// Validation.

// Splits on '/' and reports whether any component is exactly "..".
bool HasDotDot(absl::string_view path, absl::string_view delimiters = "/") {
  for (absl::string_view part : absl::StrSplit(path, absl::ByAnyChar(delimiters))) {
    if (part == "..") return true;
  }
  return false;
}

absl::Status CheckAbsolute(const std::string& field, const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return FieldError(field, absl::StrCat("must be an absolute path, got ", Quote(path)));
  }
  return absl::OkStatus();
}

absl::Status CheckAbsoluteClean(const std::string& field, const std::string& path) {
  RETURN_IF_ERROR(CheckAbsolute(field, path));
  if (HasDotDot(path)) {
    return FieldError(field, absl::StrCat("must not contain \"..\" components, got ", Quote(path)));
  }
  return absl::OkStatus();
}

// RFC 1123: dot-separated labels of letters, digits and '-', not starting or ending with '-';
// at most HOST_NAME_MAX (64) bytes in all.
bool ValidHostname(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (absl::string_view label : absl::StrSplit(name, '.')) {
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-';
      if (!ok) return false;
    }
  }
  return true;
}

absl::Status ValidateProcess(const Process& process) {
  if (process.args.empty()) return FieldError("process.args", "must be a non-empty array of strings");
  if (process.args[0].empty()) return FieldError("process.args[0]", "must not be empty");
  RETURN_IF_ERROR(CheckAbsolute("process.cwd", process.cwd));
  if (process.user.umask.has_value() && *process.user.umask > 0777) {
    return FieldError("process.user.umask", absl::StrCat(*process.user.umask, " is above 0777"));
  }
  if (process.oom_score_adj.has_value() &&
      (*process.oom_score_adj < -1000 || *process.oom_score_adj > 1000)) {
    return FieldError("process.oomScoreAdj",
                      absl::StrCat(*process.oom_score_adj, " is outside [-1000, 1000]"));
  }
  for (size_t i = 0; i < process.env.size(); ++i) {
    const std::string& entry = process.env[i];
    const size_t eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) {
      return FieldError(Index("process.env", i),
                        absl::StrCat("must be KEY=VALUE, got ", Quote(entry)));
    }
  }
  if (process.capabilities.has_value()) {
    const Capabilities& caps = *process.capabilities;
    const std::pair<const char*, const std::vector<std::string>*> sets[] = {
        {"bounding", &caps.bounding},       {"effective", &caps.effective},
        {"inheritable", &caps.inheritable}, {"permitted", &caps.permitted},
        {"ambient", &caps.ambient},
    };
    for (const auto& [set_name, names] : sets) {
      for (size_t i = 0; i < names->size(); ++i) {
        if (FindNamed(kCapabilities, (*names)[i]) == nullptr) {
          return FieldError(Index(absl::StrCat("process.capabilities.", set_name), i),
                            absl::StrCat("unknown capability ", Quote((*names)[i])));
        }
      }
    }
  }
  std::set<std::string> rlimit_types;
  for (size_t i = 0; i < process.rlimits.size(); ++i) {
    const Rlimit& rlimit = process.rlimits[i];
    const std::string field = Index("process.rlimits", i);
    if (FindNamed(kRlimits, rlimit.type) == nullptr) {
      return FieldError(field + ".type", absl::StrCat("unknown rlimit ", Quote(rlimit.type),
                                                      " (known: ", JoinNames(kRlimits), ")"));
    }
    if (!rlimit_types.insert(rlimit.type).second) {
      return FieldError(field + ".type", absl::StrCat("duplicate rlimit ", Quote(rlimit.type)));
    }
    if (rlimit.soft > rlimit.hard) {
      return FieldError(field, absl::StrCat(rlimit.type, " soft limit ", rlimit.soft,
                                            " exceeds hard limit ", rlimit.hard));
    }
  }
  return absl::OkStatus();
}

// Only new namespaces are checked for "own": joining one (path set) shares it with its owner.
bool OwnsNamespace(const Spec& spec, const std::string& type) {
  const Namespace* ns = spec.FindNamespace(type);
  return ns != nullptr && ns->path.empty();
}

absl::Status ValidateMappings(const char* field, const std::vector<IdMapping>& mappings) {
  for (size_t i = 0; i < mappings.size(); ++i) {
    const IdMapping& m = mappings[i];
    const std::string entry = Index(field, i);
    if (m.size == 0) return FieldError(entry + ".size", "must be greater than 0");
    constexpr uint64_t kIdSpace = uint64_t{1} << 32;
    if (uint64_t{m.container_id} + m.size > kIdSpace || uint64_t{m.host_id} + m.size > kIdSpace) {
      return FieldError(entry, absl::StrCat("range containerID ", m.container_id, " hostID ",
                                            m.host_id, " size ", m.size,
                                            " overflows the 32-bit id space"));
    }
  }
  return absl::OkStatus();
}

// The namespace a sysctl lives in, or nullptr when it is host-wide (runc refuses those too:
// writing one from a container would change the host).
const char* SysctlNamespace(std::string key) {
  for (char& c : key) {
    if (c == '/') c = '.';
  }
  static constexpr const char* kIpcSysctls[] = {
      "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
      "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
  };
  for (const char* ipc : kIpcSysctls) {
    if (key == ipc) return "ipc";
  }
  if (absl::StartsWith(key, "fs.mqueue.")) return "ipc";
  if (absl::StartsWith(key, "net.")) return "network";
  if (key == "kernel.hostname" || key == "kernel.domainname") return "uts";
  return nullptr;
}

constexpr const char* kSeccompActions[] = {
    "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE",        "SCMP_ACT_ALLOW",       "SCMP_ACT_LOG",
};
constexpr const char* kSeccompOps[] = {
    "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",        "SCMP_CMP_EQ",
    "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
};
constexpr const char* kSeccompArches[] = {
    "SCMP_ARCH_X86",     "SCMP_ARCH_X86_64",      "SCMP_ARCH_X32",       "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",        "SCMP_ARCH_MIPS64",    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",  "SCMP_ARCH_MIPSEL64",    "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",   "SCMP_ARCH_PPC64LE",     "SCMP_ARCH_S390",      "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",  "SCMP_ARCH_PARISC64",    "SCMP_ARCH_RISCV64",
};
constexpr const char* kSeccompFlags[] = {
    "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
};

template <size_t N>
bool OneOf(const char* const (&names)[N], const std::string& value) {
  for (const char* name : names) {
    if (value == name) return true;
  }
  return false;
}

template <size_t N>
std::string Known(const char* const (&names)[N]) {
  return absl::StrCat("known: ", absl::StrJoin(names, ", "));
}

absl::Status ValidateSeccompAction(const std::string& field, const std::string& action,
                                   const std::optional<uint32_t>& errno_ret) {
  if (action == "SCMP_ACT_NOTIFY") {
    return FieldError(field, "SCMP_ACT_NOTIFY is not supported by Berth (no seccomp listener)");
  }
  if (!OneOf(kSeccompActions, action)) {
    return FieldError(field,
                      absl::StrCat("unknown action ", Quote(action), " (", Known(kSeccompActions), ")"));
  }
  if (errno_ret.has_value() && action != "SCMP_ACT_ERRNO" && action != "SCMP_ACT_TRACE") {
    return FieldError(field, absl::StrCat("an errno return needs SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not ",
                                          action));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateSeccomp(const Seccomp& seccomp, const std::string& field) {
  RETURN_IF_ERROR(ValidateSeccompAction(Child(field, "defaultAction"), seccomp.default_action,
                                        seccomp.default_errno_ret));
  for (size_t i = 0; i < seccomp.architectures.size(); ++i) {
    if (!OneOf(kSeccompArches, seccomp.architectures[i])) {
      return FieldError(Index(Child(field, "architectures"), i),
                        absl::StrCat("unknown architecture ", Quote(seccomp.architectures[i]), " (",
                                     Known(kSeccompArches), ")"));
    }
  }
  for (size_t i = 0; i < seccomp.flags.size(); ++i) {
    if (!OneOf(kSeccompFlags, seccomp.flags[i])) {
      return FieldError(Index(Child(field, "flags"), i),
                        absl::StrCat("unknown flag ", Quote(seccomp.flags[i]), " (",
                                     Known(kSeccompFlags), ")"));
    }
  }
  for (size_t i = 0; i < seccomp.syscalls.size(); ++i) {
    const SeccompSyscall& rule = seccomp.syscalls[i];
    const std::string rule_field = Index(Child(field, "syscalls"), i);
    if (rule.names.empty()) return FieldError(rule_field + ".names", "must not be empty");
    for (size_t n = 0; n < rule.names.size(); ++n) {
      if (rule.names[n].empty()) return FieldError(Index(rule_field + ".names", n), "must not be empty");
    }
    RETURN_IF_ERROR(ValidateSeccompAction(rule_field + ".action", rule.action, rule.errno_ret));
    for (size_t a = 0; a < rule.args.size(); ++a) {
      const SeccompArg& arg = rule.args[a];
      const std::string arg_field = Index(rule_field + ".args", a);
      if (arg.index > 5) {
        return FieldError(arg_field + ".index", absl::StrCat(arg.index, " is not a syscall argument (0..5)"));
      }
      if (!OneOf(kSeccompOps, arg.op)) {
        return FieldError(arg_field + ".op",
                          absl::StrCat("unknown operator ", Quote(arg.op), " (", Known(kSeccompOps), ")"));
      }
    }
  }
  return absl::OkStatus();
}

namespace {

absl::Status ValidateDevices(const Linux& linux) {
  for (size_t i = 0; i < linux.devices.size(); ++i) {
    const Device& d = linux.devices[i];
    const std::string field = Index("linux.devices", i);
    RETURN_IF_ERROR(CheckAbsoluteClean(field + ".path", d.path));
    if (d.type != "c" && d.type != "b" && d.type != "u" && d.type != "p") {
      return FieldError(field + ".type", absl::StrCat("must be c, b, u or p, got ", Quote(d.type)));
    }
    if (d.major < 0 || d.minor < 0 || d.major > 0xfff || d.minor > 0xfffff) {
      return FieldError(field, absl::StrCat("device number ", d.major, ":", d.minor, " is out of range"));
    }
    if (d.file_mode.has_value() && (*d.file_mode & ~07777u) != 0) {
      return FieldError(field + ".fileMode", absl::StrCat(*d.file_mode, " has bits beyond 07777"));
    }
  }
  for (size_t i = 0; i < linux.resources.devices.size(); ++i) {
    const DeviceRule& r = linux.resources.devices[i];
    const std::string field = Index("linux.resources.devices", i);
    if (r.type != "a" && r.type != "c" && r.type != "b") {
      return FieldError(field + ".type", absl::StrCat("must be a, c or b, got ", Quote(r.type)));
    }
    if (r.access.empty() || r.access.find_first_not_of("rwm") != std::string::npos) {
      return FieldError(field + ".access",
                        absl::StrCat("must be a non-empty combination of r, w and m, got ", Quote(r.access)));
    }
    if ((r.major.has_value() && *r.major < 0) || (r.minor.has_value() && *r.minor < 0)) {
      return FieldError(field, "major and minor must be >= 0, or -1 (or unset) for any");
    }
  }
  return absl::OkStatus();
}

// A cpuset list as cpuset.cpus/cpuset.mems take it: "N" or "N-M" (N <= M), comma-separated.
// Empty (unset) passes.
bool ValidCpuList(absl::string_view list) {
  if (list.empty()) return true;
  // Up to 9 digits: far beyond any cpu or node number, and no overflow.
  auto number = [](absl::string_view text, uint32_t* n) {
    if (text.empty() || text.size() > 9 ||
        text.find_first_not_of("0123456789") != absl::string_view::npos) {
      return false;
    }
    *n = 0;
    for (char c : text) *n = *n * 10 + static_cast<uint32_t>(c - '0');
    return true;
  };
  for (absl::string_view item : absl::StrSplit(list, ',')) {
    std::pair<absl::string_view, absl::string_view> range =
        absl::StrSplit(item, absl::MaxSplits('-', 1));
    uint32_t first = 0, last = 0;
    if (!number(range.first, &first)) return false;
    bool is_range = item.find('-') != absl::string_view::npos;
    if (is_range && (!number(range.second, &last) || last < first)) return false;
  }
  return true;
}

// The linux.resources fields beyond memory.limit, cpu.shares/quota/period and pids.limit.
absl::Status ValidateMoreResources(const LinuxResources& res) {
  if (res.memory_reservation.has_value() && *res.memory_reservation < 1) {
    return FieldError("linux.resources.memory.reservation",
                      absl::StrCat(*res.memory_reservation, " must be positive (or -1 for none)"));
  }
  if (res.memory_swap.has_value() && *res.memory_swap != -1) {
    if (!res.memory_limit.has_value()) {
      return FieldError("linux.resources.memory.swap",
                        absl::StrCat(*res.memory_swap,
                                     " needs memory.limit (memory+swap caps a limited container; "
                                     "-1 for unlimited swap)"));
    }
    if (*res.memory_swap < *res.memory_limit) {
      return FieldError("linux.resources.memory.swap",
                        absl::StrCat(*res.memory_swap, " is below memory.limit ",
                                     *res.memory_limit,
                                     " (it counts memory plus swap; -1 for unlimited swap)"));
    }
  }
  if (res.memory_kernel.has_value() && *res.memory_kernel < 1) {
    return FieldError("linux.resources.memory.kernel",
                      absl::StrCat(*res.memory_kernel, " must be positive (or -1 for no limit)"));
  }
  if (res.memory_kernel_tcp.has_value() && *res.memory_kernel_tcp < 1) {
    return FieldError("linux.resources.memory.kernelTCP",
                      absl::StrCat(*res.memory_kernel_tcp,
                                   " must be positive (or -1 for no limit)"));
  }
  if (res.memory_swappiness.has_value() && *res.memory_swappiness > 100) {
    return FieldError("linux.resources.memory.swappiness",
                      absl::StrCat(*res.memory_swappiness, " must be within [0, 100]"));
  }
  // The kernel keeps the realtime period in nanoseconds and needs runtime <= period.
  constexpr uint64_t kDefaultRtPeriod = 1000000;
  constexpr uint64_t kMaxRtPeriod = std::numeric_limits<uint64_t>::max() / 1000;
  if (res.cpu_realtime_period.has_value() &&
      (*res.cpu_realtime_period < 1 || *res.cpu_realtime_period > kMaxRtPeriod)) {
    return FieldError("linux.resources.cpu.realtimePeriod",
                      absl::StrCat(*res.cpu_realtime_period, " must be within [1, ", kMaxRtPeriod,
                                   "] microseconds"));
  }
  if (res.cpu_realtime_runtime.has_value() && *res.cpu_realtime_runtime != -1) {
    const uint64_t period = res.cpu_realtime_period.value_or(kDefaultRtPeriod);
    if (*res.cpu_realtime_runtime < 1 ||
        static_cast<uint64_t>(*res.cpu_realtime_runtime) > period) {
      return FieldError("linux.resources.cpu.realtimeRuntime",
                        absl::StrCat(*res.cpu_realtime_runtime, " must be within [1, ", period,
                                     "] microseconds (the realtime period), or -1 for no limit"));
    }
  }
  if (!ValidCpuList(res.cpu_cpus)) {
    return FieldError("linux.resources.cpu.cpus",
                      absl::StrCat(Quote(res.cpu_cpus), " is not a cpu list like \"0-3,7\""));
  }
  if (!ValidCpuList(res.cpu_mems)) {
    return FieldError("linux.resources.cpu.mems",
                      absl::StrCat(Quote(res.cpu_mems), " is not a memory node list like \"0-1\""));
  }
  return absl::OkStatus();
}

absl::Status ValidateLinux(const Spec& spec) {
  const Linux& linux = spec.linux;
  RETURN_IF_ERROR(ValidateDevices(linux));
  if (linux.seccomp.has_value()) RETURN_IF_ERROR(ValidateSeccomp(*linux.seccomp, "linux.seccomp"));
  std::set<std::string> seen;
  for (size_t i = 0; i < linux.namespaces.size(); ++i) {
    const Namespace& ns = linux.namespaces[i];
    const std::string field = Index("linux.namespaces", i);
    if (FindNamed(kNamespaces, ns.type) == nullptr) {
      return FieldError(field + ".type", absl::StrCat("unknown namespace type ", Quote(ns.type),
                                                      " (known: ", JoinNames(kNamespaces), ")"));
    }
    if (!seen.insert(ns.type).second) {
      return FieldError(field + ".type", absl::StrCat("duplicate namespace ", Quote(ns.type)));
    }
    if (!ns.path.empty()) RETURN_IF_ERROR(CheckAbsolute(field + ".path", ns.path));
  }

  const bool has_user_ns = spec.HasNamespace("user");
  if (!has_user_ns && !linux.uid_mappings.empty()) {
    return FieldError("linux.uidMappings", "requires a \"user\" entry in linux.namespaces");
  }
  if (!has_user_ns && !linux.gid_mappings.empty()) {
    return FieldError("linux.gidMappings", "requires a \"user\" entry in linux.namespaces");
  }
  if (OwnsNamespace(spec, "user")) {
    // A new user namespace without maps leaves every id unmapped (overflow "nobody").
    if (linux.uid_mappings.empty()) {
      return FieldError("linux.uidMappings", "a new user namespace needs at least one mapping");
    }
    if (linux.gid_mappings.empty()) {
      return FieldError("linux.gidMappings", "a new user namespace needs at least one mapping");
    }
  }
  RETURN_IF_ERROR(ValidateMappings("linux.uidMappings", linux.uid_mappings));
  RETURN_IF_ERROR(ValidateMappings("linux.gidMappings", linux.gid_mappings));

  const LinuxResources& res = linux.resources;
  // runc refuses less: below ~6 MiB the runtime itself is OOM-killed before the workload runs.
  constexpr int64_t kMinMemory = int64_t{6} << 20;
  if (res.memory_limit.has_value() && *res.memory_limit < kMinMemory) {
    return FieldError("linux.resources.memory.limit",
                      absl::StrCat(*res.memory_limit, " bytes is below the minimum of ", kMinMemory,
                                   " bytes (6 MiB); a smaller limit cannot start a container"));
  }
  // The kernel's CFS bandwidth bounds: 1ms <= period <= 1s, quota >= 1ms.
  if (res.cpu_period.has_value() && (*res.cpu_period < 1000 || *res.cpu_period > 1000000)) {
    return FieldError("linux.resources.cpu.period",
                      absl::StrCat(*res.cpu_period, " must be within [1000, 1000000] microseconds"));
  }
  if (res.cpu_quota.has_value() && *res.cpu_quota < 1000) {
    return FieldError("linux.resources.cpu.quota",
                      absl::StrCat(*res.cpu_quota,
                                   " must be at least 1000 microseconds (or -1 for no limit)"));
  }
  if (res.cpu_shares.has_value() && (*res.cpu_shares < 2 || *res.cpu_shares > 262144)) {
    return FieldError("linux.resources.cpu.shares",
                      absl::StrCat(*res.cpu_shares, " must be within [2, 262144]"));
  }
  if (res.pids_limit.has_value() && *res.pids_limit < -1) {
    return FieldError("linux.resources.pids.limit",
                      absl::StrCat(*res.pids_limit, " must be positive, or -1 (or 0) for no limit"));
  }
  RETURN_IF_ERROR(ValidateMoreResources(res));

  // Allow the systemd "slice:prefix:name" form too, so split on ':' as well as '/'.
  if (HasDotDot(linux.cgroups_path, "/:")) {
    return FieldError("linux.cgroupsPath",
                      absl::StrCat("must not contain \"..\" components, got ",
                                   Quote(linux.cgroups_path)));
  }

  // Masking and read-only remounts are done in the container's mount namespace, under its
  // root (a new one, or one joined by path where the root is set up too); without one they
  // would hit the host's /proc and /sys.
  for (size_t i = 0; i < linux.masked_paths.size(); ++i) {
    RETURN_IF_ERROR(CheckAbsoluteClean(Index("linux.maskedPaths", i), linux.masked_paths[i]));
  }
  for (size_t i = 0; i < linux.readonly_paths.size(); ++i) {
    RETURN_IF_ERROR(CheckAbsoluteClean(Index("linux.readonlyPaths", i), linux.readonly_paths[i]));
  }
  if ((!linux.masked_paths.empty() || !linux.readonly_paths.empty()) && !spec.HasNamespace("mount")) {
    return FieldError(linux.masked_paths.empty() ? "linux.readonlyPaths" : "linux.maskedPaths",
                      "requires a \"mount\" namespace (new, or joined by path) in linux.namespaces");
  }

  static constexpr const char* kPropagations[] = {
      "",       "private",  "rprivate", "slave",      "rslave",
      "shared", "rshared",  "unbindable", "runbindable",
  };
  bool known_propagation = false;
  for (const char* p : kPropagations) known_propagation |= linux.rootfs_propagation == p;
  if (!known_propagation) {
    return FieldError("linux.rootfsPropagation",
                      absl::StrCat("unknown propagation ", Quote(linux.rootfs_propagation),
                                   " (known: private, rprivate, slave, rslave, shared, rshared, "
                                   "unbindable, runbindable)"));
  }

  for (const auto& [key, value] : linux.sysctl) {
    const std::string field = absl::StrCat("linux.sysctl.", key);
    const char* ns = SysctlNamespace(key);
    if (ns == nullptr) {
      return FieldError(field, "is not namespaced; setting it would change the host");
    }
    if (!spec.HasNamespace(ns)) {
      return FieldError(field, absl::StrCat("requires a \"", ns, "\" entry in linux.namespaces"));
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Serialisation.

OrderedJson StringArray(const std::vector<std::string>& items) {
  OrderedJson out = OrderedJson::array();
  for (const std::string& item : items) out.push_back(item);
  return out;
}

OrderedJson StringMap(const std::map<std::string, std::string>& items) {
  OrderedJson out = OrderedJson::object();
  for (const auto& [key, value] : items) out[key] = value;
  return out;
}

OrderedJson Mappings(const std::vector<IdMapping>& mappings) {
  OrderedJson out = OrderedJson::array();
  for (const IdMapping& m : mappings) {
    out.push_back({{"containerID", m.container_id}, {"hostID", m.host_id}, {"size", m.size}});
  }
  return out;
}

OrderedJson ProcessJson(const Process& p) {
  OrderedJson out = OrderedJson::object();
  out["terminal"] = p.terminal;
  if (!p.selinux_label.empty()) out["selinuxLabel"] = p.selinux_label;
  if (p.console_size.has_value()) {
    out["consoleSize"] = {{"height", p.console_size->height}, {"width", p.console_size->width}};
  }
  OrderedJson user = {{"uid", p.user.uid}, {"gid", p.user.gid}};
  if (p.user.umask.has_value()) user["umask"] = *p.user.umask;
  if (!p.user.additional_gids.empty()) user["additionalGids"] = p.user.additional_gids;
  out["user"] = std::move(user);
  if (!p.args.empty()) out["args"] = StringArray(p.args);
  if (!p.env.empty()) out["env"] = StringArray(p.env);
  out["cwd"] = p.cwd;
  if (p.capabilities.has_value()) {
    const Capabilities& c = *p.capabilities;
    OrderedJson caps = OrderedJson::object();
    if (!c.bounding.empty()) caps["bounding"] = StringArray(c.bounding);
    if (!c.effective.empty()) caps["effective"] = StringArray(c.effective);
    if (!c.inheritable.empty()) caps["inheritable"] = StringArray(c.inheritable);
    if (!c.permitted.empty()) caps["permitted"] = StringArray(c.permitted);
    if (!c.ambient.empty()) caps["ambient"] = StringArray(c.ambient);
    out["capabilities"] = std::move(caps);
  }
  if (!p.rlimits.empty()) {
    OrderedJson rlimits = OrderedJson::array();
    for (const Rlimit& r : p.rlimits) {
      rlimits.push_back({{"type", r.type}, {"hard", r.hard}, {"soft", r.soft}});
    }
    out["rlimits"] = std::move(rlimits);
  }
  if (p.no_new_privileges) out["noNewPrivileges"] = true;
  if (p.oom_score_adj.has_value()) out["oomScoreAdj"] = *p.oom_score_adj;
  return out;
}

OrderedJson ResourcesJson(const LinuxResources& r) {
  OrderedJson out = OrderedJson::object();
  OrderedJson memory = OrderedJson::object();
  if (r.memory_limit.has_value()) memory["limit"] = *r.memory_limit;
  if (r.memory_reservation.has_value()) memory["reservation"] = *r.memory_reservation;
  if (r.memory_swap.has_value()) memory["swap"] = *r.memory_swap;
  if (r.memory_kernel.has_value()) memory["kernel"] = *r.memory_kernel;
  if (r.memory_kernel_tcp.has_value()) memory["kernelTCP"] = *r.memory_kernel_tcp;
  if (r.memory_swappiness.has_value()) memory["swappiness"] = *r.memory_swappiness;
  if (r.memory_disable_oom_killer.has_value()) {
    memory["disableOOMKiller"] = *r.memory_disable_oom_killer;
  }
  if (!memory.empty()) out["memory"] = std::move(memory);
  OrderedJson cpu = OrderedJson::object();
  if (r.cpu_shares.has_value()) cpu["shares"] = *r.cpu_shares;
  if (r.cpu_quota.has_value()) cpu["quota"] = *r.cpu_quota;
  if (r.cpu_period.has_value()) cpu["period"] = *r.cpu_period;
  if (r.cpu_realtime_runtime.has_value()) cpu["realtimeRuntime"] = *r.cpu_realtime_runtime;
  if (r.cpu_realtime_period.has_value()) cpu["realtimePeriod"] = *r.cpu_realtime_period;
  if (!r.cpu_cpus.empty()) cpu["cpus"] = r.cpu_cpus;
  if (!r.cpu_mems.empty()) cpu["mems"] = r.cpu_mems;
  if (!cpu.empty()) out["cpu"] = std::move(cpu);
  if (r.pids_limit.has_value()) out["pids"] = {{"limit", *r.pids_limit}};
  if (!r.devices.empty()) {
    OrderedJson devices = OrderedJson::array();
    for (const DeviceRule& d : r.devices) {
      OrderedJson entry = {{"allow", d.allow}, {"type", d.type}};
      if (d.major.has_value()) entry["major"] = *d.major;
      if (d.minor.has_value()) entry["minor"] = *d.minor;
      entry["access"] = d.access;
      devices.push_back(std::move(entry));
    }
    out["devices"] = std::move(devices);
  }
  return out;
}

OrderedJson SeccompJson(const Seccomp& sc) {
  OrderedJson out = {{"defaultAction", sc.default_action}};
  if (sc.default_errno_ret.has_value()) out["defaultErrnoRet"] = *sc.default_errno_ret;
  if (!sc.architectures.empty()) out["architectures"] = StringArray(sc.architectures);
  if (!sc.flags.empty()) out["flags"] = StringArray(sc.flags);
  OrderedJson syscalls = OrderedJson::array();
  for (const SeccompSyscall& rule : sc.syscalls) {
    OrderedJson entry = {{"names", StringArray(rule.names)}, {"action", rule.action}};
    if (rule.errno_ret.has_value()) entry["errnoRet"] = *rule.errno_ret;
    if (!rule.args.empty()) {
      OrderedJson args = OrderedJson::array();
      for (const SeccompArg& a : rule.args) {
        args.push_back({{"index", a.index}, {"value", a.value}, {"valueTwo", a.value_two}, {"op", a.op}});
      }
      entry["args"] = std::move(args);
    }
    syscalls.push_back(std::move(entry));
  }
  if (!syscalls.empty()) out["syscalls"] = std::move(syscalls);
  return out;
}

OrderedJson LinuxJson(const Linux& l) {
  OrderedJson out = OrderedJson::object();
  if (!l.mount_label.empty()) out["mountLabel"] = l.mount_label;
  if (!l.namespaces.empty()) {
    OrderedJson namespaces = OrderedJson::array();
    for (const Namespace& ns : l.namespaces) {
      OrderedJson entry = {{"type", ns.type}};
      if (!ns.path.empty()) entry["path"] = ns.path;
      namespaces.push_back(std::move(entry));
    }
    out["namespaces"] = std::move(namespaces);
  }
  if (!l.uid_mappings.empty()) out["uidMappings"] = Mappings(l.uid_mappings);
  if (!l.gid_mappings.empty()) out["gidMappings"] = Mappings(l.gid_mappings);
  if (OrderedJson resources = ResourcesJson(l.resources); !resources.empty()) {
    out["resources"] = std::move(resources);
  }
  if (!l.cgroups_path.empty()) out["cgroupsPath"] = l.cgroups_path;
  if (!l.masked_paths.empty()) out["maskedPaths"] = StringArray(l.masked_paths);
  if (!l.readonly_paths.empty()) out["readonlyPaths"] = StringArray(l.readonly_paths);
  if (!l.rootfs_propagation.empty()) out["rootfsPropagation"] = l.rootfs_propagation;
  if (!l.sysctl.empty()) out["sysctl"] = StringMap(l.sysctl);
  if (!l.devices.empty()) {
    OrderedJson devices = OrderedJson::array();
    for (const Device& d : l.devices) {
      OrderedJson entry = {{"path", d.path}, {"type", d.type}, {"major", d.major}, {"minor", d.minor}};
      if (d.file_mode.has_value()) entry["fileMode"] = *d.file_mode;
      if (d.uid.has_value()) entry["uid"] = *d.uid;
      if (d.gid.has_value()) entry["gid"] = *d.gid;
      devices.push_back(std::move(entry));
    }
    out["devices"] = std::move(devices);
  }
  if (l.seccomp.has_value()) out["seccomp"] = SeccompJson(*l.seccomp);
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public API.

bool Spec::HasNamespace(const std::string& type) const { return FindNamespace(type) != nullptr; }

const Namespace* Spec::FindNamespace(const std::string& type) const {
  for (const Namespace& ns : linux.namespaces) {
    if (ns.type == type) return &ns;
  }
  return nullptr;
}

namespace {

// A parser callback that builds nothing of linux.seccomp. nlohmann reports a value's start at
// its parent's depth and does not report the end of a value it was told to drop, so the skip
// ends at the next event at linux's depth or above (linux's next member, or its end).
class SeccompSkip {
 public:
  explicit SeccompSkip(bool* had_seccomp) : had_seccomp_(had_seccomp) {}

  bool operator()(int depth, Json::parse_event_t event, Json& parsed) {
    using Event = Json::parse_event_t;
    constexpr int kTopMembers = 1;    // keys of the document's own object
    constexpr int kLinuxMembers = 2;  // keys of "linux", and the starts of their values
    switch (state_) {
      case State::kAfterKey:  // seccomp's own value
        if (event == Event::object_start || event == Event::array_start) {
          *had_seccomp_ = event == Event::object_start;
          state_ = State::kInside;
        } else {
          state_ = State::kDone;  // a scalar, dropped with its key
        }
        return false;
      case State::kInside:
        if (depth > kLinuxMembers) return false;
        state_ = State::kDone;
        return true;
      case State::kDone:
        return true;
      case State::kLooking:
        break;
    }
    if (event != Event::key || !parsed.is_string()) return true;
    const std::string& key = parsed.get_ref<const std::string&>();
    if (depth == kTopMembers) {
      in_linux_ = key == "linux";
    } else if (depth == kLinuxMembers && in_linux_ && key == "seccomp") {
      state_ = State::kAfterKey;
      return false;
    }
    return true;
  }

 private:
  enum class State { kLooking, kAfterKey, kInside, kDone };
  bool* had_seccomp_;
  State state_ = State::kLooking;
  bool in_linux_ = false;
};

absl::StatusOr<Spec> ParseSpecText(const std::string& json_text, SeccompSection seccomp, bool* had_seccomp) {
  try {
    Json doc;
    try {
      if (seccomp == SeccompSection::kSkip) {
        bool had = false;
        doc = Json::parse(json_text, SeccompSkip(&had));
        if (had_seccomp != nullptr) *had_seccomp = had;
      } else {
        doc = Json::parse(json_text);
      }
    } catch (const Json::parse_error& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("config.json: invalid JSON at byte ", e.byte, ": ", e.what()));
    }
    Spec spec;
    RETURN_IF_ERROR(Read(doc, &spec));
    return spec;
  } catch (const std::exception& e) {
    // The readers check types first, so this is a safety net, not an expected path.
    return absl::InvalidArgumentError(absl::StrCat("config.json: ", e.what()));
  }
}

}  // namespace

absl::StatusOr<Spec> ParseSpec(const std::string& json_text) {
  return ParseSpecText(json_text, SeccompSection::kParse, nullptr);
}

absl::StatusOr<Seccomp> ParseSeccomp(const std::string& json_text, const std::string& field) {
  try {
    Json doc = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return FieldError(field, "is not valid JSON");
    Seccomp seccomp;
    RETURN_IF_ERROR(Read(doc, field, &seccomp));
    return seccomp;
  } catch (const std::exception& e) {
    return FieldError(field, e.what());
  }
}

std::string SerializeSeccomp(const Seccomp& seccomp) {
  return SeccompJson(seccomp).dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

absl::Status ValidateSpec(const Spec& spec) {
  if (spec.oci_version.empty()) return FieldError("ociVersion", "must be set (e.g. \"1.0.2\")");
  if (!absl::StartsWith(spec.oci_version, "1.")) {
    return FieldError("ociVersion", absl::StrCat("unsupported version ", Quote(spec.oci_version),
                                                 "; Berth implements 1.x"));
  }
  if (spec.root.path.empty()) return FieldError("root.path", "must not be empty");
  RETURN_IF_ERROR(ValidateProcess(spec.process));
  if (!spec.hostname.empty()) {
    if (!ValidHostname(spec.hostname)) {
      return FieldError("hostname",
                        absl::StrCat(Quote(spec.hostname),
                                     " is not a valid hostname (letters, digits, '-' and '.', "
                                     "at most 64 characters)"));
    }
    // A joined uts namespace (an entry with a path) counts: its hostname is set, as runc does.
    if (!spec.HasNamespace("uts")) {
      return FieldError("hostname", absl::StrCat("setting ", Quote(spec.hostname),
                                                 " requires a \"uts\" namespace in "
                                                 "linux.namespaces"));
    }
  }
  if (!spec.domainname.empty()) {
    if (!ValidHostname(spec.domainname)) {
      return FieldError("domainname", absl::StrCat(Quote(spec.domainname), " is not a valid domain name"));
    }
    if (!OwnsNamespace(spec, "uts")) {
      return FieldError("domainname", "requires a new \"uts\" namespace in linux.namespaces");
    }
  }
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const Mount& m = spec.mounts[i];
    const std::string field = Index("mounts", i);
    RETURN_IF_ERROR(CheckAbsoluteClean(field + ".destination", m.destination));
    if (m.uid_mappings.empty() != m.gid_mappings.empty()) {
      return FieldError(field, "uidMappings and gidMappings go together");
    }
    if (!m.uid_mappings.empty() &&
        (m.uid_mappings != spec.linux.uid_mappings || m.gid_mappings != spec.linux.gid_mappings)) {
      return FieldError(field + ".uidMappings",
                        "Berth idmaps a mount with the container's own linux.uidMappings and "
                        "linux.gidMappings only; give those (or the \"idmap\" option)");
    }
  }
  return ValidateLinux(spec);
}

OrderedJson HooksJson(const Hooks& hooks) {
  OrderedJson out = OrderedJson::object();
  auto put = [&](const char* key, const std::vector<Hook>& list) {
    if (list.empty()) return;
    OrderedJson entries = OrderedJson::array();
    for (const Hook& h : list) {
      OrderedJson entry = {{"path", h.path}};
      if (!h.args.empty()) entry["args"] = StringArray(h.args);
      if (!h.env.empty()) entry["env"] = StringArray(h.env);
      if (h.timeout) entry["timeout"] = *h.timeout;
      entries.push_back(std::move(entry));
    }
    out[key] = std::move(entries);
  };
  put("prestart", hooks.prestart);
  put("createRuntime", hooks.create_runtime);
  put("createContainer", hooks.create_container);
  put("startContainer", hooks.start_container);
  put("poststart", hooks.poststart);
  put("poststop", hooks.poststop);
  return out;
}

std::string SerializeSpec(const Spec& spec) {
  OrderedJson doc = OrderedJson::object();
  doc["ociVersion"] = spec.oci_version;
  doc["process"] = ProcessJson(spec.process);
  OrderedJson root = {{"path", spec.root.path}};
  if (spec.root.readonly) root["readonly"] = true;
  doc["root"] = std::move(root);
  if (!spec.hostname.empty()) doc["hostname"] = spec.hostname;
  if (!spec.domainname.empty()) doc["domainname"] = spec.domainname;
  if (!spec.mounts.empty()) {
    OrderedJson mounts = OrderedJson::array();
    for (const Mount& m : spec.mounts) {
      OrderedJson entry = {{"destination", m.destination}};
      if (!m.type.empty()) entry["type"] = m.type;
      if (!m.source.empty()) entry["source"] = m.source;
      if (!m.options.empty()) entry["options"] = StringArray(m.options);
      if (!m.uid_mappings.empty()) entry["uidMappings"] = Mappings(m.uid_mappings);
      if (!m.gid_mappings.empty()) entry["gidMappings"] = Mappings(m.gid_mappings);
      mounts.push_back(std::move(entry));
    }
    doc["mounts"] = std::move(mounts);
  }
  doc["linux"] = LinuxJson(spec.linux);
  if (spec.hooks != Hooks{}) doc["hooks"] = HooksJson(spec.hooks);
  if (!spec.annotations.empty()) doc["annotations"] = StringMap(spec.annotations);
  // Invalid UTF-8 in a string would make dump() throw; replace it rather than let it escape.
  return doc.dump(2, ' ', false, OrderedJson::error_handler_t::replace) + "\n";
}

absl::StatusOr<BundleConfig> ReadBundleConfig(const std::string& bundle_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path bundle = fs::absolute(bundle_dir, ec);
  if (ec) {
    return Annotate(ErrnoStatus(ec.value(), "resolve bundle directory"), absl::StrCat("load bundle ", bundle_dir));
  }
  BundleConfig config;
  config.bundle = bundle.string();
  config.path = (bundle / "config.json").string();
  absl::StatusOr<std::string> text = ReadFile(config.path);
  if (!text.ok()) return Annotate(text.status(), absl::StrCat("load bundle ", bundle_dir));
  config.text = std::move(*text);
  return config;
}

absl::StatusOr<Spec> ParseBundleConfig(const BundleConfig& config, SeccompSection seccomp, bool* had_seccomp) {
  const std::string context = absl::StrCat("load bundle ", config.bundle, ": ", config.path);
  absl::StatusOr<Spec> spec = ParseSpecText(config.text, seccomp, had_seccomp);
  if (!spec.ok()) return Annotate(spec.status(), context);
  if (absl::Status valid = ValidateSpec(*spec); !valid.ok()) return Annotate(valid, context);
  if (!spec->root.path.empty() && spec->root.path[0] != '/') {
    std::string resolved = (std::filesystem::path(config.bundle) / spec->root.path).lexically_normal().string();
    if (resolved.size() > 1 && resolved.back() == '/') resolved.pop_back();
    spec->root.path = std::move(resolved);
  }
  return spec;
}

absl::StatusOr<Spec> LoadBundle(const std::string& bundle_dir) {
  ASSIGN_OR_RETURN(BundleConfig config, ReadBundleConfig(bundle_dir));
  return ParseBundleConfig(config);
}

Spec DefaultSpec() {
  Spec spec;
  spec.oci_version = "1.0.2";

  // process.cwd "/", terminal and noNewPrivileges false, user 0:0 are the struct defaults.
  spec.process.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  Capabilities caps;
  caps.bounding = DefaultCapabilities();
  caps.effective = caps.bounding;
  caps.permitted = caps.bounding;
  spec.process.capabilities = std::move(caps);
  // setuid binaries and file capabilities gain nothing (see docs/security.md).
  spec.process.no_new_privileges = true;

  // Relative, like `runc spec`: LoadBundle resolves it against the bundle directory.
  spec.root.path = "rootfs";

  spec.mounts = {
      {"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}},
      {"/dev", "tmpfs", "tmpfs", {"nosuid", "nodev", "strictatime", "mode=755", "size=65536k"}},
      {"/dev/pts",
       "devpts",
       "devpts",
       {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
      {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
      {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
      {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
  };

  for (const char* type : {"pid", "network", "ipc", "uts", "mount", "cgroup"}) {
    spec.linux.namespaces.push_back({type, ""});
  }
  spec.linux.masked_paths = {
      "/proc/asound",     "/proc/acpi",          "/proc/interrupts",  "/proc/kcore",
      "/proc/keys",       "/proc/latency_stats", "/proc/timer_list",  "/proc/timer_stats",
      "/proc/sched_debug", "/proc/scsi",         "/sys/firmware",     "/sys/devices/virtual/powercap",
  };
  spec.linux.readonly_paths = {
      "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
  };
  spec.linux.rootfs_propagation = "private";
  return spec;
}

absl::StatusOr<int> RlimitResource(const std::string& type) {
  if (const NamedValue* entry = FindNamed(kRlimits, type); entry != nullptr) return entry->value;
  return absl::InvalidArgumentError(absl::StrCat("unknown rlimit ", Quote(type)));
}

absl::StatusOr<int> CapabilityNumber(const std::string& name) {
  if (const NamedValue* entry = FindNamed(kCapabilities, name); entry != nullptr) {
    return entry->value;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown capability ", Quote(name)));
}

absl::StatusOr<int> NamespaceCloneFlag(const std::string& type) {
  if (const NamedValue* entry = FindNamed(kNamespaces, type); entry != nullptr) {
    return entry->value;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown namespace type ", Quote(type)));
}

std::vector<DeviceRule> DeviceRulesFor(const LinuxResources& resources) {
  std::vector<DeviceRule> rules = {{false, "a", std::nullopt, std::nullopt, "rwm"}};
  rules.insert(rules.end(), resources.devices.begin(), resources.devices.end());
  std::vector<DeviceRule> defaults = DefaultDeviceRules();
  rules.insert(rules.end(), defaults.begin(), defaults.end());
  return rules;
}

std::vector<DeviceRule> DefaultDeviceRules() {
  std::vector<DeviceRule> rules = {
      {true, "c", std::nullopt, std::nullopt, "m"},
      {true, "b", std::nullopt, std::nullopt, "m"},
      {true, "c", 136, std::nullopt, "rwm"},  // /dev/pts/*
  };
  for (auto [major, minor] : std::initializer_list<std::pair<int64_t, int64_t>>{
           {1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 1}, {5, 2}}) {
    rules.push_back({true, "c", major, minor, "rwm"});
  }
  return rules;
}

std::vector<std::string> DefaultCapabilities() {
  return {"CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FOWNER",  "CAP_FSETID",
          "CAP_KILL",   "CAP_SETGID",       "CAP_SETUID",  "CAP_SETPCAP",
          "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_SETFCAP"};
}

SeccompNames KnownSeccompNames() {
  SeccompNames names;
  names.actions.assign(std::begin(kSeccompActions), std::end(kSeccompActions));
  names.operators.assign(std::begin(kSeccompOps), std::end(kSeccompOps));
  names.archs.assign(std::begin(kSeccompArches), std::end(kSeccompArches));
  names.flags.assign(std::begin(kSeccompFlags), std::end(kSeccompFlags));
  return names;
}

std::vector<std::string> AllCapabilityNames() {
  std::vector<std::string> names;
  names.reserve(kCapabilities.size());
  for (const NamedValue& entry : kCapabilities) names.emplace_back(entry.name);
  return names;
}

}  // namespace berth::spec
