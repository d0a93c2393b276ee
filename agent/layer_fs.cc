#include "agent/layer_fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <deque>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unique_fd.h"

namespace berth::agent {

namespace layer_fs_internal {
struct Dir {
  UniqueFd fd;
  dev_t dev;  // a walk never leaves the filesystem its layer dir is on
};
}  // namespace layer_fs_internal

namespace {

using layer_fs_internal::Dir;
using DirPtr = std::shared_ptr<const Dir>;
// A directory as the image shows it: its copies in the layers, topmost first, down to the
// first opaque one (the union overlayfs would merge).
using MergedDir = std::vector<DirPtr>;

// O_RDONLY rather than O_PATH: the opaque check needs fgetxattr, which older kernels refuse
// on O_PATH fds. Opening a directory has no side effect, and O_NOFOLLOW|O_DIRECTORY make
// the open fail on anything that is not a real directory (a symlink swapped in included).
constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
// Reading the file itself: never follow, never block on a FIFO, never become a tty's owner.
constexpr int kFileFlags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;

bool IsWhiteout(const struct stat& st) { return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0); }

bool IsOpaque(int dir_fd) {
  char value[2] = {0, 0};
  return ::fgetxattr(dir_fd, "trusted.overlay.opaque", value, sizeof(value)) == 1 && value[0] == 'y';
}

const char* KindName(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFDIR: return "directory";
    case S_IFIFO: return "FIFO";
    case S_IFCHR: return "character device";
    case S_IFBLK: return "block device";
    case S_IFSOCK: return "socket";
    case S_IFLNK: return "symlink";
    default: return "special file";
  }
}

std::string Join(const std::vector<std::string>& names) { return absl::StrCat("/", absl::StrJoin(names, "/")); }

std::string Child(const std::vector<std::string>& names, const std::string& name) {
  return names.empty() ? absl::StrCat("/", name) : absl::StrCat(Join(names), "/", name);
}

// What one name of a merged directory is, as the union shows it.
struct Found {
  enum Kind { kMissing, kDirectory, kOther } kind = kMissing;
  MergedDir dirs;  // kDirectory: its copies, topmost first
  DirPtr parent;   // kOther: the copy of the parent directory that holds it
  struct stat st = {};  // kOther: lstat of it; kDirectory: of its topmost copy
};

// A hostile image can make one lookup walk a great deal (40 links of 4 KiB of "a/../" each,
// many layers): every step draws from a budget far beyond any real path.
constexpr int kMaxSteps = 1 << 14;

absl::StatusOr<Found> Lookup(const MergedDir& dir, const std::string& name, const std::string& shown, int& steps) {
  if (++steps > kMaxSteps) {
    return absl::InvalidArgumentError(absl::StrCat(shown, " in the image: lookup takes more than ", kMaxSteps, " steps"));
  }
  Found found;
  for (const DirPtr& d : dir) {
    struct stat st;
    if (::fstatat(d->fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;  // not in this layer: look below
      return ErrnoToStatus(absl::StrCat("stat ", shown, " in the image"));
    }
    if (IsWhiteout(st)) break;  // deleted here: nothing below shows through
    if (!S_ISDIR(st.st_mode)) {
      if (found.dirs.empty()) {
        found.kind = Found::kOther;
        found.parent = d;
        found.st = st;
        return found;
      }
      break;  // a non-directory below a directory ends the merge, as in overlayfs
    }
    if (st.st_dev != d->dev) {
      return absl::FailedPreconditionError(
          absl::StrCat(shown, " in the image is the mount point of another filesystem; refusing to cross it"));
    }
    UniqueFd fd(::openat(d->fd.get(), name.c_str(), kDirFlags));
    if (!fd) return ErrnoToStatus(absl::StrCat("open ", shown, " in the image"));
    struct stat opened;
    if (::fstat(fd.get(), &opened) != 0) return ErrnoToStatus(absl::StrCat("stat ", shown, " in the image"));
    if (opened.st_ino != st.st_ino || opened.st_dev != st.st_dev) {
      return absl::AbortedError(absl::StrCat(shown, " in the image changed while it was looked up"));
    }
    bool opaque = IsOpaque(fd.get());
    if (found.dirs.empty()) found.st = st;
    found.kind = Found::kDirectory;
    found.dirs.push_back(std::make_shared<const Dir>(Dir{std::move(fd), st.st_dev}));
    if (opaque) break;  // hides every layer below
  }
  return found;
}

// The merged directory at `names` (real directories, no symlinks: a path Resolve walked).
absl::StatusOr<MergedDir> WalkDirectories(const MergedDir& roots, const std::vector<std::string>& names, int& steps) {
  MergedDir cur = roots;
  std::vector<std::string> done;
  for (const std::string& name : names) {
    std::string shown = Child(done, name);
    ASSIGN_OR_RETURN(Found f, Lookup(cur, name, shown, steps));
    if (f.kind != Found::kDirectory) {
      return absl::AbortedError(absl::StrCat(shown, " in the image changed while it was looked up"));
    }
    cur = std::move(f.dirs);
    done.push_back(name);
  }
  return cur;
}

absl::StatusOr<std::string> ReadLink(const Dir& parent, const std::string& name, const std::string& shown) {
  char target[PATH_MAX];
  ssize_t n = ::readlinkat(parent.fd.get(), name.c_str(), target, sizeof(target));
  if (n < 0) return ErrnoToStatus(absl::StrCat("readlink ", shown, " in the image"));
  if (static_cast<size_t>(n) >= sizeof(target)) {
    return absl::InvalidArgumentError(absl::StrCat("symlink ", shown, " in the image: target longer than ", PATH_MAX - 1, " bytes"));
  }
  return std::string(target, static_cast<size_t>(n));
}

// Where a path ends in the union.
struct Resolved {
  std::string real;  // its path in the image, symlinks resolved
  Found found;       // kDirectory or kOther
  std::string name;  // kOther: its name in found.parent
};

absl::StatusOr<struct stat> StatOf(const MergedDir& dirs, const std::string& shown) {
  struct stat st;
  if (::fstat(dirs.front()->fd.get(), &st) != 0) return ErrnoToStatus(absl::StrCat("stat ", shown, " in the image"));
  return st;
}

absl::StatusOr<Resolved> Resolve(const MergedDir& roots, const std::string& path) {
  const std::string shown = path.starts_with("/") ? path : absl::StrCat("/", path);
  std::deque<std::string> todo;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) todo.emplace_back(part);
  std::vector<std::string> names;  // the real directories from the root down to `cur`
  MergedDir cur = roots;
  int links = 0;
  int steps = 0;
  while (!todo.empty()) {
    std::string name = std::move(todo.front());
    todo.pop_front();
    if (name == ".") continue;
    if (name == "..") {
      if (names.empty()) continue;  // ".." of the root is the root
      names.pop_back();
      ASSIGN_OR_RETURN(cur, WalkDirectories(roots, names, steps));
      continue;
    }
    const std::string here = Child(names, name);
    ASSIGN_OR_RETURN(Found f, Lookup(cur, name, here, steps));
    switch (f.kind) {
      case Found::kMissing:
        return absl::NotFoundError(here == shown ? absl::StrCat(shown, " does not exist in the image")
                                                 : absl::StrCat(shown, " does not exist in the image (", here, " is missing)"));
      case Found::kDirectory:
        names.push_back(name);
        cur = std::move(f.dirs);
        continue;
      case Found::kOther:
        break;
    }
    if (S_ISLNK(f.st.st_mode)) {
      if (++links > LayerStack::kMaxSymlinks) {
        return absl::InvalidArgumentError(absl::StrCat(shown, " in the image: too many levels of symbolic links (more than ",
                                                       LayerStack::kMaxSymlinks, ")"));
      }
      ASSIGN_OR_RETURN(std::string target, ReadLink(*f.parent, name, here));
      if (target.empty()) return absl::NotFoundError(absl::StrCat(shown, " does not exist in the image (", here, " is an empty symlink)"));
      std::vector<std::string> parts = absl::StrSplit(target, '/', absl::SkipEmpty());
      todo.insert(todo.begin(), parts.begin(), parts.end());
      if (target[0] == '/') {  // absolute: from the image's root, never the node's
        names.clear();
        cur = roots;
      }
      continue;
    }
    if (!todo.empty()) {
      return absl::NotFoundError(absl::StrCat(shown, " does not exist in the image (", here, " is not a directory)"));
    }
    names.push_back(name);
    return Resolved{Join(names), std::move(f), std::move(name)};
  }
  Resolved r{Join(names), Found{}, ""};
  r.found.kind = Found::kDirectory;
  ASSIGN_OR_RETURN(r.found.st, StatOf(cur, shown));
  r.found.dirs = std::move(cur);
  return r;
}

// "/etc/passwd", or "/etc/passwd (/usr/etc/passwd)" when it was reached through symlinks.
std::string Shown(const std::string& path, const std::string& real) {
  std::string shown = path.starts_with("/") ? path : absl::StrCat("/", path);
  return shown == real ? shown : absl::StrCat(shown, " (", real, ")");
}

}  // namespace

absl::StatusOr<LayerStack> LayerStack::Open(const std::vector<std::string>& layers_top_first) {
  if (layers_top_first.empty()) return absl::InvalidArgumentError("an image needs at least one layer");
  Roots roots;
  for (const std::string& layer : layers_top_first) {
    // The layer dirs are the agent's own paths; everything below them is the image's.
    UniqueFd fd(::open(layer.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    struct stat st;
    if (!fd || ::fstat(fd.get(), &st) != 0) {
      absl::Status err = ErrnoToStatus(absl::StrCat("open image layer ", layer));
      return absl::FailedPreconditionError(err.message());
    }
    roots.push_back(std::make_shared<const Dir>(Dir{std::move(fd), st.st_dev}));
  }
  return LayerStack(std::move(roots));
}

absl::StatusOr<std::string> LayerStack::RealPath(const std::string& path) const {
  ASSIGN_OR_RETURN(Resolved r, Resolve(roots_, path));
  return r.real;
}

absl::StatusOr<struct stat> LayerStack::Stat(const std::string& path) const {
  ASSIGN_OR_RETURN(Resolved r, Resolve(roots_, path));
  return r.found.st;
}

absl::StatusOr<std::string> LayerStack::ReadFile(const std::string& path, size_t max_bytes) const {
  ASSIGN_OR_RETURN(Resolved r, Resolve(roots_, path));
  const std::string shown = Shown(path, r.real);
  const struct stat& st = r.found.st;
  // Checked before opening, so a device node is never opened at all.
  if (r.found.kind == Found::kDirectory || !S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(shown, " in the image is a ", KindName(st.st_mode), ", not a regular file"));
  }
  auto too_big = [&](uint64_t size) {
    return absl::ResourceExhaustedError(absl::StrCat(shown, " in the image is ", size,
                                                     " bytes, more than the cap of ", max_bytes, " bytes"));
  };
  if (static_cast<uint64_t>(st.st_size) > max_bytes) return too_big(static_cast<uint64_t>(st.st_size));

  UniqueFd fd(::openat(r.found.parent->fd.get(), r.name.c_str(), kFileFlags));
  if (!fd) return ErrnoToStatus(absl::StrCat("open ", shown, " in the image"));
  struct stat opened;
  if (::fstat(fd.get(), &opened) != 0) return ErrnoToStatus(absl::StrCat("stat ", shown, " in the image"));
  if (!S_ISREG(opened.st_mode) || opened.st_ino != st.st_ino || opened.st_dev != st.st_dev) {
    return absl::AbortedError(absl::StrCat(shown, " in the image changed while it was opened"));
  }
  if (static_cast<uint64_t>(opened.st_size) > max_bytes) return too_big(static_cast<uint64_t>(opened.st_size));

  // One byte beyond the cap tells a file that grew since the stat from one that fits.
  std::string out;
  out.reserve(static_cast<size_t>(opened.st_size));
  char buf[16384];
  while (out.size() <= max_bytes) {
    size_t room = max_bytes - out.size();
    size_t want = room >= sizeof(buf) ? sizeof(buf) : room + 1;
    ssize_t n = ::read(fd.get(), buf, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoToStatus(absl::StrCat("read ", shown, " in the image"));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  if (out.size() > max_bytes) return too_big(out.size());
  return out;
}

absl::StatusOr<std::string> ReadFileInLayers(const std::vector<std::string>& layers_top_first,
                                             const std::string& path, size_t max_bytes) {
  ASSIGN_OR_RETURN(LayerStack stack, LayerStack::Open(layers_top_first));
  return stack.ReadFile(path, max_bytes);
}

}  // namespace berth::agent
