// Shell completion scripts generated from the CLI's own definitions (the CLI11 tree): every
// command path, its flags, and for positional arguments that name objects (containers,
// images, networks, volumes) a call back into `berth __complete KIND`, which asks the agent.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace berth::cli {

// "bash" or "zsh" (zsh through its bash completion layer); empty for another shell.
std::string CompletionScript(const CLI::App& app, const std::string& shell);

// The object kind a positional argument named `name` takes ("containers", "images",
// "networks", "volumes", "all"), or empty.
std::string ObjectKindOf(const std::string& positional_name);

}  // namespace berth::cli
