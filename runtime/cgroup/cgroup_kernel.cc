#include "runtime/cgroup/cgroup_kernel.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/status_macros.h"
#include "runtime/cgroup/device_filter.h"

namespace berth {

absl::Status LinuxCgroupKernel::MakeDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0) return ErrnoToStatus(absl::StrCat("mkdir ", dir));
  return absl::OkStatus();
}

absl::Status LinuxCgroupKernel::RemoveDir(const std::string& dir) {
  if (::rmdir(dir.c_str()) != 0) return ErrnoToStatus(absl::StrCat("rmdir ", dir));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> LinuxCgroupKernel::ListSubdirs(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return ErrnoToStatus(absl::StrCat("opendir ", dir));
  std::vector<std::string> out;
  while (struct dirent* e = ::readdir(d)) {
    absl::string_view name(e->d_name);
    if (name == "." || name == "..") continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      is_dir =
          ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_dir) out.emplace_back(name);
  }
  ::closedir(d);
  return out;
}

bool LinuxCgroupKernel::Exists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

absl::StatusOr<std::string> LinuxCgroupKernel::Read(const std::string& file) {
  return ReadFile(file);
}

absl::Status CgroupKernel::WriteEach(const std::string& file, const std::vector<std::string>& lines) {
  for (const std::string& line : lines) RETURN_IF_ERROR(Write(file, line));
  return absl::OkStatus();
}

absl::Status LinuxCgroupKernel::Write(const std::string& file, absl::string_view data) {
  return WriteExisting(file, data);
}

absl::Status LinuxCgroupKernel::WriteEach(const std::string& file, const std::vector<std::string>& lines) {
  return WriteExistingEach(file, lines);
}

absl::Status LinuxCgroupKernel::SetDeviceProgram(const std::string& dir,
                                                 const std::vector<struct bpf_insn>& program) {
  return ReplaceDeviceFilter(dir, program);
}

absl::Status LinuxCgroupKernel::Chown(const std::string& path, uid_t uid, gid_t gid) {
  if (::chown(path.c_str(), uid, gid) != 0) return ErrnoToStatus(absl::StrCat("chown ", path));
  return absl::OkStatus();
}

absl::Status LinuxCgroupKernel::Kill(pid_t pid, int signal) {
  if (::kill(pid, signal) != 0 && errno != ESRCH) {
    return ErrnoToStatus(absl::StrCat("kill ", pid));
  }
  return absl::OkStatus();
}

absl::Time LinuxCgroupKernel::Now() { return absl::Now(); }

void LinuxCgroupKernel::SleepFor(absl::Duration duration) { absl::SleepFor(duration); }

}  // namespace berth
