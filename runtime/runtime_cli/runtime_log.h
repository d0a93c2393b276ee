// Where berth-runtime reports: stderr always, and with --log a file that callers (containerd,
// conmon) read back, as text or as runc's JSON lines ({"level","msg","time"}).
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace berth::runtime_cli {

class RuntimeLog {
 public:
  RuntimeLog() = default;
  RuntimeLog(std::string path, bool json, bool debug) : path_(std::move(path)), json_(json), debug_(debug) {}

  void Error(absl::string_view message) const { Write("error", message, /*to_stderr=*/true); }
  void Warning(absl::string_view message) const { Write("warning", message, /*to_stderr=*/true); }
  void Debug(absl::string_view message) const {
    if (debug_) Write("debug", message, /*to_stderr=*/false);
  }

 private:
  void Write(absl::string_view level, absl::string_view message, bool to_stderr) const;

  std::string path_;
  bool json_ = false;
  bool debug_ = false;
};

}  // namespace berth::runtime_cli
