// Layer unpacking in one pass over the blob: libarchive decompresses it (the "outer" reader,
// raw format), the decompressed bytes are hashed for the diff_id on their way into a second
// libarchive reader that parses them as tar (the "inner" reader). Entries are written by us,
// never by archive_write_disk. Every name is cleaned as text and rooted at the target
// (entry_path.h), so "/etc/passwd", "./etc/passwd" and "../etc/passwd" all name
// <target>/etc/passwd. Parents are walked one component at a time from a descriptor of the
// target; a component that is a symlink (this layer's own: the target starts empty) is
// resolved by the kernel with openat2(RESOLVE_IN_ROOT), which takes the target for "/", so
// that neither an absolute link target nor ".." can lead out of it. Leaves are created with
// *at() calls relative to the parent's descriptor that never follow a symlink at the leaf.
#include "agent/image/layer_unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "agent/image/digest.h"
#include "agent/image/entry_path.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unique_fd.h"

namespace berth::image {
namespace {

constexpr size_t kBlobReadSize = 1 << 20;
constexpr absl::string_view kWhiteoutPrefix = ".wh.";
constexpr absl::string_view kOpaqueMarker = ".wh..wh..opq";
// aufs bookkeeping (".wh..wh.plnk", ".wh..wh.aufs"): not content, never unpacked.
constexpr absl::string_view kAufsMetaPrefix = ".wh..wh.";
constexpr char kOverlayOpaqueXattr[] = "trusted.overlay.opaque";
// How every directory of the layer is opened: never through a symlink.
constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

struct ArchiveReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchiveReader = std::unique_ptr<archive, ArchiveReadFree>;

std::string Quote(absl::string_view s) { return absl::StrCat("\"", absl::CHexEscape(s), "\""); }

// A libarchive read failure: the archive is corrupt or truncated.
absl::Status ArchiveDataLoss(archive* a) {
  const char* msg = archive_error_string(a);
  return absl::DataLossError(absl::StrCat("corrupt layer: ", msg != nullptr ? msg : "read failed"));
}

// More symlinks than this on the way to one directory: a loop (the kernel's own limit).
constexpr int kMaxLinks = 40;

// "a/b" + "c" → "a/b/c"; "" is the layer root.
std::string JoinPath(absl::string_view dir, absl::string_view name) {
  return dir.empty() ? std::string(name) : absl::StrCat(dir, "/", name);
}

// An entry name as components below the layer root. It is rooted at the layer whatever it
// says: builders write "/" and "/etc/passwd" for the root and its files, and a ".." that
// would climb above the root stays at the root ("../../etc/x" is "etc/x"). That is what
// containerd does (it cleans the name and resolves it as filepath.Join("/", name) inside the
// layer) and what extracting inside a chroot would do; refusing such names, as Docker does
// for "..", would fail layers that containerd pulls, and a name that cannot leave the layer
// cannot write outside it. Nothing is refused for its spelling but an empty or overlong name.
absl::StatusOr<std::vector<std::string>> SplitEntryPath(absl::string_view path) {
  if (path.empty()) return absl::InvalidArgumentError("empty path");
  if (path.size() > PATH_MAX) return absl::InvalidArgumentError("path longer than PATH_MAX");
  return CleanEntryPath(path).parts;
}

// openat2(2) of the directory `path` below `root_fd`, taking `root_fd` for "/": absolute link
// targets and ".." (in `path` or in link targets) stay inside it, magic links (/proc/*/fd)
// and mount crossings are refused. -1 with errno; ENOSYS on kernels before 5.6 (or when a
// seccomp filter hides the call).
int OpenDirInRoot(int root_fd, const std::string& path) {
  open_how how{};
  how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  for (int attempt = 0;; ++attempt) {
    long fd = ::syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof(how));
    // EAGAIN: a rename somewhere on the file system raced with the ".." check; the kernel
    // asks for a retry rather than risk an escape.
    if (fd >= 0 || (errno != EAGAIN && errno != EINTR) || attempt >= 16) {
      return static_cast<int>(fd);
    }
  }
}

// The decompressed blob as a byte stream for the tar reader, hashed as it passes.
class DecompressedStream {
 public:
  absl::Status Open(const std::string& blob_path) {
    fd_.Reset(::open(blob_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd_) return ErrnoToStatus(absl::StrCat("open ", blob_path));
    buffer_.resize(kBlobReadSize);
    outer_.reset(archive_read_new());
    if (!outer_) return absl::ResourceExhaustedError("archive_read_new");
    // Only the layer encodings OCI defines (plus uncompressed, the implicit "none" filter),
    // and only built-in decoders: archive_read_support_filter_all would also accept uu, rpm,
    // lzop, lrzip, ... and fall back to fork+exec of external programs, which a gRPC worker
    // thread must never do. WARN here means "external program only".
    if (archive_read_support_filter_gzip(outer_.get()) != ARCHIVE_OK ||
        archive_read_support_filter_zstd(outer_.get()) != ARCHIVE_OK) {
      return absl::UnimplementedError("libarchive lacks built-in gzip or zstd support");
    }
    archive_read_support_format_raw(outer_.get());
    archive_read_support_format_empty(outer_.get());  // raw wants at least one byte
    if (archive_read_open(outer_.get(), this, nullptr, &DecompressedStream::ReadBlob, nullptr) !=
        ARCHIVE_OK) {
      return OuterError();
    }
    archive_entry* entry = nullptr;
    int r = archive_read_next_header(outer_.get(), &entry);
    if (r == ARCHIVE_EOF) {
      eof_ = true;  // an empty blob
    } else if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      return OuterError();
    }
    return absl::OkStatus();
  }

  // Libarchive read callback of the inner (tar) reader. The block handed on stays valid until
  // the next call, as libarchive requires: the outer reader is only advanced here.
  static la_ssize_t ReadDecompressed(archive* inner, void* self, const void** block) {
    auto* s = static_cast<DecompressedStream*>(self);
    absl::string_view data;
    if (!s->Next(&data)) {
      archive_set_error(inner, -1, "%s", s->failure_.c_str());
      return ARCHIVE_FATAL;
    }
    *block = data.data();
    return static_cast<la_ssize_t>(data.size());
  }

  // Hashes what the tar reader did not need (the zero blocks after the end of archive marker
  // and any padding): the diff_id covers the whole uncompressed stream.
  absl::Status Drain() {
    absl::string_view data;
    while (!eof_) {
      if (!Next(&data)) return Failure();
    }
    return absl::OkStatus();
  }

  std::string Digest() { return hash_.Digest(); }

  // What went wrong below the tar reader: a read(2) error of the blob, or a decompression
  // error. OK when the stream itself was fine (the tar reader then failed on its own).
  absl::Status Failure() const {
    if (read_errno_ != 0) return ErrnoStatus(read_errno_, "read layer blob");
    if (!failure_.empty()) return absl::DataLossError(absl::StrCat("corrupt layer: ", failure_));
    return absl::OkStatus();
  }

 private:
  // The next non-empty block, or an empty one at the end: the tar reader takes an empty
  // block for the end of its input.
  bool Next(absl::string_view* data) {
    *data = {};
    while (!eof_ && data->empty()) {
      const void* block = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      int r = archive_read_data_block(outer_.get(), &block, &size, &offset);
      if (r == ARCHIVE_EOF) {
        eof_ = true;
      } else if (r != ARCHIVE_OK) {
        const char* msg = archive_error_string(outer_.get());
        failure_ = msg != nullptr ? msg : "decompression failed";
        return false;
      } else {
        *data = absl::string_view(static_cast<const char*>(block), size);
      }
    }
    hash_.Update(*data);
    return true;
  }

  absl::Status OuterError() {
    const char* msg = archive_error_string(outer_.get());
    failure_ = msg != nullptr ? msg : "unreadable layer";
    return Failure();
  }

  static la_ssize_t ReadBlob(archive* outer, void* self, const void** block) {
    auto* s = static_cast<DecompressedStream*>(self);
    for (;;) {
      ssize_t n = ::read(s->fd_.get(), s->buffer_.data(), s->buffer_.size());
      if (n >= 0) {
        *block = s->buffer_.data();
        return n;
      }
      if (errno == EINTR) continue;
      s->read_errno_ = errno;
      archive_set_error(outer, errno, "read layer blob");
      return ARCHIVE_FATAL;
    }
  }

  UniqueFd fd_;
  std::vector<char> buffer_;
  ArchiveReader outer_;
  Sha256 hash_;
  bool eof_ = false;
  int read_errno_ = 0;
  std::string failure_;
};

// Removes `name` in `dir_fd` and everything below it without following symlinks (a directory
// of this layer replaced by a later entry of another type).
absl::Status RemoveAllAt(int dir_fd, const std::string& name) {
  UniqueFd fd(::openat(dir_fd, name.c_str(), kDirFlags));
  if (!fd) return ErrnoToStatus(absl::StrCat("open ", name));
  std::vector<std::pair<std::string, bool>> children;  // name, is a directory
  {
    int dup_fd = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) return ErrnoToStatus("dup");
    DIR* dir = ::fdopendir(dup_fd);
    if (dir == nullptr) {
      ::close(dup_fd);
      return ErrnoToStatus(absl::StrCat("read directory ", name));
    }
    while (dirent* d = ::readdir(dir)) {
      std::string child = d->d_name;
      if (child == "." || child == "..") continue;
      bool is_dir = d->d_type == DT_DIR;
      if (d->d_type == DT_UNKNOWN) {
        struct stat st;
        is_dir = ::fstatat(fd.get(), child.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                 S_ISDIR(st.st_mode);
      }
      children.emplace_back(std::move(child), is_dir);
    }
    ::closedir(dir);
  }
  for (const auto& [child, is_dir] : children) {
    if (is_dir) {
      RETURN_IF_ERROR(RemoveAllAt(fd.get(), child));
    } else if (::unlinkat(fd.get(), child.c_str(), 0) != 0) {
      return ErrnoToStatus(absl::StrCat("remove ", child));
    }
  }
  if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0) {
    return ErrnoToStatus(absl::StrCat("remove ", name));
  }
  return absl::OkStatus();
}

// Writes the entries of one layer below a directory descriptor.
class LayerWriter {
 public:
  explicit LayerWriter(int root_fd) : root_fd_(root_fd) {}

  int64_t unpacked_bytes() const { return unpacked_bytes_; }

  // Errors here do not name the entry; the caller adds it.
  absl::Status Apply(archive* reader, archive_entry* entry) {
    const char* raw_path = archive_entry_pathname(entry);
    if (raw_path == nullptr) return absl::InvalidArgumentError("entry without a path");
    ASSIGN_OR_RETURN(std::vector<std::string> parts, SplitEntryPath(raw_path));
    // The layer root itself ("/", "./", "."): skipped, as containerd skips it. The target
    // directory belongs to the caller, and overlayfs takes the root of the merged tree from
    // it: a layer's 0700 or foreign owner there would lock the container's processes out of
    // their own "/", and the root's times mean nothing. Only a directory can name the root:
    // anything else (a symlink "./" -> /elsewhere) is refused, not dropped.
    if (parts.empty()) {
      if (archive_entry_filetype(entry) != AE_IFDIR || archive_entry_hardlink(entry) != nullptr) {
        return absl::InvalidArgumentError("names the layer root but is not a directory");
      }
      return absl::OkStatus();
    }
    for (size_t i = 0; i < parts.size(); ++i) {
      if (absl::StartsWith(parts[i], kAufsMetaPrefix) && parts[i] != kOpaqueMarker) {
        return absl::OkStatus();
      }
      if (i + 1 < parts.size() && absl::StartsWith(parts[i], kWhiteoutPrefix)) {
        return absl::InvalidArgumentError(
            absl::StrCat("whiteout name ", Quote(parts[i]), " used as a directory"));
      }
    }
    Target t;
    t.leaf = parts.back();
    parts.pop_back();

    // Paths below are where things really are: through the symlinks of the parent.
    if (t.leaf == kOpaqueMarker) {
      ASSIGN_OR_RETURN(const Dir* dir, Parent(parts));
      return SetOpaque(dir->fd.get(), dir->path);
    }
    if (absl::StartsWith(t.leaf, kWhiteoutPrefix)) {
      std::string hidden = t.leaf.substr(kWhiteoutPrefix.size());
      if (hidden.empty() || hidden == "." || hidden == "..") {
        return absl::InvalidArgumentError("whiteout without a valid name");
      }
      ASSIGN_OR_RETURN(const Dir* dir, Parent(parts));
      return Whiteout(dir->fd.get(), hidden, JoinPath(dir->path, hidden));
    }

    ASSIGN_OR_RETURN(const Dir* parent, Parent(parts));
    t.parent = parent->fd.get();
    t.path = JoinPath(parent->path, t.leaf);
    RETURN_IF_ERROR(ReadOwner(entry, &t));
    t.mode = archive_entry_perm(entry) & 07777;
    t.times = EntryTimes(entry);

    if (const char* link = archive_entry_hardlink(entry); link != nullptr) {
      return MakeHardLink(t, link);
    }
    switch (archive_entry_filetype(entry)) {
      case AE_IFDIR:
        return MakeDir(t, entry);
      case AE_IFREG:
        return MakeFile(t, reader, entry);
      case AE_IFLNK:
        return MakeSymlink(t, entry);
      case AE_IFCHR:
      case AE_IFBLK:
      case AE_IFIFO:
        return MakeNode(t, entry);
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("unsupported entry type 0", absl::Hex(archive_entry_filetype(entry))));
    }
  }

  // Directory times last: creating children changed them.
  absl::Status RestoreDirTimes() {
    for (const auto& [path, times] : dir_times_) {
      std::vector<std::string> parts = absl::StrSplit(path, '/');
      std::string leaf = parts.back();
      parts.pop_back();
      // The path is where the directory was made, free of symlinks then; one found on it now
      // replaced a directory, whose times are gone with it.
      auto dir = Walk(root_fd_, "", parts, /*create=*/false, Links::kRefuse);
      if (!dir.ok()) continue;  // replaced by a later entry
      struct stat st;
      if (::fstatat(dir->fd.get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
          !S_ISDIR(st.st_mode)) {
        continue;
      }
      if (::utimensat(dir->fd.get(), leaf.c_str(), times.data(), AT_SYMLINK_NOFOLLOW) != 0) {
        return ErrnoToStatus(absl::StrCat("set times of ", Quote(path)));
      }
    }
    return absl::OkStatus();
  }

 private:
  struct Target {
    std::string path;  // where the leaf really is, from the root, no symlink on it: "a/b/c"
    std::string leaf;  // "c"
    int parent = -1;   // "a/b", owned by the parent cache
    uid_t uid = 0;
    gid_t gid = 0;
    mode_t mode = 0;
    std::array<timespec, 2> times{};
  };

  // A directory of the layer, open, with the path it really has: no symlink on it.
  struct Dir {
    UniqueFd fd;
    std::string path;  // "" for the root
    bool via_symlink = false;  // reached through a symlink of the entry's path
  };

  // What a walk does at a symlink on the way: follow it inside the layer, or refuse.
  enum class Links { kFollowInRoot, kRefuse };

  // The directory of an entry (created as needed), from a one-directory cache: entries come
  // grouped by directory, so the walk is mostly none or one component. The cached directory
  // is never removed while cached: removals only hit the leaf of the entry at hand, which is
  // a child of the cached directory, and the walks below it replace only whiteout devices.
  // A directory reached through a symlink is not cached and empties the cache: the leaf of
  // such an entry may be anywhere in the layer, an ancestor of the cached directory too.
  absl::StatusOr<const Dir*> Parent(const std::vector<std::string>& parts) {
    bool below_cache = cache_.fd && parts.size() >= cache_parts_.size() &&
                       std::equal(cache_parts_.begin(), cache_parts_.end(), parts.begin());
    if (below_cache && parts.size() == cache_parts_.size()) return &cache_;
    auto dir = below_cache
                   ? Walk(cache_.fd.get(), cache_.path,
                          absl::MakeConstSpan(parts).subspan(cache_parts_.size()),
                          /*create=*/true, Links::kFollowInRoot)
                   : Walk(root_fd_, "", parts, /*create=*/true, Links::kFollowInRoot);
    if (!dir.ok()) return dir.status();
    if (dir->via_symlink) {
      cache_ = Dir();
      cache_parts_.clear();
      uncached_ = std::move(*dir);
      return &uncached_;
    }
    cache_ = std::move(*dir);
    cache_parts_ = parts;
    return &cache_;
  }

  // Walks `parts` from `start`, the directory at `start_path`. Plain directories are opened
  // one component at a time with O_NOFOLLOW; missing ones are made when `create`. A symlink
  // is followed only as `links` says, and then by the kernel inside the layer (FollowLink).
  absl::StatusOr<Dir> Walk(int start, std::string start_path, absl::Span<const std::string> parts,
                           bool create, Links links) {
    Dir dir;
    dir.fd.Reset(::fcntl(start, F_DUPFD_CLOEXEC, 0));
    if (!dir.fd) return ErrnoToStatus("dup");
    dir.path = std::move(start_path);
    // Entry names come cleaned; "." and ".." come only from the targets of dangling links.
    std::deque<std::string> todo(parts.begin(), parts.end());
    int links_followed = 0;
    while (!todo.empty()) {
      std::string part = std::move(todo.front());
      todo.pop_front();
      if (part == ".") continue;
      if (part == "..") {
        // dir.path has no symlink on it, so its parent is the path less its last component;
        // the root's ".." is the root. Opened inside the root all the same: only a dangling
        // link brings us here, so the kernel has openat2.
        if (dir.path.empty()) continue;
        size_t slash = dir.path.rfind('/');
        dir.path.resize(slash == std::string::npos ? 0 : slash);
        UniqueFd up(OpenDirInRoot(root_fd_, dir.path.empty() ? "." : dir.path));
        if (!up) return ErrnoToStatus(absl::StrCat("open directory ", Quote(dir.path)));
        dir.fd = std::move(up);
        continue;
      }
      std::string walked = JoinPath(dir.path, part);
      UniqueFd next(::openat(dir.fd.get(), part.c_str(), kDirFlags));
      int err = next ? 0 : errno;
      // A directory this layer whited out earlier: the whiteout device gives way to it.
      bool whited_out = err == ENOTDIR && whited_out_.count(walked) != 0;
      if (!next && create && (err == ENOENT || whited_out)) {
        ASSIGN_OR_RETURN(next, MakeImplicitDir(dir.fd.get(), part, walked, whited_out));
      } else if (!next) {
        struct stat st;
        if ((err == ELOOP || err == ENOTDIR) &&
            ::fstatat(dir.fd.get(), part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
          if (!S_ISLNK(st.st_mode)) {
            return absl::InvalidArgumentError(absl::StrCat(Quote(walked), " is not a directory"));
          }
          if (links == Links::kRefuse) {
            return absl::InvalidArgumentError(absl::StrCat(Quote(walked), " is a symlink"));
          }
          if (++links_followed > kMaxLinks) {
            return absl::InvalidArgumentError(
                absl::StrCat(Quote(walked), ": too many levels of symlinks"));
          }
          RETURN_IF_ERROR(FollowLink(dir, part, walked, create, todo));
          continue;
        }
        return ErrnoStatus(err, absl::StrCat("open directory ", Quote(walked)));
      }
      dir.fd = std::move(next);
      dir.path = std::move(walked);
    }
    return dir;
  }

  // `dir`/`part` (at `walked`) is a symlink: the kernel follows it with the layer root as "/"
  // (openat2 RESOLVE_IN_ROOT), so "lib -> usr/lib", "lib -> /usr/lib" and "up -> ../../.."
  // all end inside the layer, and `dir` becomes where it ends. One that points at nothing
  // yet is walked here instead, its target's components put before the rest, so that `create`
  // makes what it points to (inside the layer, as containerd does). A kernel without openat2
  // (before 5.6) leaves no safe way to follow a symlink: the entry is refused then.
  absl::Status FollowLink(Dir& dir, const std::string& part, const std::string& walked,
                          bool create, std::deque<std::string>& todo) {
    UniqueFd next(OpenDirInRoot(root_fd_, walked));
    if (next) {
      ASSIGN_OR_RETURN(dir.path, PathInLayer(next.get()));
      dir.fd = std::move(next);
      dir.via_symlink = true;
      return absl::OkStatus();
    }
    int err = errno;
    if (err == ENOSYS) {
      return absl::InvalidArgumentError(absl::StrCat(
          Quote(walked), " is a symlink, and without openat2 (Linux 5.6) nothing is written "
          "through one"));
    }
    if (err == ELOOP) {
      return absl::InvalidArgumentError(
          absl::StrCat(Quote(walked), ": too many levels of symlinks"));
    }
    if (err == EXDEV) {
      return absl::InvalidArgumentError(
          absl::StrCat(Quote(walked), " is a symlink that crosses a mount"));
    }
    if (err != ENOENT && err != ENOTDIR) {
      return ErrnoStatus(err, absl::StrCat("open directory ", Quote(walked)));
    }
    if (!create) {
      return absl::InvalidArgumentError(
          absl::StrCat(Quote(walked), " is a symlink to no directory of this layer"));
    }
    // Not there (or a whiteout of this layer, or not a directory, which the walk reports).
    std::string target(PATH_MAX, '\0');
    ssize_t n = ::readlinkat(dir.fd.get(), part.c_str(), target.data(), target.size());
    if (n < 0) return ErrnoToStatus(absl::StrCat("read symlink ", Quote(walked)));
    target.resize(static_cast<size_t>(n));
    std::vector<std::string> link_parts = absl::StrSplit(target, '/', absl::SkipEmpty());
    todo.insert(todo.begin(), link_parts.begin(), link_parts.end());
    if (absl::StartsWith(target, "/")) {
      dir.fd.Reset(::fcntl(root_fd_, F_DUPFD_CLOEXEC, 0));
      if (!dir.fd) return ErrnoToStatus("dup");
      dir.path.clear();
    }
    dir.via_symlink = true;
    return absl::OkStatus();
  }

  // The path of a directory of the layer from the layer root, as the kernel names it in
  // /proc/self/fd: where a symlink really led, free of symlinks itself.
  absl::StatusOr<std::string> PathInLayer(int fd) {
    if (root_path_.empty()) {
      ASSIGN_OR_RETURN(root_path_, ReadFdLink(root_fd_));
      if (root_path_ != "/") root_path_ += '/';
    }
    ASSIGN_OR_RETURN(std::string path, ReadFdLink(fd));
    path += '/';
    if (!absl::StartsWith(path, root_path_)) {
      return absl::InternalError(absl::StrCat("a symlink led to ", Quote(path),
                                              ", not below the layer ", Quote(root_path_)));
    }
    path.erase(0, root_path_.size());
    if (!path.empty()) path.pop_back();
    return path;
  }

  static absl::StatusOr<std::string> ReadFdLink(int fd) {
    std::string proc = absl::StrCat("/proc/self/fd/", fd);
    std::string path(PATH_MAX, '\0');
    ssize_t n = ::readlink(proc.c_str(), path.data(), path.size());
    if (n < 0) return ErrnoToStatus(absl::StrCat("readlink ", proc));
    path.resize(static_cast<size_t>(n));
    return path;
  }

  // A parent directory the layer has no entry for (yet): 0755 whatever the process umask, as
  // tar and Docker make them. Opaque when it replaces a whiteout of this layer, so that the
  // lower directory stays hidden.
  absl::StatusOr<UniqueFd> MakeImplicitDir(int parent, const std::string& name,
                                           const std::string& path, bool replaces_whiteout) {
    if (replaces_whiteout && ::unlinkat(parent, name.c_str(), 0) != 0) {
      return ErrnoToStatus(absl::StrCat("replace whiteout ", Quote(path)));
    }
    if (::mkdirat(parent, name.c_str(), 0755) != 0) {
      return ErrnoToStatus(absl::StrCat("create directory ", Quote(path)));
    }
    UniqueFd fd(::openat(parent, name.c_str(), kDirFlags));
    if (!fd) return ErrnoToStatus(absl::StrCat("open directory ", Quote(path)));
    if (::fchmod(fd.get(), 0755) != 0) return ErrnoToStatus(absl::StrCat("chmod ", Quote(path)));
    if (replaces_whiteout) RETURN_IF_ERROR(SetOpaque(fd.get(), path));
    return fd;
  }

  // Makes room for a new leaf: a directory stays when a directory comes again (returns true);
  // anything else at the name goes, a directory with everything below it.
  absl::StatusOr<bool> ClearLeaf(const Target& t, bool want_dir) {
    struct stat st;
    if (::fstatat(t.parent, t.leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return false;
      return ErrnoToStatus("stat");
    }
    if (S_ISDIR(st.st_mode)) {
      if (want_dir) return true;
      RETURN_IF_ERROR(RemoveAllAt(t.parent, t.leaf));
      return false;
    }
    if (::unlinkat(t.parent, t.leaf.c_str(), 0) != 0) return ErrnoToStatus("replace");
    return false;
  }

  // Creates the leaf with `make`, an *at() call (negative with errno on failure). A name
  // already taken is cleared and `make` runs again, except that a directory stays where a
  // directory is wanted (false then).
  template <typename Make>
  absl::StatusOr<bool> CreateLeaf(const Target& t, bool want_dir, Make make, const char* what) {
    if (make() >= 0) return true;
    if (errno != EEXIST) return ErrnoToStatus(what);
    ASSIGN_OR_RETURN(bool kept_dir, ClearLeaf(t, want_dir));
    if (kept_dir) return false;
    if (make() >= 0) return true;
    return ErrnoToStatus(what);
  }

  static absl::Status ReadOwner(archive_entry* entry, Target* t) {
    la_int64_t uid = archive_entry_uid(entry);
    la_int64_t gid = archive_entry_gid(entry);
    // (uid_t)-1 would mean "leave unchanged" to chown.
    constexpr la_int64_t kMaxId = static_cast<la_int64_t>(UINT32_MAX) - 1;
    if (uid < 0 || uid > kMaxId || gid < 0 || gid > kMaxId) {
      return absl::InvalidArgumentError(absl::StrCat("owner ", uid, ":", gid, " out of range"));
    }
    t->uid = static_cast<uid_t>(uid);
    t->gid = static_cast<gid_t>(gid);
    return absl::OkStatus();
  }

  static std::array<timespec, 2> EntryTimes(archive_entry* entry) {
    std::array<timespec, 2> times{};
    times[1].tv_nsec = UTIME_OMIT;
    if (archive_entry_mtime_is_set(entry)) {
      times[1].tv_sec = archive_entry_mtime(entry);
      times[1].tv_nsec = archive_entry_mtime_nsec(entry);
    }
    times[0] = times[1];
    if (archive_entry_atime_is_set(entry)) {
      times[0].tv_sec = archive_entry_atime(entry);
      times[0].tv_nsec = archive_entry_atime_nsec(entry);
    }
    return times;
  }

  // Sets the entry's xattrs on `fd`, or (fd < 0) on the leaf by a path through the parent's
  // descriptor: there is no lsetxattrat, and /proc/self/fd/N/leaf resolves the parent
  // exactly while lsetxattr does not follow the leaf.
  static absl::Status SetXattrs(const Target& t, archive_entry* entry, int fd) {
    std::string proc_path;
    archive_entry_xattr_reset(entry);
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    while (archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK) {
      absl::string_view n(name);
      // overlayfs's own metadata is ours to set (opaque dirs); a layer carrying it could make
      // overlayfs redirect lookups. Namespaces other than these (system.* ACLs, foreign
      // names such as com.apple.*) are not applied.
      if (absl::StartsWith(n, "trusted.overlay.")) continue;
      if (!absl::StartsWith(n, "user.") && !absl::StartsWith(n, "security.") &&
          !absl::StartsWith(n, "trusted.")) {
        continue;
      }
      int r;
      if (fd >= 0) {
        r = ::fsetxattr(fd, name, value, size, 0);
      } else {
        if (proc_path.empty()) {
          proc_path = absl::StrCat("/proc/self/fd/", t.parent, "/", t.leaf);
        }
        r = ::lsetxattr(proc_path.c_str(), name, value, size, 0);
      }
      if (r != 0) return ErrnoToStatus(absl::StrCat("set xattr ", name));
    }
    return absl::OkStatus();
  }

  absl::Status SetOpaque(int dir_fd, const std::string& path) {
    if (::fsetxattr(dir_fd, kOverlayOpaqueXattr, "y", 1, 0) != 0) {
      return ErrnoToStatus(absl::StrCat("mark ", Quote(path), " opaque"));
    }
    return absl::OkStatus();
  }

  // ".wh.name": hides "name" of the layers below. A "name" already written by this layer
  // stays (the OCI spec: a whiteout hides only lower layers); if it is a directory it becomes
  // opaque so that nothing of the lower one shows through it.
  absl::Status Whiteout(int dir_fd, const std::string& name, const std::string& path) {
    struct stat st;
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if (!S_ISDIR(st.st_mode)) return absl::OkStatus();
      UniqueFd fd(::openat(dir_fd, name.c_str(), kDirFlags));
      if (!fd) return ErrnoToStatus(absl::StrCat("open ", Quote(path)));
      return SetOpaque(fd.get(), path);
    }
    if (errno != ENOENT) return ErrnoToStatus(absl::StrCat("stat ", Quote(path)));
    if (::mknodat(dir_fd, name.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0) {
      return ErrnoToStatus(absl::StrCat("create whiteout ", Quote(path)));
    }
    whited_out_.insert(path);
    return absl::OkStatus();
  }

  absl::Status MakeDir(Target& t, archive_entry* entry) {
    auto mkdir = [&] { return ::mkdirat(t.parent, t.leaf.c_str(), 0700); };
    RETURN_IF_ERROR(CreateLeaf(t, /*want_dir=*/true, mkdir, "mkdir").status());
    UniqueFd fd(::openat(t.parent, t.leaf.c_str(), kDirFlags));
    if (!fd) return ErrnoToStatus("open");
    if (::fchown(fd.get(), t.uid, t.gid) != 0) return ErrnoToStatus("chown");
    if (::fchmod(fd.get(), t.mode) != 0) return ErrnoToStatus("chmod");
    RETURN_IF_ERROR(SetXattrs(t, entry, fd.get()));
    // A directory where this layer whited out a lower one must not merge with it.
    if (whited_out_.count(t.path) != 0) RETURN_IF_ERROR(SetOpaque(fd.get(), t.path));
    dir_times_[t.path] = t.times;
    return absl::OkStatus();
  }

  absl::Status MakeFile(Target& t, archive* reader, archive_entry* entry) {
    int created = -1;
    auto create = [&] {
      return created = ::openat(t.parent, t.leaf.c_str(),
                                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    };
    RETURN_IF_ERROR(CreateLeaf(t, /*want_dir=*/false, create, "create").status());
    UniqueFd fd(created);
    la_int64_t end = 0;
    for (;;) {
      const void* block = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      int r = archive_read_data_block(reader, &block, &size, &offset);
      if (r == ARCHIVE_EOF) break;
      if (r != ARCHIVE_OK) return ArchiveDataLoss(reader);
      // Blocks come with their offset: sparse entries leave holes between them.
      const char* p = static_cast<const char*>(block);
      while (size > 0) {
        ssize_t n = ::pwrite(fd.get(), p, size, offset);
        if (n < 0) {
          if (errno == EINTR) continue;
          return ErrnoToStatus("write");
        }
        p += n;
        size -= static_cast<size_t>(n);
        offset += n;
      }
      end = std::max(end, offset);
    }
    if (archive_entry_size_is_set(entry)) {
      la_int64_t size = archive_entry_size(entry);
      // A hole at the end of a sparse file.
      if (size > end && ::ftruncate(fd.get(), size) != 0) return ErrnoToStatus("truncate");
      unpacked_bytes_ += size;
    }
    // chown before chmod (chown clears set-id bits) and before xattrs (it clears
    // security.capability).
    if (::fchown(fd.get(), t.uid, t.gid) != 0) return ErrnoToStatus("chown");
    if (::fchmod(fd.get(), t.mode) != 0) return ErrnoToStatus("chmod");
    RETURN_IF_ERROR(SetXattrs(t, entry, fd.get()));
    if (::futimens(fd.get(), t.times.data()) != 0) return ErrnoToStatus("set times");
    linkable_.insert(t.path);
    return absl::OkStatus();
  }

  absl::Status MakeSymlink(Target& t, archive_entry* entry) {
    const char* target = archive_entry_symlink(entry);
    if (target == nullptr || *target == '\0') {
      return absl::InvalidArgumentError("symlink without a target");
    }
    // The target is stored as is, absolute or not: it is only ever followed inside the
    // container's root, never by this code.
    auto symlink = [&] { return ::symlinkat(target, t.parent, t.leaf.c_str()); };
    RETURN_IF_ERROR(CreateLeaf(t, /*want_dir=*/false, symlink, "symlink").status());
    RETURN_IF_ERROR(ChownLeaf(t));
    RETURN_IF_ERROR(SetXattrs(t, entry, -1));
    if (::utimensat(t.parent, t.leaf.c_str(), t.times.data(), AT_SYMLINK_NOFOLLOW) != 0) {
      return ErrnoToStatus("set times");
    }
    linkable_.insert(t.path);
    return absl::OkStatus();
  }

  absl::Status MakeNode(Target& t, archive_entry* entry) {
    mode_t type = archive_entry_filetype(entry) == AE_IFCHR   ? S_IFCHR
                  : archive_entry_filetype(entry) == AE_IFBLK ? S_IFBLK
                                                              : S_IFIFO;
    dev_t rdev = type == S_IFIFO ? 0
                                 : makedev(archive_entry_rdevmajor(entry),
                                           archive_entry_rdevminor(entry));
    auto mknod = [&] { return ::mknodat(t.parent, t.leaf.c_str(), type | 0600, rdev); };
    RETURN_IF_ERROR(CreateLeaf(t, /*want_dir=*/false, mknod, "mknod").status());
    RETURN_IF_ERROR(ChownLeaf(t));
    // The leaf was made just now by mknodat in a directory only this unpack writes, so it is
    // not a symlink and fchmodat may follow (glibc's no-follow variant needs /proc anyway).
    if (::fchmodat(t.parent, t.leaf.c_str(), t.mode, 0) != 0) return ErrnoToStatus("chmod");
    RETURN_IF_ERROR(SetXattrs(t, entry, -1));
    if (::utimensat(t.parent, t.leaf.c_str(), t.times.data(), AT_SYMLINK_NOFOLLOW) != 0) {
      return ErrnoToStatus("set times");
    }
    linkable_.insert(t.path);
    return absl::OkStatus();
  }

  // The link target must be a non-directory this layer wrote earlier; the inode keeps the
  // metadata it was given then (tar writes the same metadata on both headers). Its name is
  // rooted at the layer and its parent resolved inside it like an entry's, its leaf never
  // followed: whatever the name says, only a file of this layer can be linked.
  absl::Status MakeHardLink(Target& t, const char* link) {
    auto link_parts = SplitEntryPath(link);
    if (!link_parts.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("hard link to ", Quote(link), ": ", link_parts.status().message()));
    }
    auto not_ours = [&] {
      return absl::InvalidArgumentError(absl::StrCat(
          "hard link to ", Quote(link), ", which is not an earlier file of this layer"));
    };
    if (link_parts->empty()) return not_ours();
    std::string link_leaf = link_parts->back();
    link_parts->pop_back();
    auto link_dir = Walk(root_fd_, "", *link_parts, /*create=*/false, Links::kFollowInRoot);
    if (!link_dir.ok()) {
      if (link_dir.status().code() == absl::StatusCode::kNotFound) return not_ours();
      return Annotate(link_dir.status(), absl::StrCat("hard link to ", Quote(link)));
    }
    std::string link_path = JoinPath(link_dir->path, link_leaf);
    if (linkable_.count(link_path) == 0) return not_ours();
    if (link_path == t.path) return absl::InvalidArgumentError("hard link to itself");
    // flags 0: a symlink as link target is linked itself, never followed.
    auto link_at = [&] {
      return ::linkat(link_dir->fd.get(), link_leaf.c_str(), t.parent, t.leaf.c_str(), 0);
    };
    int r = link_at();
    if (r != 0 && errno == EEXIST) {
      RETURN_IF_ERROR(ClearLeaf(t, /*want_dir=*/false).status());
      r = link_at();
    }
    if (r != 0) {
      int err = errno;
      if (err == ENOENT) {
        return absl::InvalidArgumentError(
            absl::StrCat("hard link to ", Quote(link), ", which a later entry removed"));
      }
      return ErrnoStatus(err, absl::StrCat("hard link to ", Quote(link)));
    }
    linkable_.insert(t.path);
    return absl::OkStatus();
  }

  absl::Status ChownLeaf(const Target& t) {
    if (::fchownat(t.parent, t.leaf.c_str(), t.uid, t.gid, AT_SYMLINK_NOFOLLOW) != 0) {
      return ErrnoToStatus("chown");
    }
    return absl::OkStatus();
  }

  int root_fd_;
  int64_t unpacked_bytes_ = 0;
  std::unordered_set<std::string> linkable_;    // non-directories written by this layer
  std::unordered_set<std::string> whited_out_;  // whiteout devices made by this layer
  std::map<std::string, std::array<timespec, 2>> dir_times_;  // by path, as made
  std::vector<std::string> cache_parts_;  // the entry's parent, as the entry names it
  Dir cache_;                             // ... and that directory
  Dir uncached_;                          // a parent reached through a symlink
  std::string root_path_;                 // of root_fd_ in /proc/self/fd, "/"-terminated
};

// The status for a failed read of the tar reader: the stream's own failure when the blob
// could not be read or decompressed, else the tar reader's complaint.
absl::Status TarReadError(const DecompressedStream& stream, archive* inner) {
  if (absl::Status s = stream.Failure(); !s.ok()) return s;
  return ArchiveDataLoss(inner);
}

absl::StatusOr<UniqueFd> OpenEmptyTarget(const std::string& target_dir) {
  if (::mkdir(target_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoToStatus(absl::StrCat("create ", target_dir));
  }
  UniqueFd fd(::open(target_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return ErrnoToStatus(absl::StrCat("open ", target_dir));
  int dup_fd = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return ErrnoToStatus("dup");
  DIR* dir = ::fdopendir(dup_fd);
  if (dir == nullptr) {
    ::close(dup_fd);
    return ErrnoToStatus(absl::StrCat("read ", target_dir));
  }
  bool empty = true;
  while (dirent* d = ::readdir(dir)) {
    absl::string_view name = d->d_name;
    if (name != "." && name != "..") {
      empty = false;
      break;
    }
  }
  ::closedir(dir);
  if (!empty) {
    return absl::FailedPreconditionError(absl::StrCat(target_dir, " is not empty"));
  }
  return fd;
}

}  // namespace

absl::StatusOr<UnpackResult> UnpackLayer(const std::string& blob_path,
                                         const std::string& target_dir) {
  ASSIGN_OR_RETURN(UniqueFd root, OpenEmptyTarget(target_dir));
  DecompressedStream stream;
  RETURN_IF_ERROR(stream.Open(blob_path));

  ArchiveReader inner(archive_read_new());
  if (!inner) return absl::ResourceExhaustedError("archive_read_new");
  archive_read_support_filter_none(inner.get());
  archive_read_support_format_tar(inner.get());  // ustar, pax, GNU
  archive_read_support_format_empty(inner.get());
  if (archive_read_open(inner.get(), &stream, nullptr, &DecompressedStream::ReadDecompressed,
                        nullptr) != ARCHIVE_OK) {
    return TarReadError(stream, inner.get());
  }

  UnpackResult result;
  LayerWriter writer(root.get());
  for (;;) {
    archive_entry* entry = nullptr;
    int r = archive_read_next_header(inner.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    // WARN: e.g. a name not convertible to the locale's charset; the raw bytes are used.
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) return TarReadError(stream, inner.get());
    ++result.entries;
    if (absl::Status s = writer.Apply(inner.get(), entry); !s.ok()) {
      // A data error inside an entry is the stream's, if it failed.
      if (s.code() == absl::StatusCode::kDataLoss) {
        if (absl::Status f = stream.Failure(); !f.ok()) s = f;
      }
      const char* name = archive_entry_pathname(entry);
      return Annotate(s, absl::StrCat("layer entry ", Quote(name != nullptr ? name : "")));
    }
  }
  RETURN_IF_ERROR(stream.Drain());
  RETURN_IF_ERROR(writer.RestoreDirTimes());
  result.diff_id = stream.Digest();
  result.unpacked_bytes = writer.unpacked_bytes();
  return result;
}

}  // namespace berth::image
