// `berth exec`: run another process in a running container over the Exec stream. The first
// request carries the ProcessSpec; the agent answers with the pid, then output, then the exit
// code, which becomes ours.
#include <iostream>
#include <memory>
#include <optional>

#include <unistd.h>

#include "cli/commands.h"
#include "cli/container_flags.h"
#include "cli/exit_codes.h"
#include "cli/flag_definitions.h"
#include "cli/output.h"
#include "cli/session_call.h"
#include "cli/stream_input.h"
#include "cli/terminal.h"
#include "cli/terminal_session.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

using ExecStream = grpc::ClientReaderWriter<v1::ExecRequest, v1::ExecResponse>;

// The process's output until its exit code, which is returned; `response` is the first one.
int ServeExec(AgentClient& client, const ExecFlags& flags, SessionCall<v1::ExecResponse>& call, InputSink& input,
              v1::ExecResponse& response) {
  TerminalSession::Options options;
  options.stdin = flags.interactive;
  options.tty = flags.tty;  // other signals: the CLI dies, the process lives on, as in docker
  absl::StatusOr<std::unique_ptr<TerminalSession>> session =
      TerminalSession::Begin(input, std::move(options));
  if (!session.ok()) {
    call.Abandon(/*cancel=*/true);
    return ReportError(session.status());
  }

  bool got_exit_code = false;
  int exit_code = 0;
  do {
    switch (response.msg_case()) {
      case v1::ExecResponse::kOutput:
        WriteAll(FdForStream(response.output().stream()), response.output().data());
        break;
      case v1::ExecResponse::kExitCode:
        got_exit_code = true;
        exit_code = response.exit_code();
        break;
      default:  // the pid, or a message newer than this CLI
        break;
    }
    // The exit code is the last message; the agent ends the call once we half-close.
  } while (!got_exit_code && call.Read(&response));
  (*session)->End();
  grpc::Status status = call.Finish();
  session->reset();

  if (got_exit_code) return exit_code;
  if (!status.ok()) return ReportRpcError(status, client);
  return ReportError("exec: the agent ended the stream without an exit code");
}

// The call's first answer (the pid) says the process exists; before it, the call's status says
// why it could not start.
int FailedBeforeStart(AgentClient& client, SessionCall<v1::ExecResponse>& call) {
  grpc::Status status = call.Abandon(/*cancel=*/false);
  if (status.ok()) status = grpc::Status(grpc::StatusCode::INTERNAL, "exec ended before it began");
  return ReportStartError(status, client, call.ProcessStartFailed());
}

// Without stdin, a terminal or -d on the local socket: nothing follows the first request.
// nullopt: the agent could not be reached this way.
std::optional<int> ExecOverUnixCall(AgentClient& client, const ExecFlags& flags, const v1::ExecRequest& first) {
  absl::StatusOr<std::unique_ptr<UnixGrpcCall>> started =
      UnixGrpcCall::Start(client.endpoint().address.socket_path, "/berth.v1.Containers/Exec", first);
  if (!started.ok()) return std::nullopt;
  UnixSessionCall<v1::ExecResponse> call(client, **started);
  NoInput input;
  v1::ExecResponse response;
  if (!call.Read(&response)) return FailedBeforeStart(client, call);
  return ServeExec(client, flags, call, input, response);
}

int Exec(AgentClient& client, const ExecFlags& flags) {
  if (flags.tty && flags.interactive && !flags.detach && !IsTerminal(STDIN_FILENO)) {
    return ReportError("the input device is not a TTY");
  }
  absl::StatusOr<v1::ProcessSpec> spec = BuildProcessSpec(flags, ProcessEnvLookup());
  if (!spec.ok()) return ReportError(spec.status());
  if (flags.tty) {
    if (auto size = CurrentTerminalSize()) *spec->mutable_terminal_size() = *size;
  }
  v1::ExecRequest first;
  first.set_id(flags.id);
  *first.mutable_start() = *std::move(spec);

  if (!flags.detach && CanUseUnixCall(client, flags.interactive, flags.tty)) {
    if (std::optional<int> exit_code = ExecOverUnixCall(client, flags, first)) return *exit_code;
  }

  grpc::ClientContext ctx;
  std::unique_ptr<ExecStream> stream = client.containers().Exec(&ctx);
  ExecWriter writer(*stream);
  ExecInput input(writer);
  GrpcSessionCall call(ctx, *stream, writer);
  writer.Write(first);  // a failure shows up as the stream's status below

  // Wait for the process to exist before touching the terminal.
  v1::ExecResponse response;
  if (!stream->Read(&response)) return FailedBeforeStart(client, call);
  if (flags.detach) {
    // The process runs; leave it to the container. (The agent keeps exec processes alive when
    // their stream goes away.)
    call.Abandon(/*cancel=*/true);
    return kExitOk;
  }
  return ServeExec(client, flags, call, input, response);
}

}  // namespace

void AddExecCommand(CLI::App& app, CommandTable& table) {
  auto flags = std::make_shared<ExecFlags>();
  CLI::App* cmd = app.add_subcommand("exec", "Run a command in a running container");
  DefineExecFlags(cmd, *flags);
  table.Add(cmd, [flags](AgentClient& client) { return Exec(client, *flags); });
}

}  // namespace berth::cli
