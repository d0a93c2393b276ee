// The CRI runtime.v1.RuntimeService: what the kubelet asks of a node's runtime.
#pragma once

#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "cri/runtime/v1/api.grpc.pb.h"

namespace berth::agent::cri {

// The version of the CRI this service implements, as the kubelet reads it from Version.
inline constexpr char kCriApiVersion[] = "v1";

class CriRuntimeService final : public ::runtime::v1::RuntimeService::Service {
 public:
  CriRuntimeService() = default;

  grpc::Status Version(grpc::ServerContext*, const ::runtime::v1::VersionRequest*,
                       ::runtime::v1::VersionResponse*) override;
  grpc::Status Status(grpc::ServerContext*, const ::runtime::v1::StatusRequest*,
                      ::runtime::v1::StatusResponse*) override;
  grpc::Status UpdateRuntimeConfig(grpc::ServerContext*, const ::runtime::v1::UpdateRuntimeConfigRequest*,
                                   ::runtime::v1::UpdateRuntimeConfigResponse*) override;

 private:
  std::mutex mu_;
  std::string pod_cidr_ ABSL_GUARDED_BY(mu_);  // the node's, from the kubelet; empty until told
};

// A pod CIDR as the kubelet sends it: one prefix or a comma-separated v4,v6 pair.
absl::Status ValidatePodCidr(const std::string& text);

}  // namespace berth::agent::cri
