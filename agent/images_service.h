// berth.v1.Images over gRPC: streams and conversions at the edge of image::ImageStore.
#pragma once

#include "agent/call_gate.h"

#include "agent/agent_metrics.h"
#include "agent/container_manager.h"
#include "agent/event_hub.h"
#include "agent/image/image_store.h"
#include "berth/v1/images.grpc.pb.h"

namespace berth::agent {

class ImagesService final : public v1::Images::Service {
 public:
  // `scratch_dir`: where uploads and exports are staged (the agent's <root>/tmp).
  ImagesService(image::ImageStore& images, ContainerManager& containers, std::string scratch_dir, CallGate& gate,
                EventHub& events, AgentMetrics& metrics)
      : images_(images),
        containers_(containers),
        scratch_dir_(std::move(scratch_dir)),
        gate_(gate),
        events_(events),
        metrics_(metrics) {}

  grpc::Status Pull(grpc::ServerContext*, const v1::PullRequest*, grpc::ServerWriter<v1::PullResponse>*) override;
  grpc::Status Import(grpc::ServerContext*, grpc::ServerReader<v1::ImportRequest>*, v1::ImportResponse*) override;
  grpc::Status Export(grpc::ServerContext*, const v1::ExportRequest*, grpc::ServerWriter<v1::ExportResponse>*) override;
  grpc::Status List(grpc::ServerContext*, const v1::ListImagesRequest*, v1::ListImagesResponse*) override;
  grpc::Status Inspect(grpc::ServerContext*, const v1::InspectImageRequest*, v1::InspectImageResponse*) override;
  grpc::Status Remove(grpc::ServerContext*, const v1::RemoveImageRequest*, v1::RemoveImageResponse*) override;
  grpc::Status Tag(grpc::ServerContext*, const v1::TagImageRequest*, v1::TagImageResponse*) override;
  grpc::Status Prune(grpc::ServerContext*, const v1::PruneImagesRequest*, v1::PruneImagesResponse*) override;

 private:
  v1::Image ToProto(const image::Image& image, const std::map<std::string, int>& uses);
  std::string ScratchPath(const std::string& what);
  // An image event: `type` with the image's id, `name` and its labels.
  void Emit(const std::string& type, const std::string& id, const std::string& name,
            const std::map<std::string, std::string>& labels = {});

  image::ImageStore& images_;
  ContainerManager& containers_;
  std::string scratch_dir_;
  CallGate& gate_;
  EventHub& events_;
  AgentMetrics& metrics_;
};

}  // namespace berth::agent
