#include "tests/integration/support/image_support.h"

#include <chrono>
#include <memory>

#include <nlohmann/json.hpp>

#include "absl/strings/str_split.h"
#include "runtime/base/file_util.h"

namespace berth::testing {

namespace {

// A channel of its own per call (a local subchannel pool: its connection closes with it).
// Sharing the harness's connection works too, but a connection that carried an Export and is
// still open when berthd gets SIGTERM makes its exit take ~10 s (gRPC's shutdown waits on a
// timer), which only slows the tests down.
std::unique_ptr<v1::Images::Stub> Stub(AgentHarness& agent) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return v1::Images::NewStub(
      grpc::CreateCustomChannel("unix:" + agent.socket(), grpc::InsecureChannelCredentials(), args));
}

void SetDeadline(grpc::ClientContext& ctx, int seconds) {
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
}

}  // namespace

PullResult PullImage(AgentHarness& agent, const std::string& reference,
                     const std::function<void(const v1::LayerProgress&)>& on_event, int timeout_seconds) {
  PullResult result;
  auto stub = Stub(agent);
  grpc::ClientContext ctx;
  SetDeadline(ctx, timeout_seconds);
  v1::PullRequest request;
  request.set_reference(reference);
  auto reader = stub->Pull(&ctx, request);
  v1::PullResponse response;
  while (reader->Read(&response)) {
    if (response.has_layer()) {
      result.events.push_back(response.layer());
      if (on_event) on_event(response.layer());
    } else if (response.has_image()) {
      result.image = response.image();
      result.got_image = true;
    }
  }
  result.status = FromGrpc(reader->Finish());
  return result;
}

absl::StatusOr<std::vector<v1::Image>> ImportImages(AgentHarness& agent, const std::string& archive) {
  auto stub = Stub(agent);
  grpc::ClientContext ctx;
  SetDeadline(ctx, 120);
  v1::ImportResponse response;
  auto writer = stub->Import(&ctx, &response);
  constexpr size_t kChunk = 256 << 10;
  for (size_t off = 0; off < archive.size(); off += kChunk) {
    v1::ImportRequest chunk;
    chunk.set_chunk(archive.substr(off, kChunk));
    if (!writer->Write(chunk)) break;
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok()) return FromGrpc(status);
  return std::vector<v1::Image>(response.images().begin(), response.images().end());
}

absl::StatusOr<std::string> ExportImages(AgentHarness& agent, const std::vector<std::string>& references) {
  auto stub = Stub(agent);
  grpc::ClientContext ctx;
  SetDeadline(ctx, 120);
  v1::ExportRequest request;
  for (const auto& r : references) request.add_references(r);
  auto reader = stub->Export(&ctx, request);
  std::string out;
  v1::ExportResponse response;
  while (reader->Read(&response)) out += response.chunk();
  grpc::Status status = reader->Finish();
  if (!status.ok()) return FromGrpc(status);
  return out;
}

absl::StatusOr<v1::Image> InspectImage(AgentHarness& agent, const std::string& reference) {
  auto stub = Stub(agent);
  grpc::ClientContext ctx;
  SetDeadline(ctx, 30);
  v1::InspectImageRequest request;
  request.set_reference(reference);
  v1::InspectImageResponse response;
  grpc::Status status = stub->Inspect(&ctx, request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response.image();
}

absl::StatusOr<std::vector<v1::Image>> ListImages(AgentHarness& agent) {
  auto stub = Stub(agent);
  grpc::ClientContext ctx;
  SetDeadline(ctx, 30);
  v1::ListImagesResponse response;
  grpc::Status status = stub->List(&ctx, v1::ListImagesRequest(), &response);
  if (!status.ok()) return FromGrpc(status);
  return std::vector<v1::Image>(response.images().begin(), response.images().end());
}

absl::StatusOr<v1::RemoveImageResponse> RemoveImage(AgentHarness& agent, const std::string& reference, bool force) {
  auto stub = Stub(agent);
  grpc::ClientContext ctx;
  SetDeadline(ctx, 60);
  v1::RemoveImageRequest request;
  request.set_reference(reference);
  request.set_force(force);
  v1::RemoveImageResponse response;
  grpc::Status status = stub->Remove(&ctx, request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response;
}

absl::StatusOr<v1::Image> TagImage(AgentHarness& agent, const std::string& source, const std::string& target) {
  auto stub = Stub(agent);
  grpc::ClientContext ctx;
  SetDeadline(ctx, 30);
  v1::TagImageRequest request;
  request.set_source(source);
  request.set_target(target);
  v1::TagImageResponse response;
  grpc::Status status = stub->Tag(&ctx, request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response.image();
}

absl::StatusOr<v1::PruneImagesResponse> PruneImages(AgentHarness& agent, bool dangling_only) {
  auto stub = Stub(agent);
  grpc::ClientContext ctx;
  SetDeadline(ctx, 60);
  v1::PruneImagesRequest request;
  request.set_dangling_only(dangling_only);
  v1::PruneImagesResponse response;
  grpc::Status status = stub->Prune(&ctx, request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response;
}

absl::StatusOr<v1::DiskUsageResponse> DiskUsage(AgentHarness& agent) {
  grpc::ClientContext ctx;
  SetDeadline(ctx, 30);
  v1::DiskUsageResponse response;
  grpc::Status status = agent.system().DiskUsage(&ctx, v1::DiskUsageRequest(), &response);
  if (!status.ok()) return FromGrpc(status);
  return response;
}

absl::StatusOr<Image> ExportedBusybox(AgentHarness& agent) {
  auto tar = ExportImages(agent, {"busybox"});
  if (!tar.ok()) return tar.status();
  return ImageFromLayoutTar(*tar);
}

Image DerivedImage(const Image& base, const std::vector<TarItem>& items,
                   const std::function<void(nlohmann::json& config)>& edit) {
  Image image = base.With(MakeLayer(items));
  if (edit) edit(image.config);
  image.Seal();
  return image;
}

std::set<std::string> LayerDirs(const std::string& root) {
  std::set<std::string> out;
  for (const std::string& name : ListDirectory(root + "/images/layers")) {
    if (!name.empty() && name[0] != '.') out.insert(name);
  }
  return out;
}

std::set<std::string> HiddenLayerDirs(const std::string& root) {
  std::set<std::string> out;
  for (const std::string& name : ListDirectory(root + "/images/layers")) {
    if (!name.empty() && name[0] == '.') out.insert(name);
  }
  return out;
}

std::set<std::string> ContentBlobs(const std::string& root) {
  std::set<std::string> out;
  for (const std::string& name : ListDirectory(root + "/images/content/blobs/sha256")) out.insert("sha256:" + name);
  return out;
}

std::vector<std::string> IngestFiles(const std::string& root) { return ListDirectory(root + "/images/content/ingest"); }

bool HasBlob(const std::string& root, const std::string& digest) {
  return ContentBlobs(root).count(digest) > 0;
}

std::string RefsJson(const std::string& root) { return ReadText(root + "/images/refs.json"); }

std::vector<std::string> OverlayLowerDirs(const std::string& root, const std::string& container_id) {
  nlohmann::json config =
      nlohmann::json::parse(ReadText(root + "/containers/" + container_id + "/bundle/config.json"), nullptr, false);
  if (!config.is_object() || !config.contains("annotations")) return {};
  auto it = config["annotations"].find("dev.berth.overlay.lowerdir");
  if (it == config["annotations"].end() || !it->is_string()) return {};
  return absl::StrSplit(it->get<std::string>(), ':', absl::SkipEmpty());
}

v1::ContainerConfig FromImage(const std::string& image, const std::vector<std::string>& args) {
  v1::ContainerConfig c;
  c.set_image(image);
  for (const auto& a : args) c.add_command(a);
  return c;
}

}  // namespace berth::testing
