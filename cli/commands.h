// The berth subcommands. Each Add*Command declares its flags on the CLI11 app and registers the
// action to run when that subcommand was parsed; actions return the process exit code.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/agent_client.h"
#include "cli/inventory.h"
#include "cli/target_choice.h"

namespace berth::cli {

using CommandAction = std::function<int(AgentClient& client)>;
// A command run against every node of a cluster (ps --all-nodes).
using AllNodesAction = std::function<int(const Inventory& cluster)>;
// A command that needs no agent (context ...): it runs before any agent is chosen, so a broken
// current context cannot keep `context use default` from repairing it.
using LocalAction = std::function<int()>;

class CommandTable {
 public:
  struct Entry {
    CLI::App* command = nullptr;
    CommandAction action;             // with the one agent the global options chose
    std::function<bool()> all_nodes;  // after parsing: does this run use every node instead?
    AllNodesAction all_nodes_action;
    LocalAction local;                // set: the command talks to no agent
  };

  void Add(CLI::App* command, CommandAction action);
  void AddLocal(CLI::App* command, LocalAction action);
  // Lets an added command run on every node of the cluster when `applies()` holds.
  void AddAllNodes(CLI::App* command, std::function<bool()> applies, AllNodesAction action);
  // The entry of the subcommand that was parsed, or nullptr.
  const Entry* Parsed() const;

 private:
  std::vector<Entry> entries_;
};

void AddRunCommands(CLI::App& app, CommandTable& table);        // run, create
void AddExecCommand(CLI::App& app, CommandTable& table);        // exec
void AddLifecycleCommands(CLI::App& app, CommandTable& table);  // start stop kill rm pause unpause wait
void AddUpdateCommand(CLI::App& app, CommandTable& table);      // update
void AddRenameCommand(CLI::App& app, CommandTable& table);      // rename
void AddCpCommand(CLI::App& app, CommandTable& table);           // cp
void AddAttachCommand(CLI::App& app, CommandTable& table);      // attach
void AddTopCommand(CLI::App& app, CommandTable& table);         // top
void AddEventsCommand(CLI::App& app, CommandTable& table);      // events
void AddStatsCommand(CLI::App& app, CommandTable& table);       // stats
void AddContainerCommands(CLI::App& app, CommandTable& table);  // container prune
void AddPsCommand(CLI::App& app, CommandTable& table);          // ps (and ps --all-nodes)
void AddInspectCommand(CLI::App& app, CommandTable& table);     // inspect
void AddLogsCommand(CLI::App& app, CommandTable& table);        // logs
void AddPortCommand(CLI::App& app, CommandTable& table);        // port
void AddNetworkCommands(CLI::App& app, CommandTable& table);    // network create ls inspect rm
void AddVolumeCommands(CLI::App& app, CommandTable& table);     // volume create ls inspect rm prune
void AddImageCommands(CLI::App& app, CommandTable& table);      // pull images image rmi tag
void AddSystemCommands(CLI::App& app, CommandTable& table);     // system health df
void AddVersionCommand(CLI::App& app, CommandTable& table);     // version
void AddCompletionCommands(CLI::App& app, CommandTable& table);  // completion, __complete
void AddContextCommands(CLI::App& app, CommandTable& table);    // context create ls use rm inspect
void AddManCommand(CLI::App& app, CommandTable& table);         // __man DIR (hidden)

}  // namespace berth::cli
