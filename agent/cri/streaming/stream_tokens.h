// The streaming server's URLs carry a token each: random, single use, and good for one
// minute, so an URL that leaks (logs, a proxy) is worth nothing later. Kubernetes' own
// streaming servers hold to the same rule.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/cri/streaming/remote_command.h"

namespace berth::agent::cri::streaming {

struct StreamRequest {
  enum class Kind { kExec, kAttach, kPortForward };
  Kind kind = Kind::kExec;
  CommandRequest command;      // exec and attach
  std::string sandbox_id;      // port forward
  std::vector<uint16_t> ports;  // port forward: the ports asked for (WebSocket clients use them)
};

class TokenCache {
 public:
  using Clock = std::function<absl::Time()>;
  explicit TokenCache(absl::Duration ttl = absl::Minutes(1), size_t capacity = 1000, Clock now = absl::Now)
      : ttl_(ttl), capacity_(capacity), now_(std::move(now)) {}

  // A fresh token for `request`. RESOURCE_EXHAUSTED when `capacity` unused tokens are live.
  absl::StatusOr<std::string> Insert(StreamRequest request);
  // The request behind `token`, once: the token is spent. Nullopt for an unknown, spent or
  // expired one.
  std::optional<StreamRequest> Take(const std::string& token);

 private:
  void DropExpiredLocked(absl::Time now);

  const absl::Duration ttl_;
  const size_t capacity_;
  const Clock now_;
  std::mutex mu_;
  struct Entry {
    StreamRequest request;
    absl::Time expires;
  };
  std::map<std::string, Entry> entries_;
};

}  // namespace berth::agent::cri::streaming
