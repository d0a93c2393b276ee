// The berth subcommands. Each Add*Command declares its flags on the CLI11 app and registers the
// action to run when that subcommand was parsed; actions return the process exit code.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/agent_client.h"

namespace berth::cli {

using CommandAction = std::function<int(AgentClient& client)>;

class CommandTable {
 public:
  void Add(CLI::App* command, CommandAction action);
  // The action of the subcommand that was parsed, or nullptr.
  const CommandAction* Parsed() const;

 private:
  std::vector<std::pair<CLI::App*, CommandAction>> entries_;
};

void AddRunCommands(CLI::App& app, CommandTable& table);        // run, create
void AddExecCommand(CLI::App& app, CommandTable& table);        // exec
void AddLifecycleCommands(CLI::App& app, CommandTable& table);  // start stop kill rm pause unpause wait
void AddPsCommand(CLI::App& app, CommandTable& table);          // ps
void AddInspectCommand(CLI::App& app, CommandTable& table);     // inspect
void AddLogsCommand(CLI::App& app, CommandTable& table);        // logs
void AddVersionCommand(CLI::App& app, CommandTable& table);     // version

}  // namespace berth::cli
