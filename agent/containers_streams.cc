// The streaming calls of berth.v1.Containers (Run too: it is Create, Attach and Start in one).
// The handler thread reads the container's output and writes responses; when the process has
// an input (stdin or a terminal), a reader thread takes the client's requests (stdin, resize,
// close) and never writes to the stream.
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include "absl/time/clock.h"
#include "agent/logging.h"
#include "agent/containers_service.h"
#include "agent/exec_output.h"
#include "agent/grpc_status.h"
#include "agent/log_reader.h"
#include "runtime/base/file_util.h"
#include "runtime/shim/shim_protocol.h"

namespace berth::agent {

namespace {

using google::protobuf::util::TimeUtil;

void Resize(int fd, const v1::TerminalSize& size) {
  struct winsize ws = {};
  ws.ws_row = static_cast<unsigned short>(size.rows());
  ws.ws_col = static_cast<unsigned short>(size.cols());
  ::ioctl(fd, TIOCSWINSZ, &ws);
}

// Input side shared by Exec and Attach: stdin bytes, resizes, close. With a terminal,
// closing stdin sends EOT (^D) since the pty master must stay open for output.
struct InputSink {
  UniqueFd fd;
  bool tty = false;
  void Data(const std::string& bytes) {
    if (fd) WriteAll(fd.get(), bytes);
  }
  void Close() {
    if (!fd) return;
    if (tty) {
      WriteAll(fd.get(), std::string(1, '\x04'));
    } else {
      fd.Reset();
    }
  }
};

// Set by the reader thread when the client's side of the stream has ended.
class ReaderDone {
 public:
  void Set() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
  }
  bool WaitFor(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return done_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

// The client's side of a stream with an input (stdin or a terminal): its stdin bytes,
// resizes and close go to `input` on a thread of its own, which never writes to the stream.
// Without an input there is nothing for them to reach (the client's going away shows in the
// call's context), so no thread is made: one thread made and ended per call less, on a CPU the
// process has just started on.
class InputReader {
 public:
  // `stdin_of(request)` is the request's stdin bytes, or null when it has none.
  template <typename Response, typename Request, typename StdinOf>
  InputReader(grpc::ServerReaderWriter<Response, Request>* stream, InputSink& input, StdinOf stdin_of) {
    if (!input.fd) return;
    thread_ = std::thread([this, stream, &input, stdin_of] {
      Request req;
      while (stream->Read(&req)) {
        if (const std::string* bytes = stdin_of(req); bytes != nullptr) input.Data(*bytes);
        if (req.has_resize() && input.tty && input.fd) Resize(input.fd.get(), req.resize());
        if (req.has_close_stdin() && req.close_stdin()) input.Close();
      }
      if (!input.tty) input.fd.Reset();
      done_.Set();
    });
  }

  // Joins the thread; a client that never half-closes is cancelled after a grace period so
  // the handler can return. Wakes as soon as the reader ends (no polling: an exec that ends
  // before the reader thread ran must not pay a sleep).
  void Join(grpc::ServerContext* ctx) {
    if (!thread_.joinable()) return;
    if (!done_.WaitFor(std::chrono::seconds(1))) ctx->TryCancel();
    thread_.join();
  }

 private:
  ReaderDone done_;
  std::thread thread_;
};

// What the first request of Attach or Run carries besides the container: a terminal size,
// stdin bytes.
template <typename Request>
void ApplyFirstRequest(const AttachHandle& handle, const Request& first) {
  if (!handle.input) return;
  if (first.has_resize() && handle.tty) Resize(handle.input.get(), first.resize());
  if (first.has_stdin_data()) WriteAll(handle.input.get(), first.stdin_data());
}

}  // namespace

grpc::Status ContainersService::Exec(grpc::ServerContext* ctx,
                                     grpc::ServerReaderWriter<v1::ExecResponse, v1::ExecRequest>* stream) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  v1::ExecRequest first;
  if (!stream->Read(&first)) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "exec: no request received");
  gate_.SetTarget(ctx, first.id());
  if (!first.has_start()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "exec: the first message must carry start (the process)");
  }
  auto handle = manager_.Exec(first.id(), first.start());
  if (!handle.ok()) return ToGrpcStatus(handle.status(), ctx);

  // fds per shim_protocol.h: tty -> [master]; else [stdin writer if asked], stdout, stderr.
  InputSink input;
  input.tty = handle->tty;
  int out_fd = -1, err_fd = -1;
  auto& fds = handle->fds;
  if (handle->tty) {
    if (fds.size() < 1) return grpc::Status(grpc::StatusCode::INTERNAL, "exec: shim sent no terminal");
    out_fd = fds[0].get();
    input.fd.Reset(::fcntl(fds[0].get(), F_DUPFD_CLOEXEC, 0));
  } else {
    size_t base = handle->stdin ? 1 : 0;
    if (fds.size() < base + 2) return grpc::Status(grpc::StatusCode::INTERNAL, "exec: shim sent too few fds");
    if (handle->stdin) input.fd = std::move(fds[0]);
    out_fd = fds[base].get();
    err_fd = fds[base + 1].get();
  }
  if (handle->tty && first.start().has_terminal_size()) Resize(input.fd.get(), first.start().terminal_size());

  v1::ExecResponse started;
  started.set_pid(handle->pid);
  stream->Write(started);

  InputReader reader(stream, input, [](const v1::ExecRequest& req) {
    return req.has_stdin() ? &req.stdin() : static_cast<const std::string*>(nullptr);
  });

  std::optional<int> exit = PumpExecOutput(
      handle->connection.get(), out_fd, err_fd,
      [&](v1::Stream which, std::string_view data) {
        v1::ExecResponse resp;
        resp.mutable_output()->set_stream(which);
        resp.mutable_output()->set_data(data.data(), data.size());
        return stream->Write(resp);
      },
      [ctx] { return ctx->IsCancelled(); });
  const int exit_code = exit.value_or(-1);
  if (exit_code >= 0) {
    manager_.ExecExited(*handle, exit_code);
    v1::ExecResponse done;
    done.set_exit_code(exit_code);
    stream->Write(done);
  }
  reader.Join(ctx);
  if (exit_code < 0) {
    manager_.WatchExecExit(std::move(*handle));  // its exit event still comes
    return grpc::Status(grpc::StatusCode::CANCELLED, "exec: client went away");
  }
  return grpc::Status::OK;
}

grpc::Status ContainersService::Attach(grpc::ServerContext* ctx,
                                       grpc::ServerReaderWriter<v1::AttachResponse, v1::AttachRequest>* stream) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  v1::AttachRequest first;
  if (!stream->Read(&first)) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "attach: no request received");
  gate_.SetTarget(ctx, first.id());
  auto handle = manager_.Attach(first.id(), first.stdin());
  if (!handle.ok()) return ToGrpcStatus(handle.status());
  // Tells the client that output is now captured: a client that starts the container itself
  // (Attach, then Start) does so only then.
  stream->SendInitialMetadata();
  ApplyFirstRequest(*handle, first);
  return ServeAttached(ctx, stream, *std::move(handle), first.id(), /*remove_first=*/false);
}

grpc::Status ContainersService::Run(grpc::ServerContext* ctx,
                                    grpc::ServerReaderWriter<v1::RunResponse, v1::RunRequest>* stream) {
  constexpr absl::string_view kMethod = "/berth.v1.Containers/Run";
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  v1::RunRequest first;
  if (!stream->Read(&first)) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "run: no request received");
  gate_.SetTarget(ctx, first.config().name());
  if (absl::Status st = gate_.authz().CheckContainerConfig(*caller, first.config(), kMethod); !st.ok()) {
    return ToGrpcStatus(st);
  }
  auto created = manager_.Create(first.config());
  if (!created.ok()) return ToGrpcStatus(created.status());
  const std::string id = created->id();
  gate_.SetTarget(ctx, id);
  const bool auto_remove = first.config().auto_remove();
  // Before the start, a failed call takes its container along when it was made for --rm (the
  // client never got to see it otherwise); after the start, the container lives on its own.
  auto abandon = [&](const absl::Status& why, bool leave_created) {
    if (!leave_created || auto_remove) {
      if (absl::Status st = manager_.Remove(id, /*force=*/true, /*remove_volumes=*/true);
          !st.ok() && !absl::IsNotFound(st)) {
        spdlog::warn("run: remove id={} after a failed run error=\"{}\"", id, st.message());
      }
    }
    return ToGrpcStatus(why, ctx);
  };
  auto handle = manager_.Attach(id, first.stdin());
  if (!handle.ok()) return abandon(handle.status(), /*leave_created=*/false);
  if (ctx->IsCancelled()) {
    return abandon(absl::CancelledError("run: the client went away before the start"), /*leave_created=*/true);
  }
  ApplyFirstRequest(*handle, first);  // the terminal's size before the process starts
  // Started before the container is sent: the output is captured already (Attach), and the
  // sync stream's Write waits for the transport, which the start need not wait for. The
  // client still reads the container first: output is written after it, by this thread.
  absl::StatusOr<v1::Container> started = manager_.Start(id);
  v1::RunResponse made;
  *made.mutable_created() = *std::move(created);
  const bool sent = stream->Write(made);
  if (!started.ok()) return abandon(started.status(), /*leave_created=*/true);
  if (!sent) return grpc::Status(grpc::StatusCode::CANCELLED, "run: the client went away after the start");
  return ServeAttached(ctx, stream, *std::move(handle), id, /*remove_first=*/auto_remove);
}

template <typename Response, typename Request>
grpc::Status ContainersService::ServeAttached(grpc::ServerContext* ctx,
                                              grpc::ServerReaderWriter<Response, Request>* stream,
                                              AttachHandle handle, const std::string& id, bool remove_first) {
  InputSink input;
  input.tty = handle.tty;
  input.fd = std::move(handle.input);

  InputReader reader(stream, input, [](const Request& req) {
    return req.has_stdin_data() ? &req.stdin_data() : static_cast<const std::string*>(nullptr);
  });

  int exit_code = -1;
  while (!ctx->IsCancelled()) {
    struct pollfd p = {handle.connection.get(), POLLIN, 0};
    int n = ::poll(&p, 1, 200);
    if (n <= 0) continue;
    auto msg = shim::ReceiveMessage(handle.connection.get());
    if (!msg.ok()) break;  // the shim went away without an exit message
    if (msg->type == shim::MsgType::kExit) {
      auto report = shim::Decode<shim::ExitReport>(msg->payload);
      exit_code = report.ok() ? report->exit_code : 255;
      break;
    }
    if (msg->type == shim::MsgType::kDropped) {
      auto report = shim::Decode<shim::Dropped>(msg->payload);
      Response dropped;
      dropped.set_dropped_bytes(report.ok() ? static_cast<int64_t>(report->bytes) : 0);
      metrics_.AddAttachDroppedBytes(dropped.dropped_bytes());
      if (!stream->Write(dropped)) break;
      continue;
    }
    if (msg->type != shim::MsgType::kStdout && msg->type != shim::MsgType::kStderr) continue;
    Response resp;
    resp.mutable_output()->set_stream(msg->type == shim::MsgType::kStdout ? v1::STDOUT : v1::STDERR);
    resp.mutable_output()->set_data(std::move(msg->payload));
    if (!stream->Write(resp)) break;
  }
  if (exit_code < 0 && !ctx->IsCancelled()) {
    // Connection lost without kExit: the recorded exit (if any) is the best answer.
    auto c = manager_.Wait(id, [ctx] { return ctx->IsCancelled(); });
    if (c.ok()) exit_code = c->exit_code();
  }
  if (exit_code >= 0) {
    if (remove_first) {
      // As `docker run --rm`: the caller hears the exit once the container is gone, so a list
      // right after it does not show it. The exit is recorded first (else Remove would kill a
      // process that is gone, through the shim); the auto-removal may be there first: NOT_FOUND.
      (void)manager_.Wait(id, [ctx] { return ctx->IsCancelled(); });
      if (absl::Status st = manager_.Remove(id, /*force=*/true, /*remove_volumes=*/true);
          !st.ok() && !absl::IsNotFound(st)) {
        spdlog::warn("run: remove id={} after its exit error=\"{}\"", id, st.message());
      }
    }
    Response done;
    done.set_exit_code(exit_code);
    stream->Write(done);
  }
  reader.Join(ctx);
  if (exit_code < 0) return grpc::Status(grpc::StatusCode::CANCELLED, "attach: client went away");
  return grpc::Status::OK;
}

grpc::Status ContainersService::Logs(grpc::ServerContext* ctx, const v1::LogsRequest* req,
                                     grpc::ServerWriter<v1::LogsResponse>* writer) {
  auto caller = gate_.Admit(ctx);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  gate_.SetTarget(ctx, req->id());
  auto container = manager_.Inspect(req->id());
  if (!container.ok()) return ToGrpcStatus(container.status());
  auto path = manager_.LogPath(container->id());
  if (!path.ok()) return ToGrpcStatus(path.status());
  LogQuery query;
  query.tail = req->tail();
  query.follow = req->follow();
  if (req->has_since()) query.since_ns = TimeUtil::TimestampToNanoseconds(req->since());
  if (req->has_until()) query.until_ns = std::max<int64_t>(1, TimeUtil::TimestampToNanoseconds(req->until()));
  const std::string id = container->id();
  absl::Status st = ReadLogs(
      *path, query,
      [&](const crilog::Entry& e) {
        v1::LogsResponse resp;
        auto* chunk = resp.mutable_chunk();
        chunk->set_stream(e.stream == crilog::Stream::kStdout ? v1::STDOUT : v1::STDERR);
        chunk->set_data(e.partial ? e.text : e.text + "\n");
        *chunk->mutable_time() = TimeUtil::NanosecondsToTimestamp(e.time_ns);
        return writer->Write(resp);
      },
      [&] { return ctx->IsCancelled() || manager_.HasExited(id); });
  return ToGrpcStatus(st);
}

}  // namespace berth::agent
