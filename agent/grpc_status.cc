#include "agent/grpc_status.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace berth::agent {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // The message travels as a trailer: one too big for a client's header limit (grpc-js takes
  // 8 KiB) tears down its whole connection. Values are capped where they are echoed; this
  // is the backstop.
  std::string message(status.message());
  if (message.size() > kMaxStatusMessage) {
    size_t cut = kMaxStatusMessage;
    while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) --cut;  // whole UTF-8 characters
    message = absl::StrCat(message.substr(0, cut), "… (", message.size() - cut, " more bytes)");
  }
  // absl and gRPC share the canonical code numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), message);
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
