#include "agent/image/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/image/entry_path.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/unique_fd.h"

namespace berth::image {

namespace {

struct ReaderDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriterDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

// "a/./b//c/" → "a/b/c", empty for "." or "/". A leading "/" is the archive's root, as for
// layer entries (entry_path.h): tools that write one mean the same file as without it. A ".."
// that climbs above the root is refused here, unlike in a layer: an image archive holds
// only index.json, manifest.json and blobs/, so such a name is no builder's spelling but an
// attempt to reach a file of ours.
absl::StatusOr<std::string> CleanRelative(const std::string& path) {
  EntryPath clean = CleanEntryPath(path);
  if (clean.climbs_above_root) {
    return absl::InvalidArgumentError(
        absl::StrCat("archive entry \"", path, "\" leaves the archive (\"..\")"));
  }
  return absl::StrJoin(clean.parts, "/");
}

}  // namespace

absl::Status ExtractImageArchive(const std::string& tar_path, const std::string& dir) {
  std::unique_ptr<archive, ReaderDeleter> a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  if (archive_read_open_filename(a.get(), tar_path.c_str(), 1 << 16) != ARCHIVE_OK) {
    return absl::InvalidArgumentError(absl::StrCat("image archive: ", archive_error_string(a.get())));
  }
  UniqueFd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return ErrnoToStatus(absl::StrCat("open ", dir));
  archive_entry* entry = nullptr;
  for (;;) {
    int rc = archive_read_next_header(a.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      return absl::DataLossError(absl::StrCat("image archive is not a readable tar: ", archive_error_string(a.get())));
    }
    auto path = CleanRelative(archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "");
    if (!path.ok()) return path.status();
    if (path->empty()) continue;
    const mode_t type = archive_entry_filetype(entry);
    if (type != AE_IFREG && type != AE_IFDIR) continue;
    // Parents first: the archive may list a file before (or without) its directory. No
    // component can be a symlink: only dirs and regular files are ever created here.
    std::string parent = path->substr(0, path->rfind('/') == std::string::npos ? 0 : path->rfind('/'));
    if (!parent.empty()) {
      if (absl::Status st = MakeDirs(dir + "/" + parent, 0755); !st.ok()) return st;
    }
    if (type == AE_IFDIR) {
      if (::mkdirat(root.get(), path->c_str(), 0755) != 0 && errno != EEXIST) {
        return ErrnoToStatus(absl::StrCat("extract ", *path));
      }
      continue;
    }
    UniqueFd out(::openat(root.get(), path->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!out) return ErrnoToStatus(absl::StrCat("extract ", *path));
    const void* buf;
    size_t size;
    la_int64_t offset;
    for (;;) {
      int r = archive_read_data_block(a.get(), &buf, &size, &offset);
      if (r == ARCHIVE_EOF) break;
      if (r != ARCHIVE_OK) {
        return absl::DataLossError(absl::StrCat("image archive entry ", *path, ": ", archive_error_string(a.get())));
      }
      if (::pwrite(out.get(), buf, size, offset) != static_cast<ssize_t>(size)) {
        return ErrnoToStatus(absl::StrCat("write ", *path));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status WriteTar(const std::string& tar_path, const std::vector<TarEntry>& entries) {
  const std::string tmp = absl::StrCat(tar_path, ".tmp.", ::getpid());
  std::unique_ptr<archive, WriterDeleter> a(archive_write_new());
  archive_write_set_format_pax_restricted(a.get());
  if (archive_write_open_filename(a.get(), tmp.c_str()) != ARCHIVE_OK) {
    return absl::InternalError(absl::StrCat("write ", tmp, ": ", archive_error_string(a.get())));
  }
  auto fail = [&](const std::string& what) {
    absl::Status st = absl::InternalError(absl::StrCat(what, ": ", archive_error_string(a.get())));
    a.reset();
    ::unlink(tmp.c_str());
    return st;
  };
  for (const TarEntry& e : entries) {
    std::unique_ptr<archive_entry, EntryDeleter> ae(archive_entry_new());
    archive_entry_set_pathname(ae.get(), e.path.c_str());
    archive_entry_set_uid(ae.get(), e.uid);
    archive_entry_set_gid(ae.get(), e.gid);
    archive_entry_set_mtime(ae.get(), 0, 0);
    std::string data;
    if (e.kind == TarEntry::Kind::kDir) {
      archive_entry_set_filetype(ae.get(), AE_IFDIR);
      archive_entry_set_perm(ae.get(), e.mode);
    } else if (e.kind == TarEntry::Kind::kSymlink) {
      archive_entry_set_filetype(ae.get(), AE_IFLNK);
      archive_entry_set_perm(ae.get(), 0777);
      archive_entry_set_symlink(ae.get(), e.link_target.c_str());
    } else {
      archive_entry_set_filetype(ae.get(), AE_IFREG);
      archive_entry_set_perm(ae.get(), e.mode);
      int64_t size = static_cast<int64_t>(e.data.size());
      if (!e.source_file.empty()) {
        struct stat st;
        if (::stat(e.source_file.c_str(), &st) != 0) {
          absl::Status s = ErrnoToStatus(absl::StrCat("stat ", e.source_file));
          a.reset();
          ::unlink(tmp.c_str());
          return s;
        }
        size = st.st_size;
      }
      archive_entry_set_size(ae.get(), size);
    }
    if (archive_write_header(a.get(), ae.get()) != ARCHIVE_OK) return fail(absl::StrCat("tar header ", e.path));
    if (e.kind != TarEntry::Kind::kFile) continue;
    if (e.source_file.empty()) {
      if (!e.data.empty() && archive_write_data(a.get(), e.data.data(), e.data.size()) < 0) {
        return fail(absl::StrCat("tar data ", e.path));
      }
      continue;
    }
    UniqueFd in(::open(e.source_file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in) {
      absl::Status s = ErrnoToStatus(absl::StrCat("open ", e.source_file));
      a.reset();
      ::unlink(tmp.c_str());
      return s;
    }
    std::unique_ptr<char[]> buf(new char[1 << 16]);
    ssize_t n;
    while ((n = ::read(in.get(), buf.get(), 1 << 16)) > 0) {
      if (archive_write_data(a.get(), buf.get(), static_cast<size_t>(n)) < 0) return fail(absl::StrCat("tar data ", e.path));
    }
    if (n < 0) {
      absl::Status s = ErrnoToStatus(absl::StrCat("read ", e.source_file));
      a.reset();
      ::unlink(tmp.c_str());
      return s;
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) return fail(absl::StrCat("close ", tmp));
  a.reset();
  if (::rename(tmp.c_str(), tar_path.c_str()) != 0) {
    absl::Status s = ErrnoToStatus(absl::StrCat("rename ", tmp));
    ::unlink(tmp.c_str());
    return s;
  }
  return absl::OkStatus();
}

}  // namespace berth::image
