#include "agent/user_lookup.h"

#include <sys/stat.h>
#include <sys/xattr.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/base/file_util.h"

namespace berth::agent {

namespace {
// Lines of an /etc/passwd-style file, split at ':'.
std::vector<std::vector<std::string>> ReadColonFile(const std::string& path) {
  std::vector<std::vector<std::string>> rows;
  auto text = ReadFile(path);
  if (!text.ok()) return rows;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "#")) continue;
    rows.push_back(absl::StrSplit(line, ':'));
  }
  return rows;
}
// The path of `relative` in the topmost layer that has it; empty when none has it or a layer
// above deleted it (an overlay whiteout, a 0:0 character device, at it or at a parent; or an
// opaque parent directory, which hides everything of the layers below).
std::string FindInLayers(const std::vector<std::string>& layers, const std::string& relative) {
  for (const std::string& layer : layers) {
    std::string path = layer;
    std::vector<std::string> parts = absl::StrSplit(relative, '/', absl::SkipEmpty());
    for (size_t i = 0; i < parts.size(); ++i) {
      path += "/" + parts[i];
      struct stat st;
      if (::lstat(path.c_str(), &st) != 0) break;  // not in this layer: look below
      if (S_ISCHR(st.st_mode) && st.st_rdev == 0) return "";
      if (i + 1 == parts.size()) return path;
      char value[2] = {0, 0};
      if (::lgetxattr(path.c_str(), "trusted.overlay.opaque", value, sizeof(value)) == 1 && value[0] == 'y') {
        std::string rest = path;
        for (size_t j = i + 1; j < parts.size(); ++j) rest += "/" + parts[j];
        return ::lstat(rest.c_str(), &st) == 0 ? rest : "";
      }
    }
  }
  return "";
}
}  // namespace

absl::StatusOr<ResolvedUser> ResolveUser(const std::vector<std::string>& layers, const std::string& user) {
  ResolvedUser out;
  if (user.empty()) return out;
  std::vector<std::string> parts = absl::StrSplit(user, absl::MaxSplits(':', 1));
  const std::string& who = parts[0];
  auto passwd = ReadColonFile(FindInLayers(layers, "etc/passwd"));
  auto groups = ReadColonFile(FindInLayers(layers, "etc/group"));
  std::string user_name;
  if (absl::SimpleAtoi(who, &out.uid)) {
    for (const auto& row : passwd) {
      uint32_t uid;
      if (row.size() >= 4 && absl::SimpleAtoi(row[2], &uid) && uid == out.uid) {
        user_name = row[0];
        absl::SimpleAtoi(row[3], &out.gid);
      }
    }
  } else {
    bool found = false;
    for (const auto& row : passwd) {
      if (row.size() >= 4 && row[0] == who && absl::SimpleAtoi(row[2], &out.uid) &&
          absl::SimpleAtoi(row[3], &out.gid)) {
        found = true;
        user_name = who;
        break;
      }
    }
    if (!found) return absl::InvalidArgumentError(absl::StrCat("user \"", who, "\" not found in the image's /etc/passwd"));
  }
  if (parts.size() == 2) {
    const std::string& group = parts[1];
    if (!absl::SimpleAtoi(group, &out.gid)) {
      bool found = false;
      for (const auto& row : groups) {
        if (row.size() >= 3 && row[0] == group && absl::SimpleAtoi(row[2], &out.gid)) {
          found = true;
          break;
        }
      }
      if (!found) return absl::InvalidArgumentError(absl::StrCat("group \"", group, "\" not found in the image's /etc/group"));
    }
  }
  if (!user_name.empty()) {
    for (const auto& row : groups) {
      if (row.size() < 4) continue;
      for (absl::string_view member : absl::StrSplit(row[3], ',', absl::SkipEmpty())) {
        uint32_t gid;
        if (member == user_name && absl::SimpleAtoi(row[2], &gid) && gid != out.gid) out.additional_gids.push_back(gid);
      }
    }
  }
  return out;
}

}  // namespace berth::agent
