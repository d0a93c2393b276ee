// berth.v1.Networks over gRPC: a thin edge over NetworkManager.
#pragma once

#include "agent/call_gate.h"

#include "agent/event_hub.h"
#include "agent/network_manager.h"
#include "berth/v1/networks.grpc.pb.h"

namespace berth::agent {

class NetworksService final : public v1::Networks::Service {
 public:
  NetworksService(NetworkManager& networks, CallGate& gate, EventHub& events)
      : networks_(networks), gate_(gate), events_(events) {}

  grpc::Status Create(grpc::ServerContext*, const v1::CreateNetworkRequest*, v1::CreateNetworkResponse*) override;
  grpc::Status List(grpc::ServerContext*, const v1::ListNetworksRequest*, v1::ListNetworksResponse*) override;
  grpc::Status Inspect(grpc::ServerContext*, const v1::InspectNetworkRequest*, v1::InspectNetworkResponse*) override;
  grpc::Status Remove(grpc::ServerContext*, const v1::RemoveNetworkRequest*, v1::RemoveNetworkResponse*) override;

 private:
  void Emit(const std::string& type, const v1::Network& network);

  NetworkManager& networks_;
  CallGate& gate_;
  EventHub& events_;
};

}  // namespace berth::agent
