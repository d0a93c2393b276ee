#include "cli/target_choice.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace berth::cli {
namespace {

// File by file: the first of `strong`, `middle`, `weak` that names it.
TlsFiles MergeTls(const TlsFiles& strong, const TlsFiles& middle, const TlsFiles& weak) {
  auto pick = [](const std::string& a, const std::string& b, const std::string& c) {
    return !a.empty() ? a : !b.empty() ? b : c;
  };
  return TlsFiles{pick(strong.ca, middle.ca, weak.ca), pick(strong.cert, middle.cert, weak.cert),
                  pick(strong.key, middle.key, weak.key)};
}

absl::Status NoTlsFlagsWith(const TargetSettings& s, std::string_view what) {
  if (s.tls_flags.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      absl::StrJoin(GivenTlsFiles(s.tls_flags), ", "), " cannot be used with ", std::string(what),
      ": the cluster inventory names the TLS files"));
}

}  // namespace

absl::StatusOr<AgentEndpoint> ChooseAgentEndpoint(const TargetSettings& s,
                                                  const InventoryLoader& load,
                                                  const ContextResolver& resolve_context) {
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
  const bool use_node = node_set && (!host_set || s.node_from_flag);
  bool use_cluster = false;
  if (!use_node && !node_set) {
    use_cluster = cluster_set && (!host_set || (!s.host_from_flag && s.cluster_from_flag));
  }

  if (!use_node && !use_cluster) {
    if (host_set) {
      return MakeEndpoint(s.host, MergeTls(s.tls_flags, s.tls_env, TlsFiles{}),
                          s.host_from_flag ? "--host" : "BERTH_HOST");
    }
    absl::StatusOr<Context> context = resolve_context(s.context);
    if (!context.ok()) return context.status();
    std::string origin = absl::StrCat("context \"", context->name, "\"");
    if (!s.context.empty()) origin += " (BERTH_CONTEXT)";
    return MakeEndpoint(context->host, MergeTls(s.tls_flags, s.tls_env, context->tls),
                        std::move(origin));
  }

  if (!cluster_set) {
    return absl::InvalidArgumentError("--node " + s.node +
                                      " needs a cluster: give --cluster FILE (or BERTH_CLUSTER)");
  }
  if (absl::Status st = NoTlsFlagsWith(s, use_node ? "--node" : "--cluster"); !st.ok()) return st;
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
  return NodeEndpoint(*inventory, *node);
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
  if (absl::Status st = NoTlsFlagsWith(s, "--all-nodes"); !st.ok()) return st;
  return load(s.cluster);
}

}  // namespace berth::cli
