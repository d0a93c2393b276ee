#include "runtime/container/path_in_root.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <deque>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/container/sync_channel.h"

namespace berth::container_internal {

namespace {

int OpenAt2(int dirfd, const char* path, int flags) {
  struct open_how how = {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  long fd;
  do {
    fd = ::syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
  } while (fd < 0 && (errno == EAGAIN || errno == EINTR));
  return static_cast<int>(fd);
}

std::string Relative(const std::string& path) {
  size_t start = path.find_first_not_of('/');
  return start == std::string::npos ? "." : path.substr(start);
}

// The common cases, without walking the path a component at a time: the path is there (a
// directory of the image), or only its last component is missing (a node in a fresh /dev, a
// file for a bind in /etc). Invalid when neither holds, or when the last component exists
// after all (EEXIST: a dangling symlink, which the walk follows, or a racing creator).
UniqueFd OpenOrMakeLeaf(int root_fd, const std::string& path, LeafKind leaf) {
  const std::string relative = Relative(path);
  UniqueFd whole(OpenAt2(root_fd, relative.c_str(), O_PATH));
  if (whole || errno != ENOENT) return whole;
  size_t slash = relative.find_last_of('/');
  std::string parent_path = slash == std::string::npos ? "." : relative.substr(0, slash);
  std::string name = slash == std::string::npos ? relative : relative.substr(slash + 1);
  if (name.empty() || name == "." || name == "..") return UniqueFd();
  UniqueFd parent(OpenAt2(root_fd, parent_path.c_str(), O_PATH | O_DIRECTORY));
  if (!parent) return UniqueFd();
  // `parent` is the in-root resolution of the parent and `name` one plain component, so what
  // is created stays inside the root; O_EXCL does not follow a symlink.
  if (leaf == LeafKind::kFile) {
    // The new file's own fd names it: a mount target needs no O_PATH.
    return UniqueFd(::openat(parent.get(), name.c_str(),
                             O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  }
  if (::mkdirat(parent.get(), name.c_str(), 0755) != 0) return UniqueFd();
  return UniqueFd(::openat(parent.get(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

}  // namespace

std::string FdPath(int fd) { return absl::StrCat("/proc/self/fd/", fd); }

absl::StatusOr<UniqueFd> OpenInRoot(int root_fd, const std::string& path, int flags) {
  if (flags == 0) flags = O_PATH;
  UniqueFd fd(OpenAt2(root_fd, Relative(path).c_str(), flags));
  if (!fd) return SysError(absl::StrCat("open ", path, " in rootfs"));
  return fd;
}

absl::StatusOr<UniqueFd> MakePathInRoot(int root_fd, const std::string& path, LeafKind leaf) {
  if (UniqueFd made = OpenOrMakeLeaf(root_fd, path, leaf)) return made;
  std::deque<std::string> todo;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    todo.emplace_back(part);
  }
  UniqueFd current(OpenAt2(root_fd, ".", O_PATH | O_DIRECTORY));
  if (!current) return SysError("open rootfs");
  // `prefix` names `current` inside the root; it may run through symlinks and "..", which
  // every openat2 below resolves again within the root.
  std::string prefix;
  int links = 0;
  while (!todo.empty()) {
    std::string name = std::move(todo.front());
    todo.pop_front();
    if (name == ".") continue;
    std::string candidate = absl::StrCat(prefix, "/", name);
    UniqueFd next(OpenAt2(root_fd, candidate.c_str(), O_PATH));
    if (!next && errno == ENOENT && name != "..") {
      char target[PATH_MAX];
      ssize_t n = ::readlinkat(current.get(), name.c_str(), target, sizeof(target) - 1);
      if (n >= 0) {
        // A dangling symlink: create what it points to (inside the root) instead.
        if (++links > 40) return SysError(ELOOP, absl::StrCat("mkdir ", path, " in rootfs"));
        std::vector<std::string> parts = absl::StrSplit(
            absl::string_view(target, static_cast<size_t>(n)), '/', absl::SkipEmpty());
        todo.insert(todo.begin(), parts.begin(), parts.end());
        if (target[0] == '/') {
          prefix.clear();
          current.Reset(OpenAt2(root_fd, ".", O_PATH | O_DIRECTORY));
          if (!current) return SysError("open rootfs");
        }
        continue;
      }
      // `current` is the in-root resolution of the parent and `name` one plain component,
      // so what is created stays inside the root.
      if (todo.empty() && leaf == LeafKind::kFile) {
        UniqueFd made(::openat(current.get(), name.c_str(),
                               O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
        if (!made && errno != EEXIST) {
          return SysError(absl::StrCat("create ", candidate, " in rootfs"));
        }
      } else if (::mkdirat(current.get(), name.c_str(), 0755) != 0 && errno != EEXIST) {
        return SysError(absl::StrCat("mkdir ", candidate, " in rootfs"));
      }
      next.Reset(OpenAt2(root_fd, candidate.c_str(), O_PATH));
    }
    if (!next) return SysError(absl::StrCat("open ", candidate, " in rootfs"));
    prefix = std::move(candidate);
    current = std::move(next);
  }
  return current;
}

}  // namespace berth::container_internal
