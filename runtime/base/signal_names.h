// Signal names <-> numbers for `kill -s` and `stop -s`.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace berth {

// "9", "KILL", "SIGKILL", "sigterm", "hup" -> the Linux signal number (1..64).
absl::StatusOr<int> ParseSignal(std::string_view text);
// 15 -> "SIGTERM"; a number without a name (real-time signals) -> "34".
std::string SignalName(int number);

}  // namespace berth
