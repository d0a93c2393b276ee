#include "runtime/cgroup/cgroup_self_join.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"

namespace berth {

absl::StatusOr<CgroupSelfJoin> CgroupSelfJoin::Open(CgroupDriver& cgroups, const std::string& path) {
  CgroupSelfJoin join;
  if (path.empty()) return join;
  absl::StatusOr<std::vector<std::string>> files = cgroups.SelfJoinFiles(path);
  if (!files.ok()) return files.status();
  join.files_ = *std::move(files);
  for (const std::string& file : join.files_) {
    UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return ErrnoToStatus(absl::StrCat("open ", file));
    join.fds_.push_back(std::move(fd));
  }
  return join;
}

absl::Status CgroupSelfJoin::Join() const {
  for (size_t i = 0; i < fds_.size(); ++i) {
    ssize_t n;
    do {
      n = ::write(fds_[i].get(), "0", 1);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return ErrnoToStatus(absl::StrCat("join cgroup: write 0 to ", files_[i]));
  }
  return absl::OkStatus();
}

}  // namespace berth
