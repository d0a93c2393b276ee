#include "runtime/network/netns.h"

#include <fcntl.h>
#include <sched.h>

#include <cerrno>
#include <string>
#include <system_error>
#include <thread>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"

namespace berth::net {

namespace {

absl::StatusOr<UniqueFd> OpenNetnsPath(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoToStatus(absl::StrCat("open ", path));
  return fd;
}

// Runs `body` on a fresh thread and waits for it. The thread is what may change namespace;
// it exits right after, so the caller's threads never do. std::thread reports a failure to
// start by throwing, which must not cross this module's boundary.
absl::Status RunOnFreshThread(const std::function<absl::Status()>& body) {
  absl::Status status;
  try {
    std::thread thread([&] { status = body(); });
    thread.join();
  } catch (const std::system_error& e) {
    return ErrnoStatus(e.code().value(), "start a thread to enter a network namespace");
  }
  return status;
}

}  // namespace

absl::StatusOr<UniqueFd> OpenNetnsOfPid(int pid) {
  if (pid <= 0) return absl::InvalidArgumentError(absl::StrCat("open the netns of pid ", pid, ": not a pid"));
  return OpenNetnsPath(absl::StrCat("/proc/", pid, "/ns/net"));
}

absl::StatusOr<UniqueFd> OpenCurrentNetns() { return OpenNetnsPath("/proc/thread-self/ns/net"); }

absl::StatusOr<UniqueFd> CreateNetns() {
  absl::StatusOr<UniqueFd> netns = absl::InternalError("create netns: helper thread did not run");
  absl::Status started = RunOnFreshThread([&] {
    // unshare moves only this thread; the fd keeps the new namespace alive after it exits.
    if (::unshare(CLONE_NEWNET) != 0) {
      netns = ErrnoToStatus("create netns: unshare(CLONE_NEWNET)");
    } else {
      netns = OpenCurrentNetns();
    }
    return absl::OkStatus();
  });
  if (!started.ok()) return started;
  return netns;
}

absl::Status RunInNetns(int netns_fd, const std::function<absl::Status()>& fn) {
  if (netns_fd < 0) return absl::InvalidArgumentError("enter netns: no netns fd");
  return RunOnFreshThread([&] {
    if (::setns(netns_fd, CLONE_NEWNET) != 0)
      return ErrnoToStatus(absl::StrCat("enter netns (fd ", netns_fd, ")"));
    return fn();
  });
}

}  // namespace berth::net
