// The Prometheus scrape endpoint: GET /metrics over plain HTTP (libmicrohttpd, its own
// polling thread), on loopback by default. Anything else is 404; only GET and HEAD are served.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

struct MHD_Daemon;

namespace berth::agent {

// INVALID_ARGUMENT, naming the value, unless `address` is "IPV4:PORT" or "[IPV6]:PORT".
absl::Status CheckMetricsAddress(const std::string& address);

class MetricsServer {
 public:
  using Render = std::function<std::string()>;

  // Listens on `address` ("127.0.0.1:9338", "[::1]:9338"; port 0 picks one). The address is
  // checked here, so a bad one or one in use stops the agent with a message that says so.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& address, Render render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  int port() const { return port_; }
  // The page /metrics serves.
  std::string Scrape() const { return render_(); }

 private:
  explicit MetricsServer(Render render) : render_(std::move(render)) {}

  Render render_;
  MHD_Daemon* daemon_ = nullptr;
  int port_ = 0;
};

}  // namespace berth::agent
