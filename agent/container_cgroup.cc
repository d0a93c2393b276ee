#include "agent/container_cgroup.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/ids.h"
#include "runtime/base/quote.h"

namespace berth::agent {

absl::StatusOr<std::string> CleanCgroupParent(const std::string& requested) {
  if (requested.empty()) return std::string();
  auto refuse = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("cgroup_parent ", Quoted(requested), ": ", why,
                                                   " (a path such as kubepods/burstable/pod<uid>, taken below "
                                                   "the agent's cgroup parent)"));
  };
  if (requested.size() > 512) return refuse("longer than 512 characters");
  std::vector<std::string> parts;
  std::string trimmed(absl::StripSuffix(absl::StripPrefix(requested, "/"), "/"));
  for (absl::string_view part : absl::StrSplit(trimmed, '/')) {
    if (part.empty() || part == "." || part == "..") return refuse("empty, \".\" and \"..\" components are refused");
    // A container's own cgroup is no parent: the new one would live under its limits, die
    // with it, and be reachable from inside it when its cgroup is delegated.
    if (IsFullId(std::string(part))) return refuse("a container id cannot be a cgroup parent");
    for (char c : part) {
      const bool ok = absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' ||
                      c == '@' || c == '-';
      if (!ok) return refuse("only letters, digits and _ . : @ - may name a cgroup");
    }
    parts.emplace_back(part);
  }
  return absl::StrJoin(parts, "/");
}

std::string ContainerCgroupPath(const std::string& agent_parent, const std::string& own_parent,
                                const std::string& id) {
  return own_parent.empty() ? absl::StrCat(agent_parent, "/", id) : absl::StrCat(agent_parent, "/", own_parent, "/", id);
}

void RemoveEmptyCgroups(CgroupDriver& cgroups, const std::string& agent_parent, const std::string& cgroup) {
  std::string path = cgroup;
  const std::string stop = agent_parent + "/";
  while (absl::StartsWith(path, stop) && path.size() > stop.size()) {
    if (!cgroups.RemoveEmpty(path).ok()) return;
    path = path.substr(0, path.rfind('/'));
  }
}

}  // namespace berth::agent
