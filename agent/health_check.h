// Health checks, the pure part: a container's check from its request and its image's
// HEALTHCHECK, the argv a probe runs, and how one probe's result moves the health status
// (Docker's rules). Running probes is the manager's (container_health.cc).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/image/manifest.h"
#include "berth/v1/containers.pb.h"

namespace berth::agent {

inline constexpr int kHealthLogEntries = 5;
inline constexpr size_t kHealthOutputMax = 4096;

// The check a container gets: the request's fields over the image's (Docker's merge: a
// request's empty test takes the image's; its zero durations and retries take the image's).
// No check at all (neither has one, or the test is ["NONE"]): nullopt. A malformed check is
// INVALID_ARGUMENT naming the field.
absl::StatusOr<std::optional<v1::HealthCheck>> ResolveHealthCheck(const v1::HealthCheck& asked,
                                                                   const image::ImageHealthcheck& image);

// A resolved check's effective values (zero fields take the defaults: 30 s, 30 s, 3, none).
struct HealthTiming {
  absl::Duration interval;
  absl::Duration timeout;
  int retries = 0;
  absl::Duration start_period;
};
HealthTiming TimingOf(const v1::HealthCheck& check);

// What a probe runs: CMD's arguments, or /bin/sh -c for CMD-SHELL.
std::vector<std::string> ProbeArgs(const v1::HealthCheck& check);

struct ProbeResult {
  absl::Time start;
  absl::Time end;
  int exit_code = -1;
  std::string output;
};

// Adds `result` to `health` (keeping the last kHealthLogEntries) and applies Docker's rules:
// exit 0 resets the streak and makes it healthy; a failure counts unless the container is
// still starting within its start period, and `retries` of them make it unhealthy.
// Returns whether the status changed.
bool RecordProbe(const v1::HealthCheck& check, absl::Time container_started, const ProbeResult& result,
                 v1::Health* health);

}  // namespace berth::agent
