// Dialling from another network namespace: a test cluster's nodes listen on addresses that
// exist only on its underlay segment, so the CLI moves itself there before gRPC starts any
// thread (threads made afterwards inherit the namespace; ones made before would not).
#pragma once

#include <string>

#include "absl/status/status.h"

namespace berth::cli {

// Enters the network namespace at `path` (e.g. /run/netns/berthc-1a2b3c-ul) for the rest of
// the process. Needs CAP_SYS_ADMIN; the error says what to do without it.
absl::Status EnterDialNamespace(const std::string& path);

}  // namespace berth::cli
