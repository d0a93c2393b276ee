#include "cli/local_archive.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/archive_library.h"
#include "cli/human_format.h"

namespace berth::cli {
namespace {

// archive_read_free or archive_write_free.
struct ArchiveFree {
  int (*free)(archive*);
  void operator()(archive* a) const { free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveFree>;

absl::Status ArchiveError(const ArchiveLibrary& lib, archive* a, const std::string& what) {
  const char* msg = lib.error_string(a);
  return absl::InternalError(absl::StrCat(what, ": ", msg != nullptr ? msg : "failed"));
}

la_ssize_t WriteToSink(archive*, void* sink, const void* data, size_t size) {
  auto* s = static_cast<const ArchiveChunkSink*>(sink);
  return (*s)(absl::string_view(static_cast<const char*>(data), size)).ok() ? static_cast<la_ssize_t>(size) : -1;
}

std::string CleanLocal(const std::string& path) {
  std::string s = std::filesystem::path(path).lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

absl::Status PackLocalPath(const std::string& path, const ArchiveChunkSink& sink) {
  // "DIR/." (Docker's form for "the contents of DIR"): entries are named below DIR.
  const bool contents = absl::EndsWith(path, "/.") || path == ".";
  const std::string clean = CleanLocal(path);
  struct stat st;
  if (::lstat(clean.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("no such file or directory: ", Quote(path)));
  }
  const std::filesystem::path base = contents ? std::filesystem::path(clean) : std::filesystem::path(clean).parent_path();
  absl::StatusOr<std::unique_ptr<const ArchiveLibrary>> loaded = ArchiveLibrary::Load();
  if (!loaded.ok()) return loaded.status();
  const ArchiveLibrary& lib = **loaded;
  ArchivePtr disk(lib.read_disk_new(), ArchiveFree{lib.read_free});
  ArchivePtr out(lib.write_new(), ArchiveFree{lib.write_free});
  if (!disk || !out) return absl::ResourceExhaustedError("libarchive");
  lib.read_disk_set_symlink_physical(disk.get());
  lib.read_disk_set_standard_lookup(disk.get());
  lib.write_set_format_pax_restricted(out.get());
  lib.write_set_bytes_in_last_block(out.get(), 1);
  if (lib.write_open(out.get(), const_cast<ArchiveChunkSink*>(&sink), nullptr, WriteToSink, nullptr) != ARCHIVE_OK) {
    return ArchiveError(lib, out.get(), "write the archive");
  }
  if (lib.read_disk_open(disk.get(), clean.c_str()) != ARCHIVE_OK) {
    return ArchiveError(lib, disk.get(), absl::StrCat("read ", Quote(path)));
  }
  std::vector<char> buffer(256 * 1024);
  while (true) {
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> entry(lib.entry_new(), lib.entry_free);
    int r = lib.read_next_header2(disk.get(), entry.get());
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) return ArchiveError(lib, disk.get(), absl::StrCat("read ", Quote(path)));
    lib.read_disk_descend(disk.get());
    std::string name = std::filesystem::path(lib.entry_sourcepath(entry.get())).lexically_relative(base).string();
    if (name.empty() || name == ".") continue;  // the directory itself when packing its contents
    lib.entry_set_pathname(entry.get(), name.c_str());
    if (lib.write_header(out.get(), entry.get()) != ARCHIVE_OK) return ArchiveError(lib, out.get(), "write the archive");
    if (lib.entry_filetype(entry.get()) != AE_IFREG || lib.entry_size(entry.get()) == 0) continue;
    int fd = ::open(lib.entry_sourcepath(entry.get()), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return absl::PermissionDeniedError(absl::StrCat("cannot read ", Quote(lib.entry_sourcepath(entry.get()))));
    int64_t left = lib.entry_size(entry.get());
    while (left > 0) {
      ssize_t n = ::read(fd, buffer.data(), std::min<size_t>(buffer.size(), static_cast<size_t>(left)));
      if (n <= 0) {  // shrank while read: pad to the size the header promised
        std::fill(buffer.begin(), buffer.end(), 0);
        n = static_cast<ssize_t>(std::min<size_t>(buffer.size(), static_cast<size_t>(left)));
      }
      if (lib.write_data(out.get(), buffer.data(), static_cast<size_t>(n)) < 0) {
        ::close(fd);
        return ArchiveError(lib, out.get(), "write the archive");
      }
      left -= n;
    }
    ::close(fd);
  }
  if (lib.write_close(out.get()) != ARCHIVE_OK) return ArchiveError(lib, out.get(), "write the archive");
  return absl::OkStatus();
}

absl::StatusOr<LocalUnpacker> LocalUnpacker::Open(const std::string& dest, bool keep_owner) {
  LocalUnpacker u;
  u.keep_owner_ = keep_owner;
  const std::string clean = CleanLocal(dest);
  struct stat st;
  if (::stat(clean.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    u.into_ = clean;
  } else {
    std::filesystem::path p(clean);
    std::string parent = p.has_parent_path() ? p.parent_path().string() : ".";
    if (::stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return absl::NotFoundError(absl::StrCat("no such directory: ", Quote(parent)));
    }
    u.into_ = parent;
    u.rename_top_ = p.filename().string();
  }
  std::string tmpl = (std::filesystem::temp_directory_path() / "berth-cp-XXXXXX").string();
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) return absl::InternalError("cannot create a temporary file for the archive");
  u.spool_fd_.Reset(fd);
  u.spool_path_ = tmpl;
  return u;
}

LocalUnpacker::~LocalUnpacker() {
  if (!spool_path_.empty()) ::unlink(spool_path_.c_str());
}

absl::Status LocalUnpacker::Feed(absl::string_view data) {
  for (size_t done = 0; done < data.size();) {
    ssize_t n = ::write(spool_fd_.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::InternalError(absl::StrCat("write ", spool_path_, ": ", std::strerror(errno)));
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status LocalUnpacker::Finish() {
  absl::StatusOr<std::unique_ptr<const ArchiveLibrary>> loaded = ArchiveLibrary::Load();
  if (!loaded.ok()) return loaded.status();
  const ArchiveLibrary& lib = **loaded;
  ArchivePtr in(lib.read_new(), ArchiveFree{lib.read_free});
  ArchivePtr disk(lib.write_disk_new(), ArchiveFree{lib.write_free});
  if (!in || !disk) return absl::ResourceExhaustedError("libarchive");
  lib.read_support_format_tar(in.get());
  lib.read_support_format_empty(in.get());
  int flags = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
              ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_UNLINK;
  if (keep_owner_) flags |= ARCHIVE_EXTRACT_OWNER;
  lib.write_disk_set_options(disk.get(), flags);
  lib.write_disk_set_standard_lookup(disk.get());
  if (lib.read_open_filename(in.get(), spool_path_.c_str(), 256 * 1024) != ARCHIVE_OK) {
    return ArchiveError(lib, in.get(), "read the archive");
  }
  // Names stay relative, so libarchive's checks (no "..", nothing absolute, no symlink on the
  // way) hold them below the destination: unpack from inside it.
  UniqueFd cwd(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (::chdir(into_.c_str()) != 0) return absl::NotFoundError(absl::StrCat("cannot enter ", Quote(into_)));
  struct RestoreCwd {
    int fd;
    ~RestoreCwd() {
      if (fd >= 0) (void)::fchdir(fd);
    }
  } restore{cwd.get()};
  while (true) {
    archive_entry* entry = nullptr;
    int r = lib.read_next_header(in.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) return ArchiveError(lib, in.get(), "read the archive");
    std::string name = lib.entry_pathname(entry);
    if (!rename_top_.empty()) {
      const size_t slash = name.find('/');
      name = rename_top_ + (slash == std::string::npos ? "" : name.substr(slash));
    }
    lib.entry_set_pathname(entry, name.c_str());
    if (const char* link = lib.entry_hardlink(entry); link != nullptr) {
      std::string target = link;
      if (!rename_top_.empty()) {
        const size_t slash = target.find('/');
        target = rename_top_ + (slash == std::string::npos ? "" : target.substr(slash));
      }
      lib.entry_set_hardlink(entry, target.c_str());
    }
    if (lib.write_header(disk.get(), entry) != ARCHIVE_OK) return ArchiveError(lib, disk.get(), Quote(name));
    const void* block = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    while ((r = lib.read_data_block(in.get(), &block, &size, &offset)) == ARCHIVE_OK) {
      if (lib.write_data_block(disk.get(), block, size, offset) != ARCHIVE_OK) {
        return ArchiveError(lib, disk.get(), Quote(name));
      }
    }
    if (r != ARCHIVE_EOF) return ArchiveError(lib, in.get(), "read the archive");
    if (lib.write_finish_entry(disk.get()) != ARCHIVE_OK) return ArchiveError(lib, disk.get(), Quote(name));
  }
  if (lib.write_close(disk.get()) != ARCHIVE_OK) return ArchiveError(lib, disk.get(), "write files");
  return absl::OkStatus();
}

}  // namespace berth::cli
