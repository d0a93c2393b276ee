// A client of Berth's CRI streaming server for the integration tests, speaking SPDY/3.1 (as
// client-go's executor and port-forwarder do) or WebSocket (channel.k8s.io), from inside the
// agent's test host network namespace (where the server's 127.0.0.1 is).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace berth::testing {

struct StreamOptions {
  bool websocket = false;
  bool tty = false;
  std::optional<std::string> stdin_data;  // sent, then stdin closed; none: no stdin stream
  bool stdout = true;
  bool stderr = true;
  std::optional<std::pair<int, int>> size;  // a terminal size (width, height) sent first
};

struct StreamResult {
  std::string stdout_data;
  std::string stderr_data;
  std::string status;  // the error channel: a metav1.Status JSON
};

// Runs an exec or attach URL to its end (the server closes its streams).
absl::StatusOr<StreamResult> RunStreamUrl(int netns_fd, const std::string& url, const StreamOptions& options);

// One forwarded connection over a port-forward URL: sends `payload`, half-closes, returns
// what came back until the pod's side closed, or the error stream's message as an error.
absl::StatusOr<std::string> ForwardOnce(int netns_fd, const std::string& url, uint16_t port, const std::string& payload,
                                        bool websocket = false);

// The HTTP status line the server answers a plain (not upgraded) request to `url` with, or
// an upgrade with the given header lines; for the refusals.
absl::StatusOr<std::string> StatusLineOf(int netns_fd, const std::string& url, const std::string& extra_headers);

}  // namespace berth::testing
