// Resource limits of real containers: the values the agent writes into the container's
// cgroup (v1 files on hybrid hosts, v2 files otherwise) and what the limits do to the
// processes: a fork bomb stops at pids.max, a memory hog is OOM-killed and reported so.
#include <signal.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/agent_harness.h"

namespace berth::testing {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;

class Limits : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(agent_.Start());
    driver_ = agent_.CgroupDriverName();
    ASSERT_THAT(driver_, AnyOf("v1", "v2"));
  }

  bool v1() const { return driver_ == "v1"; }

  // Starts `sleep 1000` with `resources`; returns the container id.
  std::string RunSleeper(const v1::Resources& resources) {
    auto config = Busybox({"sleep", "1000"});
    *config.mutable_resources() = resources;
    auto c = agent_.Run(config);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? c->id() : "";
  }

  // A cgroup file of a container, trimmed.
  std::string CgroupFile(const std::string& id, const std::string& controller, const std::string& file) {
    std::string dir = agent_.CgroupDir(id, controller);
    EXPECT_FALSE(dir.empty()) << "no " << controller << " cgroup for " << id;
    return std::string(absl::StripAsciiWhitespace(ReadText(dir + "/" + file)));
  }

  AgentHarness agent_;
  std::string driver_;
};

TEST_F(Limits, MemoryLimitIsWrittenToTheCgroup) {
  v1::Resources r;
  r.set_memory_limit_bytes(64 << 20);
  std::string id = RunSleeper(r);
  ASSERT_FALSE(id.empty());
  if (v1()) {
    EXPECT_EQ(CgroupFile(id, "memory", "memory.limit_in_bytes"), "67108864");
    // Where swap is accounted, memory+swap is capped at the same value: no swap beyond it.
    std::string memsw = CgroupFile(id, "memory", "memory.memsw.limit_in_bytes");
    if (!memsw.empty()) {
      EXPECT_EQ(memsw, "67108864");
    }
  } else {
    EXPECT_EQ(CgroupFile(id, "memory", "memory.max"), "67108864");
  }
  auto c = agent_.Inspect(id);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->resources().memory_limit_bytes(), 64 << 20);
}

// berth update: new limits reach the running container's cgroup at once, the record keeps
// them, unset fields keep theirs, 0 removes one; a paused container can be updated, an exited
// one cannot; bad values are refused before anything changes.
TEST_F(Limits, UpdateChangesTheLiveCgroup) {
  v1::Resources r;
  r.set_memory_limit_bytes(64 << 20);
  r.set_pids_limit(50);
  std::string id = RunSleeper(r);
  ASSERT_FALSE(id.empty());
  CliResult updated = agent_.Cli({"update", "--memory", "96m", "--cpus", "0.5", "--pids-limit", "20", id});
  ASSERT_EQ(updated.exit_code, 0) << updated.err;
  EXPECT_EQ(updated.out, id + "\n");
  if (v1()) {
    EXPECT_EQ(CgroupFile(id, "memory", "memory.limit_in_bytes"), "100663296");
    EXPECT_EQ(CgroupFile(id, "cpu", "cpu.cfs_quota_us"), "50000");
  } else {
    EXPECT_EQ(CgroupFile(id, "memory", "memory.max"), "100663296");
    EXPECT_EQ(CgroupFile(id, "cpu", "cpu.max"), "50000 100000");
  }
  EXPECT_EQ(CgroupFile(id, "pids", "pids.max"), "20");
  auto c = agent_.Inspect(id);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->resources().memory_limit_bytes(), 96 << 20);
  EXPECT_EQ(c->resources().cpu_millis(), 500);
  EXPECT_EQ(c->resources().pids_limit(), 20);

  // Only what is given changes; 0 removes a limit; a paused container takes it too.
  ASSERT_TRUE(agent_.Pause(id).ok());
  CliResult unlimited = agent_.Cli({"update", "--pids-limit", "-1", id});
  ASSERT_EQ(unlimited.exit_code, 0) << unlimited.err;
  EXPECT_EQ(CgroupFile(id, "pids", "pids.max"), "max");
  EXPECT_EQ(CgroupFile(id, "memory", v1() ? "memory.limit_in_bytes" : "memory.max"), "100663296");
  ASSERT_TRUE(agent_.Resume(id).ok());
  // The container still runs, and still sees its devices (the device rules were left alone).
  auto probe = agent_.Exec(id, {"sh", "-c", "echo ok > /dev/null && echo fine"});
  ASSERT_TRUE(probe.ok()) << probe.status();
  EXPECT_EQ(probe->out, "fine\n");

  CliResult nothing = agent_.Cli({"update", id});
  EXPECT_EQ(nothing.exit_code, 125);
  EXPECT_THAT(nothing.err, HasSubstr("nothing to update"));
  CliResult bad = agent_.Cli({"update", "--cpu-shares", "1", id});
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_THAT(bad.err, HasSubstr("cpu_shares"));
  EXPECT_EQ(CgroupFile(id, "pids", "pids.max"), "max");

  ASSERT_TRUE(agent_.Stop(id, 0).ok());
  CliResult exited = agent_.Cli({"update", "--memory", "128m", id});
  EXPECT_EQ(exited.exit_code, 125);
  EXPECT_THAT(exited.err, HasSubstr("exited"));
}

TEST_F(Limits, UnlimitedByDefault) {
  std::string id = RunSleeper(v1::Resources{});
  ASSERT_FALSE(id.empty());
  if (v1()) {
    EXPECT_EQ(CgroupFile(id, "cpu", "cpu.cfs_quota_us"), "-1");
    EXPECT_EQ(CgroupFile(id, "pids", "pids.max"), "max");
  } else {
    EXPECT_EQ(CgroupFile(id, "cpu", "cpu.max"), "max 100000");
    EXPECT_EQ(CgroupFile(id, "pids", "pids.max"), "max");
  }
}

TEST_F(Limits, CpuMillisBecomeQuotaOverPeriod) {
  v1::Resources r;
  r.set_cpu_millis(500);
  std::string id = RunSleeper(r);
  ASSERT_FALSE(id.empty());
  if (v1()) {
    EXPECT_EQ(CgroupFile(id, "cpu", "cpu.cfs_quota_us"), "50000");
    EXPECT_EQ(CgroupFile(id, "cpu", "cpu.cfs_period_us"), "100000");
  } else {
    EXPECT_EQ(CgroupFile(id, "cpu", "cpu.max"), "50000 100000");
  }
}

TEST_F(Limits, CpuSharesAreWritten) {
  v1::Resources r;
  r.set_cpu_shares(512);
  std::string id = RunSleeper(r);
  ASSERT_FALSE(id.empty());
  if (v1()) {
    EXPECT_EQ(CgroupFile(id, "cpu", "cpu.shares"), "512");
  } else {
    EXPECT_EQ(CgroupFile(id, "cpu", "cpu.weight"), "20");  // 1 + (510 * 9999) / 262142
  }
}

TEST_F(Limits, PidsLimitStopsAForkLoop) {
  // A shell whose fork fails gives up ("can't fork") and exits, so the loop runs in a child
  // shell; its sleeps, orphaned, stay with PID 1, which then becomes `sleep` without a fork.
  auto config = Busybox({"sh", "-c", "sh -c 'for i in $(seq 40); do sleep 30 & done'; echo spawned; exec sleep 1000"});
  config.mutable_resources()->set_pids_limit(10);
  auto c = agent_.Run(config);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(CgroupFile(c->id(), "pids", "pids.max"), "10");
  ASSERT_TRUE(Eventually([&] {
    auto logs = agent_.Logs(c->id());
    return logs.ok() && absl::StrContains(*logs, "spawned");
  })) << "the loop never finished: " << agent_.Logs(c->id()).value_or("");
  int64_t current = -1;
  ASSERT_TRUE(absl::SimpleAtoi(CgroupFile(c->id(), "pids", "pids.current"), &current));
  EXPECT_GT(current, 1);
  EXPECT_LE(current, 10);
  // The kernel counts the refused forks.
  EXPECT_THAT(CgroupFile(c->id(), "pids", "pids.events"), ::testing::ContainsRegex("max [1-9]"));
  auto logs = agent_.Logs(c->id());
  ASSERT_TRUE(logs.ok()) << logs.status();
  EXPECT_THAT(*logs, AnyOf(HasSubstr("can't fork"), HasSubstr("Resource temporarily unavailable")))
      << "the shell reported no failed fork";
  // Exec cannot get past the limit either; it is refused with an error, not hung.
  auto exec = agent_.Exec(c->id(), {"true"});
  if (exec.ok()) {
    EXPECT_NE(exec->exit_code, 0);
  }
}

TEST_F(Limits, MemoryHogIsOomKilled) {
  auto config = Busybox({"sh", "-c", "x=a; while true; do x=$x$x; done"});
  config.mutable_resources()->set_memory_limit_bytes(16 << 20);
  auto c = agent_.Run(config);
  ASSERT_TRUE(c.ok()) << c.status();
  auto wait = agent_.Wait(c->id(), 60);
  ASSERT_TRUE(wait.ok()) << wait.status();
  EXPECT_EQ(wait->exit_code(), 128 + SIGKILL);
  EXPECT_TRUE(wait->oom_killed());
  auto inspected = agent_.Inspect(c->id());
  ASSERT_TRUE(inspected.ok()) << inspected.status();
  EXPECT_EQ(inspected->state(), v1::EXITED);
  EXPECT_EQ(inspected->exit_code(), 137);
  EXPECT_TRUE(inspected->oom_killed());
}

TEST_F(Limits, KilledWithoutOomIsNotReportedAsOom) {
  v1::Resources r;
  r.set_memory_limit_bytes(64 << 20);
  std::string id = RunSleeper(r);
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(agent_.KillContainer(id, SIGKILL).ok());
  auto wait = agent_.Wait(id);
  ASSERT_TRUE(wait.ok()) << wait.status();
  EXPECT_EQ(wait->exit_code(), 137);
  EXPECT_FALSE(wait->oom_killed());
}

}  // namespace
}  // namespace berth::testing
