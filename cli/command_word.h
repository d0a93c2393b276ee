// The command a berth command line names, found before the CLI11 tree is built: `run` and
// `exec`, the commands whose start-up time people notice, then set up only their own
// subcommands (a few ms of the whole tree's flags, validators and help strings).
#pragma once

#include <string>
#include <vector>

namespace berth::cli {

// The first word after the global options ("run" in `berth -H unix:///s.sock run -d x`).
// Empty when there is none, or when a global option asks for help or the version, or is one
// this does not know (CLI11, with the whole tree, then says what is wrong).
std::string CommandWord(const std::vector<std::string>& args);

}  // namespace berth::cli
