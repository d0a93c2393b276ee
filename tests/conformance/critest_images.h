// The images cri-tools' critest pulls, made here: the suite names images on registry.k8s.io,
// gcr.io and (its benchmarks) public.ecr.aws, and this machine reaches none of them. Each is
// rebuilt from what its spec checks
// (the upstream Dockerfiles in cri-tools' images/ and the e2e image list), on a busybox base
// made from Debian's busybox-static, and pushed to a loopback docker-registry that the agent
// reaches through its registry mirrors.
//
// The base differs from Berth's embedded busybox where critest looks. Its busybox is Debian's
// dynamic one (package busybox, with the node's libc beside it): busybox-static's shell runs
// applets without exec, so a masked /bin/ls would still run. Every applet is a hard link (a
// mask over a symlink would mask the busybox binary itself), and pgrep and ipcs, which Debian's
// busybox lacks, are small shell scripts over /proc.
//
// One image cannot be made: test-image-digest is pulled by the digest of the bytes upstream
// built, and no other bytes have it.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/integration/support/oci_builder.h"
#include "tests/integration/support/registry_support.h"

namespace berth::testing {

// The registries critest names, each to be mirrored to the local registry.
inline constexpr const char* kCritestRegistries[] = {"registry.k8s.io", "gcr.io", "public.ecr.aws"};

struct CritestImagePrograms {
  std::string busybox;     // Debian's dynamic busybox (`make critest` unpacks the package)
  std::string web_server;                // berth-critest-web
  std::string nnp;                       // berth-critest-nnp
};

// Builds every image and pushes it to `registry` under the name critest pulls, without the
// registry host (the mirror stands for both). Returns the references, host included.
absl::StatusOr<std::vector<std::string>> PushCritestImages(TestRegistry& registry,
                                                           const CritestImagePrograms& programs);

}  // namespace berth::testing
