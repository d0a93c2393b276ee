#include "runtime/network/cni_config.h"

#include <dirent.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "runtime/base/file_util.h"
#include "runtime/base/quote.h"

namespace berth::net::cni {

absl::StatusOr<NetworkList> ParseNetworkList(std::string_view text, bool single_plugin) {
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) return absl::InvalidArgumentError("not a JSON object");
  NetworkList list;
  auto string_field = [&](const char* key, std::string& out) -> absl::Status {
    auto it = json.find(key);
    if (it == json.end() || !it->is_string() || it->get<std::string>().empty()) {
      return absl::InvalidArgumentError(absl::StrCat("no \"", key, "\""));
    }
    out = it->get<std::string>();
    return absl::OkStatus();
  };
  if (auto st = string_field("name", list.name); !st.ok()) return st;
  if (auto st = string_field("cniVersion", list.cni_version); !st.ok()) return st;
  if (single_plugin) {
    if (!json.contains("type") || !json["type"].is_string()) return absl::InvalidArgumentError("no \"type\"");
    list.plugins.push_back(json);
    list.raw = {{"name", list.name}, {"cniVersion", list.cni_version}, {"plugins", {json}}};
    return list;
  }
  auto plugins = json.find("plugins");
  if (plugins == json.end() || !plugins->is_array() || plugins->empty()) {
    return absl::InvalidArgumentError("no \"plugins\" (a non-empty list)");
  }
  for (const auto& plugin : *plugins) {
    if (!plugin.is_object() || !plugin.contains("type") || !plugin["type"].is_string() ||
        plugin["type"].get<std::string>().empty()) {
      return absl::InvalidArgumentError("a plugin without \"type\"");
    }
    list.plugins.push_back(plugin);
  }
  if (auto it = json.find("disableCheck"); it != json.end() && it->is_boolean()) list.disable_check = it->get<bool>();
  list.raw = json;
  return list;
}

absl::StatusOr<std::optional<NetworkList>> LoadFirstNetworkList(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return std::optional<NetworkList>();
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (absl::EndsWith(name, ".conflist") || absl::EndsWith(name, ".conf") || absl::EndsWith(name, ".json")) {
      names.push_back(name);
    }
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    std::string path = absl::StrCat(dir, "/", name);
    auto text = ReadFile(path);
    if (!text.ok()) continue;
    auto list = ParseNetworkList(*text, !absl::EndsWith(name, ".conflist"));
    if (!list.ok()) continue;
    list->source = path;
    return std::optional<NetworkList>(std::move(*list));
  }
  return std::optional<NetworkList>();
}

}  // namespace berth::net::cni
