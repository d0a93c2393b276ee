// CNI network configuration lists (CNI spec 1.0, "Section 1"): the first file of a directory
// in lexical order, either a list (*.conflist: name, cniVersion, plugins[]) or one plugin's
// configuration (*.conf, *.json), which stands for a list of that one plugin.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace berth::net::cni {

struct NetworkList {
  std::string name;
  std::string cni_version;
  bool disable_check = false;
  std::vector<nlohmann::json> plugins;  // each with at least "type"
  std::string source;                   // the file it came from
  nlohmann::json raw;                   // the whole list as written, for the result cache
};

// Parses a list (`single_plugin` false) or a single plugin's configuration. INVALID_ARGUMENT
// naming what is wrong.
absl::StatusOr<NetworkList> ParseNetworkList(std::string_view text, bool single_plugin);

// The first usable configuration in `dir` (files ending in .conflist, .conf or .json, in
// lexical order; unparsable ones are skipped, as the kubelet's runtimes do). Nullopt when
// there is none (or no such directory).
absl::StatusOr<std::optional<NetworkList>> LoadFirstNetworkList(const std::string& dir);

}  // namespace berth::net::cni
