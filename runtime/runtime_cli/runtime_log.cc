#include "runtime/runtime_cli/runtime_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "runtime/base/unique_fd.h"

namespace berth::runtime_cli {

void RuntimeLog::Write(absl::string_view level, absl::string_view message, bool to_stderr) const {
  if (to_stderr) std::cerr << "berth-runtime: " << message << "\n";
  if (path_.empty()) return;
  std::string time = absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", absl::Now(), absl::UTCTimeZone());
  std::string line;
  if (json_) {
    nlohmann::ordered_json doc = {{"level", level}, {"msg", message}, {"time", time}};
    line = doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  } else {
    line = absl::StrCat("time=\"", time, "\" level=", level, " msg=\"", message, "\"\n");
  }
  // One append per line: several runtime calls may share the file.
  UniqueFd fd(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (fd) (void)!::write(fd.get(), line.data(), line.size());
}

}  // namespace berth::runtime_cli
