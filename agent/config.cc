#include "agent/config.h"

#include <toml++/toml.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

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
                            {"busybox_path", &base.busybox_path}}) {
    if (absl::Status st = take(key, *field); !st.ok()) return st;
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
  static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  for (const char* level : kLevels) {
    if (config.log_level == level) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("log_level must be one of trace, debug, info, warn, error, critical, off; got \"",
                                                 config.log_level, "\""));
}

}  // namespace berth::agent
