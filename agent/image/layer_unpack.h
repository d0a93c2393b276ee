// Unpacks one image layer (tar; gzip, zstd or uncompressed, detected from the bytes) into an
// empty directory that overlayfs then uses as a lower layer: OCI whiteouts become overlay
// whiteouts (".wh.name" → a 0:0 character device "name"; ".wh..wh..opq" → the directory gets
// trusted.overlay.opaque=y). Regular files, dirs, symlinks, hard links, device nodes, fifos,
// modes, owners, xattrs and mtimes are kept. Entry names are rooted at the target as in
// containerd ("/etc/passwd" and "../etc/passwd" are <target>/etc/passwd; "/" is the target
// itself, whose metadata stays the caller's), and symlinks on an entry's parent path are
// followed inside the target only (openat2 RESOLVE_IN_ROOT: "lib -> /usr/lib" then "lib/x"
// is <target>/usr/lib/x), never at the leaf. Nothing is ever written outside the target. An
// entry that cannot be written so (a hard link to anything but an earlier file of the layer,
// a symlink on the path when the kernel lacks openat2, a non-directory naming the root) fails
// the whole layer with INVALID_ARGUMENT naming the entry; the caller removes the target then.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace berth::image {

struct UnpackResult {
  std::string diff_id;       // sha256 of the uncompressed tar stream ("sha256:...")
  int64_t unpacked_bytes = 0;  // sum of regular file sizes
  int64_t entries = 0;
};

absl::StatusOr<UnpackResult> UnpackLayer(const std::string& blob_path, const std::string& target_dir);

}  // namespace berth::image
