#include "agent/images_service.h"

#include "agent/image/reference.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "agent/grpc_status.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/unique_fd.h"

namespace berth::agent {

namespace {

constexpr size_t kChunk = 256 << 10;

std::string Familiar(const std::string& name) {
  auto ref = image::ParseReference(name);
  return ref.ok() ? ref->Familiar() : name;
}

}  // namespace

std::string ImagesService::ScratchPath(const std::string& what) {
  static std::atomic<uint64_t> counter{0};
  return absl::StrCat(scratch_dir_, "/", what, "-", ::getpid(), "-", counter.fetch_add(1));
}

v1::Image ImagesService::ToProto(const image::Image& image, const std::map<std::string, int>& uses) {
  v1::Image out;
  out.set_id(image.id);
  for (const auto& n : image.names) out.add_names(Familiar(n));
  out.set_manifest_digest(image.manifest_digest);
  out.set_size(image.size);
  absl::Time created;
  std::string err;
  if (!image.config.created.empty() && absl::ParseTime(absl::RFC3339_full, image.config.created, &created, &err)) {
    *out.mutable_created_at() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(created));
  }
  const auto& c = image.config.config;
  for (const auto& v : c.entrypoint) out.add_entrypoint(v);
  for (const auto& v : c.cmd) out.add_cmd(v);
  for (const auto& v : c.env) out.add_env(v);
  out.set_working_dir(c.working_dir);
  out.set_user(c.user);
  out.mutable_labels()->insert(c.labels.begin(), c.labels.end());
  for (const auto& l : image.layer_blobs) out.add_layers(l.digest);
  for (const auto& d : image.config.diff_ids) out.add_diff_ids(d);
  out.set_os(image.config.os);
  out.set_architecture(image.config.architecture);
  auto it = uses.find(image.id);
  out.set_containers(it == uses.end() ? 0 : it->second);
  return out;
}

grpc::Status ImagesService::Pull(grpc::ServerContext* ctx, const v1::PullRequest* req,
                                 grpc::ServerWriter<v1::PullResponse>* writer) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  gate_.SetTarget(ctx, req->reference());
  if (req->reference().empty()) return ToGrpcStatus(absl::InvalidArgumentError("reference is required"));
  std::mutex mu;  // layers report from several threads; one write at a time
  std::map<std::string, std::pair<std::string, int64_t>> last;  // digest → (status, bytes) last sent
  std::map<std::string, int64_t> downloaded;                      // digest → bytes counted in metrics
  auto progress = [&](const image::LayerEvent& e) {
    std::lock_guard<std::mutex> lock(mu);
    if (e.status == "downloading" || e.status == "downloaded") {
      int64_t& counted = downloaded[e.digest];
      if (e.done > counted) {
        metrics_.AddImagePullBytes(e.done - counted);
        counted = e.done;
      }
    }
    auto& [status, bytes] = last[e.digest];
    // Every change of status, and downloads in steps of 1 MiB, so a client is not flooded.
    if (status == e.status && e.done - bytes < (1 << 20) && e.done != e.total) return;
    status = e.status;
    bytes = e.done;
    if (ctx->IsCancelled()) return;
    v1::PullResponse resp;
    v1::LayerProgress* l = resp.mutable_layer();
    l->set_digest(e.digest);
    l->set_done(e.done);
    l->set_total(e.total);
    l->set_status(e.status);
    writer->Write(resp);
  };
  auto image = images_.Pull(req->reference(), progress, [ctx] { return ctx->IsCancelled(); });
  if (!image.ok()) return ToGrpcStatus(image.status());
  Emit("image.pull", image->id, image->name, image->config.config.labels);
  v1::PullResponse resp;
  *resp.mutable_image() = ToProto(*image, containers_.ImageUseCounts());
  std::lock_guard<std::mutex> lock(mu);
  writer->Write(resp);
  return grpc::Status::OK;
}

grpc::Status ImagesService::Import(grpc::ServerContext* ctx, grpc::ServerReader<v1::ImportRequest>* reader,
                                   v1::ImportResponse* resp) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  const std::string path = ScratchPath("upload");
  UniqueFd out(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!out) return ToGrpcStatus(ErrnoToStatus(absl::StrCat("create ", path)));
  v1::ImportRequest chunk;
  int64_t total = 0;
  while (reader->Read(&chunk)) {
    const std::string& data = chunk.chunk();
    if (::write(out.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size())) {
      absl::Status st = ErrnoToStatus(absl::StrCat("write ", path));
      ::unlink(path.c_str());
      return ToGrpcStatus(st);
    }
    total += static_cast<int64_t>(data.size());
  }
  out.Reset();
  if (ctx->IsCancelled()) {
    ::unlink(path.c_str());
    return grpc::Status(grpc::StatusCode::CANCELLED, "import cancelled by the client");
  }
  if (total == 0) {
    ::unlink(path.c_str());
    return ToGrpcStatus(absl::InvalidArgumentError("import: no data; send the tarball in ImportRequest.chunk"));
  }
  auto images = images_.Import(path);
  ::unlink(path.c_str());
  if (!images.ok()) return ToGrpcStatus(images.status());
  auto uses = containers_.ImageUseCounts();
  for (const auto& i : *images) {
    Emit("image.import", i.id, i.name, i.config.config.labels);
    *resp->add_images() = ToProto(i, uses);
  }
  return grpc::Status::OK;
}

grpc::Status ImagesService::Export(grpc::ServerContext* ctx, const v1::ExportRequest* req,
                                   grpc::ServerWriter<v1::ExportResponse>* writer) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  const std::string path = ScratchPath("export");
  std::vector<std::string> refs(req->references().begin(), req->references().end());
  if (absl::Status st = images_.Export(refs, path); !st.ok()) return ToGrpcStatus(st);
  UniqueFd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ::unlink(path.c_str());  // the open fd keeps it readable
  if (!in) return ToGrpcStatus(ErrnoToStatus("open export"));
  std::string buf(kChunk, '\0');
  ssize_t n;
  while ((n = ::read(in.get(), buf.data(), buf.size())) > 0) {
    v1::ExportResponse resp;
    resp.set_chunk(buf.data(), static_cast<size_t>(n));
    if (!writer->Write(resp)) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "export cancelled");
  }
  if (n < 0) return ToGrpcStatus(ErrnoToStatus("read export"));
  return grpc::Status::OK;
}

grpc::Status ImagesService::List(grpc::ServerContext* ctx, const v1::ListImagesRequest*, v1::ListImagesResponse* resp) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto uses = containers_.ImageUseCounts();
  for (const auto& i : images_.List()) *resp->add_images() = ToProto(i, uses);
  return grpc::Status::OK;
}

grpc::Status ImagesService::Inspect(grpc::ServerContext* ctx, const v1::InspectImageRequest* req,
                                    v1::InspectImageResponse* resp) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  gate_.SetTarget(ctx, req->reference());
  auto image = images_.Get(req->reference());
  if (!image.ok()) return ToGrpcStatus(image.status());
  *resp->mutable_image() = ToProto(*image, containers_.ImageUseCounts());
  return grpc::Status::OK;
}

grpc::Status ImagesService::Remove(grpc::ServerContext* ctx, const v1::RemoveImageRequest* req,
                                   v1::RemoveImageResponse* resp) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  gate_.SetTarget(ctx, req->reference());
  auto before = images_.Get(req->reference());
  auto result = images_.Remove(req->reference(), req->force(), [this] { return containers_.ImagesInUse(); });
  if (!result.ok()) return ToGrpcStatus(result.status());
  for (const auto& u : result->untagged) Emit("image.remove", before.ok() ? before->id : "", u);
  for (const auto& d : result->deleted) {
    if (result->untagged.empty()) Emit("image.remove", d, req->reference());
  }
  for (const auto& u : result->untagged) resp->add_untagged(u);
  for (const auto& d : result->deleted) resp->add_deleted(d);
  return grpc::Status::OK;
}

grpc::Status ImagesService::Tag(grpc::ServerContext* ctx, const v1::TagImageRequest* req, v1::TagImageResponse* resp) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  gate_.SetTarget(ctx, req->source());
  auto image = images_.Tag(req->source(), req->target());
  if (!image.ok()) return ToGrpcStatus(image.status());
  auto target = image::ParseReference(req->target());
  Emit("image.tag", image->id, target.ok() ? target->Familiar() : req->target(), image->config.config.labels);
  *resp->mutable_image() = ToProto(*image, containers_.ImageUseCounts());
  return grpc::Status::OK;
}

grpc::Status ImagesService::Prune(grpc::ServerContext* ctx, const v1::PruneImagesRequest* req,
                                  v1::PruneImagesResponse* resp) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  int64_t reclaimed = 0;
  auto result = images_.Prune([this] { return containers_.ImagesInUse(); }, &reclaimed, req->dangling_only());
  if (!result.ok()) return ToGrpcStatus(result.status());
  for (const auto& d : result->deleted) {
    Emit("image.remove", d, "");
    resp->add_deleted(d);
  }
  resp->set_reclaimed_bytes(reclaimed);
  return grpc::Status::OK;
}

void ImagesService::Emit(const std::string& type, const std::string& id, const std::string& name,
                         const std::map<std::string, std::string>& labels) {
  v1::Event event;
  event.set_type(type);
  event.set_id(id);
  event.set_name(name);
  for (const auto& [k, v] : labels) (*event.mutable_labels())[k] = v;
  events_.Publish(std::move(event));
}

}  // namespace berth::agent
