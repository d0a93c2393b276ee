// `berth version`: this CLI's version, then the agent's (or why it could not be asked).
#include <iostream>

#include "cli/commands.h"
#include "cli/exit_codes.h"

#ifndef BERTH_VERSION
#define BERTH_VERSION "unknown"
#endif

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

// The API package this CLI was built against.
constexpr char kApiVersion[] = "berth.v1";

int Version(AgentClient& client) {
  std::cout << "Client:\n"
            << " Version:       " << BERTH_VERSION << "\n"
            << " API version:   " << kApiVersion << "\n";
  std::cout.flush();
  v1::VersionResponse response;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status status = client.system().Version(&ctx, v1::VersionRequest(), &response);
  if (!status.ok()) return ReportRpcError(status, client);
  std::cout << "\nServer:\n"
            << " Version:       " << response.version() << "\n"
            << " API version:   " << response.api_version() << "\n"
            << " Cgroup driver: " << response.cgroup_driver() << "\n"
            << " Kernel:        " << response.kernel() << "\n";
  return kExitOk;
}

}  // namespace

void AddVersionCommand(CLI::App& app, CommandTable& table) {
  CLI::App* cmd = app.add_subcommand("version", "Show the CLI's and the agent's versions");
  table.Add(cmd, [](AgentClient& client) { return Version(client); });
}

}  // namespace berth::cli
