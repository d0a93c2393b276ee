// `berth inspect`: the Container messages as a JSON array (protobuf JSON mapping, proto field
// names, same printer as `ps -o json`). Ids that fail are reported and make the exit 125; the
// array still holds the ones found.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/json_output.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

int Inspect(AgentClient& client, const std::vector<std::string>& ids) {
  int rc = kExitOk;
  std::vector<v1::Container> found;
  found.reserve(ids.size());
  for (const std::string& id : ids) {
    v1::InspectRequest request;
    request.set_id(id);
    v1::InspectResponse response;
    grpc::ClientContext ctx;
    grpc::Status status = client.containers().Inspect(&ctx, request, &response);
    if (status.ok()) {
      found.push_back(std::move(*response.mutable_container()));
    } else {
      rc = ReportRpcError(status, client);
    }
  }
  std::vector<const google::protobuf::Message*> messages;
  for (const v1::Container& c : found) messages.push_back(&c);
  absl::StatusOr<std::string> json = MessagesToJsonArray(messages);
  if (!json.ok()) return ReportError(json.status());
  std::cout << *json;
  return rc;
}

}  // namespace

void AddInspectCommand(CLI::App& app, CommandTable& table) {
  auto ids = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = app.add_subcommand("inspect", "Show containers in detail, as JSON");
  cmd->add_option("containers", *ids, "Container ids, id prefixes or names")->required();
  table.Add(cmd, [ids](AgentClient& client) { return Inspect(client, *ids); });
}

}  // namespace berth::cli
