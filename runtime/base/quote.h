// Values echoed back in error messages: quoted (control characters and quotes escaped, so
// leading or trailing spaces stay visible) and capped, so a caller's 1 MiB id never comes
// back as a 1 MiB status message that clients drop with their connection.
#pragma once

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace berth {

inline constexpr size_t kQuoteLimit = 200;

// "\"abc\"", or "\"abcd…\" (1048576 bytes)" when longer than `limit` bytes.
std::string Quoted(absl::string_view value, size_t limit = kQuoteLimit);

}  // namespace berth
