// The one place where absl::Status becomes grpc::Status.
#pragma once

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"

namespace berth::agent {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace berth::agent
