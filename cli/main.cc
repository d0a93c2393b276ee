// berth: the command line of the Berth node agent. Flags become berth.v1 requests; responses
// become tables, JSON or a container's own output and exit code.
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <grpc/support/log.h>

#include "absl/synchronization/mutex.h"

#include "cli/agent_client.h"
#include "cli/command_word.h"
#include "cli/commands.h"
#include "cli/contexts.h"
#include "cli/dial_netns.h"
#include "cli/exit_codes.h"
#include "cli/host_target.h"
#include "cli/inventory.h"
#include "cli/target_choice.h"
#include "cli/signal_router.h"

#ifndef BERTH_VERSION
#define BERTH_VERSION "unknown"
#endif

namespace {

// The command is done and its output written: flush it and leave without tearing gRPC down
// (its threads joined one by one, the channel shut down) — a few milliseconds of every command
// that nobody waits for.
[[noreturn]] void ExitNow(int code) {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  std::_Exit(code);
}

// Every command, in the order of `berth --help`.
void AddAllCommands(CLI::App& app, berth::cli::CommandTable& table) {
  using namespace berth::cli;
  AddRunCommands(app, table);
  AddExecCommand(app, table);
  AddLifecycleCommands(app, table);
  AddUpdateCommand(app, table);
  AddRenameCommand(app, table);
  AddAttachCommand(app, table);
  AddTopCommand(app, table);
  AddEventsCommand(app, table);
  AddStatsCommand(app, table);
  AddContainerCommands(app, table);
  AddPsCommand(app, table);
  AddInspectCommand(app, table);
  AddLogsCommand(app, table);
  AddPortCommand(app, table);
  AddNetworkCommands(app, table);
  AddVolumeCommands(app, table);
  AddCpCommand(app, table);
  AddImageCommands(app, table);
  AddSystemCommands(app, table);
  AddVersionCommand(app, table);
  AddContextCommands(app, table);
  AddCompletionCommands(app, table);
  AddManCommand(app, table);
}

// gRPC's own log lines ("E1202 ... Handshake failed ...") would come before our error message
// and say less; GRPC_VERBOSITY brings them back for debugging.
void DropGrpcLog(gpr_log_func_args*) {}

}  // namespace

int main(int argc, char** argv) {
  using namespace berth::cli;
  // One malloc arena: gRPC's seven threads would each map and fault in one of their own, for a
  // process that lives milliseconds and does little at once.
  ::mallopt(M_ARENA_MAX, 1);
  // Debian's Abseil is built with deadlock detection on: every lock of gRPC's mutexes walks a
  // graph of lock order, about 4% of a short command. The tests keep it on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Before any thread exists, so that gRPC's threads inherit the blocked signal mask.
  InstallSignalRouter();
  if (std::getenv("GRPC_VERBOSITY") == nullptr) gpr_set_log_function(DropGrpcLog);

  CLI::App app{"Run and manage containers on a Berth node agent.", "berth"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("berth version ") + BERTH_VERSION);
  // The environment variables are read below rather than by CLI11, so that a flag can be told
  // from a variable (a flag beats a variable; see ChooseAgentEndpoint).
  std::string host;
  std::string cluster;
  std::string node;
  TlsFiles tls;
  CLI::Option* host_flag = app.add_option(
      "-H,--host", host,
      "Agent address: unix:///path/to.sock, or tcp://HOST:PORT with --tlscacert, --tlscert and "
      "--tlskey (env BERTH_HOST; else the current context; default " +
          std::string(kDefaultHost) + ")");
  app.add_option("--tlscacert", tls.ca,
                 "CA certificate that signs the agent's, PEM (env BERTH_TLS_CACERT)");
  app.add_option("--tlscert", tls.cert, "Client certificate, PEM (env BERTH_TLS_CERT)");
  app.add_option("--tlskey", tls.key, "Client private key, PEM (env BERTH_TLS_KEY)");
  CLI::Option* cluster_flag = app.add_option(
      "--cluster", cluster, "Cluster inventory.json (deploy/test-cluster) (env BERTH_CLUSTER)");
  CLI::Option* node_flag = app.add_option(
      "--node", node, "Talk to this node of the --cluster (env BERTH_NODE)");

  CommandTable table;
  const std::string word = CommandWord(std::vector<std::string>(argv + 1, argv + argc));
  if (word == "run" || word == "create") {
    AddRunCommands(app, table);
  } else if (word == "exec") {
    AddExecCommand(app, table);
  } else {
    AddAllCommands(app, table);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // The deepest command that was parsed; an unknown word where it expects a subcommand
    // ("berth frob", "berth network frob") is named as such.
    CLI::App* deepest = &app;
    std::string path = "berth";
    while (!deepest->get_subcommands().empty()) {
      deepest = deepest->get_subcommands().front();
      path += " " + deepest->get_name();
    }
    const std::vector<std::string> rest = deepest->remaining();
    if (!deepest->get_subcommands({}).empty() && !rest.empty() && !rest.front().empty() &&
        rest.front().front() != '-') {
      return ReportError("unknown command '" + rest.front() + "' (see " + path + " --help)");
    }
    const int rc = app.exit(e);  // prints help, version or the usage error
    return rc == 0 ? kExitOk : kExitCliError;
  }

  const CommandTable::Entry* entry = table.Parsed();
  if (entry == nullptr) return ReportError("no command given");  // require_subcommand prevents it
  if (entry->local) {
    try {
      return entry->local();
    } catch (const std::exception& e) {
      return ReportError(e.what());
    }
  }

  auto from_env = [](const char* name) {
    const char* value = std::getenv(name);
    return value == nullptr ? std::string() : std::string(value);
  };
  TargetSettings settings;
  settings.host_from_flag = host_flag->count() > 0;
  settings.host = settings.host_from_flag ? host : from_env("BERTH_HOST");
  settings.cluster_from_flag = cluster_flag->count() > 0;
  settings.cluster = settings.cluster_from_flag ? cluster : from_env("BERTH_CLUSTER");
  settings.node_from_flag = node_flag->count() > 0;
  settings.node = settings.node_from_flag ? node : from_env("BERTH_NODE");
  settings.tls_flags = tls;
  settings.tls_env = TlsFiles{from_env("BERTH_TLS_CACERT"), from_env("BERTH_TLS_CERT"),
                              from_env("BERTH_TLS_KEY")};
  settings.context = from_env("BERTH_CONTEXT");
  if (entry->all_nodes && entry->all_nodes()) {
    absl::StatusOr<Inventory> inventory = ChooseAllNodes(settings, LoadInventory);
    if (!inventory.ok()) return ReportError(inventory.status());
    // Every node's endpoint is on the one underlay segment.
    if (!inventory->underlay_netns_path.empty() && inventory->tls.complete()) {
      if (absl::Status st = EnterDialNamespace(inventory->underlay_netns_path); !st.ok()) return ReportError(st);
    }
    try {
      return entry->all_nodes_action(*inventory);
    } catch (const std::exception& e) {
      return ReportError(e.what());
    }
  }
  // Without HOME there are no contexts to read: only BERTH_CONTEXT makes that an error.
  auto resolve_context = [](const std::string& override_name) -> absl::StatusOr<Context> {
    absl::StatusOr<ContextStore> store = ContextStore::ForHome(std::getenv("HOME"));
    if (!store.ok()) {
      if (override_name.empty()) return DefaultContext();
      return store.status();
    }
    return store->Resolve(override_name);
  };
  absl::StatusOr<AgentEndpoint> endpoint =
      ChooseAgentEndpoint(settings, LoadInventory, resolve_context);
  if (!endpoint.ok()) return ReportError(endpoint.status());
  if (!endpoint->netns_path.empty()) {
    if (absl::Status st = EnterDialNamespace(endpoint->netns_path); !st.ok()) return ReportError(st);
  }

  try {
    absl::StatusOr<std::unique_ptr<AgentClient>> client = AgentClient::Open(*std::move(endpoint));
    if (!client.ok()) return ReportError(client.status());
    ExitNow(entry->action(**client));
  } catch (const std::exception& e) {
    return ReportError(e.what());
  }
}
