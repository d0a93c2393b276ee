// Images on disk: <root>/images/<name>/{rootfs/, image.json}. This release knows local
// images only; the default image `busybox` is built at first start from Debian's
// busybox-static. (The OCI content store replaces this layout in a later change.)
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace berth::agent {

struct ImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;
  std::string working_dir;
  std::string user;
};

struct Image {
  std::string name;
  std::string rootfs;  // absolute directory, the read-only lower layer
  ImageConfig config;
};

class ImageStore {
 public:
  explicit ImageStore(std::string images_dir) : dir_(std::move(images_dir)) {}

  // Builds images/busybox from `busybox_binary` when it is missing (atomically: built in a
  // temp dir, then renamed, so a crash never leaves half an image).
  absl::Status EnsureBusybox(const std::string& busybox_binary);

  // NOT_FOUND when no image has that name; accepts "name" and "name:latest".
  absl::StatusOr<Image> Get(const std::string& reference) const;

 private:
  std::string dir_;
};

struct ResolvedUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;
};

// "uid[:gid]" or "name[:group]" (names looked up in <rootfs>/etc/passwd and /etc/group);
// supplementary groups of a named user come from /etc/group. INVALID_ARGUMENT naming what
// was not found.
absl::StatusOr<ResolvedUser> ResolveUser(const std::string& rootfs, const std::string& user);

}  // namespace berth::agent
