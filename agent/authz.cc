#include "agent/authz.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "runtime/base/quote.h"
#include "runtime/spec/spec.h"

namespace berth::agent {

namespace {

absl::Status Denied(const CallerIdentity& caller, absl::string_view method, const std::string& missing) {
  return absl::PermissionDeniedError(absl::StrCat("identity ", Quoted(caller.name), " (role ", RoleName(caller.role),
                                                  ") may not call ", method, ": ", missing));
}

// Whether `path` is `root` or below it, after symlinks (a link below a root may point out).
bool Below(const std::string& path, const std::string& root) {
  std::error_code ec;
  std::string r = std::filesystem::weakly_canonical(root, ec).string();
  if (ec) r = std::filesystem::path(root).lexically_normal().string();
  std::string p = std::filesystem::weakly_canonical(path, ec).string();
  if (ec) return false;
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  return p == r || absl::StartsWith(p, r == "/" ? r : r + "/");
}

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAdmin:
      return "admin";
    case Role::kOperator:
      return "operator";
    case Role::kViewer:
      return "viewer";
    default:
      return "none";
  }
}

const std::map<std::string, MethodRule>& MethodTable() {
  constexpr MethodRule kView{Role::kViewer, false};
  constexpr MethodRule kOperate{Role::kOperator, true};
  static const auto* table = new std::map<std::string, MethodRule>{
      {"/berth.v1.Containers/Create", kOperate},
      {"/berth.v1.Containers/Start", kOperate},
      {"/berth.v1.Containers/Stop", kOperate},
      {"/berth.v1.Containers/Kill", kOperate},
      {"/berth.v1.Containers/Remove", kOperate},
      {"/berth.v1.Containers/Pause", kOperate},
      {"/berth.v1.Containers/Resume", kOperate},
      {"/berth.v1.Containers/Update", kOperate},
      {"/berth.v1.Containers/Rename", kOperate},
      {"/berth.v1.Containers/Exec", kOperate},
      {"/berth.v1.Containers/Attach", kOperate},
      {"/berth.v1.Containers/Run", kOperate},
      {"/berth.v1.Containers/CopyTo", kOperate},
      {"/berth.v1.Containers/CopyFrom", kOperate},
      {"/berth.v1.Containers/Inspect", kView},
      {"/berth.v1.Containers/List", kView},
      {"/berth.v1.Containers/Wait", kView},
      {"/berth.v1.Containers/Logs", kView},
      {"/berth.v1.Containers/Top", kView},
      {"/berth.v1.Containers/Stats", kView},
      {"/berth.v1.Containers/StatsStream", kView},
      {"/berth.v1.Events/Subscribe", kView},
      {"/berth.v1.System/Version", kView},
      {"/berth.v1.System/DiskUsage", kView},
      {"/berth.v1.Images/Pull", kOperate},
      {"/berth.v1.Images/Import", kOperate},
      {"/berth.v1.Images/Export", kOperate},
      {"/berth.v1.Images/Remove", kOperate},
      {"/berth.v1.Images/Tag", kOperate},
      {"/berth.v1.Images/Prune", kOperate},
      {"/berth.v1.Images/List", kView},
      {"/berth.v1.Images/Inspect", kView},
      {"/berth.v1.Networks/Create", kOperate},
      {"/berth.v1.Networks/Remove", kOperate},
      {"/berth.v1.Networks/List", kView},
      {"/berth.v1.Networks/Inspect", kView},
      {"/berth.v1.Volumes/Create", kOperate},
      {"/berth.v1.Volumes/Remove", kOperate},
      {"/berth.v1.Volumes/Prune", kOperate},
      {"/berth.v1.Volumes/List", kView},
      {"/berth.v1.Volumes/Inspect", kView},
      {"/grpc.health.v1.Health/Check", kView},
      {"/grpc.health.v1.Health/Watch", kView},
      {"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", kView},
  };
  return *table;
}

Authorizer::Authorizer(AuthzConfig config) : config_(std::move(config)) {
  admins_.insert(config_.admin.begin(), config_.admin.end());
  operators_.insert(config_.operators.begin(), config_.operators.end());
  viewers_.insert(config_.viewers.begin(), config_.viewers.end());
}

Role Authorizer::RoleOfIdentity(const std::string& identity) const {
  if (identity.empty()) return Role::kNone;
  if (admins_.count(identity)) return Role::kAdmin;
  if (operators_.count(identity)) return Role::kOperator;
  if (viewers_.count(identity)) return Role::kViewer;
  return Role::kNone;
}

Role Authorizer::RoleOfUid(uint32_t uid) const {
  if (uid == 0) return Role::kAdmin;
  auto it = config_.uids.find(uid);
  if (it == config_.uids.end()) return Role::kNone;
  if (it->second == "admin") return Role::kAdmin;
  if (it->second == "operator") return Role::kOperator;
  if (it->second == "viewer") return Role::kViewer;
  return Role::kNone;
}

absl::Status Authorizer::CheckMethod(const CallerIdentity& caller, const std::string& method) const {
  auto it = MethodTable().find(method);
  if (it == MethodTable().end()) return Denied(caller, method, "the method is not in the agent's authorization table");
  if (caller.role == Role::kNone) {
    return Denied(caller, method, "the identity has no role on this node (add it to [authz] in the agent's config)");
  }
  if (caller.role < it->second.needs) {
    return Denied(caller, method, absl::StrCat("the role ", RoleName(it->second.needs), " is needed"));
  }
  return absl::OkStatus();
}

absl::Status Authorizer::CheckContainerConfig(const CallerIdentity& caller, const v1::ContainerConfig& config,
                                              absl::string_view method) const {
  if (caller.role >= Role::kAdmin) return absl::OkStatus();
  const v1::SecurityOptions& sec = config.security();
  if (sec.privileged()) return Denied(caller, method, "--privileged needs the role admin");
  const std::string& net = config.network();
  if (net == "host") return Denied(caller, method, "the node's network namespace (--network host) needs the role admin");
  for (auto [mode, flag] : {std::pair{&config.ipc(), "--ipc"}, {&config.pid(), "--pid"}, {&config.uts(), "--uts"}}) {
    if (*mode == "host") return Denied(caller, method, absl::StrCat("the node's namespace (", flag, " host) needs the role admin"));
  }
  if (!sec.devices().empty()) return Denied(caller, method, "devices (--device) need the role admin");
  if (sec.seccomp_profile() == "unconfined") {
    return Denied(caller, method, "running without a seccomp filter needs the role admin");
  }
  // A custom profile can allow everything: as good as unconfined.
  if (!sec.seccomp_profile().empty()) {
    return Denied(caller, method, "a custom seccomp profile needs the role admin (operators get the default one)");
  }
  if (sec.has_no_new_privileges() && !sec.no_new_privileges()) {
    return Denied(caller, method, "turning no_new_privs off needs the role admin");
  }
  // Lists of their own replace the defaults: they could unmask /proc/kcore and the rest.
  if (!sec.masked_paths().empty() || !sec.readonly_paths().empty()) {
    return Denied(caller, method, "masked or read-only path lists of its own need the role admin");
  }
  // The shim writes the log as root wherever it is named.
  if (!config.log().path().empty()) {
    return Denied(caller, method, "a log file path on the node needs the role admin");
  }
  const std::vector<std::string> defaults = spec::DefaultCapabilities();
  for (const std::string& cap : sec.cap_add()) {
    std::string upper = absl::AsciiStrToUpper(cap);
    if (!absl::StartsWith(upper, "CAP_")) upper = "CAP_" + upper;
    if (std::find(defaults.begin(), defaults.end(), upper) == defaults.end()) {
      return Denied(caller, method, absl::StrCat("adding the capability ", Quoted(cap), " needs the role admin"));
    }
  }
  for (const v1::Mount& m : config.mounts()) {
    if (m.type() != v1::MOUNT_TYPE_BIND) continue;  // volumes and tmpfs expose nothing of the node
    bool allowed = std::any_of(config_.bind_mount_roots.begin(), config_.bind_mount_roots.end(),
                               [&](const std::string& root) { return Below(m.source(), root); });
    if (!allowed) {
      return Denied(caller, method,
                    absl::StrCat("bind-mounting ", Quoted(m.source()),
                                 " needs the role admin (operators may bind only below authz.bind_mount_roots)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace berth::agent
