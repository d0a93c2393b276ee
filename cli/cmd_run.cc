// `berth create` and `berth run`.
//
// run without -d: Create, then Attach *before* Start so not a byte of output is lost, then Start,
// then copy output until the agent's exit code, and exit with it.
#include <chrono>
#include <cstdio>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <memory>

#include <unistd.h>

#include "cli/commands.h"
#include "cli/container_flags.h"
#include "cli/exit_codes.h"
#include "cli/flag_definitions.h"
#include "cli/image_format.h"
#include "cli/image_pull.h"
#include "cli/output.h"
#include "cli/pull_progress.h"
#include "cli/stream_input.h"
#include "cli/terminal.h"
#include "cli/terminal_session.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

// After this many SIGINTs that the container did not act on, the CLI stops proxying and exits
// (the container keeps running), so a PID 1 that ignores SIGINT cannot trap the user.
constexpr int kInterruptsBeforeGivingUp = 3;

std::string CurrentDirectory() {
  std::error_code ec;
  std::filesystem::path cwd = std::filesystem::current_path(ec);
  return ec ? std::string() : cwd.string();
}

// Best effort: a container that could not start under --rm should not linger.
void RemoveQuietly(AgentClient& client, const std::string& id) {
  v1::RemoveRequest request;
  request.set_id(id);
  request.set_force(true);
  v1::RemoveResponse response;
  grpc::ClientContext ctx;
  client.containers().Remove(&ctx, request, &response);
}

// Starts the container; `process_failed` tells a command that could not be started.
grpc::Status StartContainer(AgentClient& client, const std::string& id, bool& process_failed) {
  v1::StartRequest request;
  request.set_id(id);
  v1::StartResponse response;
  grpc::ClientContext ctx;
  grpc::Status status = client.containers().Start(&ctx, request, &response);
  process_failed = !status.ok() && ProcessStartFailed(ctx);
  return status;
}

// For a stream that ended without an exit code: ask for it.
int WaitForExitCode(AgentClient& client, const std::string& id) {
  v1::WaitRequest request;
  request.set_id(id);
  v1::WaitResponse response;
  grpc::ClientContext ctx;
  grpc::Status status = client.containers().Wait(&ctx, request, &response);
  if (!status.ok()) return ReportRpcError(status, client);
  return response.exit_code();
}

// Forwards a signal the CLI received to the container (docker's --sig-proxy).
bool ProxySignal(AgentClient& client, const std::string& id, int signo, int& interrupts) {
  if (signo == SIGINT && ++interrupts >= kInterruptsBeforeGivingUp) return false;
  v1::KillRequest request;
  request.set_id(id);
  request.set_signal(signo);
  v1::KillResponse response;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  client.containers().Kill(&ctx, request, &response);
  return true;
}

int RunAttached(AgentClient& client, const ContainerFlags& flags, const std::string& id) {
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReaderWriter<v1::AttachRequest, v1::AttachResponse>> stream =
      client.containers().Attach(&ctx);
  AttachWriter writer(*stream);
  AttachInput input(writer);

  // Attach first, so the stream receives the container's output from its first byte.
  v1::AttachRequest first;
  first.set_id(id);
  first.set_stdin(flags.interactive);
  bool attached = writer.Write(first);
  if (attached && flags.tty) {
    if (auto size = CurrentTerminalSize()) attached = input.Resize(*size);
  }
  if (!attached) {
    // The stream broke before Start: its status says why; the container stays created.
    grpc::Status status = AbandonStream(ctx, writer, *stream, /*cancel=*/false);
    if (flags.auto_remove) RemoveQuietly(client, id);
    if (status.ok()) status = grpc::Status(grpc::StatusCode::INTERNAL, "attach ended early");
    return ReportRpcError(status, client);
  }
  // The agent sends initial metadata once this stream is subscribed to the container's output;
  // only then is it safe to start.
  stream->WaitForInitialMetadata();
  bool process_failed = false;
  if (grpc::Status status = StartContainer(client, id, process_failed); !status.ok()) {
    AbandonStream(ctx, writer, *stream, /*cancel=*/true);
    if (flags.auto_remove) RemoveQuietly(client, id);
    return ReportStartError(status, client, process_failed);
  }

  int interrupts = 0;
  TerminalSession::Options options;
  options.stdin = flags.interactive;
  options.tty = flags.tty;
  options.on_signal = [&client, &id, &interrupts](int signo) {
    return ProxySignal(client, id, signo, interrupts);
  };
  absl::StatusOr<std::unique_ptr<TerminalSession>> session =
      TerminalSession::Begin(input, std::move(options));
  if (!session.ok()) {
    // The container runs; without our terminal set up we cannot serve it interactively.
    AbandonStream(ctx, writer, *stream, /*cancel=*/true);
    return ReportError("container " + id + " started, but attaching failed: " +
                       std::string(session.status().message()));
  }

  bool got_exit_code = false;
  int exit_code = 0;
  int64_t dropped = 0;  // output the agent skipped while we were not reading fast enough
  v1::AttachResponse response;
  // The exit code is the last message; the agent ends the call once we half-close.
  while (!got_exit_code && stream->Read(&response)) {
    if (response.has_output()) {
      // A vanished reader (EPIPE) loses output but not the exit code; keep draining.
      WriteAll(FdForStream(response.output().stream()), response.output().data());
    } else if (response.msg_case() == v1::AttachResponse::kDroppedBytes) {
      dropped += response.dropped_bytes();
    } else if (response.msg_case() == v1::AttachResponse::kExitCode) {
      got_exit_code = true;
      exit_code = response.exit_code();
    }
  }
  (*session)->End();  // stdin pump joined: nothing writes to the stream any more
  writer.WritesDone();
  grpc::Status status = stream->Finish();
  session->reset();   // terminal restored before any message of ours is printed
  if (dropped > 0) {
    std::fprintf(stderr, "Warning: %lld bytes of the container's output were not shown (this client fell behind)%s\n",
                 static_cast<long long>(dropped),
                 flags.auto_remove ? "" : ("; `berth logs " + id + "` has all of it").c_str());
  }

  if (!got_exit_code && !status.ok()) return ReportRpcError(status, client);
  if (!got_exit_code) exit_code = WaitForExitCode(client, id);
  // As docker: --rm returns once the container is gone, so a `ps -a` right after does not
  // list it. The agent's own auto-removal may be first; then this finds nothing.
  if (flags.auto_remove) RemoveQuietly(client, id);
  return exit_code;
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
  absl::StatusOr<PullPolicy> policy = ParsePullPolicy(f.pull);
  if (!policy.ok()) return ReportError(policy.status());
  absl::StatusOr<v1::ContainerConfig> config =
      BuildContainerConfig(f, ProcessEnvLookup(), CurrentDirectory());
  if (!config.ok()) return ReportError(config.status());

  v1::CreateRequest request;
  *request.mutable_config() = *std::move(config);
  v1::CreateResponse response;
  if (*policy == PullPolicy::kAlways) {
    grpc::Status status = PullForContainer(client, f.image);
    if (!status.ok()) return ReportRpcError(status, client);
  }
  {
    grpc::Status status = Create(client, request, &response);
    if (!status.ok() && *policy == PullPolicy::kMissing &&
        IsImageNotFound(static_cast<absl::StatusCode>(status.error_code()), status.error_message())) {
      std::cerr << "Unable to find image '" << FamiliarReference(f.image) << "' locally" << std::endl;
      status = PullForContainer(client, f.image);
      if (status.ok()) status = Create(client, request, &response);
    }
    if (!status.ok()) return ReportRpcError(status, client);
  }
  const std::string id = response.container().id();
  if (!is_run) {
    std::cout << id << std::endl;
    return kExitOk;
  }
  if (f.detach) {
    bool process_failed = false;
    grpc::Status status = StartContainer(client, id, process_failed);
    if (!status.ok()) {
      if (f.auto_remove) RemoveQuietly(client, id);
      return ReportStartError(status, client, process_failed);
    }
    std::cout << id << std::endl;
    return kExitOk;
  }
  return RunAttached(client, f, id);
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
