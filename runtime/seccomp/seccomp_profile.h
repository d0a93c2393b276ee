// runtime/seccomp: seccomp profiles and the BPF filters made from them. This header owns
// profile documents: the OCI linux.seccomp object plus Docker-style per-rule conditions on the
// container's capabilities, Berth's default profile (embedded at build time), and Resolve,
// which turns a profile into the plain OCI form for one container.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/spec/spec.h"

namespace berth::seccomp {

// One rule of a profile and when it applies: only if the container has ALL of
// `includes_caps` and NONE of `excludes_caps` ("CAP_SYS_ADMIN"; empty lists ask nothing).
struct ProfileRule {
  spec::SeccompSyscall rule;
  std::vector<std::string> includes_caps;
  std::vector<std::string> excludes_caps;

  bool operator==(const ProfileRule&) const = default;
};

struct Profile {
  spec::Seccomp base;  // default action, architectures, flags; its syscalls are empty
  std::vector<ProfileRule> rules;

  bool operator==(const Profile&) const = default;
};

// Parses a profile document: an OCI linux.seccomp object whose syscall entries may also carry
// "includes": {"caps": [...]}, "excludes": {"caps": [...]} and a "comment" string. It fails
// closed: keys it does not know (Docker's "archMap", "minKernel", "arches", a misspelt
// "valuetwo", ...) are refused rather than ignored, and so are unknown capability names.
// Errors are INVALID_ARGUMENT naming the field below `field`, e.g.
// "security.seccomp_profile.syscalls[3].action: unknown action ...". The result has passed
// spec::ValidateSeccomp.
absl::StatusOr<Profile> ParseProfile(const std::string& json_text, const std::string& field);

// Berth's default profile (runtime/seccomp/default_profile.json, compiled into the library).
const std::string& DefaultProfileJson();
// DefaultProfileJson() parsed, once, on first use (thread-safe). A default profile that does
// not parse is a build defect: the process aborts (the unit tests parse it).
const Profile& DefaultProfile();

// The OCI form of `profile` for a container whose capability bounding set is `capabilities`
// (names "CAP_X"): the base plus the rules that apply, in the profile's order.
spec::Seccomp Resolve(const Profile& profile, const std::vector<std::string>& capabilities);

}  // namespace berth::seccomp
