// berth.v1.Networks over gRPC: a thin edge over NetworkManager.
#pragma once

#include "agent/call_gate.h"

#include "agent/network_manager.h"
#include "berth/v1/networks.grpc.pb.h"

namespace berth::agent {

class NetworksService final : public v1::Networks::Service {
 public:
  NetworksService(NetworkManager& networks, CallGate& gate) : networks_(networks), gate_(gate) {}

  grpc::Status Create(grpc::ServerContext*, const v1::CreateNetworkRequest*, v1::CreateNetworkResponse*) override;
  grpc::Status List(grpc::ServerContext*, const v1::ListNetworksRequest*, v1::ListNetworksResponse*) override;
  grpc::Status Inspect(grpc::ServerContext*, const v1::InspectNetworkRequest*, v1::InspectNetworkResponse*) override;
  grpc::Status Remove(grpc::ServerContext*, const v1::RemoveNetworkRequest*, v1::RemoveNetworkResponse*) override;

 private:
  NetworkManager& networks_;
  CallGate& gate_;
};

}  // namespace berth::agent
