#include "runtime/base/proc_util.h"

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/base/file_util.h"

namespace berth {

namespace {
// Fields after the ")" that ends the command name, which may itself hold spaces and parens.
absl::StatusOr<std::vector<std::string>> StatFieldsAfterComm(pid_t pid) {
  auto stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return stat.status();
  size_t close = stat->rfind(')');
  if (close == std::string::npos) return absl::InternalError("malformed /proc stat");
  return std::vector<std::string>(absl::StrSplit(stat->substr(close + 2), ' '));
}
}  // namespace

absl::StatusOr<uint64_t> ProcessStartTime(pid_t pid) {
  auto fields = StatFieldsAfterComm(pid);
  if (!fields.ok()) return fields.status();
  // Field 3 (state) is index 0 here; field 22 (starttime) is index 19.
  uint64_t start = 0;
  if (fields->size() < 20 || !absl::SimpleAtoi((*fields)[19], &start)) {
    return absl::InternalError(absl::StrCat("malformed /proc/", pid, "/stat"));
  }
  return start;
}

bool ProcessAlive(pid_t pid, uint64_t start_time) {
  if (pid <= 0) return false;
  auto fields = StatFieldsAfterComm(pid);
  if (!fields.ok() || fields->size() < 20) return false;
  if ((*fields)[0] == "Z" || (*fields)[0] == "X") return false;
  uint64_t start = 0;
  return absl::SimpleAtoi((*fields)[19], &start) && start == start_time;
}

}  // namespace berth
