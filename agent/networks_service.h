// berth.v1.Networks over gRPC: a thin edge over NetworkManager.
#pragma once

#include "agent/network_manager.h"
#include "berth/v1/networks.grpc.pb.h"

namespace berth::agent {

class NetworksService final : public v1::Networks::Service {
 public:
  explicit NetworksService(NetworkManager& networks) : networks_(networks) {}

  grpc::Status Create(grpc::ServerContext*, const v1::CreateNetworkRequest*, v1::CreateNetworkResponse*) override;
  grpc::Status List(grpc::ServerContext*, const v1::ListNetworksRequest*, v1::ListNetworksResponse*) override;
  grpc::Status Inspect(grpc::ServerContext*, const v1::InspectNetworkRequest*, v1::InspectNetworkResponse*) override;
  grpc::Status Remove(grpc::ServerContext*, const v1::RemoveNetworkRequest*, v1::RemoveNetworkResponse*) override;

 private:
  NetworkManager& networks_;
};

}  // namespace berth::agent
