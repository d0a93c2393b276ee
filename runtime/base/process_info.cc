#include "runtime/base/process_info.h"

#include <unistd.h>

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "runtime/base/file_util.h"
#include "runtime/base/proc_util.h"

namespace berth {

absl::StatusOr<ProcessInfo> ReadProcessInfo(pid_t pid) {
  absl::StatusOr<std::vector<std::string>> fields = StatFieldsAfterComm(pid);
  if (!fields.ok()) return fields.status();
  // Index i is field i + 3: state 3, ppid 4, utime 14, stime 15, rss 24 (pages).
  ProcessInfo info;
  info.pid = pid;
  uint64_t utime = 0, stime = 0, rss_pages = 0;
  if (fields->size() < 22 || (*fields)[0].empty() || !absl::SimpleAtoi((*fields)[1], &info.ppid) ||
      !absl::SimpleAtoi((*fields)[11], &utime) || !absl::SimpleAtoi((*fields)[12], &stime) ||
      !absl::SimpleAtoi((*fields)[21], &rss_pages)) {
    return absl::InternalError(absl::StrCat("malformed /proc/", pid, "/stat"));
  }
  info.state = (*fields)[0][0];
  const uint64_t ticks = static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
  info.cpu_time_ms = ticks > 0 ? (utime + stime) * 1000 / ticks : 0;
  info.rss_bytes = rss_pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));

  absl::StatusOr<std::string> status = ReadFile(absl::StrCat("/proc/", pid, "/status"));
  if (!status.ok()) return status.status();
  for (absl::string_view line : absl::StrSplit(*status, '\n')) {
    if (!absl::ConsumePrefix(&line, "Uid:")) continue;
    std::vector<absl::string_view> ids = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (!ids.empty()) (void)absl::SimpleAtoi(ids[0], &info.uid);
  }

  absl::StatusOr<std::string> cmdline = ReadFile(absl::StrCat("/proc/", pid, "/cmdline"));
  if (cmdline.ok() && !cmdline->empty()) {
    std::vector<absl::string_view> args = absl::StrSplit(*cmdline, '\0', absl::SkipEmpty());
    info.command = absl::StrJoin(args, " ");
  } else {
    absl::StatusOr<std::string> comm = ReadFile(absl::StrCat("/proc/", pid, "/comm"));
    info.command = absl::StrCat("[", comm.ok() ? absl::StripTrailingAsciiWhitespace(*comm) : "?", "]");
  }
  return info;
}

}  // namespace berth
