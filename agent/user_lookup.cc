#include "agent/user_lookup.h"

#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/layer_fs.h"
#include "runtime/base/errno_status.h"

namespace berth::agent {

namespace {
// /etc/passwd and /etc/group are image content: read inside the layer stack (symlinks stay in
// it), regular files only, and capped. Real ones are a few KiB.
constexpr size_t kMaxEtcFileBytes = 4 << 20;

using Rows = std::vector<std::vector<std::string>>;

// Lines of an /etc/passwd-style file in the image, split at ':'. None when the image has no
// such file (as a missing file always meant "no users"); an error when it has something there
// that cannot be read as one (a FIFO, a device, a huge file, a symlink loop).
absl::StatusOr<Rows> ReadColonFile(const LayerStack* stack, const std::string& path) {
  Rows rows;
  if (stack == nullptr) return rows;
  auto text = stack->ReadFile(path, kMaxEtcFileBytes);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) return rows;
    return Annotate(text.status(), absl::StrCat("read the image's ", path));
  }
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "#")) continue;
    rows.push_back(absl::StrSplit(line, ':'));
  }
  return rows;
}
}  // namespace

absl::StatusOr<ResolvedUser> ResolveUser(const std::vector<std::string>& layers, const std::string& user) {
  ResolvedUser out;
  if (user.empty()) return out;
  std::vector<std::string> parts = absl::StrSplit(user, absl::MaxSplits(':', 1));
  const std::string& who = parts[0];
  std::optional<LayerStack> stack;
  if (!layers.empty()) {
    auto opened = LayerStack::Open(layers);
    if (!opened.ok()) return opened.status();
    stack = std::move(*opened);
  }
  auto passwd_rows = ReadColonFile(stack ? &*stack : nullptr, "/etc/passwd");
  if (!passwd_rows.ok()) return passwd_rows.status();
  auto group_rows = ReadColonFile(stack ? &*stack : nullptr, "/etc/group");
  if (!group_rows.ok()) return group_rows.status();
  const Rows& passwd = *passwd_rows;
  const Rows& groups = *group_rows;
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
