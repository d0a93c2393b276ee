// The CRI container log format (what kubelet and crictl read):
//   2016-10-06T00:17:09.669794202Z stdout F a whole line
//   2016-10-06T00:17:09.669794202Z stderr P part of a line (no newline yet)
// The shim writes it; the agent's Logs reads it back and reassembles lines.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "runtime/base/unique_fd.h"

namespace berth::crilog {

enum class Stream { kStdout, kStderr };

struct Entry {
  int64_t time_ns = 0;  // unix nanoseconds
  Stream stream = Stream::kStdout;
  bool partial = false;  // P: the text continues in the next entry of the stream
  std::string text;      // without the trailing newline
};

// RFC 3339 with nanoseconds in UTC, e.g. 2016-10-06T00:17:09.669794202Z.
std::string FormatTimestamp(int64_t time_ns);
absl::StatusOr<int64_t> ParseTimestamp(absl::string_view text);

// One log line including its '\n'.
std::string FormatLine(const Entry& entry);
// Parses one line (with or without its '\n'); INVALID_ARGUMENT when malformed.
absl::StatusOr<Entry> ParseLine(absl::string_view line);

// Appends output to a log file: every complete line becomes an F entry; a fragment left
// without newline becomes a P entry right away (output is never held back), and the rest of
// that line follows later as another entry. Long lines are split into P entries of at most
// 16 KiB.
class LogWriter {
 public:
  explicit LogWriter(UniqueFd fd) : fd_(std::move(fd)) {}
  absl::Status Write(Stream stream, absl::string_view data, int64_t now_ns);

 private:
  UniqueFd fd_;
};

}  // namespace berth::crilog
