// -v/--volume and --mount values into berth.v1.Mount, with Docker's reading of each form.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "berth/v1/containers.pb.h"

namespace berth::cli {

// -v: "/SRC:DST" or "./SRC:DST" (a node path; relative ones resolved against `cwd`),
// "NAME:DST" (a named volume), or "DST" alone (an anonymous volume); a third part holds
// options: ro, rw, nocopy (volumes), idmap (binds).
absl::StatusOr<berth::v1::Mount> ParseVolume(std::string_view spec, const std::string& cwd);

// --mount: comma-separated keys as Docker takes them: type (bind, volume or tmpfs; default
// volume), src|source, dst|destination|target, ro|readonly[=true|false], bind-propagation,
// tmpfs-size (64m), tmpfs-mode (octal), volume-nocopy. Unknown keys are errors.
absl::StatusOr<berth::v1::Mount> ParseMount(std::string_view spec, const std::string& cwd);

}  // namespace berth::cli
