// OCI mount options ("ro", "nosuid", "rbind", "mode=755", ...) -> mount(2) flags, propagation
// flags and the filesystem data string. Pure; no syscalls.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::container_internal {

struct MountOptions {
  unsigned long flags = 0;        // MS_RDONLY, MS_NOSUID, ... (never MS_BIND/MS_REC)
  unsigned long propagation = 0;  // MS_PRIVATE|MS_REC, MS_SLAVE, ... or 0
  bool bind = false;              // "bind" or "rbind"
  bool recursive = false;         // "rbind"
  bool idmap = false;             // "idmap" or "ridmap": map ids with the container's user namespace
  std::string data;               // filesystem options, comma-joined ("mode=755,size=65536k")
};

MountOptions ParseMountOptions(const std::vector<std::string>& options);

// Every option name ParseMountOptions knows (flags, propagation, bind, idmap); anything else
// is passed to the filesystem as data. For `berth-runtime features`.
std::vector<std::string> MountOptionNames();

// "private", "rslave", ... -> MS_* propagation flags; "" means private recursively.
absl::StatusOr<unsigned long> ParsePropagation(const std::string& name);

}  // namespace berth::container_internal
