// The client's end of an attached container: subscribes to its output (Attach), or creates,
// subscribes and starts it in one call (Run, so not a byte is lost), copies stdin and output
// with the terminal in raw mode for -it, proxies signals, ends on the exit code (returned) or
// the detach keys (the container runs on).
#include "cli/attach_session.h"

#include <atomic>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>

#include "cli/exit_codes.h"
#include "cli/human_format.h"
#include "cli/output.h"
#include "cli/session_call.h"
#include "cli/stream_input.h"
#include "cli/terminal.h"
#include "cli/terminal_session.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

// After this many SIGINTs that the container did not act on, the CLI stops proxying and exits
// (the container keeps running), so a PID 1 that ignores SIGINT cannot trap the user.
constexpr int kInterruptsBeforeGivingUp = 3;

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

}  // namespace

// Best effort: a container that could not start under --rm should not linger.
void RemoveQuietly(AgentClient& client, const std::string& id) {
  v1::RemoveRequest request;
  request.set_id(id);
  request.set_force(true);
  request.set_remove_volumes(true);  // run --rm takes its anonymous volumes along, as docker's does
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

namespace {

// The attached part of attach and run: the terminal, signals proxied, output shown, and the
// container's exit code. `agent_removes`: the agent removes an auto_remove container before it
// sends the exit code (Run).
template <typename Response>
int ServeSession(AgentClient& client, SessionCall<Response>& call, InputSink& input, const std::string& id,
                 const AttachSessionOptions& flags, bool agent_removes) {
  int interrupts = 0;
  TerminalSession::Options options;
  options.stdin = flags.stdin;
  options.tty = flags.tty;
  options.on_signal = [&client, &id, &interrupts](int signo) {
    return ProxySignal(client, id, signo, interrupts);
  };
  std::atomic<bool> detached{false};
  options.detach_keys = flags.detach_keys;
  options.on_detach = [&call, &detached] {
    detached = true;
    call.Cancel();  // ends the read below; the container runs on
  };
  absl::StatusOr<std::unique_ptr<TerminalSession>> session =
      TerminalSession::Begin(input, std::move(options));
  if (!session.ok()) {
    // The container runs; without our terminal set up we cannot serve it interactively.
    call.Abandon(/*cancel=*/true);
    return ReportError("container " + id + " started, but attaching failed: " +
                       std::string(session.status().message()));
  }

  bool got_exit_code = false;
  int exit_code = 0;
  int64_t dropped = 0;  // output the agent skipped while we were not reading fast enough
  Response response;
  // The exit code is the last message; the agent ends the call once we half-close.
  while (!got_exit_code && call.Read(&response)) {
    if (response.has_output()) {
      // A vanished reader (EPIPE) loses output but not the exit code; keep draining.
      const bool is_stderr = response.output().stream() == v1::STDERR;
      if (is_stderr ? flags.show_stderr : flags.show_stdout) {
        WriteAll(FdForStream(response.output().stream()), response.output().data());
      }
    } else if (response.msg_case() == Response::kDroppedBytes) {
      dropped += response.dropped_bytes();
    } else if (response.msg_case() == Response::kExitCode) {
      got_exit_code = true;
      exit_code = response.exit_code();
    }
  }
  (*session)->End();  // stdin pump joined: nothing writes to the stream any more
  grpc::Status status = call.Finish();
  session->reset();   // terminal restored before any message of ours is printed
  if (dropped > 0) {
    std::fprintf(stderr, "Warning: %lld bytes of the container's output were not shown (this client fell behind)%s\n",
                 static_cast<long long>(dropped),
                 flags.auto_remove ? "" : ("; `berth logs " + id + "` has all of it").c_str());
  }

  if (detached && !got_exit_code) {
    std::fprintf(stderr, "\nDetached from %s; it keeps running (berth attach %s)\n", id.substr(0, 12).c_str(),
                 id.substr(0, 12).c_str());
    return kExitOk;
  }
  // Run's start fails here, after the container was made: a missing command is 127.
  if (!got_exit_code && !status.ok()) return ReportStartError(status, client, call.ProcessStartFailed());
  if (!got_exit_code) exit_code = WaitForExitCode(client, id);
  // As docker: --rm returns once the container is gone, so a `ps -a` right after does not
  // list it. The agent's own auto-removal may be first; then this finds nothing.
  if (flags.auto_remove && !(agent_removes && got_exit_code)) RemoveQuietly(client, id);
  return exit_code;
}

}  // namespace

int AttachSession(AgentClient& client, const std::string& id, const AttachSessionOptions& flags) {
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReaderWriter<v1::AttachRequest, v1::AttachResponse>> stream =
      client.containers().Attach(&ctx);
  AttachWriter writer(*stream);
  AttachInput input(writer);

  v1::AttachRequest first;
  first.set_id(id);
  first.set_stdin(flags.stdin);
  if (flags.tty) {
    if (auto size = CurrentTerminalSize()) *first.mutable_resize() = *size;
  }
  if (!writer.Write(first)) {
    grpc::Status status = AbandonStream(ctx, writer, *stream, /*cancel=*/false);
    if (status.ok()) status = grpc::Status(grpc::StatusCode::INTERNAL, "attach ended early");
    return ReportRpcError(status, client);
  }
  GrpcSessionCall call(ctx, *stream, writer);
  return ServeSession(client, call, input, id, flags, /*agent_removes=*/false);
}

namespace {

// Run over gRPC's channel: stdin and resizes follow the first request.
std::optional<int> RunOverChannel(AgentClient& client, const v1::RunRequest& first, const AttachSessionOptions& flags,
                                  grpc::Status& status) {
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReaderWriter<v1::RunRequest, v1::RunResponse>> stream = client.containers().Run(&ctx);
  RunWriter writer(*stream);
  RunInput input(writer);
  GrpcSessionCall call(ctx, *stream, writer);
  v1::RunResponse response;
  if (writer.Write(first) && stream->Read(&response) && response.has_created()) {
    return ServeSession(client, call, input, response.created().id(), flags, /*agent_removes=*/true);
  }
  status = call.Abandon(/*cancel=*/false);
  return std::nullopt;
}

// Run without stdin or a terminal on the local socket: the first request is all there is to
// send. nullopt with an OK status: the agent could not be reached this way.
std::optional<int> RunOverUnixCall(AgentClient& client, const v1::RunRequest& first, const AttachSessionOptions& flags,
                                   grpc::Status& status) {
  absl::StatusOr<std::unique_ptr<UnixGrpcCall>> started =
      UnixGrpcCall::Start(client.endpoint().address.socket_path, "/berth.v1.Containers/Run", first);
  if (!started.ok()) return std::nullopt;
  UnixSessionCall<v1::RunResponse> call(client, **started);
  NoInput input;
  v1::RunResponse response;
  if (call.Read(&response) && response.has_created()) {
    return ServeSession(client, call, input, response.created().id(), flags, /*agent_removes=*/true);
  }
  status = call.Abandon(/*cancel=*/false);
  return std::nullopt;
}

}  // namespace

int RunSession(AgentClient& client, const v1::ContainerConfig& config, const AttachSessionOptions& flags,
               const RunRecovery& recover) {
  v1::RunRequest first;
  *first.mutable_config() = config;
  first.set_stdin(flags.stdin);
  if (flags.tty) {
    if (auto size = CurrentTerminalSize()) *first.mutable_resize() = *size;
  }
  bool unix_call = CanUseUnixCall(client, flags.stdin, flags.tty);
  for (int attempt = 0;; ++attempt) {
    grpc::Status status;
    std::optional<int> exit_code;
    if (unix_call) {
      exit_code = RunOverUnixCall(client, first, flags, status);
      // Not reached this way: gRPC's channel tries, and its errors say why it failed.
      if (!exit_code && status.ok()) unix_call = false;
    }
    if (!unix_call) exit_code = RunOverChannel(client, first, flags, status);
    if (exit_code) return *exit_code;
    // No container was made: the call's status says why.
    if (status.ok()) {
      status = grpc::Status(grpc::StatusCode::INTERNAL, "run: the agent ended the call before the container was made");
    }
    if (attempt == 0 && recover && recover(status)) continue;
    return ReportRpcError(status, client);
  }
}

absl::Status ApplyAttachStreams(const std::vector<std::string>& streams, AttachSessionOptions& options) {
  options.stdin = options.show_stdout = options.show_stderr = false;
  for (const std::string& s : streams) {
    std::string lower = s;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "stdin") {
      options.stdin = true;
    } else if (lower == "stdout") {
      options.show_stdout = true;
    } else if (lower == "stderr") {
      options.show_stderr = true;
    } else {
      return absl::InvalidArgumentError("-a " + Quote(s) + ": want stdin, stdout or stderr");
    }
  }
  return absl::OkStatus();
}

}  // namespace berth::cli
