// `berth inspect`: containers, images, networks and volumes, mixed, as one JSON array (protobuf JSON
// mapping, proto field names, same printer as `ps -o json`); a name is looked up as a
// container, then an image, a network, a volume, unless --type says which. Ids that fail are
// reported and make the exit 125; the array still holds the ones found.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/human_format.h"
#include "cli/json_output.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

// One object of any kind the agent has, by `kind` ("" tries container, image, network, volume in
// turn, as docker inspect does). NOT_FOUND names every kind tried.
grpc::Status InspectOne(AgentClient& client, const std::string& id, const std::string& kind,
                        std::unique_ptr<google::protobuf::Message>* out) {
  grpc::Status status;
  if (kind.empty() || kind == "container") {
    v1::InspectRequest request;
    request.set_id(id);
    auto response = std::make_unique<v1::InspectResponse>();
    grpc::ClientContext ctx;
    status = client.containers().Inspect(&ctx, request, response.get());
    if (status.ok()) {
      out->reset(response->release_container());
      return status;
    }
    if (status.error_code() != grpc::StatusCode::NOT_FOUND || !kind.empty()) return status;
  }
  if (kind.empty() || kind == "image") {
    v1::InspectImageRequest request;
    request.set_reference(id);
    auto response = std::make_unique<v1::InspectImageResponse>();
    grpc::ClientContext ctx;
    status = client.images().Inspect(&ctx, request, response.get());
    if (status.ok()) {
      out->reset(response->release_image());
      return status;
    }
    // An id that is no valid reference is still a valid name of something else.
    const bool try_on = status.error_code() == grpc::StatusCode::NOT_FOUND ||
                        status.error_code() == grpc::StatusCode::INVALID_ARGUMENT;
    if (!try_on || !kind.empty()) return status;
  }
  if (kind.empty() || kind == "network") {
    v1::InspectNetworkRequest request;
    request.set_id(id);
    auto response = std::make_unique<v1::InspectNetworkResponse>();
    grpc::ClientContext ctx;
    status = client.networks().Inspect(&ctx, request, response.get());
    if (status.ok()) {
      out->reset(response->release_network());
      return status;
    }
    if (status.error_code() != grpc::StatusCode::NOT_FOUND || !kind.empty()) return status;
  }
  if (kind.empty() || kind == "volume") {
    v1::InspectVolumeRequest request;
    request.set_name(id);
    auto response = std::make_unique<v1::InspectVolumeResponse>();
    grpc::ClientContext ctx;
    status = client.volumes().Inspect(&ctx, request, response.get());
    if (status.ok()) {
      out->reset(response->release_volume());
      return status;
    }
    if (status.error_code() != grpc::StatusCode::NOT_FOUND || !kind.empty()) return status;
  }
  return grpc::Status(grpc::StatusCode::NOT_FOUND,
                      "no such object: " + Quote(id) + " (no container, image, network or volume by that name or id)");
}

int Inspect(AgentClient& client, const std::vector<std::string>& ids, const std::string& kind) {
  if (!kind.empty() && kind != "container" && kind != "image" && kind != "network" && kind != "volume") {
    return ReportError("--type " + Quote(kind) + ": want container, image, network or volume");
  }
  int rc = kExitOk;
  std::vector<std::unique_ptr<google::protobuf::Message>> found;
  for (const std::string& id : ids) {
    std::unique_ptr<google::protobuf::Message> object;
    grpc::Status status = InspectOne(client, id, kind, &object);
    if (status.ok()) {
      found.push_back(std::move(object));
    } else {
      rc = ReportRpcError(status, client);
    }
  }
  std::vector<const google::protobuf::Message*> messages;
  for (const auto& m : found) messages.push_back(m.get());
  absl::StatusOr<std::string> json = MessagesToJsonArray(messages);
  if (!json.ok()) return ReportError(json.status());
  std::cout << *json;
  return rc;
}

}  // namespace

void AddInspectCommand(CLI::App& app, CommandTable& table) {
  auto ids = std::make_shared<std::vector<std::string>>();
  auto kind = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("inspect", "Show containers, images, networks or volumes in detail, as JSON");
  cmd->add_option("objects", *ids, "Names or ids of containers, images, networks or volumes (mixed)")->required();
  cmd->add_option("--type", *kind, "Only this kind: container, image, network or volume");
  table.Add(cmd, [ids, kind](AgentClient& client) { return Inspect(client, *ids, *kind); });
}

}  // namespace berth::cli
