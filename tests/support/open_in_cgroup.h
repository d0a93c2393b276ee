// For device-cgroup tests: what a process placed in a cgroup may open.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/statusor.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unique_fd.h"

namespace berth::testing {

// errno of open(path, O_RDWR) for each path, in a forked child that `join` first puts into a
// cgroup (0: it opened). The child is killed and reaped before this returns.
inline absl::StatusOr<std::vector<int>> OpenErrnosFrom(const std::vector<std::string>& paths,
                                                       const std::function<absl::Status(pid_t)>& join) {
  int go[2], result[2];
  if (::pipe2(go, O_CLOEXEC) != 0) return ErrnoToStatus("pipe");
  if (::pipe2(result, O_CLOEXEC) != 0) {
    ::close(go[0]);
    ::close(go[1]);
    return ErrnoToStatus("pipe");
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(go[1]);
    ::close(result[0]);
    char c;
    if (::read(go[0], &c, 1) != 1) ::_exit(2);
    for (const std::string& path : paths) {
      int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
      int err = fd >= 0 ? 0 : errno;
      if (fd >= 0) ::close(fd);
      if (::write(result[1], &err, sizeof(err)) != sizeof(err)) ::_exit(3);
    }
    ::_exit(0);
  }
  ::close(go[0]);
  ::close(result[1]);
  UniqueFd go_fd(go[1]), result_fd(result[0]);
  if (pid < 0) return ErrnoToStatus("fork");
  absl::Cleanup reap = [pid] {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  };
  RETURN_IF_ERROR(join(pid));
  if (::write(go_fd.get(), "g", 1) != 1) return ErrnoToStatus("write to child");
  std::vector<int> errs(paths.size());
  for (int& err : errs) {
    if (::read(result_fd.get(), &err, sizeof(err)) != sizeof(err)) {
      return absl::InternalError("the child died without reporting");
    }
  }
  return errs;
}

}  // namespace berth::testing
