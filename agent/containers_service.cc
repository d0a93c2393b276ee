#include "agent/containers_service.h"

#include <sys/utsname.h>

#include "agent/grpc_status.h"

namespace berth::agent {

grpc::Status ContainersService::Create(grpc::ServerContext* ctx, const v1::CreateRequest* req, v1::CreateResponse* resp) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  gate_.SetTarget(ctx, req->config().name());
  if (absl::Status st = gate_.authz().CheckContainerConfig(*caller, req->config()); !st.ok()) return ToGrpcStatus(st);
  auto c = manager_.Create(req->config());
  if (!c.ok()) return ToGrpcStatus(c.status());
  gate_.SetTarget(ctx, c->id());
  *resp->mutable_container() = *c;
  return grpc::Status::OK;
}

grpc::Status ContainersService::Start(grpc::ServerContext* ctx, const v1::StartRequest* req, v1::StartResponse* resp) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  gate_.SetTarget(ctx, req->id());
  auto c = manager_.Start(req->id());
  if (!c.ok()) return ToGrpcStatus(c.status(), ctx);
  *resp->mutable_container() = *c;
  return grpc::Status::OK;
}

grpc::Status ContainersService::Stop(grpc::ServerContext* ctx, const v1::StopRequest* req, v1::StopResponse* resp) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  gate_.SetTarget(ctx, req->id());
  int timeout = req->has_timeout_seconds() ? req->timeout_seconds() : 10;
  auto c = manager_.Stop(req->id(), req->signal(), timeout);
  if (!c.ok()) return ToGrpcStatus(c.status());
  *resp->mutable_container() = *c;
  return grpc::Status::OK;
}

grpc::Status ContainersService::Kill(grpc::ServerContext* ctx, const v1::KillRequest* req, v1::KillResponse*) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  gate_.SetTarget(ctx, req->id());
  return ToGrpcStatus(manager_.Kill(req->id(), req->signal()));
}

grpc::Status ContainersService::Remove(grpc::ServerContext* ctx, const v1::RemoveRequest* req, v1::RemoveResponse*) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  gate_.SetTarget(ctx, req->id());
  return ToGrpcStatus(manager_.Remove(req->id(), req->force()));
}

grpc::Status ContainersService::Inspect(grpc::ServerContext* ctx, const v1::InspectRequest* req,
                                        v1::InspectResponse* resp) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  gate_.SetTarget(ctx, req->id());
  auto c = manager_.Inspect(req->id());
  if (!c.ok()) return ToGrpcStatus(c.status());
  *resp->mutable_container() = *c;
  return grpc::Status::OK;
}

grpc::Status ContainersService::List(grpc::ServerContext* ctx, const v1::ListRequest* req, v1::ListResponse* resp) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  std::vector<v1::ContainerState> states;
  for (int s : req->states()) {
    if (!v1::ContainerState_IsValid(s) || s == v1::CONTAINER_STATE_UNSPECIFIED) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "states: unknown container state " + std::to_string(s));
    }
    states.push_back(static_cast<v1::ContainerState>(s));
  }
  auto list = manager_.List(req->label_selector(), states);
  if (!list.ok()) return ToGrpcStatus(list.status());
  for (auto& c : *list) *resp->add_containers() = std::move(c);
  return grpc::Status::OK;
}

grpc::Status ContainersService::Wait(grpc::ServerContext* ctx, const v1::WaitRequest* req, v1::WaitResponse* resp) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  gate_.SetTarget(ctx, req->id());
  auto c = manager_.Wait(req->id(), [ctx] { return ctx->IsCancelled(); });
  if (!c.ok()) return ToGrpcStatus(c.status());
  resp->set_exit_code(c->exit_code());
  resp->set_oom_killed(c->oom_killed());
  *resp->mutable_container() = *c;
  return grpc::Status::OK;
}

grpc::Status ContainersService::Pause(grpc::ServerContext* ctx, const v1::PauseRequest* req, v1::PauseResponse*) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  gate_.SetTarget(ctx, req->id());
  return ToGrpcStatus(manager_.Pause(req->id()));
}

grpc::Status ContainersService::Resume(grpc::ServerContext* ctx, const v1::ResumeRequest* req, v1::ResumeResponse*) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  gate_.SetTarget(ctx, req->id());
  return ToGrpcStatus(manager_.Resume(req->id()));
}

grpc::Status ContainersService::Update(grpc::ServerContext* ctx, const v1::UpdateRequest* req, v1::UpdateResponse* resp) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  gate_.SetTarget(ctx, req->id());
  auto c = manager_.Update(*req);
  if (!c.ok()) return ToGrpcStatus(c.status());
  *resp->mutable_container() = *c;
  return grpc::Status::OK;
}

grpc::Status ContainersService::Top(grpc::ServerContext* ctx, const v1::TopRequest* req, v1::TopResponse* resp) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  gate_.SetTarget(ctx, req->id());
  auto processes = manager_.Top(req->id());
  if (!processes.ok()) return ToGrpcStatus(processes.status());
  for (v1::TopProcess& p : *processes) *resp->add_processes() = std::move(p);
  return grpc::Status::OK;
}

grpc::Status SystemService::Version(grpc::ServerContext* ctx, const v1::VersionRequest*, v1::VersionResponse* resp) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  resp->set_version(BERTH_VERSION);
  resp->set_api_version("berth.v1");
  resp->set_cgroup_driver(std::string(manager_.cgroup_driver_name()));
  struct utsname u;
  if (::uname(&u) == 0) resp->set_kernel(u.release);
  return grpc::Status::OK;
}

grpc::Status SystemService::DiskUsage(grpc::ServerContext* ctx, const v1::DiskUsageRequest*,
                                      v1::DiskUsageResponse* resp) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  image::Usage u = images_.DiskUsage([this] { return manager_.ImagesInUse(); });
  auto [containers, container_bytes] = manager_.ContainersDiskUsage();
  resp->set_images(u.images);
  resp->set_images_size(u.images_size);
  resp->set_layers(u.layers);
  resp->set_layers_size(u.layers_size);
  resp->set_containers(containers);
  resp->set_containers_size(container_bytes);
  resp->set_reclaimable_size(u.reclaimable);
  return grpc::Status::OK;
}

}  // namespace berth::agent
