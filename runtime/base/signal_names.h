// Signal names <-> numbers for `kill -s` and `stop -s`.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"

namespace berth {

// "9", "KILL", "SIGKILL", "sigterm", "hup" -> the Linux signal number (1..64).
absl::StatusOr<int> ParseSignal(std::string_view text);

}  // namespace berth
