// Maps errno values onto absl::Status codes once, for every module, with context.
#pragma once

#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace berth {

// The status for `err` with "what: strerror" as its message, e.g. ("mount /proc", EPERM).
absl::Status ErrnoStatus(int err, absl::string_view what);

// ErrnoStatus(errno, what).
absl::Status ErrnoToStatus(absl::string_view what);

// Prefixes `context: ` to the message of a non-OK status, keeping the code.
absl::Status Annotate(const absl::Status& status, absl::string_view context);

}  // namespace berth
