// The first mount of an empty volume shows what the image has at the mount point, as Docker
// does: the image's files there are copied into the volume before the container starts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace berth::agent {

// Copies the directory the image (its layers, topmost first) shows at `image_path` into the
// empty directory `data_dir`, with modes, owners (plus `id_shift` for a user namespace whose
// root is that node id) and times; the data dir itself takes the image directory's mode and
// owner. Nothing happens when the image has no directory there or the volume is not empty.
//
// Image content is hostile: the layers are seen through a read-only overlay that is never
// attached to any mount namespace, the path is resolved with RESOLVE_IN_ROOT, and the copy
// follows no symlink on either side (links are copied as links).
absl::Status CopyImageDirIntoVolume(const std::vector<std::string>& layers_top_first, const std::string& image_path,
                                    const std::string& data_dir, uint32_t id_shift);

}  // namespace berth::agent
