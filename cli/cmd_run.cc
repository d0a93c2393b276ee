// `berth create` and `berth run`.
//
// run without -d: one Run call (attach_session.cc) creates the container, subscribes to its
// output and starts it, so not a byte is lost, and the CLI exits with the container's code.
// create, and run -d: Create, then Start.
#include <chrono>
#include <cstdio>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <memory>

#include <unistd.h>

#include "cli/attach_session.h"
#include "cli/commands.h"
#include "cli/container_flags.h"
#include "cli/exit_codes.h"
#include "cli/flag_definitions.h"
#include "cli/image_format.h"
#include "cli/image_pull.h"
#include "cli/output.h"
#include "cli/pull_progress.h"
#include "cli/detach_keys.h"
#include "cli/terminal.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

std::string CurrentDirectory() {
  std::error_code ec;
  std::filesystem::path cwd = std::filesystem::current_path(ec);
  return ec ? std::string() : cwd.string();
}

// Pulls for run/create; the progress goes to stderr so stdout keeps only the container's id
// or output (docker does the same).
grpc::Status PullForContainer(AgentClient& client, const std::string& image) {
  v1::Image pulled;
  return PullWithProgress(client, image, STDERR_FILENO, /*quiet=*/false, &pulled);
}

grpc::Status Create(AgentClient& client, const v1::CreateRequest& request, v1::CreateResponse* response) {
  grpc::ClientContext ctx;
  return client.containers().Create(&ctx, request, response);
}

int CreateOrRun(AgentClient& client, const ContainerFlags& f, bool is_run) {
  if (is_run && !f.detach && f.tty && f.interactive && !IsTerminal(STDIN_FILENO)) {
    return ReportError("the input device is not a TTY");
  }
  if (!f.detach_keys.empty()) {
    if (absl::StatusOr<std::string> keys = ParseDetachKeys(f.detach_keys); !keys.ok()) return ReportError(keys.status());
  }
  absl::StatusOr<PullPolicy> policy = ParsePullPolicy(f.pull);
  if (!policy.ok()) return ReportError(policy.status());
  absl::StatusOr<v1::ContainerConfig> config =
      BuildContainerConfig(f, ProcessEnvLookup(), CurrentDirectory());
  if (!config.ok()) return ReportError(config.status());

  if (is_run && f.detach && !f.attach.empty()) {
    return ReportError("conflicting options: -a and -d (attach or detach, not both)");
  }
  if (*policy == PullPolicy::kAlways) {
    grpc::Status status = PullForContainer(client, f.image);
    if (!status.ok()) return ReportRpcError(status, client);
  }
  // --pull missing: an image the agent does not have is pulled, and the create tried again.
  auto pull_if_missing = [&](grpc::Status& status) {
    if (*policy != PullPolicy::kMissing ||
        !IsImageNotFound(static_cast<absl::StatusCode>(status.error_code()), status.error_message())) {
      return false;
    }
    std::cerr << "Unable to find image '" << FamiliarReference(f.image) << "' locally" << std::endl;
    status = PullForContainer(client, f.image);
    return status.ok();
  };

  if (is_run && !f.detach) {
    AttachSessionOptions options;
    options.stdin = f.interactive;
    if (!f.attach.empty()) {
      absl::Status streams = ApplyAttachStreams(f.attach, options);
      if (!streams.ok()) return ReportError(streams);
      if (options.stdin && !f.interactive) {
        return ReportError("-a stdin needs -i: the container's stdin must be kept open");
      }
    }
    options.tty = f.tty;
    options.auto_remove = f.auto_remove;
    options.detach_keys = *ParseDetachKeys(f.detach_keys.empty() ? kDefaultDetachKeys : f.detach_keys);
    return RunSession(client, *config, options, pull_if_missing);
  }

  v1::CreateRequest request;
  *request.mutable_config() = *std::move(config);
  v1::CreateResponse response;
  {
    grpc::Status status = Create(client, request, &response);
    if (!status.ok() && pull_if_missing(status)) status = Create(client, request, &response);
    if (!status.ok()) return ReportRpcError(status, client);
  }
  const std::string id = response.container().id();
  if (!is_run) {
    std::cout << id << std::endl;
    return kExitOk;
  }
  bool process_failed = false;
  grpc::Status status = StartContainer(client, id, process_failed);
  if (!status.ok()) {
    if (f.auto_remove) RemoveQuietly(client, id);
    return ReportStartError(status, client, process_failed);
  }
  std::cout << id << std::endl;
  return kExitOk;
}

}  // namespace

void AddRunCommands(CLI::App& app, CommandTable& table) {
  auto create = std::make_shared<ContainerFlags>();
  CLI::App* create_cmd = app.add_subcommand("create", "Create a container (prints its id)");
  DefineContainerFlags(create_cmd, *create, /*is_run=*/false);
  table.Add(create_cmd, [create](AgentClient& c) { return CreateOrRun(c, *create, false); });

  auto run = std::make_shared<ContainerFlags>();
  CLI::App* run_cmd = app.add_subcommand("run", "Create and start a container");
  DefineContainerFlags(run_cmd, *run, /*is_run=*/true);
  table.Add(run_cmd, [run](AgentClient& c) { return CreateOrRun(c, *run, true); });
}

}  // namespace berth::cli
