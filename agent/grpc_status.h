// The one place where absl::Status becomes grpc::Status.
#pragma once

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"

namespace berth::agent {

// Messages longer than kMaxStatusMessage bytes are cut there.
inline constexpr size_t kMaxStatusMessage = 1024;
grpc::Status ToGrpcStatus(const absl::Status& status);

// The trailing metadata key (containers.proto) of a Start or Exec whose process could not be
// started, as opposed to a container that could not be found or used.
inline constexpr char kProcessStartFailedKey[] = "berth-process-start-failed";

// Marks `status` as the failure to start a container's process (kept as an absl payload).
absl::Status MarkProcessStartFailure(absl::Status status);

// ToGrpcStatus, and the trailing metadata a marked status carries.
grpc::Status ToGrpcStatus(const absl::Status& status, grpc::ServerContext* ctx);

}  // namespace berth::agent
