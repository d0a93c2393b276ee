// Image references as Docker writes them, normalised: "busybox" is
// docker.io/library/busybox:latest; "localhost:5000/a/b@sha256:..." keeps its registry.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace berth::image {

inline constexpr char kDefaultRegistry[] = "docker.io";

struct Reference {
  std::string registry;    // "docker.io", "localhost:5000", "registry.k8s.io"
  std::string repository;  // "library/busybox"
  std::string tag;         // "latest" when neither a tag nor a digest was given
  std::string digest;      // "sha256:<64 hex>" or empty

  // docker.io/library/busybox:latest, or ...@sha256:... when a digest is set (with the tag
  // too when both were given: repo:tag@sha256:...).
  std::string String() const;
  // registry/repository without tag or digest.
  std::string Name() const;
  // Docker's short form: "busybox:latest", "localhost:5000/a/b:v1".
  std::string Familiar() const;
};

// INVALID_ARGUMENT with a message naming what is wrong (uppercase repository, bad tag, bad
// digest, empty). A first component with a '.' or ':' or equal to "localhost" is a registry.
absl::StatusOr<Reference> ParseReference(absl::string_view text);

}  // namespace berth::image
