// What the runtime keeps about one container between calls (runc's state.json): enough to
// find its init again (pid + start time), its cgroup and its bundle, and to answer `state`.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::lifecycle {

// The OCI runtime spec's statuses ("creating" is never seen: Create holds the state lock
// until the container is created, and a half-made one is removed).
enum class ContainerStatus { kCreated, kRunning, kPaused, kStopped };

absl::string_view StatusName(ContainerStatus status);

struct ContainerRecord {
  std::string oci_version;
  std::string id;
  std::string bundle;  // absolute
  std::string rootfs;  // root.path, absolute
  pid_t pid = 0;
  uint64_t pid_start_time = 0;  // tells the init apart from a later process with its pid
  std::string cgroups_path;     // absolute, so that any caller's cgroup finds the same one
  std::string created;          // RFC 3339, UTC
  std::map<std::string, std::string> annotations;
  bool started = false;  // the start FIFO was opened
  bool paused = false;
};

std::string SerializeRecord(const ContainerRecord& record);
absl::StatusOr<ContainerRecord> ParseRecord(absl::string_view json_text);

// The OCI state document (`state`, and what hooks read on stdin).
std::string StateJson(const ContainerRecord& record, ContainerStatus status, int indent = 2);

}  // namespace berth::lifecycle
