#include "runtime/base/crash_point.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace berth {

bool CrashListNames(std::string_view list, std::string_view point) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    if (list.substr(0, comma) == point) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

void CrashPoint(std::string_view point) {
  // Read at each call: no global state, and a point costs one environment lookup.
  const char* list = std::getenv(kCrashAtVariable);
  if (list == nullptr || !CrashListNames(list, point)) return;
  const std::string line = "berth: crash point " + std::string(point) + "\n";
  (void)!::write(STDERR_FILENO, line.data(), line.size());
  ::kill(::getpid(), SIGKILL);
  ::pause();  // SIGKILL is delivered before kill() returns to user space; never reached
}

}  // namespace berth
