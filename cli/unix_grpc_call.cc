#include "cli/unix_grpc_call.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <nghttp2/nghttp2.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace berth::cli {
namespace {

// The largest response message taken, as AgentClient's channel.
constexpr size_t kMaxMessageBytes = 256 << 20;
// The stream's and the connection's receive windows: output comes in without a WINDOW_UPDATE
// round trip for every 64 KiB (gRPC's own client grows its window the same way, by probing).
constexpr int32_t kReceiveWindow = 8 << 20;
// A gRPC message: a compressed flag byte, then its length, 4 bytes big-endian.
constexpr size_t kMessagePrefix = 5;

nghttp2_nv Header(std::string_view name, std::string_view value) {
  return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                    NGHTTP2_NV_FLAG_NONE};
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

struct UnixGrpcCall::Session {
  nghttp2_session* session = nullptr;
  ~Session() { nghttp2_session_del(session); }
};

// nghttp2's callbacks, with the call as their user data.
struct UnixGrpcCallCallbacks {
  static UnixGrpcCall& Call(void* user_data) { return *static_cast<UnixGrpcCall*>(user_data); }

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t name_length,
                      const uint8_t* value, size_t value_length, uint8_t, void* user_data) {
    UnixGrpcCall& call = Call(user_data);
    if (frame->hd.stream_id != call.stream_id_) return 0;
    call.OnHeader(std::string_view(reinterpret_cast<const char*>(name), name_length),
                  std::string_view(reinterpret_cast<const char*>(value), value_length));
    return 0;
  }

  static int OnData(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t length,
                    void* user_data) {
    UnixGrpcCall& call = Call(user_data);
    if (stream_id != call.stream_id_) return 0;
    call.received_.append(reinterpret_cast<const char*>(data), length);
    return 0;
  }

  static int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data) {
    UnixGrpcCall& call = Call(user_data);
    if (stream_id != call.stream_id_) return 0;
    call.stream_closed_ = true;
    call.reset_code_ = error_code;
    return 0;
  }

  // The request's one DATA: the length-prefixed message, then the end of our side.
  static ssize_t ReadRequest(nghttp2_session*, int32_t, uint8_t* buffer, size_t length, uint32_t* flags,
                             nghttp2_data_source*, void* user_data) {
    UnixGrpcCall& call = Call(user_data);
    const size_t left = call.request_frame_.size() - call.request_sent_;
    const size_t n = std::min(left, length);
    std::memcpy(buffer, call.request_frame_.data() + call.request_sent_, n);
    call.request_sent_ += n;
    if (call.request_sent_ == call.request_frame_.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }
};

std::string PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int high = HexDigit(text[i + 1]);
      const int low = HexDigit(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

absl::StatusOr<std::unique_ptr<UnixGrpcCall>> UnixGrpcCall::Start(const std::string& socket_path,
                                                                  std::string_view method,
                                                                  const google::protobuf::MessageLite& request) {
  std::unique_ptr<UnixGrpcCall> call(new UnixGrpcCall());
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError("socket path too long for a unix socket address");
  }
  std::memcpy(address.sun_path, socket_path.data(), socket_path.size());
  call->fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (call->fd_ < 0) return absl::UnavailableError(absl::StrCat("socket: ", std::strerror(errno)));
  if (::connect(call->fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    return absl::UnavailableError(absl::StrCat("connect: ", std::strerror(errno)));
  }

  std::string body;
  if (!request.SerializeToString(&body)) return absl::InternalError("the request did not serialise");
  call->request_frame_.reserve(kMessagePrefix + body.size());
  call->request_frame_.push_back('\0');
  const uint32_t length = static_cast<uint32_t>(body.size());
  for (int shift = 24; shift >= 0; shift -= 8) call->request_frame_.push_back(static_cast<char>(length >> shift));
  call->request_frame_ += body;

  nghttp2_session_callbacks* callbacks = nullptr;
  if (nghttp2_session_callbacks_new(&callbacks) != 0) return absl::ResourceExhaustedError("out of memory");
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &UnixGrpcCallCallbacks::OnHeader);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &UnixGrpcCallCallbacks::OnData);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &UnixGrpcCallCallbacks::OnStreamClose);
  call->session_ = std::make_unique<Session>();
  const int made = nghttp2_session_client_new(&call->session_->session, callbacks, call.get());
  nghttp2_session_callbacks_del(callbacks);
  if (made != 0) return absl::InternalError(absl::StrCat("http2 session: ", nghttp2_strerror(made)));

  nghttp2_session* session = call->session_->session;
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kReceiveWindow)},
  };
  nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  nghttp2_session_set_local_window_size(session, NGHTTP2_FLAG_NONE, 0, kReceiveWindow);

  const nghttp2_nv headers[] = {
      Header(":method", "POST"),
      Header(":scheme", "http"),
      Header(":path", method),
      Header(":authority", "localhost"),
      Header("content-type", "application/grpc"),
      Header("te", "trailers"),
      Header("user-agent", "berth-cli"),
  };
  nghttp2_data_provider data{};
  data.read_callback = &UnixGrpcCallCallbacks::ReadRequest;
  call->stream_id_ = nghttp2_submit_request(session, nullptr, headers, std::size(headers), &data, nullptr);
  if (call->stream_id_ < 0) {
    return absl::InternalError(absl::StrCat("http2 request: ", nghttp2_strerror(call->stream_id_)));
  }
  return call;
}

UnixGrpcCall::~UnixGrpcCall() {
  session_.reset();
  if (fd_ >= 0) ::close(fd_);
}

void UnixGrpcCall::OnHeader(std::string_view name, std::string_view value) {
  heard_from_agent_ = true;
  if (name == ":status") {
    http_status_ = std::string(value);
  } else if (!name.empty() && name[0] != ':') {
    metadata_[std::string(name)] = std::string(value);
  }
}

void UnixGrpcCall::Fail(grpc::StatusCode code, std::string message) {
  if (failed_) return;
  failed_ = true;
  failure_ = grpc::Status(code, std::move(message));
}

bool UnixGrpcCall::Pump() {
  if (cancelled_) {
    Fail(grpc::StatusCode::CANCELLED, "cancelled");
    return false;
  }
  nghttp2_session* session = session_->session;
  for (;;) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session, &data);
    if (n < 0) {
      Fail(grpc::StatusCode::INTERNAL, absl::StrCat("http2: ", nghttp2_strerror(static_cast<int>(n))));
      return false;
    }
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      const ssize_t w = ::send(fd_, data + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        Fail(grpc::StatusCode::UNAVAILABLE, absl::StrCat("the connection to the agent broke: ", std::strerror(errno)));
        return false;
      }
      off += w;
    }
  }
  if (stream_closed_) return true;
  uint8_t buffer[64 << 10];
  ssize_t r;
  do {
    r = ::recv(fd_, buffer, sizeof(buffer), 0);
  } while (r < 0 && errno == EINTR && !cancelled_);
  if (cancelled_) {
    Fail(grpc::StatusCode::CANCELLED, "cancelled");
    return false;
  }
  if (r <= 0) {
    Fail(grpc::StatusCode::UNAVAILABLE,
         r == 0 ? std::string("the agent closed the connection before the call ended")
                : absl::StrCat("the connection to the agent broke: ", std::strerror(errno)));
    return false;
  }
  const ssize_t fed = nghttp2_session_mem_recv(session, buffer, static_cast<size_t>(r));
  if (fed < 0) {
    Fail(grpc::StatusCode::INTERNAL, absl::StrCat("the agent's HTTP/2 could not be read: ",
                                                  nghttp2_strerror(static_cast<int>(fed))));
    return false;
  }
  return true;
}

bool UnixGrpcCall::Read(google::protobuf::MessageLite* message) {
  for (;;) {
    if (failed_) return false;
    const std::string_view unparsed = std::string_view(received_).substr(parsed_);
    if (unparsed.size() >= kMessagePrefix) {
      if (unparsed[0] != 0) {
        Fail(grpc::StatusCode::INTERNAL, "the agent sent a compressed message, which this client did not ask for");
        return false;
      }
      uint32_t length = 0;
      for (size_t i = 1; i < kMessagePrefix; ++i) length = (length << 8) | static_cast<uint8_t>(unparsed[i]);
      if (length > kMaxMessageBytes) {
        Fail(grpc::StatusCode::RESOURCE_EXHAUSTED, absl::StrCat("the agent sent a message of ", length,
                                                                " bytes, more than this client takes"));
        return false;
      }
      if (unparsed.size() >= kMessagePrefix + length) {
        const bool parsed = message->ParseFromArray(unparsed.data() + kMessagePrefix, static_cast<int>(length));
        parsed_ += kMessagePrefix + length;
        if (!parsed) {
          Fail(grpc::StatusCode::INTERNAL, "a message from the agent did not parse");
          return false;
        }
        return true;
      }
    }
    // Before reading more, drop what is parsed once it is most of the buffer: one move per
    // burst rather than one per message.
    if (parsed_ > 0 && parsed_ >= received_.size() / 2) {
      received_.erase(0, parsed_);
      parsed_ = 0;
    }
    if (stream_closed_) return false;
    if (!Pump()) return false;
  }
}

grpc::Status UnixGrpcCall::Finish() {
  if (!stream_closed_ && !failed_) {
    // Giving up on a call that is still open: tell the agent, as gRPC's cancel does.
    nghttp2_submit_rst_stream(session_->session, NGHTTP2_FLAG_NONE, stream_id_, NGHTTP2_CANCEL);
    const uint8_t* data = nullptr;
    for (ssize_t n; (n = nghttp2_session_mem_send(session_->session, &data)) > 0;) {
      if (::send(fd_, data, static_cast<size_t>(n), MSG_NOSIGNAL) != n) break;
    }
    Fail(grpc::StatusCode::CANCELLED, "the call was cancelled");
  }
  if (failed_) return failure_;
  if (auto it = metadata_.find("grpc-status"); it != metadata_.end()) {
    int code = 0;
    if (!absl::SimpleAtoi(it->second, &code) || code < 0 || code > 16) code = grpc::StatusCode::UNKNOWN;
    auto message = metadata_.find("grpc-message");
    return grpc::Status(static_cast<grpc::StatusCode>(code),
                        message == metadata_.end() ? std::string() : PercentDecode(message->second));
  }
  if (reset_code_ != 0) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        absl::StrCat("the agent reset the call (HTTP/2 ", nghttp2_http2_strerror(reset_code_), ")"));
  }
  if (http_status_ != "200") {
    return grpc::Status(grpc::StatusCode::UNKNOWN,
                        absl::StrCat("the agent answered HTTP status ", http_status_.empty() ? "(none)" : http_status_,
                                     " without a gRPC status"));
  }
  return grpc::Status(grpc::StatusCode::INTERNAL, "the call ended without a gRPC status");
}

void UnixGrpcCall::Cancel() {
  cancelled_ = true;
  ::shutdown(fd_, SHUT_RDWR);
}

bool UnixGrpcCall::HasTrailer(std::string_view key) const { return metadata_.find(key) != metadata_.end(); }

}  // namespace berth::cli
