// `berth system health`: the standard grpc.health.v1.Health/Check of the agent. Prints the
// serving status; exits 0 only for SERVING, 1 for any other answer, 125 when the agent cannot
// be asked (unreachable, no health service).
// `berth system df`: System.DiskUsage as a table (images, layers, containers).
#include <chrono>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/image_format.h"
#include "cli/table.h"

namespace berth::cli {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

constexpr int kExitNotServing = 1;

struct HealthOptions {
  std::string service;  // "" asks about the server as a whole
  int timeout_seconds = 5;
};

int Health(AgentClient& client, const HealthOptions& o) {
  HealthCheckRequest request;
  request.set_service(o.service);
  HealthCheckResponse response;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::seconds(o.timeout_seconds > 0 ? o.timeout_seconds : 1));
  grpc::Status status = client.health().Check(&ctx, request, &response);
  if (!status.ok()) return ReportRpcError(status, client);
  std::cout << HealthCheckResponse::ServingStatus_Name(response.status()) << std::endl;
  return response.status() == HealthCheckResponse::SERVING ? kExitOk : kExitNotServing;
}

int DiskUsage(AgentClient& client) {
  berth::v1::DiskUsageResponse response;
  grpc::ClientContext ctx;
  grpc::Status status = client.system().DiskUsage(&ctx, berth::v1::DiskUsageRequest(), &response);
  if (!status.ok()) return ReportRpcError(status, client);
  std::cout << FormatTable(DiskUsageRows(response));
  return kExitOk;
}

}  // namespace

void AddSystemCommands(CLI::App& app, CommandTable& table) {
  CLI::App* system = app.add_subcommand("system", "Manage the agent");
  system->require_subcommand(1);
  auto o = std::make_shared<HealthOptions>();
  CLI::App* health = system->add_subcommand(
      "health", "Ask the agent's gRPC health service: SERVING exits 0, anything else 1");
  health->add_option("--service", o->service, "Ask about one service (default: the server)");
  health->add_option("-t,--timeout", o->timeout_seconds, "Seconds to wait for the answer")
      ->capture_default_str();
  table.Add(health, [o](AgentClient& client) { return Health(client, *o); });
  CLI::App* df = system->add_subcommand("df", "Show the disk space of images, layers and containers");
  table.Add(df, [](AgentClient& client) { return DiskUsage(client); });
}

}  // namespace berth::cli
