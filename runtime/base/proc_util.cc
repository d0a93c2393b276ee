#include "runtime/base/proc_util.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"

namespace berth {

absl::StatusOr<std::vector<std::string>> StatFieldsAfterComm(pid_t pid) {
  auto stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return stat.status();
  size_t close = stat->rfind(')');
  if (close == std::string::npos) return absl::InternalError("malformed /proc stat");
  return std::vector<std::string>(absl::StrSplit(stat->substr(close + 2), ' '));
}

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

absl::StatusOr<std::string> BootId() {
  absl::StatusOr<std::string> id = ReadFile("/proc/sys/kernel/random/boot_id");
  if (!id.ok()) return id.status();
  absl::string_view trimmed = absl::StripAsciiWhitespace(*id);
  if (trimmed.empty()) return absl::InternalError("/proc/sys/kernel/random/boot_id is empty");
  return std::string(trimmed);
}

bool ProcessAlive(pid_t pid, uint64_t start_time) {
  if (pid <= 0) return false;
  auto fields = StatFieldsAfterComm(pid);
  if (!fields.ok() || fields->size() < 20) return false;
  if ((*fields)[0] == "Z" || (*fields)[0] == "X") return false;
  uint64_t start = 0;
  return absl::SimpleAtoi((*fields)[19], &start) && start == start_time;
}

namespace {

// A pidfd of `pid` that is known to name the process that started at `start_time`.
absl::StatusOr<UniqueFd> PinProcess(pid_t pid, uint64_t start_time) {
  if (pid <= 0) return absl::InvalidArgumentError(absl::StrCat("pid ", pid, " is not a process"));
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) {
    if (errno == ESRCH) return absl::NotFoundError(absl::StrCat("process ", pid, " is gone"));
    return ErrnoToStatus(absl::StrCat("pidfd_open ", pid));
  }
  // The pidfd was taken first: if the start time matches now, it is our process's.
  if (start_time != 0 && !ProcessAlive(pid, start_time)) {
    return absl::NotFoundError(absl::StrCat("process ", pid, " is gone"));
  }
  return pidfd;
}

bool Exited(const UniqueFd& pidfd) {
  struct pollfd p = {pidfd.get(), POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

}  // namespace

absl::Status SignalProcess(pid_t pid, uint64_t start_time, int signal) {
  absl::StatusOr<UniqueFd> pidfd = PinProcess(pid, start_time);
  if (absl::IsNotFound(pidfd.status())) return absl::OkStatus();
  if (!pidfd.ok()) return pidfd.status();
  if (::syscall(SYS_pidfd_send_signal, pidfd->get(), signal, nullptr, 0) != 0 && errno != ESRCH) {
    return ErrnoToStatus(absl::StrCat("signal ", signal, " to pid ", pid));
  }
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> OpenNamespaceOf(pid_t pid, uint64_t start_time, const char* name) {
  absl::StatusOr<UniqueFd> pidfd = PinProcess(pid, start_time);
  if (!pidfd.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("namespace of pid ", pid, ": ", pidfd.status().message()));
  }
  std::string path = absl::StrCat("/proc/", pid, "/ns/", name);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoToStatus(absl::StrCat("open ", path));
  // Alive after the open means alive during it: the pid still named our process.
  if (Exited(*pidfd)) {
    return absl::FailedPreconditionError(absl::StrCat("process ", pid, " exited while its ", name,
                                                      " namespace was being opened"));
  }
  return fd;
}

}  // namespace berth
