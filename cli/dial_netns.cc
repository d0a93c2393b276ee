#include "cli/dial_netns.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace berth::cli {

absl::Status EnterDialNamespace(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot open the network namespace ", path,
                                               " the cluster's endpoints are reached from: ", std::strerror(errno),
                                               " (is the cluster up?)"));
  }
  int rc = ::setns(fd, CLONE_NEWNET);
  int err = errno;
  ::close(fd);
  if (rc != 0) {
    return absl::PermissionDeniedError(absl::StrCat("cannot enter the network namespace ", path,
                                                    " the cluster's endpoints are reached from: ", std::strerror(err),
                                                    " (run as root, or from inside it with nsenter --net=", path, ")"));
  }
  return absl::OkStatus();
}

}  // namespace berth::cli
