// The default image, made locally from Debian's busybox-static: a one-layer OCI image layout
// (tar) with /bin/busybox, a symlink per applet, a minimal /etc and Docker busybox's config
// (Cmd ["sh"]). The layer has fixed mtimes, so the same binary gives the same digests.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace berth::image {

// Writes the OCI layout tar to `out_tar`, naming the image `name` (normalised reference,
// stored in the index as org.opencontainers.image.ref.name). `work_dir` holds temp files.
absl::Status BuildBusyboxLayout(const std::string& busybox_binary, const std::string& name,
                                const std::string& work_dir, const std::string& out_tar);

}  // namespace berth::image
