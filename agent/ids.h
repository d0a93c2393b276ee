// Container ids (64 hex characters), names, and the lookup rule every command uses: a full
// id, a name, or a unique id prefix.
#pragma once

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace berth::agent {

std::string NewContainerId();  // 32 random bytes from getrandom(2), hex
bool IsFullId(const std::string& s);
absl::Status ValidateName(const std::string& name);  // [a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}
std::string GenerateName(const std::string& id);     // adjective_noun, made unique by the caller

// Longer container references are refused before any lookup (ids are 64, names 128 bytes).
inline constexpr size_t kMaxReferenceLength = 256;

// INVALID_ARGUMENT for a reference that cannot name anything (empty, or too long).
absl::Status CheckReference(const std::string& ref);

// The answer for an id prefix that `matches` ids start with, `first` (in order) among them.
absl::StatusOr<std::string> ResolvePrefix(const std::string& ref, size_t matches, const std::string* first);

// Resolves `ref`: exact id, then exact name, then unique id prefix. `ids` holds every
// container by id, `names` each name's id; a name whose id is not in `ids` (reserved by a
// create in flight) names nothing yet. Lookups in the maps, never a scan of every container:
// each call that names a container comes through here.
// NOT_FOUND when nothing matches; INVALID_ARGUMENT when a prefix matches several.
template <typename Container>
absl::StatusOr<std::string> ResolveReference(const std::string& ref, const std::map<std::string, Container>& ids,
                                             const std::map<std::string, std::string>& names) {
  if (absl::Status st = CheckReference(ref); !st.ok()) return st;
  if (ids.contains(ref)) return ref;
  if (auto it = names.find(ref); it != names.end() && ids.contains(it->second)) return it->second;
  size_t matches = 0;
  const std::string* first = nullptr;
  for (auto it = ids.lower_bound(ref); it != ids.end() && it->first.starts_with(ref); ++it) {
    if (matches++ == 0) first = &it->first;
  }
  return ResolvePrefix(ref, matches, first);
}

}  // namespace berth::agent
