// grpc.health.v1.Health, served by the agent itself (instead of gRPC's built-in one) so the
// call gate applies to it like to every other method: viewers and up may ask.
#pragma once

#include <atomic>

#include "agent/call_gate.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace berth::agent {

class HealthService final : public grpc::health::v1::Health::Service {
 public:
  explicit HealthService(CallGate& gate) : gate_(gate) {}
  grpc::Status Check(grpc::ServerContext*, const grpc::health::v1::HealthCheckRequest*,
                     grpc::health::v1::HealthCheckResponse*) override;
  // SERVING once, then holds the stream until the client leaves or the agent shuts down.
  grpc::Status Watch(grpc::ServerContext*, const grpc::health::v1::HealthCheckRequest*,
                     grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>*) override;
  void Shutdown() { stopping_ = true; }

 private:
  CallGate& gate_;
  std::atomic<bool> stopping_{false};
};

}  // namespace berth::agent
