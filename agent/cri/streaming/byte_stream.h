// One upgraded HTTP connection as a byte stream: what the HTTP server read past the request
// (its `extra_in`) comes first, then the socket. Writes are serialized so that frames from
// several threads never interleave.
#pragma once

#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace berth::agent::cri::streaming {

class ByteStream {
 public:
  // `fd` stays the caller's (the HTTP server closes it); it is made blocking here.
  ByteStream(int fd, std::string already_read);

  // Exactly `size` bytes into `out`; OUT_OF_RANGE at a clean end of stream before any byte.
  absl::Status ReadExact(char* out, size_t size);
  absl::Status Write(std::string_view bytes);
  // Ends both directions: a reader blocked in ReadExact returns.
  void Shutdown();

 private:
  int fd_;
  std::string pending_;
  size_t pending_pos_ = 0;
  std::mutex write_mu_;
};

}  // namespace berth::agent::cri::streaming
