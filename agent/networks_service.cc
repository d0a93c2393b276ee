#include "agent/networks_service.h"

#include "agent/grpc_status.h"

namespace berth::agent {

grpc::Status NetworksService::Create(grpc::ServerContext* ctx, const v1::CreateNetworkRequest* req,
                                     v1::CreateNetworkResponse* resp) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  gate_.SetTarget(ctx, req->name());
  auto n = networks_.CreateNetwork(*req);
  if (!n.ok()) return ToGrpcStatus(n.status());
  Emit("network.create", *n);
  *resp->mutable_network() = *n;
  return grpc::Status::OK;
}

grpc::Status NetworksService::List(grpc::ServerContext* ctx, const v1::ListNetworksRequest*,
                                   v1::ListNetworksResponse* resp) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  for (auto& n : networks_.ListNetworks()) *resp->add_networks() = std::move(n);
  return grpc::Status::OK;
}

grpc::Status NetworksService::Inspect(grpc::ServerContext* ctx, const v1::InspectNetworkRequest* req,
                                      v1::InspectNetworkResponse* resp) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  gate_.SetTarget(ctx, req->id());
  auto n = networks_.InspectNetwork(req->id());
  if (!n.ok()) return ToGrpcStatus(n.status());
  *resp->mutable_network() = *n;
  return grpc::Status::OK;
}

grpc::Status NetworksService::Remove(grpc::ServerContext* ctx, const v1::RemoveNetworkRequest* req,
                                     v1::RemoveNetworkResponse*) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  gate_.SetTarget(ctx, req->id());
  auto network = networks_.InspectNetwork(req->id());
  absl::Status removed = networks_.RemoveNetwork(req->id());
  if (removed.ok() && network.ok()) Emit("network.remove", *network);
  return ToGrpcStatus(removed);
}

void NetworksService::Emit(const std::string& type, const v1::Network& network) {
  v1::Event event;
  event.set_type(type);
  event.set_id(network.id());
  event.set_name(network.name());
  *event.mutable_labels() = network.labels();
  (*event.mutable_attributes())["subnet"] = network.subnet();
  events_.Publish(std::move(event));
}

}  // namespace berth::agent
