#include "runtime/base/file_util.h"

#include <ftw.h>

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unique_fd.h"

namespace berth {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoToStatus(absl::StrCat("open ", path));
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoToStatus(absl::StrCat("read ", path));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

namespace {

// One write(2) of all of `data`: a short write is an error, not something to continue.
absl::Status WriteOnce(int fd, absl::string_view data, const std::string& path) {
  ssize_t n;
  do {
    n = ::write(fd, data.data(), data.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ErrnoToStatus(absl::StrCat("write ", path));
  if (static_cast<size_t>(n) != data.size()) {
    return absl::InternalError(absl::StrCat("short write to ", path));
  }
  return absl::OkStatus();
}

}  // namespace

bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;  // nothing written and no error: it will not get better
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

absl::Status WriteExisting(const std::string& path, absl::string_view data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return ErrnoToStatus(absl::StrCat("open ", path));
  return WriteOnce(fd.get(), data, path);
}

absl::Status WriteExistingEach(const std::string& path, const std::vector<std::string>& pieces) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return ErrnoToStatus(absl::StrCat("open ", path));
  for (const std::string& piece : pieces) {
    absl::Status st = WriteOnce(fd.get(), piece, path);
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status WriteFileAtomic(const std::string& path, absl::string_view data, int mode, Durability durability) {
  std::string tmp = absl::StrCat(path, ".tmp.", ::getpid());
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (!fd) return ErrnoToStatus(absl::StrCat("create ", tmp));
    if (!WriteAll(fd.get(), data)) {
      absl::Status st = ErrnoToStatus(absl::StrCat("write ", tmp));
      ::unlink(tmp.c_str());
      return st;
    }
    if (durability == Durability::kDurable && ::fsync(fd.get()) != 0) {
      absl::Status st = ErrnoToStatus(absl::StrCat("fsync ", tmp));
      ::unlink(tmp.c_str());
      return st;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status st = ErrnoToStatus(absl::StrCat("rename ", tmp, " to ", path));
    ::unlink(tmp.c_str());
    return st;
  }
  if (durability != Durability::kDurable) return absl::OkStatus();
  std::string dir = path.substr(0, path.find_last_of('/'));
  if (dir.empty()) dir = "/";
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd) ::fsync(dfd.get());
  return absl::OkStatus();
}

absl::Status WriteNewFile(const std::string& path, absl::string_view data, int mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd) return ErrnoToStatus(absl::StrCat("create ", path));
  if (!WriteAll(fd.get(), data)) {
    absl::Status st = ErrnoToStatus(absl::StrCat("write ", path));
    ::unlink(path.c_str());
    return st;
  }
  return absl::OkStatus();
}

bool MarkTopOfTrees(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  int flags = 0;
  if (!fd || ::ioctl(fd.get(), FS_IOC_GETFLAGS, &flags) != 0) return false;
  if (flags & FS_TOPDIR_FL) return true;
  flags |= FS_TOPDIR_FL;
  return ::ioctl(fd.get(), FS_IOC_SETFLAGS, &flags) == 0;
}

absl::Status MakeDirs(const std::string& path, int mode) {
  if (path.empty()) return absl::InvalidArgumentError("MakeDirs: empty path");
  // The leaf first: its parents mostly exist, and a mkdir that finds its directory there
  // still takes its parent's inode lock for writing, which parallel creates queue on.
  if (::mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return absl::OkStatus();
  if (errno != ENOENT) return ErrnoToStatus(absl::StrCat("mkdir ", path));
  const size_t slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) RETURN_IF_ERROR(MakeDirs(path.substr(0, slash), mode));
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) return ErrnoToStatus(absl::StrCat("mkdir ", path));
  return absl::OkStatus();
}

std::vector<std::string> ListDirectory(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (struct dirent* e = ::readdir(d)) {
    absl::string_view n(e->d_name);
    if (n != "." && n != "..") names.emplace_back(n);
  }
  ::closedir(d);
  return names;
}

namespace {
absl::Status RemoveAt(int parent_fd, const char* name, dev_t dev) {
  struct stat st;
  if (::fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoToStatus(absl::StrCat("stat ", name));
  }
  if (S_ISDIR(st.st_mode)) {
    if (st.st_dev != dev) {
      return absl::FailedPreconditionError(absl::StrCat("refusing to remove ", name,
                                                        ": it is on another filesystem (a mount?)"));
    }
    int fd = ::openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return ErrnoToStatus(absl::StrCat("open ", name));
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
      ::close(fd);
      return ErrnoToStatus(absl::StrCat("opendir ", name));
    }
    absl::Status result;
    while (struct dirent* e = ::readdir(d)) {
      absl::string_view n(e->d_name);
      if (n == "." || n == "..") continue;
      absl::Status s = RemoveAt(::dirfd(d), e->d_name, dev);
      if (!s.ok() && result.ok()) result = s;
    }
    ::closedir(d);
    if (!result.ok()) return result;
    if (::unlinkat(parent_fd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
      return ErrnoToStatus(absl::StrCat("rmdir ", name));
    }
    return absl::OkStatus();
  }
  if (::unlinkat(parent_fd, name, 0) != 0 && errno != ENOENT) {
    return ErrnoToStatus(absl::StrCat("unlink ", name));
  }
  return absl::OkStatus();
}
}  // namespace

absl::Status RemoveTree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoToStatus(absl::StrCat("stat ", path));
  }
  return Annotate(RemoveAt(AT_FDCWD, path.c_str(), st.st_dev), absl::StrCat("remove ", path));
}

namespace {
thread_local TreeUsage g_tree_usage;  // nftw's callback has no user pointer
int AddAllocated(const char*, const struct stat* st, int, struct FTW*) {
  g_tree_usage.bytes += static_cast<int64_t>(st->st_blocks) * 512;
  g_tree_usage.inodes += 1;
  return 0;
}
}  // namespace

TreeUsage DirectoryUsage(const std::string& path) {
  g_tree_usage = TreeUsage{};
  (void)::nftw(path.c_str(), AddAllocated, 64, FTW_PHYS | FTW_MOUNT);
  return g_tree_usage;
}

int64_t DirectorySize(const std::string& path) { return DirectoryUsage(path).bytes; }

}  // namespace berth
