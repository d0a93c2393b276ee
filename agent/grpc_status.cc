#include "agent/grpc_status.h"

#include "absl/strings/cord.h"

namespace berth::agent {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl and gRPC share the canonical code numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status MarkProcessStartFailure(absl::Status status) {
  if (!status.ok()) status.SetPayload(kProcessStartFailedKey, absl::Cord("1"));
  return status;
}

grpc::Status ToGrpcStatus(const absl::Status& status, grpc::ServerContext* ctx) {
  if (ctx != nullptr && status.GetPayload(kProcessStartFailedKey).has_value()) {
    ctx->AddTrailingMetadata(kProcessStartFailedKey, "1");
  }
  return ToGrpcStatus(status);
}

}  // namespace berth::agent
