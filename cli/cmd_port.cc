// `berth port CONTAINER [PRIVATE_PORT[/PROTO]]`: the published ports of a container as its
// network was set up (network_settings.ports), one "80/tcp -> 0.0.0.0:8080" line each.
#include <iostream>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/network_flags.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

struct PortOptions {
  std::string id;
  std::string private_port;  // "" lists every mapping
};

int Port(AgentClient& client, const PortOptions& o) {
  std::optional<PortFilter> filter;
  if (!o.private_port.empty()) {
    absl::StatusOr<PortFilter> parsed = ParsePortFilter(o.private_port);
    if (!parsed.ok()) return ReportError(parsed.status());
    filter = *parsed;
  }
  v1::InspectRequest request;
  request.set_id(o.id);
  v1::InspectResponse response;
  grpc::ClientContext ctx;
  grpc::Status status = client.containers().Inspect(&ctx, request, &response);
  if (!status.ok()) return ReportRpcError(status, client);
  const std::vector<v1::PortMapping> ports =
      SelectPorts(response.container(), filter ? &*filter : nullptr);
  if (filter && ports.empty()) {
    return ReportError("no public port '" + std::to_string(filter->container_port) + "/" +
                       filter->protocol + "' published for " + o.id);
  }
  for (const v1::PortMapping& m : ports) std::cout << PortMappingLine(m) << "\n";
  return kExitOk;
}

}  // namespace

void AddPortCommand(CLI::App& app, CommandTable& table) {
  auto o = std::make_shared<PortOptions>();
  CLI::App* cmd = app.add_subcommand("port", "List a container's published ports");
  cmd->add_option("container", o->id, "Container id, id prefix or name")->required();
  cmd->add_option("private_port", o->private_port, "Only this container port: PORT[/tcp|/udp]");
  table.Add(cmd, [o](AgentClient& client) { return Port(client, *o); });
}

}  // namespace berth::cli
