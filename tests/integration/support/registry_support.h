// A real registry for the image tests: Debian's docker-registry (the distribution server),
// started by the test inside the harness's test host network namespace (where berthd runs:
// a registry on the machine's own 127.0.0.1 would be out of its reach), on 127.0.0.1 only,
// with temp storage and a generated config. Variants: htpasswd Basic auth, TLS with a
// self-signed certificate for IP:127.0.0.1. Images go in through the registry's upload API
// (libcurl, from a thread inside the namespace); nothing is pulled from or pushed to the
// internet, and no tool writes outside the test's temp dir.
//
// ThrottledProxy forwards TCP from a port of its own to the registry at a fixed rate, so a
// pull lasts long enough to kill the agent in the middle of it.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tests/integration/support/oci_builder.h"

namespace berth::testing {

struct RegistryConfig {
  bool tls = false;
  std::string user;      // with a password: htpasswd Basic auth
  std::string password;
};

class TestRegistry {
 public:
  // Starts docker-registry in the namespace `netns_fd` on 127.0.0.1:<a free port there>, its
  // files below `dir` (created). Check ok() / error() before use.
  TestRegistry(int netns_fd, std::string dir, RegistryConfig config = {});
  ~TestRegistry();  // SIGTERM, then SIGKILL, by pid; the files stay for the caller's temp dir
  TestRegistry(const TestRegistry&) = delete;
  TestRegistry& operator=(const TestRegistry&) = delete;

  bool ok() const { return pid_ > 0 && error_.empty(); }
  const std::string& error() const { return error_; }
  int port() const { return port_; }
  std::string host() const;  // "127.0.0.1:PORT", as a reference names it
  std::string url() const;   // "http://127.0.0.1:PORT" or https
  pid_t pid() const { return pid_; }
  // The file holding a blob's bytes in the registry's filesystem storage.
  std::string BlobDataPath(const std::string& digest) const;
  std::string Log() const;

  // Uploads one blob (monolithic POST + PUT).
  absl::Status PushBlob(const std::string& repo, const std::string& data);
  // PUTs a manifest or index under a tag (or its digest).
  absl::Status PushManifest(const std::string& repo, const std::string& reference, const std::string& media_type,
                            const std::string& body);
  // Config, layers, then the manifest under `tag`.
  absl::Status PushImage(const std::string& repo, const std::string& tag, const Image& image);
  // Each image, then the index of them under `tag`; returns the index's digest.
  absl::StatusOr<std::string> PushIndex(const std::string& repo, const std::string& tag,
                                        const std::vector<IndexEntry>& entries);

 private:
  absl::Status Send(const std::string& method, const std::string& url, const std::string& body,
                    std::vector<std::string> headers, long want_status, std::string* location);

  int netns_fd_;
  std::string dir_;
  RegistryConfig config_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::string error_;
};

// Forwards 127.0.0.1:port() to 127.0.0.1:`upstream_port` inside `netns_fd`, the answers at
// most `bytes_per_second`. Stops (and closes every connection) when destroyed.
class ThrottledProxy {
 public:
  ThrottledProxy(int netns_fd, int upstream_port, size_t bytes_per_second);
  ~ThrottledProxy();
  ThrottledProxy(const ThrottledProxy&) = delete;
  ThrottledProxy& operator=(const ThrottledProxy&) = delete;

  bool ok() const { return listen_fd_ >= 0; }
  int port() const { return port_; }
  std::string host() const;
  // Bytes of answers passed on so far, over every connection.
  uint64_t bytes_sent() const { return bytes_sent_.load(); }

 private:
  void AcceptLoop();
  void Pump(int client_fd);

  int netns_fd_;
  int upstream_port_;
  size_t bytes_per_second_;
  int listen_fd_ = -1;
  int port_ = 0;
  int stop_pipe_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> bytes_sent_{0};
  std::thread acceptor_;
  std::vector<std::thread> pumps_;
};

// A free TCP port on 127.0.0.1 inside `netns_fd` (0 on failure).
int FreePortIn(int netns_fd);
// Whether something accepts on 127.0.0.1:port inside `netns_fd`.
bool CanConnectIn(int netns_fd, int port);

}  // namespace berth::testing
