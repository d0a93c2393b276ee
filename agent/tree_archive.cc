#include "agent/tree_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <set>
#include <vector>

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/quote.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unique_fd.h"
#include "runtime/container/path_in_root.h"
#include "runtime/container/sync_channel.h"

namespace berth::agent {
namespace {

using container_internal::ErrnoOf;
using container_internal::LeafKind;
using container_internal::MakePathInRoot;
using container_internal::OpenInRoot;

constexpr size_t kChunk = 256 * 1024;
constexpr int kMaxDepth = 512;

struct ArchiveWriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct ArchiveReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};

// "/a/b/" -> {"/a", "b"}; "/" -> {"/", "."}: the directory to open, and the name in it.
std::pair<std::string, std::string> SplitLast(const std::string& path) {
  std::vector<std::string> parts = absl::StrSplit(path, '/', absl::SkipEmpty());
  std::erase(parts, ".");
  if (parts.empty()) return {"/", "."};
  std::string name = parts.back();
  parts.pop_back();
  return {"/" + absl::StrJoin(parts, "/"), name};
}

absl::Status InRootError(const absl::Status& st, const std::string& path) {
  if (ErrnoOf(st) == ENOENT || ErrnoOf(st) == ENOTDIR) {
    return absl::NotFoundError(absl::StrCat("no such file or directory in the container: ", Quoted(path)));
  }
  return st;
}

// The parent directory (opened inside the root) and the last name of `path`.
absl::StatusOr<std::pair<UniqueFd, std::string>> OpenParent(int root_fd, const std::string& path) {
  auto [dir, name] = SplitLast(path);
  auto fd = OpenInRoot(root_fd, dir, O_RDONLY | O_DIRECTORY);
  if (!fd.ok()) return InRootError(fd.status(), path);
  if (name == ".") {
    // The root itself: its "parent" is the root, and the entry is "." in it.
    return std::pair<UniqueFd, std::string>(*std::move(fd), ".");
  }
  return std::pair<UniqueFd, std::string>(*std::move(fd), name);
}

bool IsPseudoFilesystem(int dir_fd) {
  struct statfs fs;
  if (::fstatfs(dir_fd, &fs) != 0) return false;
  switch (static_cast<unsigned long>(fs.f_type)) {
    case PROC_SUPER_MAGIC:
    case SYSFS_MAGIC:
    case CGROUP_SUPER_MAGIC:
    case CGROUP2_SUPER_MAGIC:
    case DEVPTS_SUPER_MAGIC:
    case 0x19800202:  // mqueue
    case DEBUGFS_MAGIC:
    case SECURITYFS_MAGIC:
      return true;
    default:
      return false;
  }
}

class TreeWriter {
 public:
  explicit TreeWriter(const ArchiveSink& sink) : sink_(sink) {}

  absl::Status Open() {
    a_.reset(archive_write_new());
    if (!a_) return absl::ResourceExhaustedError("archive_write_new");
    archive_write_set_format_pax_restricted(a_.get());
    archive_write_set_bytes_in_last_block(a_.get(), 1);
    if (archive_write_open(a_.get(), this, nullptr, &TreeWriter::Write, nullptr) != ARCHIVE_OK) return Error();
    return absl::OkStatus();
  }

  absl::Status Add(int parent_fd, const std::string& name, const std::string& archive_name, int depth) {
    if (depth > kMaxDepth) return absl::FailedPreconditionError("directory tree too deep to archive");
    struct stat st;
    if (::fstatat(parent_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return absl::OkStatus();  // gone while walking: as tar does
      return ErrnoToStatus(absl::StrCat("stat ", archive_name));
    }
    if (S_ISSOCK(st.st_mode)) return absl::OkStatus();
    std::unique_ptr<archive_entry, EntryFree> entry(archive_entry_new());
    archive_entry_copy_stat(entry.get(), &st);
    archive_entry_set_pathname(entry.get(), archive_name.c_str());
    UniqueFd file;
    if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlinkat(parent_fd, name.c_str(), target.data(), target.size());
      if (n < 0) return ErrnoToStatus(absl::StrCat("readlink ", archive_name));
      target.resize(static_cast<size_t>(n));
      archive_entry_set_symlink(entry.get(), target.c_str());
    } else if (S_ISREG(st.st_mode)) {
      file.Reset(::openat(parent_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
      if (!file) return ErrnoToStatus(absl::StrCat("open ", archive_name));
      struct stat again;
      if (::fstat(file.get(), &again) != 0 || again.st_ino != st.st_ino || !S_ISREG(again.st_mode)) {
        return absl::AbortedError(absl::StrCat(archive_name, " changed while it was archived"));
      }
    } else if (!S_ISDIR(st.st_mode)) {
      archive_entry_set_size(entry.get(), 0);
    }
    if (archive_write_header(a_.get(), entry.get()) != ARCHIVE_OK) return Error();
    if (file) {
      if (absl::Status data = CopyData(file.get(), st.st_size, archive_name); !data.ok()) return data;
    }
    if (!S_ISDIR(st.st_mode)) return absl::OkStatus();

    UniqueFd dir(::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir) return ErrnoToStatus(absl::StrCat("open ", archive_name));
    if (IsPseudoFilesystem(dir.get())) return absl::OkStatus();
    std::vector<std::string> children;
    {
      UniqueFd listing(::dup(dir.get()));
      std::unique_ptr<DIR, DirCloser> d(listing ? ::fdopendir(listing.get()) : nullptr);
      if (!d) return ErrnoToStatus(absl::StrCat("list ", archive_name));
      listing.Release();
      while (struct dirent* e = ::readdir(d.get())) {
        std::string child = e->d_name;
        if (child != "." && child != "..") children.push_back(std::move(child));
      }
    }
    std::sort(children.begin(), children.end());
    for (const std::string& child : children) {
      if (absl::Status st2 = Add(dir.get(), child, absl::StrCat(archive_name, "/", child), depth + 1); !st2.ok()) {
        return st2;
      }
    }
    return absl::OkStatus();
  }

  absl::Status Close() {
    if (archive_write_close(a_.get()) != ARCHIVE_OK) return Error();
    return failure_;
  }

 private:
  // Exactly `size` bytes, as the header promised: a file that shrank meanwhile is padded.
  absl::Status CopyData(int fd, int64_t size, const std::string& name) {
    std::vector<char> buffer(kChunk);
    int64_t left = size;
    while (left > 0) {
      ssize_t n = ::read(fd, buffer.data(), static_cast<size_t>(std::min<int64_t>(left, kChunk)));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoToStatus(absl::StrCat("read ", name));
      if (n == 0) {
        std::fill(buffer.begin(), buffer.end(), 0);
        n = static_cast<ssize_t>(std::min<int64_t>(left, kChunk));
      }
      if (archive_write_data(a_.get(), buffer.data(), static_cast<size_t>(n)) < 0) return Error();
      left -= n;
    }
    return absl::OkStatus();
  }

  static la_ssize_t Write(archive*, void* self, const void* data, size_t size) {
    auto* w = static_cast<TreeWriter*>(self);
    if (!w->failure_.ok()) return -1;
    w->failure_ = w->sink_(absl::string_view(static_cast<const char*>(data), size));
    return w->failure_.ok() ? static_cast<la_ssize_t>(size) : -1;
  }

  absl::Status Error() {
    if (!failure_.ok()) return failure_;
    const char* msg = archive_error_string(a_.get());
    return absl::InternalError(absl::StrCat("write archive: ", msg != nullptr ? msg : "failed"));
  }

  const ArchiveSink& sink_;
  std::unique_ptr<archive, ArchiveWriteFree> a_;
  absl::Status failure_;
};

// An archive entry's path as components below the destination; ".." is refused.
absl::StatusOr<std::vector<std::string>> EntryComponents(const char* raw) {
  if (raw == nullptr || *raw == '\0') return absl::InvalidArgumentError("archive entry without a name");
  std::vector<std::string> parts;
  for (absl::string_view part : absl::StrSplit(raw, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      return absl::InvalidArgumentError(absl::StrCat("archive entry ", Quoted(raw), " leaves the destination (\"..\")"));
    }
    parts.emplace_back(part);
  }
  return parts;
}

class TreeUnpacker {
 public:
  TreeUnpacker(int root_fd, std::string base, std::string rename_top, const UnpackOptions& options)
      : root_fd_(root_fd), base_(std::move(base)), rename_top_(std::move(rename_top)), options_(options) {}

  absl::StatusOr<int64_t> Run(archive* a) {
    int64_t written = 0;
    archive_entry* entry = nullptr;
    while (true) {
      int r = archive_read_next_header(a, &entry);
      if (r == ARCHIVE_EOF) return written;
      if (r != ARCHIVE_OK && r != ARCHIVE_WARN) return ReadError(a);
      auto parts = Components(archive_entry_pathname(entry));
      if (!parts.ok()) return parts.status();
      if (parts->empty()) continue;  // "." itself: the destination exists already
      absl::StatusOr<bool> done = Write(a, entry, *parts);
      if (!done.ok()) return done.status();
      if (*done) ++written;
    }
  }

  static absl::Status ReadError(archive* a) {
    const char* msg = archive_error_string(a);
    return absl::InvalidArgumentError(absl::StrCat("not a readable tar archive: ", msg != nullptr ? msg : "read failed"));
  }

 private:
  absl::StatusOr<std::vector<std::string>> Components(const char* raw) {
    auto parts = EntryComponents(raw);
    if (!parts.ok() || parts->empty() || rename_top_.empty()) return parts;
    (*parts)[0] = rename_top_;
    return parts;
  }

  std::string PathOf(const std::vector<std::string>& parts, size_t count) const {
    std::vector<std::string> head(parts.begin(), parts.begin() + static_cast<std::ptrdiff_t>(count));
    return head.empty() ? base_ : absl::StrCat(base_, "/", absl::StrJoin(head, "/"));
  }

  // Clears the leaf for a new entry: a non-directory there goes (a symlink is replaced,
  // never followed); a directory stays for a directory entry.
  absl::Status ClearLeaf(int parent, const std::string& name, bool want_dir, const std::string& path) {
    struct stat st;
    if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return absl::OkStatus();
    if (S_ISDIR(st.st_mode)) {
      if (want_dir) return absl::OkStatus();
      return absl::FailedPreconditionError(
          absl::StrCat("cannot overwrite the directory ", Quoted(path), " with a non-directory"));
    }
    if (::unlinkat(parent, name.c_str(), 0) != 0) return ErrnoToStatus(absl::StrCat("replace ", path));
    return absl::OkStatus();
  }

  // true: written; false: skipped (a device node).
  absl::StatusOr<bool> Write(archive* a, archive_entry* entry, const std::vector<std::string>& parts) {
    const std::string path = PathOf(parts, parts.size());
    const std::string& name = parts.back();
    auto parent = MakePathInRoot(root_fd_, PathOf(parts, parts.size() - 1), LeafKind::kDirectory);
    if (!parent.ok()) return InRootError(parent.status(), PathOf(parts, parts.size() - 1));
    // MakePathInRoot hands back an O_PATH fd: *at() calls need a real directory fd.
    UniqueFd dir(::openat(parent->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) return ErrnoToStatus(absl::StrCat("open ", PathOf(parts, parts.size() - 1)));
    const int pfd = dir.get();
    const mode_t type = archive_entry_filetype(entry);
    const mode_t mode = archive_entry_perm(entry) & 07777;
    const char* hardlink = archive_entry_hardlink(entry);
    if (hardlink != nullptr) {
      auto target = Components(hardlink);
      if (!target.ok()) return target.status();
      if (target->empty()) return absl::InvalidArgumentError(absl::StrCat("hard link ", Quoted(path), " to \".\""));
      auto target_parent = OpenInRoot(root_fd_, PathOf(*target, target->size() - 1), O_PATH | O_DIRECTORY);
      if (!target_parent.ok()) return InRootError(target_parent.status(), PathOf(*target, target->size()));
      RETURN_IF_ERROR(ClearLeaf(pfd, name, false, path));
      if (::linkat(target_parent->get(), target->back().c_str(), pfd, name.c_str(), 0) != 0) {
        return ErrnoToStatus(absl::StrCat("hard link ", path));
      }
      return true;
    }
    if (type == AE_IFDIR) {
      RETURN_IF_ERROR(ClearLeaf(pfd, name, true, path));
      if (::mkdirat(pfd, name.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoToStatus(absl::StrCat("mkdir ", path));
    } else if (type == AE_IFREG) {
      RETURN_IF_ERROR(ClearLeaf(pfd, name, false, path));
      UniqueFd out(::openat(pfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!out) return ErrnoToStatus(absl::StrCat("create ", path));
      const void* block = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      while (true) {
        int r = archive_read_data_block(a, &block, &size, &offset);
        if (r == ARCHIVE_EOF) break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) return ReadError(a);
        for (size_t done = 0; done < size;) {
          ssize_t w = ::pwrite(out.get(), static_cast<const char*>(block) + done, size - done,
                               static_cast<off_t>(offset + static_cast<la_int64_t>(done)));
          if (w < 0 && errno == EINTR) continue;
          if (w < 0) return ErrnoToStatus(absl::StrCat("write ", path));
          done += static_cast<size_t>(w);
        }
      }
      if (::ftruncate(out.get(), archive_entry_size(entry)) != 0) return ErrnoToStatus(absl::StrCat("write ", path));
    } else if (type == AE_IFLNK) {
      RETURN_IF_ERROR(ClearLeaf(pfd, name, false, path));
      const char* target = archive_entry_symlink(entry);
      if (::symlinkat(target != nullptr ? target : "", pfd, name.c_str()) != 0) {
        return ErrnoToStatus(absl::StrCat("symlink ", path));
      }
    } else if (type == AE_IFIFO) {
      RETURN_IF_ERROR(ClearLeaf(pfd, name, false, path));
      if (::mknodat(pfd, name.c_str(), S_IFIFO | 0600, 0) != 0) return ErrnoToStatus(absl::StrCat("mkfifo ", path));
    } else {
      return false;  // devices (and sockets) are not files to copy
    }
    const uid_t uid = options_.keep_owner ? static_cast<uid_t>(archive_entry_uid(entry)) : 0;
    const gid_t gid = options_.keep_owner ? static_cast<gid_t>(archive_entry_gid(entry)) : 0;
    if (::fchownat(pfd, name.c_str(), uid + options_.id_shift, gid + options_.id_shift, AT_SYMLINK_NOFOLLOW) != 0) {
      return ErrnoToStatus(absl::StrCat("chown ", path));
    }
    if (type != AE_IFLNK && ::fchmodat(pfd, name.c_str(), mode, 0) != 0) return ErrnoToStatus(absl::StrCat("chmod ", path));
    const struct timespec times[2] = {{archive_entry_atime(entry), archive_entry_atime_nsec(entry)},
                                      {archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)}};
    (void)::utimensat(pfd, name.c_str(), times, AT_SYMLINK_NOFOLLOW);
    return true;
  }


  int root_fd_;
  std::string base_;
  std::string rename_top_;
  UnpackOptions options_;
};

absl::StatusOr<std::unique_ptr<archive, ArchiveReadFree>> OpenTar(const std::string& path) {
  std::unique_ptr<archive, ArchiveReadFree> a(archive_read_new());
  if (!a) return absl::ResourceExhaustedError("archive_read_new");
  archive_read_support_filter_gzip(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_empty(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), kChunk) != ARCHIVE_OK) {
    return TreeUnpacker::ReadError(a.get());
  }
  return a;
}

// The distinct first components of the archive's entries.
absl::StatusOr<std::set<std::string>> TopLevelNames(const std::string& archive_path) {
  auto a = OpenTar(archive_path);
  if (!a.ok()) return a.status();
  std::set<std::string> names;
  archive_entry* entry = nullptr;
  while (true) {
    int r = archive_read_next_header(a->get(), &entry);
    if (r == ARCHIVE_EOF) return names;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) return TreeUnpacker::ReadError(a->get());
    auto parts = EntryComponents(archive_entry_pathname(entry));
    if (!parts.ok()) return parts.status();
    if (!parts->empty()) names.insert((*parts)[0]);
  }
}

}  // namespace

absl::StatusOr<v1::PathStat> StatInRoot(int root_fd, const std::string& path) {
  auto parent = OpenParent(root_fd, path);
  if (!parent.ok()) return parent.status();
  struct stat st;
  if (::fstatat(parent->first.get(), parent->second.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return absl::NotFoundError(absl::StrCat("no such file or directory in the container: ", Quoted(path)));
    }
    return ErrnoToStatus(absl::StrCat("stat ", path));
  }
  v1::PathStat out;
  out.set_name(parent->second == "." ? "/" : parent->second);
  out.set_size(st.st_size);
  out.set_mode(st.st_mode);
  *out.mutable_modified_at() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec);
  if (S_ISLNK(st.st_mode)) {
    std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
    ssize_t n = ::readlinkat(parent->first.get(), parent->second.c_str(), target.data(), target.size());
    if (n >= 0) out.set_link_target(target.substr(0, static_cast<size_t>(n)));
  }
  return out;
}

absl::Status WriteTreeArchive(int root_fd, const std::string& path, const ArchiveSink& sink) {
  auto parent = OpenParent(root_fd, path);
  if (!parent.ok()) return parent.status();
  TreeWriter writer(sink);
  if (absl::Status st = writer.Open(); !st.ok()) return st;
  if (absl::Status st = writer.Add(parent->first.get(), parent->second, parent->second, 0); !st.ok()) return st;
  return writer.Close();
}

absl::StatusOr<int64_t> UnpackTreeArchive(int root_fd, const std::string& dest, const std::string& archive_path,
                                          const UnpackOptions& options) {
  // Into dest when it is a directory; else as dest, its parent being one.
  // Every name is checked before anything is written, so a refused archive changes nothing.
  auto tops = TopLevelNames(archive_path);
  if (!tops.ok()) return tops.status();
  std::string base = dest;
  std::string rename_top;
  auto existing = OpenInRoot(root_fd, dest, O_RDONLY | O_DIRECTORY);
  if (!existing.ok()) {
    if (ErrnoOf(existing.status()) != ENOENT && ErrnoOf(existing.status()) != ENOTDIR) return existing.status();
    auto [dir, name] = SplitLast(dest);
    if (name == ".") return InRootError(existing.status(), dest);
    auto parent = OpenInRoot(root_fd, dir, O_PATH | O_DIRECTORY);
    if (!parent.ok()) return InRootError(parent.status(), dir);
    if (tops->size() != 1) {
      return absl::FailedPreconditionError(
          absl::StrCat(Quoted(dest), " is not a directory in the container, and the archive holds ", tops->size(),
                       " top-level entries: copy into an existing directory instead"));
    }
    base = dir;
    rename_top = name;
  }
  auto a = OpenTar(archive_path);
  if (!a.ok()) return a.status();
  TreeUnpacker unpacker(root_fd, base, rename_top, options);
  return unpacker.Run(a->get());
}

}  // namespace berth::agent
