// Health checks on real containers: the status moving starting -> unhealthy -> healthy as a
// probe's file comes and goes, the last five results, events on each change, a probe that
// outlives its timeout (ended, not left in the container), the start period, the image's
// HEALTHCHECK as the default (and --no-healthcheck), --health-on-failure kill and restart,
// probing that goes on after an agent restart; and the neighbours: Update of a restart
// policy and Rename.
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "berth/v1/events.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/image_support.h"
#include "tests/integration/support/oci_builder.h"

namespace berth::testing {
namespace {

v1::ContainerConfig Checked(const std::string& shell_test, int64_t interval_ms, int retries) {
  auto config = Busybox({"sleep", "1000"});
  config.set_network("none");
  v1::HealthCheck* check = config.mutable_health_check();
  check->add_test("CMD-SHELL");
  check->add_test(shell_test);
  check->set_interval_ms(interval_ms);
  check->set_retries(retries);
  return config;
}

std::string StatusOf(AgentHarness& agent, const std::string& id) {
  auto c = agent.Inspect(id);
  return c.ok() ? c->health().status() : std::string("<") + std::string(c.status().message()) + ">";
}

bool Becomes(AgentHarness& agent, const std::string& id, const std::string& status) {
  return Eventually([&] { return StatusOf(agent, id) == status; }, std::chrono::seconds(20));
}

std::vector<v1::Event> HealthEventsOf(AgentHarness& agent, const std::string& id) {
  auto stub = v1::Events::NewStub(agent.channel());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
  v1::SubscribeRequest req;
  req.set_since_sequence(0);
  req.mutable_filter()->add_ids(id);
  req.mutable_filter()->add_types("container.health_status");
  auto reader = stub->Subscribe(&ctx, req);
  std::vector<v1::Event> out;
  v1::Event e;
  while (reader->Read(&e)) out.push_back(e);
  return out;
}

class HealthCheckTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(agent_.Start()); }
  AgentHarness agent_;
};

TEST_F(HealthCheckTest, StatusFollowsTheProbeWithEventsAndTheLastFiveResults) {
  auto c = agent_.Run(Checked("echo probe-out; test -f /tmp/ok", 200, 2));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->health().status(), "starting");
  ASSERT_TRUE(Becomes(agent_, c->id(), "unhealthy")) << StatusOf(agent_, c->id());
  auto got = agent_.Inspect(c->id());
  ASSERT_TRUE(got.ok());
  EXPECT_GE(got->health().failing_streak(), 2);
  ASSERT_GE(got->health().log_size(), 2);
  EXPECT_EQ(got->health().log(0).exit_code(), 1);
  EXPECT_EQ(got->health().log(0).output(), "probe-out\n");
  EXPECT_TRUE(agent_.Cli({"ps"}).out.find("(unhealthy)") != std::string::npos);

  ASSERT_TRUE(agent_.Exec(c->id(), {"touch", "/tmp/ok"}).ok());
  ASSERT_TRUE(Becomes(agent_, c->id(), "healthy"));
  EXPECT_TRUE(absl::StrContains(agent_.Cli({"ps"}).out, "(healthy)"));
  // More probes than the log keeps: the last five, in order.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  got = agent_.Inspect(c->id());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->health().log_size(), 5);
  EXPECT_EQ(got->health().failing_streak(), 0);
  for (int i = 1; i < got->health().log_size(); ++i) {
    EXPECT_LE(got->health().log(i - 1).end().seconds() * 1'000'000'000LL + got->health().log(i - 1).end().nanos(),
              got->health().log(i).start().seconds() * 1'000'000'000LL + got->health().log(i).start().nanos());
  }
  EXPECT_EQ(got->health().log(4).exit_code(), 0);
  // One event per change, not per probe; probes are not exec events.
  std::vector<std::string> changes;
  for (const v1::Event& e : HealthEventsOf(agent_, c->id())) changes.push_back(e.health_status());
  EXPECT_EQ(changes, (std::vector<std::string>{"unhealthy", "healthy"}));
  auto stub = v1::Events::NewStub(agent_.channel());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
  v1::SubscribeRequest req;
  req.set_since_sequence(0);
  req.mutable_filter()->add_types("exec.start");
  auto reader = stub->Subscribe(&ctx, req);
  int execs = 0;
  v1::Event e;
  while (reader->Read(&e)) ++execs;
  EXPECT_EQ(execs, 1) << "only the test's own touch is an exec event";
}

TEST_F(HealthCheckTest, AProbePastItsTimeoutFailsAndIsEnded) {
  auto config = Checked("sleep 30", 300, 1);
  config.mutable_health_check()->set_timeout_ms(200);
  auto c = agent_.Run(config);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(Becomes(agent_, c->id(), "unhealthy"));
  auto got = agent_.Inspect(c->id());
  ASSERT_TRUE(got.ok());
  ASSERT_GE(got->health().log_size(), 1);
  EXPECT_EQ(got->health().log(0).exit_code(), -1);
  EXPECT_TRUE(absl::StrContains(got->health().log(0).output(), "exceeded timeout")) << got->health().log(0).output();
  // The probe's process was killed: only init (and at most the probe in flight) is left.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  CliResult top = agent_.Cli({"top", c->id()});
  int sleepers = 0;
  for (size_t p = top.out.find("sleep 30"); p != std::string::npos; p = top.out.find("sleep 30", p + 1)) ++sleepers;
  EXPECT_LE(sleepers, 1) << top.out;
}

TEST_F(HealthCheckTest, FailuresInTheStartPeriodDoNotCount) {
  auto config = Checked("false", 200, 1);
  config.mutable_health_check()->set_start_period_ms(60'000);
  auto c = agent_.Run(config);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(Eventually([&] {
    auto got = agent_.Inspect(c->id());
    return got.ok() && got->health().log_size() >= 3;
  }));
  auto got = agent_.Inspect(c->id());
  EXPECT_EQ(got->health().status(), "starting");
  EXPECT_EQ(got->health().failing_streak(), 0);
}

TEST_F(HealthCheckTest, OnFailureKillEndsItAndRestartStartsItAgain) {
  auto kill = Checked("false", 200, 1);
  kill.mutable_health_check()->set_on_failure("kill");
  auto killed = agent_.Run(kill);
  ASSERT_TRUE(killed.ok()) << killed.status();
  auto wait = agent_.Wait(killed->id(), 30);
  ASSERT_TRUE(wait.ok()) << wait.status();
  EXPECT_EQ(wait->exit_code(), 128 + SIGKILL);

  // No restart policy: the health action restarts it all the same (moby#28400).
  auto restart = Checked("test -f /tmp/ok", 200, 1);
  restart.mutable_health_check()->set_on_failure("restart");
  auto restarted = agent_.Run(restart);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  ASSERT_TRUE(Eventually([&] {
    auto got = agent_.Inspect(restarted->id());
    return got.ok() && got->restart_count() >= 1 && got->state() == v1::RUNNING;
  }, std::chrono::seconds(20)));
  // A caller's Stop is final.
  ASSERT_TRUE(agent_.Stop(restarted->id(), 1).ok());
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(agent_.Inspect(restarted->id())->state(), v1::EXITED);
}

TEST_F(HealthCheckTest, TheImageHealthcheckAndStopSignalAreTheDefaults) {
  absl::StatusOr<Image> busybox = ExportedBusybox(agent_);
  ASSERT_TRUE(busybox.ok()) << busybox.status();
  Image image = *busybox;
  image.config["config"]["Healthcheck"] = {{"Test", {"CMD", "test", "-f", "/etc/hostname"}},
                                           {"Interval", 200'000'000},
                                           {"Retries", 2}};
  image.config["config"]["StopSignal"] = "SIGUSR2";
  image.Seal();
  auto imported = ImportImages(agent_, LayoutTar({&image}, {"t/healthy:v1"}));
  ASSERT_TRUE(imported.ok()) << imported.status();

  auto c = agent_.Run(FromImage("t/healthy:v1", {"sleep", "1000"}));
  ASSERT_TRUE(c.ok()) << c.status();
  const v1::HealthCheck& check = c->config().health_check();
  EXPECT_EQ(std::vector<std::string>(check.test().begin(), check.test().end()),
            (std::vector<std::string>{"CMD", "test", "-f", "/etc/hostname"}));
  EXPECT_EQ(check.interval_ms(), 200);
  EXPECT_EQ(check.retries(), 2);
  EXPECT_EQ(c->config().stop_signal(), "SIGUSR2");
  ASSERT_TRUE(Becomes(agent_, c->id(), "healthy"));

  // The caller's fields win over the image's; NONE turns it off.
  auto override_config = FromImage("t/healthy:v1", {"sleep", "1000"});
  override_config.mutable_health_check()->set_retries(7);
  auto mixed = agent_.Create(override_config);
  ASSERT_TRUE(mixed.ok()) << mixed.status();
  EXPECT_EQ(mixed->config().health_check().retries(), 7);
  EXPECT_EQ(mixed->config().health_check().interval_ms(), 200);
  CliResult off = agent_.Cli({"run", "-d", "--no-healthcheck", "t/healthy:v1", "sleep", "1000"});
  ASSERT_EQ(off.exit_code, 0) << off.err;
  std::string id = off.out.substr(0, off.out.find('\n'));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  auto plain = agent_.Inspect(id);
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->config().has_health_check());
  EXPECT_EQ(plain->health().status(), "");
}

TEST_F(HealthCheckTest, CliFlagsAndBadChecks) {
  CliResult run = agent_.Cli({"run", "-d", "--network", "none", "--health-cmd", "exit 0", "--health-interval", "250ms",
                              "--health-retries", "2", "--health-start-period", "1s", "--health-timeout", "2s",
                              "--health-on-failure", "kill", "busybox", "sleep", "1000"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::string id = run.out.substr(0, run.out.find('\n'));
  auto c = agent_.Inspect(id);
  ASSERT_TRUE(c.ok());
  const v1::HealthCheck& check = c->config().health_check();
  EXPECT_EQ(check.test(0), "CMD-SHELL");
  EXPECT_EQ(check.test(1), "exit 0");
  EXPECT_EQ(check.interval_ms(), 250);
  EXPECT_EQ(check.timeout_ms(), 2000);
  EXPECT_EQ(check.start_period_ms(), 1000);
  EXPECT_EQ(check.retries(), 2);
  EXPECT_EQ(check.on_failure(), "kill");
  ASSERT_TRUE(Becomes(agent_, id, "healthy"));

  CliResult bad = agent_.Cli({"run", "-d", "--health-interval", "soon", "busybox", "true"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(bad.err, "--health-interval")) << bad.err;
  auto config = Busybox({"true"});
  config.mutable_health_check()->add_test("BOGUS");
  auto refused = agent_.Create(config);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "\"BOGUS\"")) << refused.status();
  config = Checked("true", 100, 1);
  config.mutable_health_check()->set_on_failure("explode");
  refused = agent_.Create(config);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(HealthCheckTest, ProbingGoesOnAfterTheAgentRestarts) {
  auto c = agent_.Run(Checked("test -f /tmp/ok", 200, 1));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(Becomes(agent_, c->id(), "unhealthy"));
  ASSERT_NO_FATAL_FAILURE(agent_.Restart());
  EXPECT_EQ(StatusOf(agent_, c->id()), "unhealthy") << "the status survives the restart";
  ASSERT_TRUE(agent_.Exec(c->id(), {"touch", "/tmp/ok"}).ok());
  ASSERT_TRUE(Becomes(agent_, c->id(), "healthy"));
}

TEST_F(HealthCheckTest, UpdateChangesTheRestartPolicy) {
  auto c = agent_.Run(Busybox({"sh", "-c", "sleep 1; exit 4"}));
  ASSERT_TRUE(c.ok()) << c.status();
  CliResult update = agent_.Cli({"update", "--restart", "on-failure:2", c->id()});
  ASSERT_EQ(update.exit_code, 0) << update.err;
  ASSERT_TRUE(Eventually([&] {
    auto got = agent_.Inspect(c->id());
    return got.ok() && got->restart_count() == 2 && got->state() == v1::EXITED;
  }, std::chrono::seconds(20)));
  EXPECT_EQ(agent_.Inspect(c->id())->config().restart_policy().name(), "on-failure");
  // An exited container takes a new policy too; limits need it running.
  CliResult again = agent_.Cli({"update", "--restart", "no", c->id()});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(agent_.Inspect(c->id())->config().restart_policy().name(), "no");
  CliResult limits = agent_.Cli({"update", "--memory", "64m", c->id()});
  EXPECT_NE(limits.exit_code, 0);
  CliResult bad = agent_.Cli({"update", "--restart", "sometimes", c->id()});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(bad.err, "sometimes")) << bad.err;
}

TEST_F(HealthCheckTest, RenameKeepsTheContainerAndFreesTheOldName) {
  auto config = Busybox({"sleep", "1000"});
  config.set_name("before");
  auto c = agent_.Run(config);
  ASSERT_TRUE(c.ok()) << c.status();
  CliResult renamed = agent_.Cli({"rename", "before", "after"});
  ASSERT_EQ(renamed.exit_code, 0) << renamed.err;
  auto got = agent_.Inspect("after");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->id(), c->id());
  EXPECT_EQ(got->name(), "after");
  EXPECT_EQ(got->state(), v1::RUNNING);
  EXPECT_EQ(agent_.Inspect("before").status().code(), absl::StatusCode::kNotFound);
  // The old name is free again; the new one is taken.
  auto reuse = agent_.Create(config);
  ASSERT_TRUE(reuse.ok()) << reuse.status();
  CliResult taken = agent_.Cli({"rename", "before", "after"});
  EXPECT_NE(taken.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(taken.err, "already in use")) << taken.err;
  CliResult invalid = agent_.Cli({"rename", "after", "no/slashes"});
  EXPECT_NE(invalid.exit_code, 0);
  // It survives an agent restart, and the container is still the one that runs.
  ASSERT_NO_FATAL_FAILURE(agent_.Restart());
  got = agent_.Inspect("after");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->id(), c->id());
  EXPECT_TRUE(agent_.Exec(c->id(), {"true"}).ok());
}

}  // namespace
}  // namespace berth::testing
