// libarchive, loaded when `berth cp` needs it rather than linked: linked, it and the eleven
// libraries it pulls in (ICU and libxml2 among them) cost every other command about 5 ms of
// start-up. Only the functions the local side of cp calls are resolved.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <memory>

#include "absl/status/statusor.h"

namespace berth::cli {

class ArchiveLibrary {
 public:
  // libarchive.so.13, as Debian's libarchive13 installs it; FAILED_PRECONDITION without it.
  static absl::StatusOr<std::unique_ptr<const ArchiveLibrary>> Load();
  ArchiveLibrary(const ArchiveLibrary&) = delete;
  ArchiveLibrary& operator=(const ArchiveLibrary&) = delete;
  ~ArchiveLibrary();

  decltype(&::archive_error_string) error_string = nullptr;
  decltype(&::archive_entry_new) entry_new = nullptr;
  decltype(&::archive_entry_free) entry_free = nullptr;
  decltype(&::archive_entry_filetype) entry_filetype = nullptr;
  decltype(&::archive_entry_hardlink) entry_hardlink = nullptr;
  decltype(&::archive_entry_pathname) entry_pathname = nullptr;
  decltype(&::archive_entry_set_hardlink) entry_set_hardlink = nullptr;
  decltype(&::archive_entry_set_pathname) entry_set_pathname = nullptr;
  decltype(&::archive_entry_size) entry_size = nullptr;
  decltype(&::archive_entry_sourcepath) entry_sourcepath = nullptr;
  decltype(&::archive_read_data_block) read_data_block = nullptr;
  decltype(&::archive_read_disk_descend) read_disk_descend = nullptr;
  decltype(&::archive_read_disk_new) read_disk_new = nullptr;
  decltype(&::archive_read_disk_open) read_disk_open = nullptr;
  decltype(&::archive_read_disk_set_standard_lookup) read_disk_set_standard_lookup = nullptr;
  decltype(&::archive_read_disk_set_symlink_physical) read_disk_set_symlink_physical = nullptr;
  decltype(&::archive_read_free) read_free = nullptr;
  decltype(&::archive_read_new) read_new = nullptr;
  decltype(&::archive_read_next_header) read_next_header = nullptr;
  decltype(&::archive_read_next_header2) read_next_header2 = nullptr;
  decltype(&::archive_read_open_filename) read_open_filename = nullptr;
  decltype(&::archive_read_support_format_empty) read_support_format_empty = nullptr;
  decltype(&::archive_read_support_format_tar) read_support_format_tar = nullptr;
  decltype(&::archive_write_close) write_close = nullptr;
  decltype(&::archive_write_data) write_data = nullptr;
  decltype(&::archive_write_data_block) write_data_block = nullptr;
  decltype(&::archive_write_disk_new) write_disk_new = nullptr;
  decltype(&::archive_write_disk_set_options) write_disk_set_options = nullptr;
  decltype(&::archive_write_disk_set_standard_lookup) write_disk_set_standard_lookup = nullptr;
  decltype(&::archive_write_finish_entry) write_finish_entry = nullptr;
  decltype(&::archive_write_free) write_free = nullptr;
  decltype(&::archive_write_header) write_header = nullptr;
  decltype(&::archive_write_new) write_new = nullptr;
  decltype(&::archive_write_open) write_open = nullptr;
  decltype(&::archive_write_set_bytes_in_last_block) write_set_bytes_in_last_block = nullptr;
  decltype(&::archive_write_set_format_pax_restricted) write_set_format_pax_restricted = nullptr;

 private:
  ArchiveLibrary() = default;
  void* handle_ = nullptr;
};

}  // namespace berth::cli
