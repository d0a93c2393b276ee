// `berth inspect`: containers, images, networks and volumes, mixed, as one JSON array (protobuf JSON
// mapping, proto field names, same printer as `ps -o json`); a name is looked up as a
// container, then an image, a network, a volume, unless --type says which. Ids that fail are
// reported and make the exit 125; the array still holds the ones found. With -f/--format
// TEMPLATE, each object's docker-shaped view (cli/docker_view.h) goes through the template
// instead, one output line per object; a template that fails exits 125.
#include <iostream>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "cli/docker_view.h"
#include "cli/exit_codes.h"
#include "cli/go_template.h"
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

// The image a container was made from, to split its argv into Entrypoint and Cmd; nullopt
// when it is gone.
std::optional<v1::Image> ContainerImage(AgentClient& client, const google::protobuf::Message& object) {
  const auto* container = dynamic_cast<const v1::Container*>(&object);
  if (container == nullptr || container->image_id().empty()) return std::nullopt;
  v1::InspectImageRequest request;
  request.set_reference(container->image_id());
  v1::InspectImageResponse response;
  grpc::ClientContext ctx;
  if (!client.images().Inspect(&ctx, request, &response).ok()) return std::nullopt;
  return response.image();
}

// Each object through the template, one line each; 125 at the first that fails.
int PrintFormatted(AgentClient& client, const GoTemplate& format,
                   const std::vector<std::unique_ptr<google::protobuf::Message>>& objects) {
  for (const auto& object : objects) {
    const std::optional<v1::Image> image = ContainerImage(client, *object);
    absl::StatusOr<nlohmann::json> view = InspectView(*object, image ? &*image : nullptr);
    if (!view.ok()) return ReportError(view.status());
    absl::StatusOr<std::string> text = format.Execute(*view);
    if (!text.ok()) return ReportError(text.status());
    std::cout << *text << "\n";
  }
  return kExitOk;
}

int Inspect(AgentClient& client, const std::vector<std::string>& ids, const std::string& kind,
            const std::string& format) {
  if (!kind.empty() && kind != "container" && kind != "image" && kind != "network" && kind != "volume") {
    return ReportError("--type " + Quote(kind) + ": want container, image, network or volume");
  }
  // "" and "json": the JSON array; anything else is a template (parsed before any call).
  std::optional<GoTemplate> formatted;
  if (!format.empty() && format != "json") {
    absl::StatusOr<GoTemplate> parsed = GoTemplate::Parse(format);
    if (!parsed.ok()) return ReportError(parsed.status());
    formatted = *std::move(parsed);
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
  if (formatted) {
    const int printed = PrintFormatted(client, *formatted, found);
    return printed != kExitOk ? printed : rc;
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
  auto format = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("inspect", "Show containers, images, networks or volumes in detail, as JSON");
  cmd->add_option("objects", *ids, "Names or ids of containers, images, networks or volumes (mixed)")->required();
  cmd->add_option("--type", *kind, "Only this kind: container, image, network or volume");
  cmd->add_option("-f,--format", *format,
                  "A Go-style template over docker's fields, e.g. '{{.State.Status}}', "
                  "'{{json .Config.Labels}}' (\"json\": the default output)");
  table.Add(cmd, [ids, kind, format](AgentClient& client) { return Inspect(client, *ids, *kind, *format); });
}

}  // namespace berth::cli
