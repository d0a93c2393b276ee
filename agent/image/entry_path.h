// Names of tar entries (image layers, image archives), cleaned lexically and rooted at the
// archive's root. Image builders write "/", "/etc/passwd" or "./etc/passwd" for the same
// thing; GNU tar, Docker and containerd all take each of them relative to the directory they
// extract into, and so do we.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace berth::image {

struct EntryPath {
  // The components below the root: {"etc", "passwd"} for "/etc//./passwd"; empty when the
  // name is the root itself ("/", ".", "./", "a/..").
  std::vector<std::string> parts;
  // A ".." had nothing left to cancel ("../x", "a/../../x"): the name climbs above the root.
  // `parts` is then what remains with the root as its floor ("x"), the way a path cleaned
  // after "/" is prepended never climbs above "/".
  bool climbs_above_root = false;
};

// Cleans `name` as a path under "/": any number of leading '/' and every empty or "."
// component go, a ".." removes the component before it (never following a symlink: this is
// text only), a ".." at the root stays at the root. Never fails; the caller decides what a
// name that climbed above the root means.
EntryPath CleanEntryPath(absl::string_view name);

}  // namespace berth::image
