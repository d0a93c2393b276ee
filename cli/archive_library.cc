#include "cli/archive_library.h"

#include <dlfcn.h>

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace berth::cli {
namespace {

constexpr char kSoname[] = "libarchive.so.13";

// Looks `name` up into `fn`; the first name missing goes to `missing`.
template <typename Fn>
void Resolve(void* handle, const char* name, Fn& fn, std::string& missing) {
  fn = reinterpret_cast<Fn>(::dlsym(handle, name));
  if (fn == nullptr && missing.empty()) missing = name;
}

}  // namespace

absl::StatusOr<std::unique_ptr<const ArchiveLibrary>> ArchiveLibrary::Load() {
  std::unique_ptr<ArchiveLibrary> owned(new ArchiveLibrary());
  ArchiveLibrary& lib = *owned;
  lib.handle_ = ::dlopen(kSoname, RTLD_NOW | RTLD_LOCAL);
  if (lib.handle_ == nullptr) {
    const char* why = ::dlerror();
    return absl::FailedPreconditionError(absl::StrCat("berth cp needs libarchive (Debian package libarchive13): ",
                                                      why != nullptr ? why : kSoname));
  }
  std::string missing;
  void* h = lib.handle_;
  Resolve(h, "archive_error_string", lib.error_string, missing);
  Resolve(h, "archive_entry_new", lib.entry_new, missing);
  Resolve(h, "archive_entry_free", lib.entry_free, missing);
  Resolve(h, "archive_entry_filetype", lib.entry_filetype, missing);
  Resolve(h, "archive_entry_hardlink", lib.entry_hardlink, missing);
  Resolve(h, "archive_entry_pathname", lib.entry_pathname, missing);
  Resolve(h, "archive_entry_set_hardlink", lib.entry_set_hardlink, missing);
  Resolve(h, "archive_entry_set_pathname", lib.entry_set_pathname, missing);
  Resolve(h, "archive_entry_size", lib.entry_size, missing);
  Resolve(h, "archive_entry_sourcepath", lib.entry_sourcepath, missing);
  Resolve(h, "archive_read_data_block", lib.read_data_block, missing);
  Resolve(h, "archive_read_disk_descend", lib.read_disk_descend, missing);
  Resolve(h, "archive_read_disk_new", lib.read_disk_new, missing);
  Resolve(h, "archive_read_disk_open", lib.read_disk_open, missing);
  Resolve(h, "archive_read_disk_set_standard_lookup", lib.read_disk_set_standard_lookup, missing);
  Resolve(h, "archive_read_disk_set_symlink_physical", lib.read_disk_set_symlink_physical, missing);
  Resolve(h, "archive_read_free", lib.read_free, missing);
  Resolve(h, "archive_read_new", lib.read_new, missing);
  Resolve(h, "archive_read_next_header", lib.read_next_header, missing);
  Resolve(h, "archive_read_next_header2", lib.read_next_header2, missing);
  Resolve(h, "archive_read_open_filename", lib.read_open_filename, missing);
  Resolve(h, "archive_read_support_format_empty", lib.read_support_format_empty, missing);
  Resolve(h, "archive_read_support_format_tar", lib.read_support_format_tar, missing);
  Resolve(h, "archive_write_close", lib.write_close, missing);
  Resolve(h, "archive_write_data", lib.write_data, missing);
  Resolve(h, "archive_write_data_block", lib.write_data_block, missing);
  Resolve(h, "archive_write_disk_new", lib.write_disk_new, missing);
  Resolve(h, "archive_write_disk_set_options", lib.write_disk_set_options, missing);
  Resolve(h, "archive_write_disk_set_standard_lookup", lib.write_disk_set_standard_lookup, missing);
  Resolve(h, "archive_write_finish_entry", lib.write_finish_entry, missing);
  Resolve(h, "archive_write_free", lib.write_free, missing);
  Resolve(h, "archive_write_header", lib.write_header, missing);
  Resolve(h, "archive_write_new", lib.write_new, missing);
  Resolve(h, "archive_write_open", lib.write_open, missing);
  Resolve(h, "archive_write_set_bytes_in_last_block", lib.write_set_bytes_in_last_block, missing);
  Resolve(h, "archive_write_set_format_pax_restricted", lib.write_set_format_pax_restricted, missing);
  if (!missing.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(kSoname, " has no ", missing, " (too old a libarchive)"));
  }
  return std::unique_ptr<const ArchiveLibrary>(std::move(owned));
}

ArchiveLibrary::~ArchiveLibrary() {
  if (handle_ != nullptr) ::dlclose(handle_);
}

}  // namespace berth::cli
