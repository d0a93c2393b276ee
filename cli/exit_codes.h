// Exit codes of the berth command. Like docker, the CLI keeps 125 for its own failures (usage
// errors, agent errors) so that `run`/`exec` can pass the container's own exit code through.
#pragma once

namespace berth::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitCliError = 125;

}  // namespace berth::cli
