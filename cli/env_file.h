// docker's --env-file and --label-file format: one KEY=VALUE (or a bare KEY) per line, leading
// whitespace ignored, blank lines and lines starting with '#' skipped, values taken as written
// (no quotes removed, no variables expanded).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::cli {

// The entries of `text` in order; a key with whitespace in it is an error naming the line.
// `what` names the file in errors ("env file /path").
absl::StatusOr<std::vector<std::string>> ParseEnvFile(absl::string_view text, absl::string_view what);

// Reads and parses the file at `path` (at most 1 MiB).
absl::StatusOr<std::vector<std::string>> ReadEnvFile(const std::string& path, absl::string_view kind);

}  // namespace berth::cli
