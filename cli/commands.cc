#include "cli/commands.h"

namespace berth::cli {

void CommandTable::Add(CLI::App* command, CommandAction action) {
  entries_.push_back(Entry{command, std::move(action), nullptr, nullptr, nullptr});
}

void CommandTable::AddLocal(CLI::App* command, LocalAction action) {
  entries_.push_back(Entry{command, nullptr, nullptr, nullptr, std::move(action)});
}

void CommandTable::AddAllNodes(CLI::App* command, std::function<bool()> applies,
                               AllNodesAction action) {
  for (Entry& entry : entries_) {
    if (entry.command == command) {
      entry.all_nodes = std::move(applies);
      entry.all_nodes_action = std::move(action);
      return;
    }
  }
  entries_.push_back(Entry{command, nullptr, std::move(applies), std::move(action), nullptr});
}

const CommandTable::Entry* CommandTable::Parsed() const {
  for (const Entry& entry : entries_) {
    if (entry.command->parsed()) return &entry;
  }
  return nullptr;
}

}  // namespace berth::cli
