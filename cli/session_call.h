// The call an attached session (run, attach, exec) reads its container's output from: a gRPC
// stream, or, for run and exec without stdin or a terminal on the local socket, a UnixGrpcCall
// (unix_grpc_call.h), which spares the CLI gRPC's start. The session code is the same for both.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "cli/agent_client.h"
#include "cli/stream_input.h"
#include "cli/unix_grpc_call.h"

namespace berth::cli {

template <typename Response>
class SessionCall {
 public:
  virtual ~SessionCall() = default;
  // The next response; false at the end of the call.
  virtual bool Read(Response* response) = 0;
  // From any thread: the Read in progress and later ones return false; the process lives on.
  virtual void Cancel() = 0;
  // After the last Read: ends our side and returns the call's status.
  virtual grpc::Status Finish() = 0;
  // Gives up early: cancels (when asked), drains what is left and returns the status; without
  // `cancel`, the status is the agent's reason for ending the call.
  virtual grpc::Status Abandon(bool cancel) = 0;
  // Whether the call failed because the container's process could not be started (the agent's
  // trailing metadata, containers.proto). After Finish or Abandon.
  virtual bool ProcessStartFailed() const = 0;
};

// A bidirectional gRPC stream; its writes go through `writer`, shared with the stdin pump.
template <typename Request, typename Response>
class GrpcSessionCall : public SessionCall<Response> {
 public:
  GrpcSessionCall(grpc::ClientContext& ctx, grpc::ClientReaderWriter<Request, Response>& stream,
                  LockedStreamWriter<Request, Response>& writer)
      : ctx_(ctx), stream_(stream), writer_(writer) {}

  bool Read(Response* response) override { return stream_.Read(response); }
  void Cancel() override { ctx_.TryCancel(); }
  grpc::Status Finish() override {
    writer_.WritesDone();
    return stream_.Finish();
  }
  grpc::Status Abandon(bool cancel) override { return AbandonStream(ctx_, writer_, stream_, cancel); }
  bool ProcessStartFailed() const override { return berth::cli::ProcessStartFailed(ctx_); }

 private:
  grpc::ClientContext& ctx_;
  grpc::ClientReaderWriter<Request, Response>& stream_;
  LockedStreamWriter<Request, Response>& writer_;
};

// A call whose one request was sent with the end of our side: nothing more to write.
template <typename Response>
class UnixSessionCall : public SessionCall<Response> {
 public:
  UnixSessionCall(AgentClient& client, UnixGrpcCall& call) : client_(client), call_(call) {}

  bool Read(Response* response) override { return Noted(call_.Read(response)); }
  void Cancel() override { call_.Cancel(); }
  grpc::Status Finish() override { return Noted(call_.Finish()); }
  grpc::Status Abandon(bool cancel) override {
    if (cancel) call_.Cancel();
    Response ignored;
    while (call_.Read(&ignored)) {
    }
    return Noted(call_.Finish());
  }
  bool ProcessStartFailed() const override { return call_.HasTrailer("berth-process-start-failed"); }

 private:
  // Errors are worded as the agent's own once it answered (RpcErrorMessage asks the client).
  template <typename T>
  T Noted(T result) {
    if (call_.HeardFromAgent()) client_.NoteAgentReached();
    return result;
  }

  AgentClient& client_;
  UnixGrpcCall& call_;
};

// Stdin, resizes and close_stdin for a call that takes none: each is refused.
class NoInput : public InputSink {
 public:
  bool SendStdin(std::string) override { return false; }
  bool CloseStdin() override { return false; }
  bool Resize(const berth::v1::TerminalSize&) override { return false; }
};

// Whether a session of this shape can go without gRPC's core: a local agent, and nothing to
// send after the first request.
inline bool CanUseUnixCall(const AgentClient& client, bool stdin, bool tty) {
  return !client.endpoint().address.is_tcp() && !stdin && !tty;
}

}  // namespace berth::cli
