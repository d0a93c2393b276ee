// The sending half of the interactive streams (Attach, Run, Exec). Three parties write to one gRPC
// stream: the stdin pump, the SIGWINCH handler and the main thread; gRPC allows one writer at a
// time, so every write goes through a LockedStreamWriter, which also refuses writes after
// WritesDone or after the stream broke.
#pragma once

#include <mutex>
#include <string>

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/sync_stream.h>

#include "berth/v1/containers.grpc.pb.h"

namespace berth::cli {

// What the local side can send to a running process.
class InputSink {
 public:
  virtual ~InputSink() = default;
  // Each returns false once the stream no longer accepts messages.
  virtual bool SendStdin(std::string data) = 0;
  virtual bool CloseStdin() = 0;
  virtual bool Resize(const berth::v1::TerminalSize& size) = 0;
};

template <typename Request, typename Response>
class LockedStreamWriter {
 public:
  explicit LockedStreamWriter(grpc::ClientReaderWriter<Request, Response>& stream)
      : stream_(stream) {}

  bool Write(const Request& request) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    if (!stream_.Write(request)) closed_ = true;
    return !closed_;
  }

  // Half-closes the sending side once; later writes are refused.
  void WritesDone() {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    stream_.WritesDone();
  }

 private:
  std::mutex mu_;
  bool closed_ = false;
  grpc::ClientReaderWriter<Request, Response>& stream_;
};

// Ends a stream we give up on: cancels it (when asked), half-closes, drains what is left (Finish
// needs that) and returns its status. Without `cancel` the status is the agent's reason.
template <typename Request, typename Response>
grpc::Status AbandonStream(grpc::ClientContext& ctx, LockedStreamWriter<Request, Response>& writer,
                           grpc::ClientReaderWriter<Request, Response>& stream, bool cancel) {
  if (cancel) ctx.TryCancel();
  writer.WritesDone();
  Response ignored;
  while (stream.Read(&ignored)) {
  }
  return stream.Finish();
}

using AttachWriter = LockedStreamWriter<berth::v1::AttachRequest, berth::v1::AttachResponse>;
using ExecWriter = LockedStreamWriter<berth::v1::ExecRequest, berth::v1::ExecResponse>;

// Attach and Run take stdin, resizes and close_stdin in requests of the same shape.
template <typename Request, typename Response>
class AttachedInput : public InputSink {
 public:
  explicit AttachedInput(LockedStreamWriter<Request, Response>& writer) : writer_(writer) {}
  bool SendStdin(std::string data) override {
    Request request;
    request.set_stdin_data(std::move(data));
    return writer_.Write(request);
  }
  bool CloseStdin() override {
    Request request;
    request.set_close_stdin(true);
    return writer_.Write(request);
  }
  bool Resize(const berth::v1::TerminalSize& size) override {
    Request request;
    *request.mutable_resize() = size;
    return writer_.Write(request);
  }

 private:
  LockedStreamWriter<Request, Response>& writer_;
};

using AttachInput = AttachedInput<berth::v1::AttachRequest, berth::v1::AttachResponse>;
using RunWriter = LockedStreamWriter<berth::v1::RunRequest, berth::v1::RunResponse>;
using RunInput = AttachedInput<berth::v1::RunRequest, berth::v1::RunResponse>;

class ExecInput : public InputSink {
 public:
  explicit ExecInput(ExecWriter& writer) : writer_(writer) {}
  bool SendStdin(std::string data) override {
    berth::v1::ExecRequest request;
    request.set_stdin(std::move(data));
    return writer_.Write(request);
  }
  bool CloseStdin() override {
    berth::v1::ExecRequest request;
    request.set_close_stdin(true);
    return writer_.Write(request);
  }
  bool Resize(const berth::v1::TerminalSize& size) override {
    berth::v1::ExecRequest request;
    *request.mutable_resize() = size;
    return writer_.Write(request);
  }

 private:
  ExecWriter& writer_;
};

}  // namespace berth::cli
