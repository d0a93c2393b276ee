// Small files of the CLI's own (contexts, config.json) and the user's (TLS files): bounded reads,
// atomic writes, private directories. Errno becomes an absl::Status here, once.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace berth::cli {

// errno → status code (ENOENT NotFound, EEXIST AlreadyExists, EACCES/EPERM PermissionDenied,
// others Internal), with "<message>: <strerror>".
absl::Status ErrnoStatus(int err, std::string_view message);

// The contents of the regular file at `path` (symlinks followed), at most `max_size` bytes.
// `what` names the file in errors: "cannot read the <what> <path>: ...".
absl::StatusOr<std::string> ReadBoundedFile(const std::string& path, size_t max_size,
                                            std::string_view what);

// Creates `dir` and its missing parents with mode 0700 (existing ones are left alone).
absl::Status MakePrivateDirs(const std::string& dir);

// Writes `data` to a temp file (mode 0600) beside `path`, fsyncs it, and renames it over `path`;
// with `exclusive`, links it into place instead so that an existing file is AlreadyExists.
absl::Status WriteFileAtomically(const std::string& path, std::string_view data, bool exclusive);

}  // namespace berth::cli
