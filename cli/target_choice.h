// Which agent a command talks to. From strongest to weakest:
//   1. flags: -H/--host, or --cluster/--node (a cluster node);
//   2. the environment: BERTH_HOST, or BERTH_CLUSTER/BERTH_NODE;
//   3. the context: BERTH_CONTEXT if set, else the current one (`berth context use`);
//   4. the default context, the local socket unix:///run/berth/berth.sock.
// The TLS files of a tcp:// address come file by file from --tlscacert/--tlscert/--tlskey, else
// BERTH_TLS_CACERT/BERTH_TLS_CERT/BERTH_TLS_KEY, else (when the address is the context's) the
// context. A cluster node takes its TLS files from the inventory only.
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "cli/contexts.h"
#include "cli/host_target.h"
#include "cli/inventory.h"
#include "cli/tls_files.h"

namespace berth::cli {

// Where the CLI's global options and environment point it.
struct TargetSettings {
  std::string host;     // -H/--host, else BERTH_HOST
  bool host_from_flag = false;
  std::string cluster;  // --cluster, else BERTH_CLUSTER
  bool cluster_from_flag = false;
  std::string node;     // --node, else BERTH_NODE
  bool node_from_flag = false;
  TlsFiles tls_flags;   // --tlscacert, --tlscert, --tlskey as given
  TlsFiles tls_env;     // BERTH_TLS_CACERT, BERTH_TLS_CERT, BERTH_TLS_KEY
  std::string context;  // BERTH_CONTEXT
};

using InventoryLoader = std::function<absl::StatusOr<Inventory>(const std::string& path)>;
// The context a command uses, given BERTH_CONTEXT (see ContextStore::Resolve). Called only when
// neither a host nor a cluster node is given.
using ContextResolver = std::function<absl::StatusOr<Context>(const std::string& override_name)>;

// The one agent a command talks to:
// - a host and a node given the same way (both as flags, or both from the environment) are
//   a usage error, and so are -H and --cluster as flags; otherwise a flag beats an
//   environment variable;
// - a node needs a cluster file, and is looked up in it (NodeEndpoint); TLS flags cannot go
//   with it (the inventory names the files);
// - a cluster without a node is fine only when the cluster has exactly one node;
// - neither: the context's address (MakeEndpoint checks the TLS files fit it).
absl::StatusOr<AgentEndpoint> ChooseAgentEndpoint(const TargetSettings& settings,
                                                  const InventoryLoader& load,
                                                  const ContextResolver& resolve_context);

// The cluster for a command that works on every node (ps --all-nodes): it needs a cluster file
// and refuses -H, --node or TLS files given as flags.
absl::StatusOr<Inventory> ChooseAllNodes(const TargetSettings& settings,
                                         const InventoryLoader& load);

}  // namespace berth::cli
