// update: new limits for running containers, written to their cgroups at once (docker update).
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/units.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

struct UpdateFlags {
  std::vector<std::string> ids;
  std::string memory;  // "512m"; "0" removes the limit
  std::string cpus;    // "1.5"; "0" removes the limit
  std::optional<int64_t> cpu_shares;
  std::optional<int64_t> pids_limit;  // 0 or -1 removes the limit
};

// The request's limits from the flags; an error names the flag.
absl::StatusOr<v1::UpdateRequest> BuildRequest(const UpdateFlags& f) {
  v1::UpdateRequest request;
  if (!f.memory.empty()) {
    absl::StatusOr<int64_t> bytes = f.memory == "0" ? int64_t{0} : ParseMemoryBytes(f.memory);
    if (!bytes.ok()) return absl::InvalidArgumentError("--memory: " + std::string(bytes.status().message()));
    request.set_memory_limit_bytes(*bytes);
  }
  if (!f.cpus.empty()) {
    absl::StatusOr<int64_t> millis = f.cpus == "0" ? int64_t{0} : ParseCpuMillis(f.cpus);
    if (!millis.ok()) return absl::InvalidArgumentError("--cpus: " + std::string(millis.status().message()));
    request.set_cpu_millis(*millis);
  }
  if (f.cpu_shares) request.set_cpu_shares(*f.cpu_shares);
  if (f.pids_limit) {
    if (*f.pids_limit < -1) return absl::InvalidArgumentError("--pids-limit: must be -1 (no limit) or more");
    request.set_pids_limit(*f.pids_limit < 0 ? 0 : *f.pids_limit);
  }
  if (!request.has_memory_limit_bytes() && !request.has_cpu_millis() && !request.has_cpu_shares() &&
      !request.has_pids_limit()) {
    return absl::InvalidArgumentError("nothing to update: give --memory, --cpus, --cpu-shares or --pids-limit");
  }
  return request;
}

}  // namespace

void AddUpdateCommand(CLI::App& app, CommandTable& table) {
  auto flags = std::make_shared<UpdateFlags>();
  CLI::App* cmd = app.add_subcommand("update", "Change the limits of running containers");
  cmd->add_option("containers", flags->ids, "Container ids, id prefixes or names")->required();
  cmd->add_option("-m,--memory", flags->memory, "Memory limit (e.g. 512m, 1g; 0 removes it)");
  cmd->add_option("--cpus", flags->cpus, "Number of CPUs (e.g. 1.5; 0 removes the limit)");
  cmd->add_option("--cpu-shares", flags->cpu_shares, "CPU shares (relative weight, 2 to 262144)");
  cmd->add_option("--pids-limit", flags->pids_limit, "Maximum number of processes (-1 or 0: no limit)");
  table.Add(cmd, [flags](AgentClient& client) {
    absl::StatusOr<v1::UpdateRequest> request = BuildRequest(*flags);
    if (!request.ok()) return ReportError(request.status());
    int rc = kExitOk;
    for (const std::string& id : flags->ids) {  // each is tried, as docker does
      request->set_id(id);
      v1::UpdateResponse response;
      grpc::ClientContext ctx;
      grpc::Status status = client.containers().Update(&ctx, *request, &response);
      if (status.ok()) {
        std::cout << id << std::endl;
      } else {
        rc = ReportRpcError(status, client);
      }
    }
    return rc;
  });
}

}  // namespace berth::cli
