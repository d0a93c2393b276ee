// The cluster inventory: the inventory.json that deploy/test-cluster writes (which nodes exist
// and where their agents listen: a unix socket, and a TCP endpoint with mutual TLS).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/host_target.h"
#include "cli/tls_files.h"

namespace berth::cli {

struct InventoryNode {
  std::string name;    // "node-1"
  std::string socket;  // absolute path of the agent's unix socket
  std::string endpoint;  // "tcp://10.99.0.2:7443" when the agent also listens on TCP, else ""
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
  TlsFiles tls;  // the client's mutual-TLS files for the endpoints ("tls"), or none
  // /run/netns/<underlay.netns>: the namespace on the nodes' segment, from which their
  // endpoints are reached ("" when the inventory names none).
  std::string underlay_netns_path;
};

// Parses inventory JSON: {"dir": ..., "tls": {"ca": ..., "cert": ..., "key": ...},
// "nodes": [{"name": ..., "socket": ..., "endpoint": "tcp://10.99.0.1:7443", ...}]}. Every
// node needs a unique non-empty name and a socket; an endpoint must be a tcp:// address; "tls"
// needs all three files. Relative paths (socket, TLS files) are taken relative to `base_dir`
// (the file's directory). Unknown keys are ignored.
absl::StatusOr<Inventory> ParseInventory(std::string_view json, const std::string& base_dir);

// Reads and parses the file at `path`.
absl::StatusOr<Inventory> LoadInventory(const std::string& path);

// The node called `name`; an unknown name is NotFound and the message lists the nodes.
absl::StatusOr<const InventoryNode*> FindNode(const Inventory& inventory, std::string_view name);

// "node-1, node-2, node-3".
std::string NodeNames(const Inventory& inventory);

// How the CLI reaches `node`: over mutual TLS at its endpoint when the node has one and the
// inventory has TLS files (dialled from the underlay namespace when the inventory names one),
// else through its unix socket (a path on this machine).
absl::StatusOr<AgentEndpoint> NodeEndpoint(const Inventory& inventory, const InventoryNode& node);

}  // namespace berth::cli
