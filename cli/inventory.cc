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

std::string RelativeTo(const std::string& base_dir, const std::string& path) {
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

// "tls": {"ca": ..., "cert": ..., "key": ...}, all three.
absl::StatusOr<TlsFiles> ParseTls(const Json& json, const std::string& base_dir) {
  if (!json.is_object()) return absl::InvalidArgumentError("\"tls\" must be an object");
  TlsFiles tls;
  for (auto [key, field] : {std::pair{"ca", &tls.ca}, std::pair{"cert", &tls.cert},
                            std::pair{"key", &tls.key}}) {
    if (absl::Status s = OptionalString(json, key, "tls", field); !s.ok()) return s;
    if (field->empty()) return absl::InvalidArgumentError(absl::StrCat("tls.", key, " is missing"));
    if (field->front() != '/') *field = RelativeTo(base_dir, *field);
  }
  return tls;
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
    node.socket = RelativeTo(base_dir, node.socket);
  }
  if (absl::Status s = OptionalString(json, "endpoint", where, &node.endpoint); !s.ok()) return s;
  if (!node.endpoint.empty()) {
    absl::StatusOr<HostAddress> endpoint = ParseHostAddress(node.endpoint);
    if (!endpoint.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, " (", node.name, "): endpoint: ",
                                                     endpoint.status().message()));
    }
    if (!endpoint->is_tcp()) {
      return absl::InvalidArgumentError(absl::StrCat(where, " (", node.name,
                                                     "): the endpoint must be tcp://ADDRESS:PORT"));
    }
    node.endpoint = endpoint->Uri();
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
  if (auto tls = json.find("tls"); tls != json.end() && !tls->is_null()) {
    absl::StatusOr<TlsFiles> files = ParseTls(*tls, base_dir);
    if (!files.ok()) return files.status();
    inventory.tls = *std::move(files);
  }
  if (auto underlay = json.find("underlay"); underlay != json.end() && underlay->is_object()) {
    std::string netns;
    if (absl::Status s = OptionalString(*underlay, "netns", "underlay", &netns); !s.ok()) return s;
    if (netns.find('/') != std::string::npos || netns == "." || netns == "..") {
      return absl::InvalidArgumentError("underlay.netns must be a name in /run/netns");
    }
    if (!netns.empty()) inventory.underlay_netns_path = "/run/netns/" + netns;
  }
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

absl::StatusOr<AgentEndpoint> NodeEndpoint(const Inventory& inventory, const InventoryNode& node) {
  const std::string where = inventory.path.empty() ? std::string() : " of " + inventory.path;
  if (!node.endpoint.empty() && inventory.tls.complete()) {
    absl::StatusOr<AgentEndpoint> endpoint = MakeEndpoint(node.endpoint, inventory.tls, "node " + node.name + where);
    if (endpoint.ok()) endpoint->netns_path = inventory.underlay_netns_path;
    return endpoint;
  }
  return MakeEndpoint(node.socket, TlsFiles{}, "node " + node.name + where);
}

}  // namespace berth::cli
