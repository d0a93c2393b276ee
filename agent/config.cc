#include "agent/config.h"

#include "agent/userns_pool.h"

#include <toml++/toml.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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
                            {"cgroup_parent", &base.cgroup_parent},
                            {"log_level", &base.log_level},
                            {"log_format", &base.log_format},
                            {"shim_path", &base.shim_path},
                            {"busybox_path", &base.busybox_path},
                            {"init_path", &base.init_path},
                            {"userns_pool", &base.userns_pool},
                            {"default_userns", &base.default_userns}}) {
    if (absl::Status st = take(key, *field); !st.ok()) return st;
  }
  if (absl::Status st = take("bridge", base.bridge); !st.ok()) return st;
  if (absl::Status st = take("bridge_cidr", base.bridge_cidr); !st.ok()) return st;
  if (const toml::node* node = table.get("mtu")) {
    auto value = node->value<int64_t>();
    if (!value) return absl::InvalidArgumentError(absl::StrCat("config ", path, ": mtu must be an integer"));
    base.mtu = static_cast<int>(*value);
  }
  for (auto [key, field] : {std::pair<const char*, bool*>{"outbound_nat", &base.outbound_nat},
                            {"ip_forward", &base.ip_forward}}) {
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
  static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  for (const char* level : kLevels) {
    if (config.log_level == level) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("log_level must be one of trace, debug, info, warn, error, critical, off; got \"",
                                                 config.log_level, "\""));
}

}  // namespace berth::agent
