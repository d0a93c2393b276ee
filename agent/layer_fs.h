// A read-only view of an image's layer stack: paths resolved the way overlayfs shows the
// union of the layer directories (topmost layer first; overlay whiteouts, 0:0 character
// devices, delete a name; a directory with trusted.overlay.opaque=y hides the layers below
// it), without ever leaving the stack.
//
// Image content is hostile input. Every lookup is an *at() call on a directory fd opened
// with O_NOFOLLOW from a layer dir, so no node path that could cross a symlink is ever
// handed to the kernel; symlinks are followed by hand INSIDE the stack (an absolute target
// restarts at the stack's root, a relative one continues from the link's directory, ".."
// stops at the root, at most 40 links), and the walk never crosses into another filesystem.
// Reads open only regular files (O_NOFOLLOW|O_NONBLOCK, checked again after open) and are
// capped, so a FIFO, a device or a huge file costs an error, not a hang or the memory.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace berth::agent {

namespace layer_fs_internal {
struct Dir;  // one layer's copy of a directory: an fd and its filesystem
}  // namespace layer_fs_internal

class LayerStack {
 public:
  // `layers_top_first`: the layer directories, topmost first (a plain rootfs is a one-element
  // list). Each is opened once, here. INVALID_ARGUMENT for an empty list; FAILED_PRECONDITION
  // when a layer dir cannot be opened (the agent's own state is broken, not the image).
  static absl::StatusOr<LayerStack> Open(const std::vector<std::string>& layers_top_first);

  // The path `path` (absolute or not, always taken from the image's root) resolves to, all
  // symlinks followed, e.g. "/usr/etc/passwd" for "/etc/passwd" when /etc -> usr/etc.
  absl::StatusOr<std::string> RealPath(const std::string& path) const;

  // stat(2) of what the image shows at `path`, symlinks followed (for a merged directory: its
  // topmost layer's copy).
  absl::StatusOr<struct stat> Stat(const std::string& path) const;

  // The content of the regular file at `path`, at most `max_bytes` of it. NOT_FOUND when the
  // path does not exist in the image (also: a dangling symlink, a whiteout, a file used as a
  // directory); FAILED_PRECONDITION when it is not a regular file (FIFO, device, socket,
  // directory), RESOURCE_EXHAUSTED when it is larger than `max_bytes`; INVALID_ARGUMENT for a
  // symlink loop (more than 40 links). Messages name the path as the image shows it.
  absl::StatusOr<std::string> ReadFile(const std::string& path, size_t max_bytes) const;

  // At most this many symlinks are followed in one lookup (as the kernel's MAXSYMLINKS).
  static constexpr int kMaxSymlinks = 40;

 private:
  using Roots = std::vector<std::shared_ptr<const layer_fs_internal::Dir>>;
  explicit LayerStack(Roots roots) : roots_(std::move(roots)) {}

  Roots roots_;  // each layer dir, topmost first
};

// LayerStack::Open(layers_top_first) then ReadFile(path, max_bytes).
absl::StatusOr<std::string> ReadFileInLayers(const std::vector<std::string>& layers_top_first,
                                             const std::string& path, size_t max_bytes);

}  // namespace berth::agent
