#include "agent/health_check.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "runtime/base/quote.h"

namespace berth::agent {
namespace {

using google::protobuf::util::TimeUtil;

constexpr absl::Duration kDefaultInterval = absl::Seconds(30);
constexpr absl::Duration kDefaultTimeout = absl::Seconds(30);
constexpr int kDefaultRetries = 3;
// Docker refuses shorter intervals and timeouts too: a probe every few microseconds is a
// fork bomb, not a health check.
constexpr int64_t kMinimumMs = 1;

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

absl::Status CheckTest(const google::protobuf::RepeatedPtrField<std::string>& test) {
  if (test.empty()) return absl::OkStatus();
  const std::string& kind = test[0];
  if (kind == "NONE") {
    if (test.size() != 1) return absl::InvalidArgumentError("health check test [\"NONE\"] takes no arguments");
    return absl::OkStatus();
  }
  if (kind == "CMD") {
    if (test.size() < 2 || test[1].empty()) {
      return absl::InvalidArgumentError("health check test [\"CMD\", ...] needs a program to run");
    }
    return absl::OkStatus();
  }
  if (kind == "CMD-SHELL") {
    if (test.size() != 2 || test[1].empty()) {
      return absl::InvalidArgumentError("health check test [\"CMD-SHELL\", command] takes one non-empty command");
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("health check test starts with ", Quoted(kind), "; it must be CMD, CMD-SHELL or NONE"));
}

absl::Status CheckDuration(const char* field, int64_t ms) {
  if (ms < 0) return absl::InvalidArgumentError(absl::StrCat("health check ", field, " must not be negative, got ", ms));
  if (ms > 0 && ms < kMinimumMs) {
    return absl::InvalidArgumentError(absl::StrCat("health check ", field, " must be at least 1 ms"));
  }
  return absl::OkStatus();
}

int64_t NsToMs(int64_t ns) { return ns <= 0 ? 0 : std::max<int64_t>(1, ns / 1'000'000); }

}  // namespace

absl::StatusOr<std::optional<v1::HealthCheck>> ResolveHealthCheck(const v1::HealthCheck& asked,
                                                                   const image::ImageHealthcheck& image) {
  if (absl::Status st = CheckTest(asked.test()); !st.ok()) return st;
  for (auto [field, ms] : {std::pair<const char*, int64_t>{"interval", asked.interval_ms()},
                           {"timeout", asked.timeout_ms()},
                           {"start period", asked.start_period_ms()}}) {
    if (absl::Status st = CheckDuration(field, ms); !st.ok()) return st;
  }
  if (asked.retries() < 0) {
    return absl::InvalidArgumentError(absl::StrCat("health check retries must not be negative, got ", asked.retries()));
  }
  const std::string& on_failure = asked.on_failure();
  if (on_failure != "" && on_failure != "none" && on_failure != "kill" && on_failure != "restart") {
    return absl::InvalidArgumentError(
        absl::StrCat("health on-failure action ", Quoted(on_failure), " is not one of none, kill, restart"));
  }
  v1::HealthCheck check = asked;
  if (check.test().empty()) {
    // The image's check is the image author's: a malformed one is a bad image, said as such.
    google::protobuf::RepeatedPtrField<std::string> image_test(image.test.begin(), image.test.end());
    if (absl::Status st = CheckTest(image_test); !st.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("the image's HEALTHCHECK: ", st.message()));
    }
    *check.mutable_test() = image_test;
  }
  if (check.test().empty() || check.test(0) == "NONE") return std::nullopt;
  if (check.interval_ms() == 0) check.set_interval_ms(NsToMs(image.interval_ns));
  if (check.timeout_ms() == 0) check.set_timeout_ms(NsToMs(image.timeout_ns));
  if (check.start_period_ms() == 0) check.set_start_period_ms(NsToMs(image.start_period_ns));
  if (check.retries() == 0 && image.retries > 0) check.set_retries(image.retries);
  return check;
}

HealthTiming TimingOf(const v1::HealthCheck& check) {
  HealthTiming t;
  t.interval = check.interval_ms() > 0 ? absl::Milliseconds(check.interval_ms()) : kDefaultInterval;
  t.timeout = check.timeout_ms() > 0 ? absl::Milliseconds(check.timeout_ms()) : kDefaultTimeout;
  t.retries = check.retries() > 0 ? check.retries() : kDefaultRetries;
  t.start_period = absl::Milliseconds(check.start_period_ms());
  return t;
}

std::vector<std::string> ProbeArgs(const v1::HealthCheck& check) {
  if (check.test_size() < 2) return {};
  if (check.test(0) == "CMD-SHELL") return {"/bin/sh", "-c", check.test(1)};
  return {check.test().begin() + 1, check.test().end()};
}

bool RecordProbe(const v1::HealthCheck& check, absl::Time container_started, const ProbeResult& result,
                 v1::Health* health) {
  const std::string before = health->status();
  if (health->status().empty()) health->set_status("starting");
  v1::HealthResult& entry = *health->add_log();
  *entry.mutable_start() = ToTimestamp(result.start);
  *entry.mutable_end() = ToTimestamp(result.end);
  entry.set_exit_code(result.exit_code);
  entry.set_output(result.output.substr(0, kHealthOutputMax));
  while (health->log_size() > kHealthLogEntries) health->mutable_log()->DeleteSubrange(0, 1);

  const HealthTiming timing = TimingOf(check);
  if (result.exit_code == 0) {
    health->set_failing_streak(0);
    health->set_status("healthy");
  } else {
    // Until its first success, a container in its start period is still starting up.
    const bool grace = health->status() == "starting" && result.start - container_started < timing.start_period;
    if (!grace) {
      health->set_failing_streak(health->failing_streak() + 1);
      if (health->failing_streak() >= timing.retries) health->set_status("unhealthy");
    }
  }
  return health->status() != before;
}

}  // namespace berth::agent
