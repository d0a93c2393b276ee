#include "cli/commands.h"

namespace berth::cli {

void CommandTable::Add(CLI::App* command, CommandAction action) {
  entries_.emplace_back(command, std::move(action));
}

const CommandAction* CommandTable::Parsed() const {
  for (const auto& [command, action] : entries_) {
    if (command->parsed()) return &action;
  }
  return nullptr;
}

}  // namespace berth::cli
