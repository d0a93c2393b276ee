// berth.v1.Containers and berth.v1.System over gRPC: request checks, then ContainerManager.
// The streaming calls (Exec, Attach, Run, Logs) live in containers_streams.cc.
#pragma once

#include "agent/call_gate.h"

#include "agent/container_manager.h"
#include "berth/v1/containers.grpc.pb.h"

namespace berth::agent {

// List is a raw callback method: its response is the bytes ContainerManager::ListEncoded
// writes straight from the records, never built as messages. The rest are synchronous.
class ContainersService final : public v1::Containers::WithRawCallbackMethod_List<v1::Containers::Service> {
 public:
  ContainersService(ContainerManager& manager, CallGate& gate, AgentMetrics& metrics)
      : manager_(manager), gate_(gate), metrics_(metrics) {}

  grpc::Status Create(grpc::ServerContext*, const v1::CreateRequest*, v1::CreateResponse*) override;
  grpc::Status Start(grpc::ServerContext*, const v1::StartRequest*, v1::StartResponse*) override;
  grpc::Status Stop(grpc::ServerContext*, const v1::StopRequest*, v1::StopResponse*) override;
  grpc::Status Kill(grpc::ServerContext*, const v1::KillRequest*, v1::KillResponse*) override;
  grpc::Status Remove(grpc::ServerContext*, const v1::RemoveRequest*, v1::RemoveResponse*) override;
  grpc::Status Inspect(grpc::ServerContext*, const v1::InspectRequest*, v1::InspectResponse*) override;
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext*, const grpc::ByteBuffer* request,
                                 grpc::ByteBuffer* response) override;
  grpc::Status Wait(grpc::ServerContext*, const v1::WaitRequest*, v1::WaitResponse*) override;
  grpc::Status Pause(grpc::ServerContext*, const v1::PauseRequest*, v1::PauseResponse*) override;
  grpc::Status Resume(grpc::ServerContext*, const v1::ResumeRequest*, v1::ResumeResponse*) override;
  grpc::Status Update(grpc::ServerContext*, const v1::UpdateRequest*, v1::UpdateResponse*) override;
  grpc::Status Rename(grpc::ServerContext*, const v1::RenameRequest*, v1::RenameResponse*) override;
  grpc::Status Top(grpc::ServerContext*, const v1::TopRequest*, v1::TopResponse*) override;
  grpc::Status Stats(grpc::ServerContext*, const v1::StatsRequest*, v1::StatsResponse*) override;
  grpc::Status StatsStream(grpc::ServerContext*, const v1::StatsStreamRequest*,
                           grpc::ServerWriter<v1::StatsResponse>*) override;
  grpc::Status Exec(grpc::ServerContext*, grpc::ServerReaderWriter<v1::ExecResponse, v1::ExecRequest>*) override;
  grpc::Status Attach(grpc::ServerContext*,
                      grpc::ServerReaderWriter<v1::AttachResponse, v1::AttachRequest>*) override;
  grpc::Status Run(grpc::ServerContext*, grpc::ServerReaderWriter<v1::RunResponse, v1::RunRequest>*) override;
  grpc::Status Logs(grpc::ServerContext*, const v1::LogsRequest*, grpc::ServerWriter<v1::LogsResponse>*) override;
  grpc::Status CopyTo(grpc::ServerContext*, grpc::ServerReader<v1::CopyToRequest>*, v1::CopyToResponse*) override;
  grpc::Status CopyFrom(grpc::ServerContext*, const v1::CopyFromRequest*,
                        grpc::ServerWriter<v1::CopyFromResponse>*) override;

 private:
  grpc::Status ListEncoded(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer& request,
                           grpc::ByteBuffer* response);

  // The attached half of Attach and Run: the client's stdin, resizes and close to the
  // container; its output, then its exit code (once it is removed, with `remove_first`).
  template <typename Response, typename Request>
  grpc::Status ServeAttached(grpc::ServerContext* ctx, grpc::ServerReaderWriter<Response, Request>* stream,
                             AttachHandle handle, const std::string& id, bool remove_first);

  ContainerManager& manager_;
  CallGate& gate_;
  AgentMetrics& metrics_;
};

class SystemService final : public v1::System::Service {
 public:
  SystemService(ContainerManager& manager, image::ImageStore& images, VolumeStore& volumes, CallGate& gate)
      : manager_(manager), images_(images), volumes_(volumes), gate_(gate) {}
  grpc::Status Version(grpc::ServerContext*, const v1::VersionRequest*, v1::VersionResponse*) override;
  grpc::Status DiskUsage(grpc::ServerContext*, const v1::DiskUsageRequest*, v1::DiskUsageResponse*) override;

 private:
  ContainerManager& manager_;
  image::ImageStore& images_;
  VolumeStore& volumes_;
  CallGate& gate_;
};

}  // namespace berth::agent
