// What `top` shows of a process, read from /proc.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace berth {

struct ProcessInfo {
  pid_t pid = 0;
  pid_t ppid = 0;
  uid_t uid = 0;            // real uid, as the node sees it
  char state = '?';         // R, S, D, Z, T, ...
  uint64_t cpu_time_ms = 0;  // user + system
  uint64_t rss_bytes = 0;
  std::string command;  // argv joined by spaces; "[comm]" for a process without one
};

// NOT_FOUND when the process is gone (it may exit at any moment).
absl::StatusOr<ProcessInfo> ReadProcessInfo(pid_t pid);

}  // namespace berth
