#include "agent/volume_copy.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/unique_fd.h"
#include "runtime/container/mount_api.h"
#include "runtime/container/path_in_root.h"
#include "runtime/container/sync_channel.h"

namespace berth::agent {
namespace {

// Deeper trees are image content meant to exhaust the agent's stack, not data.
constexpr int kMaxDepth = 256;

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};

absl::Status Sys(const std::string& what, const std::string& name) {
  return ErrnoToStatus(absl::StrCat("copy image content into the volume: ", what, " ", name));
}

// Owner (shifted), mode and times of `st` onto `name` in `dir` (the leaf is never followed).
absl::Status CopyMetadata(int dir, const char* name, const struct stat& st, uint32_t id_shift) {
  if (::fchownat(dir, name, st.st_uid + id_shift, st.st_gid + id_shift, AT_SYMLINK_NOFOLLOW) != 0) {
    return Sys("chown", name);
  }
  if (!S_ISLNK(st.st_mode) && ::fchmodat(dir, name, st.st_mode & 07777, 0) != 0) return Sys("chmod", name);
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::utimensat(dir, name, times, AT_SYMLINK_NOFOLLOW) != 0) return Sys("set times of", name);
  return absl::OkStatus();
}

absl::Status CopyFile(int src_dir, int dst_dir, const char* name) {
  UniqueFd in(::openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!in) return Sys("open", name);
  UniqueFd out(::openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out) return Sys("create", name);
  char buffer[64 * 1024];
  while (true) {
    ssize_t n = ::read(in.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Sys("read", name);
    if (n == 0) return absl::OkStatus();
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(out.get(), buffer + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return Sys("write", name);
      done += w;
    }
  }
}

absl::Status CopyTree(int src_dir, int dst_dir, uint32_t id_shift, int depth) {
  if (depth > kMaxDepth) return absl::InvalidArgumentError("image directory tree too deep to copy into a volume");
  UniqueFd listing(::openat(src_dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!listing) return Sys("open", ".");
  std::unique_ptr<DIR, DirCloser> dir(::fdopendir(listing.get()));
  if (!dir) return Sys("list", ".");
  listing.Release();
  while (struct dirent* e = ::readdir(dir.get())) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (::fstatat(src_dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return Sys("stat", name);
    if (S_ISDIR(st.st_mode)) {
      if (::mkdirat(dst_dir, name.c_str(), 0700) != 0) return Sys("mkdir", name);
      UniqueFd from(::openat(src_dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      UniqueFd to(::openat(dst_dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!from || !to) return Sys("open", name);
      if (absl::Status st2 = CopyTree(from.get(), to.get(), id_shift, depth + 1); !st2.ok()) return st2;
    } else if (S_ISREG(st.st_mode)) {
      if (absl::Status st2 = CopyFile(src_dir, dst_dir, name.c_str()); !st2.ok()) return st2;
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlinkat(src_dir, name.c_str(), target.data(), target.size());
      if (n < 0) return Sys("readlink", name);
      target.resize(static_cast<size_t>(n));
      if (::symlinkat(target.c_str(), dst_dir, name.c_str()) != 0) return Sys("symlink", name);
    } else if (S_ISFIFO(st.st_mode)) {
      if (::mknodat(dst_dir, name.c_str(), S_IFIFO | 0600, 0) != 0) return Sys("mkfifo", name);
    } else {
      continue;  // devices and sockets are not data; Docker's copy skips them too
    }
    if (absl::Status st2 = CopyMetadata(dst_dir, name.c_str(), st, id_shift); !st2.ok()) return st2;
  }
  return absl::OkStatus();
}

// Whether the directory has no entries (a missing one counts as empty).
bool DirectoryIsEmpty(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return errno == ENOENT;
  std::unique_ptr<DIR, DirCloser> d(::fdopendir(fd.get()));
  if (!d) return false;
  fd.Release();
  while (struct dirent* e = ::readdir(d.get())) {
    if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..") return false;
  }
  return true;
}

}  // namespace

absl::Status CopyImageDirIntoVolume(const std::vector<std::string>& layers_top_first, const std::string& image_path,
                                    const std::string& data_dir, uint32_t id_shift) {
  if (layers_top_first.empty() || !DirectoryIsEmpty(data_dir)) return absl::OkStatus();
  // One layer is its own view; several are merged by a read-only overlay that is only ever
  // a detached mount (gone with its fd, even if the agent dies meanwhile).
  UniqueFd root;
  if (layers_top_first.size() == 1) {
    root.Reset(::open(layers_top_first[0].c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return ErrnoToStatus(absl::StrCat("open layer ", layers_top_first[0]));
  } else {
    container_internal::MountAttributes attributes;
    attributes.set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    auto overlay = container_internal::MakeOverlay(layers_top_first, "", "", attributes);
    if (!overlay.ok()) return Annotate(overlay.status(), "copy image content into the volume");
    root = *std::move(overlay);
  }
  auto source = container_internal::OpenInRoot(root.get(), image_path, O_RDONLY | O_DIRECTORY);
  if (!source.ok()) {
    const int err = container_internal::ErrnoOf(source.status());
    if (err == ENOENT || err == ENOTDIR) return absl::OkStatus();  // nothing there to show
    return Annotate(source.status(), "copy image content into the volume");
  }
  UniqueFd target(::open(data_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!target) return ErrnoToStatus(absl::StrCat("open ", data_dir));
  if (absl::Status st = CopyTree(source->get(), target.get(), id_shift, 0); !st.ok()) return st;
  struct stat st;
  if (::fstat(source->get(), &st) != 0) return ErrnoToStatus("stat the image directory");
  if (::fchown(target.get(), st.st_uid + id_shift, st.st_gid + id_shift) != 0 ||
      ::fchmod(target.get(), st.st_mode & 07777) != 0) {
    return ErrnoToStatus(absl::StrCat("set the owner and mode of ", data_dir));
  }
  return absl::OkStatus();
}

}  // namespace berth::agent
