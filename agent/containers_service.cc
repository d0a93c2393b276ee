#include "agent/containers_service.h"

#include "runtime/base/file_util.h"

#include <sys/utsname.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
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
  std::optional<int> timeout;
  if (req->has_timeout_seconds()) timeout = req->timeout_seconds();
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
  return ToGrpcStatus(manager_.Remove(req->id(), req->force(), req->remove_volumes()));
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

grpc::ServerUnaryReactor* ContainersService::List(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* request,
                                                  grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ListEncoded(ctx, *request, response));
  return reactor;
}

grpc::Status ContainersService::ListEncoded(grpc::CallbackServerContext* ctx, const grpc::ByteBuffer& request,
                                            grpc::ByteBuffer* response) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  v1::ListRequest req;
  grpc::ByteBuffer request_bytes(request);  // shares the slices; Deserialize consumes its buffer
  if (!grpc::SerializationTraits<v1::ListRequest>::Deserialize(&request_bytes, &req).ok()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the request does not parse as a berth.v1.ListRequest");
  }
  std::vector<v1::ContainerState> states;
  for (int s : req.states()) {
    if (!v1::ContainerState_IsValid(s) || s == v1::CONTAINER_STATE_UNSPECIFIED) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "states: unknown container state " + std::to_string(s));
    }
    states.push_back(static_cast<v1::ContainerState>(s));
  }
  if (!v1::ListView_IsValid(req.view())) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("view: unknown list view ", req.view(), " (LIST_VIEW_FULL or LIST_VIEW_SUMMARY)"));
  }
  auto encoded = manager_.ListEncoded(req.label_selector(), states, req.view());
  if (!encoded.ok()) return ToGrpcStatus(encoded.status());
  // Handed to gRPC as they are: the slice owns the string and frees it once sent.
  auto* bytes = new std::string(std::move(*encoded));
  grpc::Slice slice(bytes->data(), bytes->size(), [](void* owned) { delete static_cast<std::string*>(owned); }, bytes);
  *response = grpc::ByteBuffer(&slice, 1);
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

grpc::Status ContainersService::Rename(grpc::ServerContext* ctx, const v1::RenameRequest* req, v1::RenameResponse* resp) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  gate_.SetTarget(ctx, req->id());
  auto c = manager_.Rename(req->id(), req->new_name());
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

namespace {

absl::StatusOr<std::vector<std::string>> StatsIds(const google::protobuf::RepeatedPtrField<std::string>& ids) {
  constexpr int kMaxIds = 10000;
  if (ids.size() > kMaxIds) {
    return absl::InvalidArgumentError(absl::StrCat("stats: at most ", kMaxIds, " ids per call, got ", ids.size()));
  }
  return std::vector<std::string>(ids.begin(), ids.end());
}

}  // namespace

grpc::Status ContainersService::Stats(grpc::ServerContext* ctx, const v1::StatsRequest* req, v1::StatsResponse* resp) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto ids = StatsIds(req->ids());
  if (!ids.ok()) return ToGrpcStatus(ids.status());
  auto stats = manager_.Stats(*ids);
  if (!stats.ok()) return ToGrpcStatus(stats.status());
  for (v1::ContainerStats& s : *stats) *resp->add_stats() = std::move(s);
  return grpc::Status::OK;
}

grpc::Status ContainersService::StatsStream(grpc::ServerContext* ctx, const v1::StatsStreamRequest* req,
                                            grpc::ServerWriter<v1::StatsResponse>* writer) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto ids = StatsIds(req->ids());
  if (!ids.ok()) return ToGrpcStatus(ids.status());
  const uint32_t interval_ms = req->interval_ms() == 0 ? 1000 : req->interval_ms();
  if (interval_ms < 100 || interval_ms > 3600 * 1000) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("stats: interval_ms must be 100 to 3600000 (0: 1000), got ", req->interval_ms())));
  }
  for (;;) {
    auto stats = manager_.Stats(*ids);
    if (!stats.ok()) return ToGrpcStatus(stats.status());
    v1::StatsResponse resp;
    for (v1::ContainerStats& s : *stats) *resp.add_stats() = std::move(s);
    if (!writer->Write(resp)) return grpc::Status(grpc::StatusCode::CANCELLED, "stats: the client went away");
    const absl::Time next = absl::Now() + absl::Milliseconds(interval_ms);
    while (absl::Now() < next) {
      if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "stats: the client went away");
      absl::SleepFor(std::min(absl::Milliseconds(50), next - absl::Now()));
    }
  }
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
  for (const v1::Volume& v : volumes_.List()) {
    const int64_t bytes = DirectorySize(v.mountpoint());
    resp->set_volumes(resp->volumes() + 1);
    resp->set_volumes_size(resp->volumes_size() + bytes);
    if (v.used_by().empty()) resp->set_volumes_reclaimable_size(resp->volumes_reclaimable_size() + bytes);
  }
  return grpc::Status::OK;
}

}  // namespace berth::agent
