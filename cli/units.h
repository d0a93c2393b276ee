// Parsers for the quantities users type on the command line: memory sizes, CPU counts, log
// windows. Pure functions; errors name the offending text.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::cli {

// "67108864", "64m", "64MB", "64MiB", "1.5g", "512 k": k/m/g/t/p are powers of 1024 (docker's
// RAMInBytes). Fractions are truncated to whole bytes.
absl::StatusOr<int64_t> ParseMemoryBytes(std::string_view text);

// "0.5" -> 500, "2" -> 2000. Exact decimal arithmetic; finer than 0.001 CPU is an error.
absl::StatusOr<int64_t> ParseCpuMillis(std::string_view text);

// The start of a `logs --since` window: a duration before `now` ("10m", "1h30m", "90s"), a
// Unix timestamp ("1700000000", "1700000000.5"), an RFC 3339 time ("2024-01-02T03:04:05Z",
// with fraction or offset), or a local "2024-01-02T03:04:05" / "2024-01-02".
absl::StatusOr<absl::Time> ParseSince(std::string_view text, absl::Time now);

// `logs --tail`: "all" -> -1, otherwise a non-negative line count.
absl::StatusOr<int64_t> ParseTail(std::string_view text);

}  // namespace berth::cli
