// The docker-style flags of `run`/`create` and `exec`, declared on a CLI11 command and bound to
// the flag structs. Kept apart from the commands so tests can parse an argv without an agent.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/container_flags.h"

namespace berth::cli {

// A flag that may be given many times, one value each time (-e A -e B, never -e A B).
CLI::Option* AddRepeatable(CLI::App* command, const std::string& name,
                           std::vector<std::string>& into, const std::string& help);

// Everything after IMAGE is the container's command, flags included:
// `run busybox sh -c 'ls -l'` passes -c to the container.
void DefineContainerFlags(CLI::App* command, ContainerFlags& flags, bool is_run);

// Everything after the container is the command: `exec web ls -l`.
void DefineExecFlags(CLI::App* command, ExecFlags& flags);

}  // namespace berth::cli
