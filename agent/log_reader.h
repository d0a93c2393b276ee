// Reads a CRI log file for the Logs RPC: tail N lines, since and until a time, and follow.
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "runtime/shim/cri_log.h"

namespace berth::agent {

struct LogQuery {
  int64_t tail = 0;      // last N lines; <= 0: all
  int64_t since_ns = 0;  // entries at or after this time
  int64_t until_ns = 0;  // entries at or before this time (a follow ends after it); 0: no end
  bool follow = false;
};

// Calls `emit` for each entry in order; `emit` returns false to stop. With follow, keeps
// reading new entries until `finished()` is true and the file has no more data.
absl::Status ReadLogs(const std::string& path, const LogQuery& query,
                      const std::function<bool(const crilog::Entry&)>& emit,
                      const std::function<bool()>& finished);

}  // namespace berth::agent
