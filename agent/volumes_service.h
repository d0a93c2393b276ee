// berth.v1.Volumes over gRPC: a thin edge over VolumeStore, naming the containers that use a
// volume (the store knows them by id).
#pragma once

#include "agent/call_gate.h"
#include "agent/container_manager.h"
#include "agent/event_hub.h"
#include "agent/volume_store.h"
#include "berth/v1/volumes.grpc.pb.h"

namespace berth::agent {

class VolumesService final : public v1::Volumes::Service {
 public:
  VolumesService(VolumeStore& volumes, ContainerManager& containers, CallGate& gate, EventHub& events)
      : volumes_(volumes), containers_(containers), gate_(gate), events_(events) {}

  grpc::Status Create(grpc::ServerContext*, const v1::CreateVolumeRequest*, v1::CreateVolumeResponse*) override;
  grpc::Status List(grpc::ServerContext*, const v1::ListVolumesRequest*, v1::ListVolumesResponse*) override;
  grpc::Status Inspect(grpc::ServerContext*, const v1::InspectVolumeRequest*, v1::InspectVolumeResponse*) override;
  grpc::Status Remove(grpc::ServerContext*, const v1::RemoveVolumeRequest*, v1::RemoveVolumeResponse*) override;
  grpc::Status Prune(grpc::ServerContext*, const v1::PruneVolumesRequest*, v1::PruneVolumesResponse*) override;

 private:
  // used_by as container names (an id that vanished meanwhile stays an id).
  void NameUsers(v1::Volume& volume);
  void Emit(const std::string& type, const std::string& name);

  VolumeStore& volumes_;
  ContainerManager& containers_;
  CallGate& gate_;
  EventHub& events_;
};

}  // namespace berth::agent
