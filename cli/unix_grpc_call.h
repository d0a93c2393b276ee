// One gRPC call to the local agent over its unix socket, without gRPC's C core: HTTP/2 framing,
// HPACK and flow control come from libnghttp2, the messages from Protobuf.
//
// Why: `berth run` and `berth exec` are timed as whole processes, and starting gRPC's core
// (its init, a channel with resolver and subchannel, its threads) was a third of the CLI's CPU
// (docs/performance.md). For the calls on that path that send one request and then only read
// (run and exec without stdin or a terminal), this is enough; everything else keeps gRPC.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <grpcpp/support/status.h>

#include "absl/status/statusor.h"
#include "google/protobuf/message_lite.h"

namespace berth::cli {

class UnixGrpcCall {
 public:
  // Connects to the socket at `socket_path` and sends `request` to `method`
  // ("/berth.v1.Containers/Run") as the call's one message, ending the client's side. An error
  // means no call was made (the agent is not there, say): the caller then goes through gRPC's
  // channel, whose errors say what to do.
  static absl::StatusOr<std::unique_ptr<UnixGrpcCall>> Start(const std::string& socket_path, std::string_view method,
                                                             const google::protobuf::MessageLite& request);
  ~UnixGrpcCall();
  UnixGrpcCall(const UnixGrpcCall&) = delete;
  UnixGrpcCall& operator=(const UnixGrpcCall&) = delete;

  // Waits for the next message of the response and parses it into `message`; false once the
  // call has ended (or broke, or the message did not parse): Finish says how.
  bool Read(google::protobuf::MessageLite* message);

  // Ends the call: when the agent has not ended it yet, it is cancelled. Returns the agent's
  // status (grpc-status, grpc-message), or why the call broke.
  grpc::Status Finish();

  // Unblocks a Read waiting in another thread; that Read returns false and Finish says
  // CANCELLED. Safe from any thread.
  void Cancel();

  // Whether the agent's trailers carry `key` (lower case).
  bool HasTrailer(std::string_view key) const;

  // Whether the agent answered at all (its response headers arrived).
  bool HeardFromAgent() const { return heard_from_agent_; }

 private:
  struct Session;
  UnixGrpcCall() = default;

  // Sends what the HTTP/2 session has queued, then reads and feeds what arrives, once.
  // False when the connection is gone.
  bool Pump();
  void OnHeader(std::string_view name, std::string_view value);
  void Fail(grpc::StatusCode code, std::string message);

  int fd_ = -1;
  std::unique_ptr<Session> session_;
  int32_t stream_id_ = -1;
  std::string request_frame_;  // the length-prefixed request, sent as the stream's DATA
  size_t request_sent_ = 0;
  std::string received_;       // DATA received; what is before parsed_ is already parsed
  size_t parsed_ = 0;           // kept instead of erasing each message, so a burst is not copied per message
  std::map<std::string, std::string, std::less<>> metadata_;  // headers and trailers but pseudo-headers
  std::string http_status_;
  bool heard_from_agent_ = false;
  bool stream_closed_ = false;
  uint32_t reset_code_ = 0;  // the stream's HTTP/2 error code when it was reset
  std::atomic<bool> cancelled_{false};
  bool failed_ = false;
  grpc::Status failure_;

  friend struct UnixGrpcCallCallbacks;
};

// "%41b%c3%a9" → "Ab\xc3\xa9": grpc-message is percent-encoded (gRPC's HTTP/2 protocol); a
// '%' not followed by two hex digits stays as it is.
std::string PercentDecode(std::string_view text);

}  // namespace berth::cli
