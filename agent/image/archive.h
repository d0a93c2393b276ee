// Plain tar files for images (libarchive): reading an image archive's files into a
// directory (an OCI layout or a `docker save` archive: regular files and directories only,
// every path checked), and writing one from a list of entries (export, the default image).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace berth::image {

// Extracts regular files and directories of `tar_path` (plain or gzip) below `dir`, which
// must exist. Links, devices and other kinds are skipped; names are taken below `dir` ("/x"
// is x, "a/../x" is x) and one whose ".." climbs above it is INVALID_ARGUMENT; a corrupt
// archive is DATA_LOSS.
absl::Status ExtractImageArchive(const std::string& tar_path, const std::string& dir);

struct TarEntry {
  enum class Kind { kFile, kDir, kSymlink };
  std::string path;         // relative, no leading "/"
  Kind kind = Kind::kFile;
  std::string source_file;  // kFile: copied from here when set ...
  std::string data;         // ... else these bytes
  std::string link_target;  // kSymlink
  mode_t mode = 0644;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Writes a pax tar of `entries` in order with mtime 0 (the same input gives the same bytes,
// so the same digest); written to a temp file and renamed.
absl::Status WriteTar(const std::string& tar_path, const std::vector<TarEntry>& entries);

}  // namespace berth::image
