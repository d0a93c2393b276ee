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

// How a log rotates (docker's --log-opt max-size, max-file): when the next entry would take
// the file past max_bytes, `path` is renamed to `path.1` (`path.1` to `path.2`, ...; the
// oldest beyond max_files - 1 is deleted) and a new `path` begun. 0: never.
struct LogRotation {
  int64_t max_bytes = 0;
  int max_files = 1;  // files kept, the current one included
};

// `path` for 0, else "path.N": the Nth newest rotated file.
std::string RotatedLogPath(const std::string& path, int n);

// Appends output to a log file: every complete line becomes an F entry; a fragment left
// without newline becomes a P entry right away (output is never held back), and the rest of
// that line follows later as another entry. Long lines are split into P entries of at most
// 16 KiB. Entries are whole in one file: a rotation only ever falls between them.
class LogWriter {
 public:
  explicit LogWriter(UniqueFd fd) : fd_(std::move(fd)) {}
  // Appends to `path` (made 0640 when missing), rotating it as `rotation` says.
  static absl::StatusOr<LogWriter> Open(const std::string& path, LogRotation rotation);
  absl::Status Write(Stream stream, absl::string_view data, int64_t now_ns);
  uint64_t rotations() const { return rotations_; }

 private:
  // Writes `out` whole (one write call unless interrupted).
  absl::Status WriteOut(absl::string_view out);
  absl::Status Rotate();

  UniqueFd fd_;
  std::string path_;  // empty: the fd is all there is (no rotation)
  LogRotation rotation_;
  int64_t size_ = 0;
  uint64_t rotations_ = 0;
};

}  // namespace berth::crilog
