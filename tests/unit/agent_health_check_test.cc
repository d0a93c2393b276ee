// The pure rules of health checks: merging a request over the image's HEALTHCHECK, the
// probe's argv, and Docker's status rules for a stream of results (retries, start period,
// the five-entry log); and HealthProber's loop with plain functions.
#include "agent/health_check.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "agent/health_prober.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::HealthCheck Shell(const std::string& command) {
  v1::HealthCheck check;
  check.add_test("CMD-SHELL");
  check.add_test(command);
  return check;
}

ProbeResult Result(absl::Time start, int exit_code) {
  return ProbeResult{start, start + absl::Milliseconds(5), exit_code, "out"};
}

TEST(ResolveHealthCheck, RequestFieldsWinOverTheImagesAndNoneTurnsItOff) {
  image::ImageHealthcheck image{{"CMD", "probe"}, 2'000'000'000, 3'000'000'000, 4'000'000'000, 5};
  auto inherited = ResolveHealthCheck(v1::HealthCheck(), image);
  ASSERT_TRUE(inherited.ok());
  ASSERT_TRUE(inherited->has_value());
  EXPECT_THAT((*inherited)->test(), ElementsAre("CMD", "probe"));
  EXPECT_EQ((*inherited)->interval_ms(), 2000);
  EXPECT_EQ((*inherited)->timeout_ms(), 3000);
  EXPECT_EQ((*inherited)->start_period_ms(), 4000);
  EXPECT_EQ((*inherited)->retries(), 5);

  v1::HealthCheck asked = Shell("true");
  asked.set_interval_ms(100);
  auto mixed = ResolveHealthCheck(asked, image);
  ASSERT_TRUE(mixed.ok() && mixed->has_value());
  EXPECT_THAT((*mixed)->test(), ElementsAre("CMD-SHELL", "true"));
  EXPECT_EQ((*mixed)->interval_ms(), 100);
  EXPECT_EQ((*mixed)->timeout_ms(), 3000);

  v1::HealthCheck none;
  none.add_test("NONE");
  auto off = ResolveHealthCheck(none, image);
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->has_value());
  auto nothing = ResolveHealthCheck(v1::HealthCheck(), image::ImageHealthcheck());
  ASSERT_TRUE(nothing.ok());
  EXPECT_FALSE(nothing->has_value());
}

TEST(ResolveHealthCheck, RefusesMalformedChecksByField) {
  auto refuse = [](const v1::HealthCheck& c, const std::string& needle) {
    auto r = ResolveHealthCheck(c, image::ImageHealthcheck());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(needle));
  };
  v1::HealthCheck c;
  c.add_test("RUN");
  refuse(c, "\"RUN\"");
  c.Clear();
  c.add_test("CMD");
  refuse(c, "needs a program");
  c = Shell("a");
  c.add_test("b");
  refuse(c, "one non-empty command");
  c = Shell("true");
  c.set_interval_ms(-1);
  refuse(c, "interval");
  c = Shell("true");
  c.set_retries(-2);
  refuse(c, "retries");
  c = Shell("true");
  c.set_on_failure("reboot");
  refuse(c, "\"reboot\"");
  image::ImageHealthcheck bad_image{{"CMD-SHELL"}, 0, 0, 0, 0};
  auto r = ResolveHealthCheck(v1::HealthCheck(), bad_image);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("the image's HEALTHCHECK"));
}

TEST(ProbeArgs, ShellAndDirect) {
  EXPECT_THAT(ProbeArgs(Shell("curl -f x || exit 1")), ElementsAre("/bin/sh", "-c", "curl -f x || exit 1"));
  v1::HealthCheck direct;
  for (const char* a : {"CMD", "/bin/check", "--quick"}) direct.add_test(a);
  EXPECT_THAT(ProbeArgs(direct), ElementsAre("/bin/check", "--quick"));
}

TEST(RecordProbe, RetriesFailuresMakeItUnhealthyAndOneSuccessHealthy) {
  v1::HealthCheck check = Shell("x");
  check.set_retries(3);
  const absl::Time started = absl::FromUnixSeconds(1000);
  v1::Health health;
  health.set_status("starting");
  absl::Time t = started + absl::Seconds(1);
  EXPECT_FALSE(RecordProbe(check, started, Result(t, 1), &health));
  EXPECT_FALSE(RecordProbe(check, started, Result(t + absl::Seconds(1), 2), &health));
  EXPECT_EQ(health.status(), "starting");
  EXPECT_TRUE(RecordProbe(check, started, Result(t + absl::Seconds(2), -1), &health));
  EXPECT_EQ(health.status(), "unhealthy");
  EXPECT_EQ(health.failing_streak(), 3);
  EXPECT_TRUE(RecordProbe(check, started, Result(t + absl::Seconds(3), 0), &health));
  EXPECT_EQ(health.status(), "healthy");
  EXPECT_EQ(health.failing_streak(), 0);
  EXPECT_FALSE(RecordProbe(check, started, Result(t + absl::Seconds(4), 0), &health));
  // Five kept, oldest dropped.
  for (int i = 0; i < 4; ++i) RecordProbe(check, started, Result(t + absl::Seconds(5 + i), 0), &health);
  ASSERT_EQ(health.log_size(), kHealthLogEntries);
  EXPECT_EQ(health.log(0).start().seconds(), 1000 + 1 + 4);
}

TEST(RecordProbe, TheStartPeriodForgivesFailuresUntilTheFirstSuccess) {
  v1::HealthCheck check = Shell("x");
  check.set_retries(1);
  check.set_start_period_ms(10'000);
  const absl::Time started = absl::FromUnixSeconds(1000);
  v1::Health health;
  health.set_status("starting");
  RecordProbe(check, started, Result(started + absl::Seconds(2), 1), &health);
  EXPECT_EQ(health.status(), "starting");
  EXPECT_EQ(health.failing_streak(), 0);
  RecordProbe(check, started, Result(started + absl::Seconds(3), 0), &health);
  EXPECT_EQ(health.status(), "healthy");
  // Healthy once: a failure counts even inside the start period.
  RecordProbe(check, started, Result(started + absl::Seconds(4), 1), &health);
  EXPECT_EQ(health.status(), "unhealthy");
  // And after the period, a starting container's failures count.
  v1::Health late;
  late.set_status("starting");
  RecordProbe(check, started, Result(started + absl::Seconds(11), 1), &late);
  EXPECT_EQ(late.status(), "unhealthy");
}

TEST(RecordProbe, OutputIsCapped) {
  v1::Health health;
  ProbeResult r = Result(absl::Now(), 0);
  r.output = std::string(10'000, 'x');
  RecordProbe(Shell("x"), absl::Now(), r, &health);
  EXPECT_EQ(health.log(0).output().size(), kHealthOutputMax);
}

TEST(HealthProber, ProbesEveryIntervalAndStopsPromptly) {
  std::atomic<int> probes{0}, reports{0};
  {
    HealthProber prober(
        absl::Milliseconds(20),
        [&](const std::function<bool()>&) -> std::optional<ProbeResult> {
          ++probes;
          if (probes % 2 == 0) return std::nullopt;  // not running this round: nothing reported
          return Result(absl::Now(), 0);
        },
        [&](const ProbeResult&) { ++reports; });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    prober.RequestStop();
    const int seen = probes.load();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_TRUE(prober.finished());
    EXPECT_LE(probes.load(), seen + 1);
  }
  EXPECT_GE(probes.load(), 4);
  EXPECT_GE(reports.load(), 2);
  EXPECT_LT(reports.load(), probes.load());
}

TEST(HealthProber, ALongProbeSeesTheStop) {
  std::atomic<bool> saw_stop{false};
  auto prober = std::make_unique<HealthProber>(
      absl::Milliseconds(1),
      [&](const std::function<bool()>& stopping) -> std::optional<ProbeResult> {
        while (!stopping()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        saw_stop = true;
        return std::nullopt;
      },
      [](const ProbeResult&) {});
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  prober.reset();  // joins: would hang if the probe never saw the stop
  EXPECT_TRUE(saw_stop.load());
}

}  // namespace
}  // namespace berth::agent
