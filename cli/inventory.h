// Cluster targeting: the inventory.json that deploy/test-cluster writes (which nodes exist and
// where their agents listen), and the choice between -H/--host and --cluster/--node.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::cli {

struct InventoryNode {
  std::string name;    // "node-1"
  std::string socket;  // absolute path of the agent's unix socket
  std::string address;  // the node's underlay address
  std::string subnet;   // the node's container subnet
  std::string netns;
  std::string netns_path;
  std::string root;
  std::string log;
  int64_t pid = 0;
};

struct Inventory {
  std::string path;  // the file it was read from
  std::string dir;
  std::vector<InventoryNode> nodes;  // in file order
};

// Parses inventory JSON: {"dir": ..., "nodes": [{"name": ..., "socket": ..., ...}]}. Every
// node needs a unique non-empty name and a socket; a relative socket is taken relative to
// `base_dir` (the file's directory). Unknown keys are ignored.
absl::StatusOr<Inventory> ParseInventory(std::string_view json, const std::string& base_dir);

// Reads and parses the file at `path`.
absl::StatusOr<Inventory> LoadInventory(const std::string& path);

// The node called `name`; an unknown name is NotFound and the message lists the nodes.
absl::StatusOr<const InventoryNode*> FindNode(const Inventory& inventory, std::string_view name);

// "node-1, node-2, node-3".
std::string NodeNames(const Inventory& inventory);

// Where the CLI's global options and environment point it.
struct TargetSettings {
  std::string host;     // -H/--host, else BERTH_HOST
  bool host_from_flag = false;
  std::string cluster;  // --cluster, else BERTH_CLUSTER
  bool cluster_from_flag = false;
  std::string node;     // --node, else BERTH_NODE
  bool node_from_flag = false;
};

using InventoryLoader = std::function<absl::StatusOr<Inventory>(const std::string& path)>;

// The gRPC target of the one agent a command talks to:
// - a host and a node given the same way (both as flags, or both from the environment) are
//   a usage error, and so are -H and --cluster as flags; otherwise a flag beats an
//   environment variable;
// - a node needs a cluster file, and is looked up in it (its socket);
// - a cluster without a node is fine only when the cluster has exactly one node;
// - neither: the host, or the default socket.
absl::StatusOr<std::string> ChooseAgentTarget(const TargetSettings& settings,
                                              const InventoryLoader& load);

// The cluster for a command that works on every node (ps --all-nodes): it needs a cluster file
// and refuses -H or --node given as flags.
absl::StatusOr<Inventory> ChooseAllNodes(const TargetSettings& settings,
                                         const InventoryLoader& load);

}  // namespace berth::cli
