// Users and groups inside an image: "uid[:gid]" or "name[:group]", looked up in the image's
// /etc/passwd and /etc/group as its layers show them (the topmost layer that has the file
// wins; an overlay whiteout hides it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::agent {

struct ResolvedUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;
};

// `layers`: directories, topmost first (a plain rootfs is a one-element list). Supplementary
// groups of a named user come from /etc/group. INVALID_ARGUMENT naming what was not found.
absl::StatusOr<ResolvedUser> ResolveUser(const std::vector<std::string>& layers, const std::string& user);

}  // namespace berth::agent
