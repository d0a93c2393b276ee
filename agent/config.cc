#include "agent/config.h"

#include "agent/metrics_server.h"
#include "agent/tcp_address.h"

#include "agent/userns_pool.h"

#include <toml++/toml.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_cat.h"
#include "runtime/base/quote.h"
#include "runtime/network/ipv4.h"

namespace berth::agent {

absl::StatusOr<AgentConfig> LoadConfigFile(const std::string& path, AgentConfig base) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat("config ", path, ": ", std::string(e.description())));
  }
  auto take = [&](const char* key, std::string& field) -> absl::Status {
    const toml::node* node = table.get(key);
    if (node == nullptr) return absl::OkStatus();
    auto value = node->value<std::string>();
    if (!value) return absl::InvalidArgumentError(absl::StrCat("config ", path, ": ", key, " must be a string"));
    field = *value;
    return absl::OkStatus();
  };
  for (auto [key, field] : {std::pair<const char*, std::string*>{"root", &base.root},
                            {"socket", &base.socket},
                            {"socket_group", &base.socket_group},
                            {"cri_socket", &base.cri_socket},
                            {"cri_stream_address", &base.cri_stream_address},
                            {"cni_conf_dir", &base.cni_conf_dir},
                            {"cni_bin_dir", &base.cni_bin_dir},
                            {"tls_cert", &base.tls_cert},
                            {"tls_key", &base.tls_key},
                            {"tls_client_ca", &base.tls_client_ca},
                            {"cgroup_parent", &base.cgroup_parent},
                            {"log_level", &base.log_level},
                            {"log_format", &base.log_format},
                            {"shim_path", &base.shim_path},
                            {"busybox_path", &base.busybox_path},
                            {"init_path", &base.init_path},
                            {"userns_pool", &base.userns_pool},
                            {"default_userns", &base.default_userns},
                            {"metrics_listen", &base.metrics_listen}}) {
    if (absl::Status st = take(key, *field); !st.ok()) return st;
  }
  if (absl::Status st = take("bridge", base.bridge); !st.ok()) return st;
  if (absl::Status st = take("bridge_cidr", base.bridge_cidr); !st.ok()) return st;
  if (absl::Status st = take("bridge_ipv6_cidr", base.bridge_ipv6_cidr); !st.ok()) return st;
  for (auto [key, field] : {std::pair<const char*, int64_t*>{"audit_max_bytes", &base.audit_max_bytes},
                            {"events_max", &base.events_max},
                            {"events_max_bytes", &base.events_max_bytes},
                            {"events_subscriber_queue", &base.events_subscriber_queue},
                            {"log_max_size", &base.log_max_size}}) {
    if (const toml::node* node = table.get(key)) {
      auto value = node->value<int64_t>();
      if (!value) return absl::InvalidArgumentError(absl::StrCat("config ", path, ": ", key, " must be an integer"));
      *field = *value;
    }
  }
  for (auto [key, field] : {std::pair<const char*, int*>{"mtu", &base.mtu},
                            {"max_calls_per_identity", &base.max_calls_per_identity},
                            {"audit_files", &base.audit_files},
                            {"log_max_files", &base.log_max_files}}) {
    if (const toml::node* node = table.get(key)) {
      auto value = node->value<int64_t>();
      if (!value) return absl::InvalidArgumentError(absl::StrCat("config ", path, ": ", key, " must be an integer"));
      *field = static_cast<int>(*value);
    }
  }
  for (auto [key, field] : {std::pair<const char*, bool*>{"outbound_nat", &base.outbound_nat},
                            {"ip_forward", &base.ip_forward},
                            {"ipv6", &base.ipv6}}) {
    if (const toml::node* node = table.get(key)) {
      auto value = node->value<bool>();
      if (!value) return absl::InvalidArgumentError(absl::StrCat("config ", path, ": ", key, " must be true or false"));
      *field = *value;
    }
  }
  if (absl::Status st = take("auth_file", base.auth_file); !st.ok()) return st;
  if (const toml::node* node = table.get("registry_mirrors")) {
    const toml::table* mirrors = node->as_table();
    if (mirrors == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("config ", path, ": registry_mirrors must be a table of host = [urls]"));
    }
    base.registry_mirrors.clear();
    for (const auto& [host, urls] : *mirrors) {
      const toml::array* list = urls.as_array();
      if (list == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("config ", path, ": registry_mirrors.", std::string(host.str()), " must be an array of URLs"));
      }
      for (const toml::node& url : *list) {
        auto value = url.value<std::string>();
        if (!value) return absl::InvalidArgumentError(absl::StrCat("config ", path, ": registry_mirrors entries must be strings"));
        base.registry_mirrors[std::string(host.str())].push_back(*value);
      }
    }
  }
  auto string_list = [&](const toml::table& in, const std::string& prefix, const char* key,
                         std::vector<std::string>* field) -> absl::Status {
    const toml::node* node = in.get(key);
    if (node == nullptr) return absl::OkStatus();
    const toml::array* array = node->as_array();
    auto bad = absl::InvalidArgumentError(absl::StrCat("config ", path, ": ", prefix, key, " must be an array of strings"));
    if (array == nullptr) return bad;
    field->clear();
    for (const toml::node& item : *array) {
      auto value = item.value<std::string>();
      if (!value) return bad;
      field->push_back(*value);
    }
    return absl::OkStatus();
  };
  if (absl::Status st = string_list(table, "", "listen", &base.listen); !st.ok()) return st;
  if (const toml::node* node = table.get("authz")) {
    const toml::table* authz = node->as_table();
    if (authz == nullptr) return absl::InvalidArgumentError(absl::StrCat("config ", path, ": authz must be a table"));
    for (auto [key, field] : {std::pair<const char*, std::vector<std::string>*>{"admin", &base.authz.admin},
                              {"operator", &base.authz.operators},
                              {"viewer", &base.authz.viewers},
                              {"bind_mount_roots", &base.authz.bind_mount_roots}}) {
      if (absl::Status st = string_list(*authz, "authz.", key, field); !st.ok()) return st;
    }
    for (const auto& [key, value] : *authz) {
      std::string k(key.str());
      if (k == "admin" || k == "operator" || k == "viewer" || k == "bind_mount_roots") continue;
      if (k != "uids") {
        return absl::InvalidArgumentError(absl::StrCat("config ", path, ": authz.", k,
                                                       " is not a setting (admin, operator, viewer, uids, "
                                                       "bind_mount_roots)"));
      }
      const toml::table* uids = value.as_table();
      if (uids == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat("config ", path, ": authz.uids must be a table like {1000 = \"viewer\"}"));
      }
      base.authz.uids.clear();
      for (const auto& [uid_key, role] : *uids) {
        uint32_t uid = 0;
        auto role_name = role.value<std::string>();
        if (!absl::SimpleAtoi(absl::string_view(uid_key.str().data(), uid_key.str().size()), &uid) || !role_name) {
          return absl::InvalidArgumentError(absl::StrCat("config ", path, ": authz.uids entries are UID = \"role\", got ",
                                                         std::string(uid_key.str()).substr(0, 64)));
        }
        base.authz.uids[uid] = *role_name;
      }
    }
  }
  for (auto [key, field] : {std::pair<const char*, std::vector<std::string>*>{"dns", &base.dns},
                            {"dns_search", &base.dns_search},
                            {"insecure_registries", &base.insecure_registries}}) {
    const toml::node* node = table.get(key);
    if (node == nullptr) continue;
    const toml::array* array = node->as_array();
    if (array == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("config ", path, ": ", key, " must be an array of strings"));
    }
    field->clear();
    for (const toml::node& item : *array) {
      auto value = item.value<std::string>();
      if (!value) return absl::InvalidArgumentError(absl::StrCat("config ", path, ": ", key, " must be an array of strings"));
      field->push_back(*value);
    }
  }
  return base;
}

absl::Status ValidateConfig(const AgentConfig& config) {
  if (config.root.empty() || config.root[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("root must be an absolute path, got \"", config.root, "\""));
  }
  if (config.socket.empty() || config.socket[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("socket must be an absolute path, got \"", config.socket, "\""));
  }
  if (!config.cri_socket.empty() && config.cri_socket != "none" &&
      (config.cri_socket[0] != '/' || config.cri_socket == config.socket)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cri_socket must be an absolute path other than socket, or none, got ", Quoted(config.cri_socket)));
  }
  if (config.cgroup_parent.empty() || absl::StrContains(config.cgroup_parent, "..")) {
    return absl::InvalidArgumentError(
        absl::StrCat("cgroup_parent must be a cgroup path without \"..\", got \"", config.cgroup_parent, "\""));
  }
  if (config.log_format != "text" && config.log_format != "json") {
    return absl::InvalidArgumentError(absl::StrCat("log_format must be text or json, got \"", config.log_format, "\""));
  }
  if (config.bridge.empty() || config.bridge.size() > 15 ||
      config.bridge.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
          std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("bridge must be 1 to 15 letters, digits, '_', '.' or '-', got \"", config.bridge, "\""));
  }
  auto cidr = net::ParseIpv4Prefix(config.bridge_cidr, "bridge_cidr");
  if (!cidr.ok()) return cidr.status();
  if (cidr->length < 8 || cidr->length > 30 || cidr->address == cidr->Network().address ||
      cidr->address == cidr->Broadcast()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bridge_cidr must be the gateway's address in a /8../30 subnet (e.g. 10.88.0.1/16), got \"", config.bridge_cidr,
        "\""));
  }
  if (!config.bridge_ipv6_cidr.empty() && !config.ipv6) {
    return absl::InvalidArgumentError("bridge_ipv6_cidr is set but ipv6 is not: add ipv6 = true (or --ipv6)");
  }
  if (config.mtu != 0 && (config.mtu < 68 || config.mtu > 65535)) {
    return absl::InvalidArgumentError(absl::StrCat("mtu must be 68..65535 (or 0 for the default), got ", config.mtu));
  }
  for (const auto& d : config.dns) {
    if (auto a = net::ParseIpv4(d, "dns"); !a.ok()) return a.status();
  }
  if (config.default_userns != "host" && config.default_userns != "auto") {
    return absl::InvalidArgumentError(
        absl::StrCat("default_userns must be host or auto, got \"", config.default_userns.substr(0, 64), "\""));
  }
  if (auto pool = ParseUsernsPoolRange(config.userns_pool); !pool.ok()) return pool.status();
  for (const std::string& l : config.listen) {
    if (!absl::StartsWith(l, "tcp://") || l.size() <= 6 || l.rfind(':') <= 6) {
      return absl::InvalidArgumentError(
          absl::StrCat("listen must be tcp://ADDR:PORT (e.g. tcp://10.0.0.5:7443), got ", Quoted(l)));
    }
  }
  if (!config.listen.empty() && (config.tls_cert.empty() || config.tls_key.empty() || config.tls_client_ca.empty())) {
    std::vector<std::string> missing;
    if (config.tls_cert.empty()) missing.push_back("tls_cert (--tls-cert)");
    if (config.tls_key.empty()) missing.push_back("tls_key (--tls-key)");
    if (config.tls_client_ca.empty()) missing.push_back("tls_client_ca (--tls-client-ca)");
    return absl::InvalidArgumentError(absl::StrCat(
        "a TCP listener needs mutual TLS, and ", absl::StrJoin(missing, ", "),
        " is not set: Berth serves no plaintext TCP and no TLS without client certificates"));
  }
  for (const auto& [uid, role] : config.authz.uids) {
    if (role != "admin" && role != "operator" && role != "viewer") {
      return absl::InvalidArgumentError(absl::StrCat("authz.uids: uid ", uid, " has role ", Quoted(role),
                                                     "; roles are admin, operator and viewer"));
    }
  }
  for (const std::string& root : config.authz.bind_mount_roots) {
    if (root.empty() || root[0] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("authz.bind_mount_roots entries must be absolute paths, got ", Quoted(root)));
    }
  }
  if (config.max_calls_per_identity < 1) return absl::InvalidArgumentError("max_calls_per_identity must be at least 1");
  if (config.audit_max_bytes < 4096 || config.audit_files < 1) {
    return absl::InvalidArgumentError("audit_max_bytes must be at least 4096 and audit_files at least 1");
  }
  if (!config.cri_stream_address.empty()) {
    if (absl::Status st = ParseTcpAddress(config.cri_stream_address, "cri_stream_address", "127.0.0.1:0").status();
        !st.ok()) {
      return st;
    }
  }
  for (const std::string* dir : {&config.cni_conf_dir, &config.cni_bin_dir}) {
    if (!dir->empty() && (*dir)[0] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat(dir == &config.cni_conf_dir ? "cni_conf_dir" : "cni_bin_dir", " must be absolute, got ",
                       Quoted(*dir)));
    }
  }
  if (!config.metrics_listen.empty() && config.metrics_listen != "none") {
    if (absl::Status st = CheckMetricsAddress(config.metrics_listen); !st.ok()) return st;
  }
  if (config.log_max_size < 4096 || config.log_max_files < 1 || config.log_max_files > 100) {
    return absl::InvalidArgumentError("log_max_size must be at least 4096 and log_max_files 1 to 100");
  }
  if (config.events_max < 10 || config.events_max_bytes < 65536 || config.events_subscriber_queue < 1) {
    return absl::InvalidArgumentError(
        "events_max must be at least 10, events_max_bytes at least 65536 and events_subscriber_queue at least 1");
  }
  static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  for (const char* level : kLevels) {
    if (config.log_level == level) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("log_level must be one of trace, debug, info, warn, error, critical, off; got ",
                                                 Quoted(config.log_level)));
}

}  // namespace berth::agent
