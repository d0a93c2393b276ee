#include "cli/inventory.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cli/host_target.h"

namespace berth::cli {
namespace {

using Json = nlohmann::json;

// Reads an optional string member; a member of another type is an error.
absl::Status OptionalString(const Json& object, const char* key, std::string_view where,
                            std::string* out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_string()) {
    return absl::InvalidArgumentError(std::string(where) + "." + key + " must be a string");
  }
  *out = it->get<std::string>();
  return absl::OkStatus();
}

absl::StatusOr<InventoryNode> ParseNode(const Json& json, size_t index,
                                        const std::string& base_dir) {
  const std::string where = absl::StrCat("nodes[", index, "]");
  if (!json.is_object()) return absl::InvalidArgumentError(where + " must be an object");
  InventoryNode node;
  for (auto [key, field] : {std::pair{"name", &node.name}, std::pair{"socket", &node.socket},
                            std::pair{"address", &node.address}, std::pair{"subnet", &node.subnet},
                            std::pair{"netns", &node.netns},
                            std::pair{"netns_path", &node.netns_path},
                            std::pair{"root", &node.root}, std::pair{"log", &node.log}}) {
    if (absl::Status s = OptionalString(json, key, where, field); !s.ok()) return s;
  }
  if (node.name.empty()) return absl::InvalidArgumentError(where + ".name is missing");
  if (node.socket.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " (", node.name, "): socket is missing"));
  }
  if (node.socket.front() != '/' && node.socket.find("://") == std::string::npos) {
    node.socket = (std::filesystem::path(base_dir) / node.socket).lexically_normal().string();
  }
  if (auto it = json.find("pid"); it != json.end() && !it->is_null()) {
    if (!it->is_number_integer()) {
      return absl::InvalidArgumentError(where + ".pid must be an integer");
    }
    node.pid = it->get<int64_t>();
  }
  return node;
}

}  // namespace

absl::StatusOr<Inventory> ParseInventory(std::string_view text, const std::string& base_dir) {
  const Json json = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return absl::InvalidArgumentError("not valid JSON");
  if (!json.is_object()) return absl::InvalidArgumentError("the top level must be an object");
  Inventory inventory;
  if (absl::Status s = OptionalString(json, "dir", "inventory", &inventory.dir); !s.ok()) return s;
  auto nodes = json.find("nodes");
  if (nodes == json.end() || !nodes->is_array()) {
    return absl::InvalidArgumentError("\"nodes\" must be an array");
  }
  if (nodes->empty()) return absl::InvalidArgumentError("the cluster has no nodes");
  std::set<std::string> names;
  for (size_t i = 0; i < nodes->size(); ++i) {
    absl::StatusOr<InventoryNode> node = ParseNode((*nodes)[i], i, base_dir);
    if (!node.ok()) return node.status();
    if (!names.insert(node->name).second) {
      return absl::InvalidArgumentError("node name '" + node->name + "' appears twice");
    }
    inventory.nodes.push_back(*std::move(node));
  }
  return inventory;
}

absl::StatusOr<Inventory> LoadInventory(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError("cannot read cluster inventory " + path + ": " +
                               std::strerror(errno));
  }
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError("cannot read cluster inventory " + path);
  const std::string base_dir = std::filesystem::path(path).parent_path().string();
  absl::StatusOr<Inventory> inventory =
      ParseInventory(text.str(), base_dir.empty() ? std::string(".") : base_dir);
  if (!inventory.ok()) {
    return absl::InvalidArgumentError("cluster inventory " + path + ": " +
                                      std::string(inventory.status().message()));
  }
  inventory->path = path;
  return inventory;
}

std::string NodeNames(const Inventory& inventory) {
  std::string out;
  for (const InventoryNode& node : inventory.nodes) {
    if (!out.empty()) out += ", ";
    out += node.name;
  }
  return out;
}

absl::StatusOr<const InventoryNode*> FindNode(const Inventory& inventory, std::string_view name) {
  for (const InventoryNode& node : inventory.nodes) {
    if (node.name == name) return &node;
  }
  const std::string where = inventory.path.empty() ? std::string() : " in " + inventory.path;
  return absl::NotFoundError(absl::StrCat("unknown node '", std::string(name), "'", where,
                                          " (nodes: ", NodeNames(inventory), ")"));
}

absl::StatusOr<std::string> ChooseAgentTarget(const TargetSettings& s, const InventoryLoader& load) {
  const bool host_set = !s.host.empty();
  const bool node_set = !s.node.empty();
  const bool cluster_set = !s.cluster.empty();
  if (host_set && node_set && s.host_from_flag == s.node_from_flag) {
    return absl::InvalidArgumentError(
        s.host_from_flag ? "-H/--host and --node cannot be used together"
                         : "BERTH_HOST and BERTH_NODE are both set: unset one, or choose with "
                           "-H or --node");
  }
  if (host_set && s.host_from_flag && s.cluster_from_flag) {
    return absl::InvalidArgumentError("-H/--host and --cluster cannot be used together");
  }
  // The flag beats the environment; between two variables, a node beats a host only when the
  // cluster was named on the command line.
  bool use_node = node_set && (!host_set || s.node_from_flag);
  bool use_cluster = false;
  if (!use_node && !node_set) {
    use_cluster = cluster_set && (!host_set || (!s.host_from_flag && s.cluster_from_flag));
  }
  if (!use_node && !use_cluster) return ResolveHostTarget(s.host);

  if (!cluster_set) {
    return absl::InvalidArgumentError("--node " + s.node +
                                      " needs a cluster: give --cluster FILE (or BERTH_CLUSTER)");
  }
  absl::StatusOr<Inventory> inventory = load(s.cluster);
  if (!inventory.ok()) return inventory.status();
  const InventoryNode* node = nullptr;
  if (use_node) {
    absl::StatusOr<const InventoryNode*> found = FindNode(*inventory, s.node);
    if (!found.ok()) return found.status();
    node = *found;
  } else if (inventory->nodes.size() == 1) {
    node = &inventory->nodes.front();
  } else {
    return absl::InvalidArgumentError("the cluster " + s.cluster +
                                      " has several nodes: choose one with --node NAME (nodes: " +
                                      NodeNames(*inventory) + ")");
  }
  absl::StatusOr<std::string> target = ResolveHostTarget(node->socket);
  if (!target.ok()) {
    return absl::InvalidArgumentError("node " + node->name + ": " +
                                      std::string(target.status().message()));
  }
  return target;
}

absl::StatusOr<Inventory> ChooseAllNodes(const TargetSettings& s, const InventoryLoader& load) {
  if (s.cluster.empty()) {
    return absl::InvalidArgumentError("--all-nodes needs --cluster FILE (or BERTH_CLUSTER)");
  }
  if (!s.host.empty() && s.host_from_flag) {
    return absl::InvalidArgumentError("--all-nodes and -H/--host cannot be used together");
  }
  if (!s.node.empty() && s.node_from_flag) {
    return absl::InvalidArgumentError("--all-nodes and --node cannot be used together");
  }
  return load(s.cluster);
}

}  // namespace berth::cli
