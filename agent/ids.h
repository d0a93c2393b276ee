// Container ids (64 hex characters), names, and the lookup rule every command uses: a full
// id, a name, or a unique id prefix.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace berth::agent {

std::string NewContainerId();  // 32 random bytes from getrandom(2), hex
bool IsFullId(const std::string& s);
absl::Status ValidateName(const std::string& name);  // [a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}
std::string GenerateName(const std::string& id);     // adjective_noun, made unique by the caller

struct IdAndName {
  std::string id;
  std::string name;
};

// Resolves `ref` against `known`: exact id, then exact name, then unique id prefix.
// NOT_FOUND when nothing matches; INVALID_ARGUMENT when a prefix matches several.
// Longer container references are refused before any lookup (ids are 64, names 128 bytes).
inline constexpr size_t kMaxReferenceLength = 256;

absl::StatusOr<std::string> ResolveReference(const std::string& ref, const std::vector<IdAndName>& known);

}  // namespace berth::agent
