// Exit codes of the berth command. Like docker, the CLI keeps 125 for its own failures (usage
// errors, agent errors) so that `run`/`exec` can pass the container's own exit code through.
#pragma once

namespace berth::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitCliError = 125;
// The container's command could not be invoked (not executable) or was not found.
inline constexpr int kExitCannotInvoke = 126;
inline constexpr int kExitCommandNotFound = 127;

}  // namespace berth::cli
