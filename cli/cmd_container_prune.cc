// container prune: removes every exited container (docker container prune).
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/terminal.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

int PruneContainers(AgentClient& client, bool force) {
  if (!force && !AskToContinue("This will remove all stopped containers.")) return kExitOk;
  v1::ListRequest list;
  list.add_states(v1::EXITED);
  list.set_view(v1::LIST_VIEW_SUMMARY);
  v1::ListResponse listed;
  grpc::ClientContext list_ctx;
  grpc::Status status = client.containers().List(&list_ctx, list, &listed);
  if (!status.ok()) return ReportRpcError(status, client);
  int rc = kExitOk;
  bool header = false;
  for (const v1::Container& c : listed.containers()) {
    // Not forced: a container started again since the listing is not removed.
    v1::RemoveRequest request;
    request.set_id(c.id());
    v1::RemoveResponse response;
    grpc::ClientContext ctx;
    grpc::Status removed = client.containers().Remove(&ctx, request, &response);
    if (!removed.ok()) {
      if (removed.error_code() != grpc::StatusCode::NOT_FOUND) rc = ReportRpcError(removed, client);
      continue;
    }
    if (!header) std::cout << "Deleted Containers:\n";
    header = true;
    std::cout << c.id() << "\n";
  }
  if (header) std::cout << std::endl;
  return rc;
}

}  // namespace

void AddContainerCommands(CLI::App& app, CommandTable& table) {
  CLI::App* container = app.add_subcommand("container", "Manage containers");
  container->require_subcommand(1);
  auto force = std::make_shared<bool>(false);
  CLI::App* prune = container->add_subcommand("prune", "Remove all stopped (exited) containers");
  prune->add_flag("-f,--force", *force, "Do not ask for confirmation");
  table.Add(prune, [force](AgentClient& client) { return PruneContainers(client, *force); });
}

}  // namespace berth::cli
