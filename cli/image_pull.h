// Pulling an image through the agent while drawing its progress: shared by `berth pull`
// (progress on stdout) and `run`/`create --pull` (progress on stderr, like docker).
#pragma once

#include <string>

#include <grpcpp/grpcpp.h>

#include "berth/v1/images.pb.h"
#include "cli/agent_client.h"

namespace berth::cli {

// Streams Images.Pull of `reference`, drawing each layer's progress on `fd` (redrawn lines
// when `fd` is a terminal, status-change lines otherwise), then the "Digest:" line and the
// image's name; with `quiet` only the name. The pulled image goes to `*image`.
grpc::Status PullWithProgress(AgentClient& client, const std::string& reference, int fd, bool quiet,
                              berth::v1::Image* image);

}  // namespace berth::cli
