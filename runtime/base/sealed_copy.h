// A program started next to containers (berth-shim), copied once into a sealed memfd and
// executed from there. A process in a container that reaches /proc/<pid>/exe of a
// shim or exec helper finds a file nobody can write (the CVE-2019-5736 class): the seals
// forbid writes, growing and shrinking for good, whatever the caller's privileges.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"

namespace berth {

// The copy, as a CLOEXEC fd to execute through /proc/self/fd/<fd>.
absl::StatusOr<UniqueFd> SealedCopy(const std::string& path);

}  // namespace berth
