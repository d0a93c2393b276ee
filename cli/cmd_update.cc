// update: new limits for running containers, written to their cgroups at once, and new
// restart policies (docker update).
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/container_flags.h"
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
  std::string restart;                // a new restart policy
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
  if (!f.restart.empty()) {
    absl::StatusOr<v1::RestartPolicy> policy = ParseRestartPolicy(f.restart);
    if (!policy.ok()) return policy.status();
    *request.mutable_restart_policy() = *policy;
  }
  if (!request.has_memory_limit_bytes() && !request.has_cpu_millis() && !request.has_cpu_shares() &&
      !request.has_pids_limit() && !request.has_restart_policy()) {
    return absl::InvalidArgumentError(
        "nothing to update: give --memory, --cpus, --cpu-shares, --pids-limit or --restart");
  }
  return request;
}

}  // namespace

void AddUpdateCommand(CLI::App& app, CommandTable& table) {
  auto flags = std::make_shared<UpdateFlags>();
  CLI::App* cmd = app.add_subcommand("update", "Change the limits or restart policy of containers");
  cmd->add_option("containers", flags->ids, "Container ids, id prefixes or names")->required();
  cmd->add_option("-m,--memory", flags->memory, "Memory limit (e.g. 512m, 1g; 0 removes it)");
  cmd->add_option("--cpus", flags->cpus, "Number of CPUs (e.g. 1.5; 0 removes the limit)");
  cmd->add_option("--cpu-shares", flags->cpu_shares, "CPU shares (relative weight, 2 to 262144)");
  cmd->add_option("--pids-limit", flags->pids_limit, "Maximum number of processes (-1 or 0: no limit)");
  cmd->add_option("--restart", flags->restart, "Restart policy: no, on-failure[:N], always, unless-stopped");
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

void AddRenameCommand(CLI::App& app, CommandTable& table) {
  auto names = std::make_shared<std::pair<std::string, std::string>>();
  CLI::App* cmd = app.add_subcommand("rename", "Rename a container");
  cmd->add_option("container", names->first, "Container id, id prefix or name")->required();
  cmd->add_option("new-name", names->second, "Its new name")->required();
  table.Add(cmd, [names](AgentClient& client) {
    v1::RenameRequest request;
    request.set_id(names->first);
    request.set_new_name(names->second);
    v1::RenameResponse response;
    grpc::ClientContext ctx;
    grpc::Status status = client.containers().Rename(&ctx, request, &response);
    if (!status.ok()) return ReportRpcError(status, client);
    return kExitOk;
  });
}

}  // namespace berth::cli
