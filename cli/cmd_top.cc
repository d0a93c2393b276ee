// top: the processes of a running container (docker top), pids as the node sees them.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/table.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

// [h:]mm:ss of CPU time, as ps prints TIME.
std::string CpuTime(int64_t ms) {
  int64_t s = ms / 1000;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%02lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return buf;
}

}  // namespace

void AddTopCommand(CLI::App& app, CommandTable& table) {
  auto id = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("top", "Show the processes of a running container");
  cmd->add_option("container", *id, "Container id, id prefix or name")->required();
  table.Add(cmd, [id](AgentClient& client) {
    v1::TopRequest request;
    request.set_id(*id);
    v1::TopResponse response;
    grpc::ClientContext ctx;
    grpc::Status status = client.containers().Top(&ctx, request, &response);
    if (!status.ok()) return ReportRpcError(status, client);
    std::vector<std::vector<std::string>> rows = {{"UID", "PID", "PPID", "STAT", "RSS", "TIME", "CMD"}};
    for (const v1::TopProcess& p : response.processes()) {
      rows.push_back({std::to_string(p.uid()), std::to_string(p.pid()), std::to_string(p.ppid()), p.state(),
                      std::to_string(p.rss_bytes() / 1024) + "K", CpuTime(p.cpu_time_ms()), p.command()});
    }
    std::cout << FormatTable(rows);
    return kExitOk;
  });
}

}  // namespace berth::cli
