#include "agent/volumes_service.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/grpc_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/quote.h"

namespace berth::agent {

void VolumesService::NameUsers(v1::Volume& volume) {
  for (std::string& user : *volume.mutable_used_by()) {
    auto c = containers_.Inspect(user);
    if (c.ok()) user = c->name();
  }
}

void VolumesService::Emit(const std::string& type, const std::string& name) {
  v1::Event event;
  event.set_type(type);
  event.set_id(name);
  event.set_name(name);
  events_.Publish(std::move(event));
}

grpc::Status VolumesService::Create(grpc::ServerContext* ctx, const v1::CreateVolumeRequest* req,
                                    v1::CreateVolumeResponse* resp) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  gate_.SetTarget(ctx, req->name());
  const bool existed = !req->name().empty() && volumes_.Get(req->name()).ok();
  auto v = volumes_.Create(*req);
  if (!v.ok()) return ToGrpcStatus(v.status());
  if (!existed) Emit("volume.create", v->name());
  NameUsers(*v);
  *resp->mutable_volume() = *std::move(v);
  return grpc::Status::OK;
}

grpc::Status VolumesService::List(grpc::ServerContext* ctx, const v1::ListVolumesRequest* req,
                                  v1::ListVolumesResponse* resp) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto match = ParseLabelSelector(req->label_selector());
  if (!match.ok()) return ToGrpcStatus(match.status());
  for (v1::Volume& v : volumes_.List()) {
    if (!(*match)(v.labels())) continue;
    if (req->has_dangling() && req->dangling() != v.used_by().empty()) continue;
    if (req->with_size()) v.set_size_bytes(DirectorySize(v.mountpoint()));
    NameUsers(v);
    *resp->add_volumes() = std::move(v);
  }
  return grpc::Status::OK;
}

grpc::Status VolumesService::Inspect(grpc::ServerContext* ctx, const v1::InspectVolumeRequest* req,
                                     v1::InspectVolumeResponse* resp) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  gate_.SetTarget(ctx, req->name());
  auto v = volumes_.Get(req->name());
  if (!v.ok()) return ToGrpcStatus(v.status());
  v->set_size_bytes(DirectorySize(v->mountpoint()));
  NameUsers(*v);
  *resp->mutable_volume() = *std::move(v);
  return grpc::Status::OK;
}

grpc::Status VolumesService::Remove(grpc::ServerContext* ctx, const v1::RemoveVolumeRequest* req,
                                    v1::RemoveVolumeResponse*) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  gate_.SetTarget(ctx, req->name());
  const bool existed = volumes_.Get(req->name()).ok();
  absl::Status removed = volumes_.Remove(req->name(), req->force());
  if (absl::IsFailedPrecondition(removed)) {
    // Name the containers, which is what a person looks for in `berth ps -a`.
    v1::Volume v;
    for (const std::string& id : volumes_.Users(req->name())) v.add_used_by(id);
    NameUsers(v);
    removed = absl::FailedPreconditionError(absl::StrCat("volume ", Quoted(req->name()), " is in use by container(s) ",
                                                         absl::StrJoin(v.used_by(), ", "),
                                                         ": remove them first (berth rm), then the volume"));
  }
  if (removed.ok() && existed) Emit("volume.remove", req->name());
  return ToGrpcStatus(removed);
}

grpc::Status VolumesService::Prune(grpc::ServerContext* ctx, const v1::PruneVolumesRequest* req,
                                   v1::PruneVolumesResponse* resp) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto match = ParseLabelSelector(req->label_selector());
  if (!match.ok()) return ToGrpcStatus(match.status());
  VolumeStore::Pruned pruned = volumes_.Prune(req->all(), *match);
  for (const std::string& name : pruned.removed) {
    Emit("volume.remove", name);
    resp->add_removed(name);
  }
  resp->set_reclaimed_bytes(pruned.reclaimed_bytes);
  return grpc::Status::OK;
}

}  // namespace berth::agent
