// Containers.Stats and StatsStream against real containers: every figure of a paused
// container (its counters cannot move) equals what its cgroup files say; CPU throttling under
// a quota; network counters from the container's own namespace bracketed by what the
// container itself sees in /proc/net/dev; `berth stats`.
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/integration/support/agent_harness.h"

namespace berth::testing {
namespace {

absl::StatusOr<std::vector<v1::ContainerStats>> Stats(AgentHarness& agent, const std::vector<std::string>& ids) {
  grpc::ClientContext ctx;
  v1::StatsRequest req;
  for (const auto& id : ids) req.add_ids(id);
  v1::StatsResponse resp;
  grpc::Status st = agent.containers().Stats(&ctx, req, &resp);
  if (!st.ok()) return FromGrpc(st);
  return std::vector<v1::ContainerStats>(resp.stats().begin(), resp.stats().end());
}

uint64_t Number(const std::string& text) {
  uint64_t v = 0;
  EXPECT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &v)) << "not a number: " << text;
  return v;
}

uint64_t Keyed(const std::string& text, const std::string& key) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    uint64_t v = 0;
    if (f.size() == 2 && f[0] == key && absl::SimpleAtoi(f[1], &v)) return v;
  }
  ADD_FAILURE() << "no " << key << " in " << text;
  return 0;
}

// eth0's counters in /proc/net/dev as the container sees them: rx bytes, rx packets, tx bytes,
// tx packets.
std::vector<uint64_t> ProcNetDev(AgentHarness& agent, const std::string& id) {
  auto r = agent.Exec(id, {"cat", "/proc/net/dev"});
  EXPECT_TRUE(r.ok() && r->exit_code == 0);
  if (!r.ok()) return {};
  for (absl::string_view line : absl::StrSplit(r->out, '\n')) {
    line = absl::StripLeadingAsciiWhitespace(line);
    if (!absl::ConsumePrefix(&line, "eth0:")) continue;
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() < 10) break;
    uint64_t rb = 0, rp = 0, tb = 0, tp = 0;
    (void)absl::SimpleAtoi(f[0], &rb);
    (void)absl::SimpleAtoi(f[1], &rp);
    (void)absl::SimpleAtoi(f[8], &tb);
    (void)absl::SimpleAtoi(f[9], &tp);
    return {rb, rp, tb, tp};
  }
  ADD_FAILURE() << "no eth0 in " << r->out;
  return {};
}

class StatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    agent_.Start();
    if (agent_.CgroupDriverName() != "v1") GTEST_SKIP() << "the real-cgroup checks read v1 files";
  }
  AgentHarness agent_;
};

TEST_F(StatsTest, APausedContainersFiguresAreItsCgroupFiles) {
  auto config = Busybox({"sh", "-c", "head -c 4000000 /dev/zero > /tmp/fill; sleep 1000 & touch /tmp/done; wait"});
  config.mutable_resources()->set_memory_limit_bytes(96 << 20);
  config.mutable_resources()->set_pids_limit(40);
  auto c = agent_.Run(config);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(Eventually([&] {
    auto done = agent_.Exec(c->id(), {"test", "-f", "/tmp/done"});
    return done.ok() && done->exit_code == 0;
  }));
  ASSERT_TRUE(agent_.Pause(c->id()).ok());

  auto stats = Stats(agent_, {c->name()});
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->size(), 1u);
  const v1::ContainerStats& s = (*stats)[0];
  EXPECT_EQ(s.id(), c->id());
  EXPECT_EQ(s.state(), v1::PAUSED);
  const std::string mem = agent_.CgroupDir(c->id(), "memory");
  const std::string cpuacct = agent_.CgroupDir(c->id(), "cpuacct");
  const std::string pids = agent_.CgroupDir(c->id(), "pids");
  EXPECT_EQ(s.cpu().usage_ns(), Number(ReadText(cpuacct + "/cpuacct.usage")));
  EXPECT_GT(s.cpu().usage_ns(), 0u);
  // usage_in_bytes includes pages charged ahead in per-CPU batches (64 pages each), handed
  // back when the kernel likes: it may move by that much even while frozen. memory.stat's
  // counts are exact.
  const int64_t usage = static_cast<int64_t>(Number(ReadText(mem + "/memory.usage_in_bytes")));
  EXPECT_NEAR(static_cast<int64_t>(s.memory().usage_bytes()), usage, 64 * 4096 * ::sysconf(_SC_NPROCESSORS_ONLN));
  EXPECT_EQ(s.memory().limit_bytes(), 96u << 20);
  const std::string memstat = ReadText(mem + "/memory.stat");
  EXPECT_EQ(s.memory().rss_bytes(), Keyed(memstat, "total_rss"));
  EXPECT_EQ(s.memory().cache_bytes(), Keyed(memstat, "total_cache"));
  EXPECT_GE(s.memory().cache_bytes(), 4000000u) << "the file it wrote is in its page cache";
  EXPECT_EQ(s.memory().working_set_bytes(), s.memory().usage_bytes() - Keyed(memstat, "total_inactive_file"))
      << "usage less inactive file cache, from the same reading";
  EXPECT_EQ(s.memory().failcnt(), Number(ReadText(mem + "/memory.failcnt")));
  EXPECT_EQ(s.pids().current(), 2u) << "sh and its sleep";
  EXPECT_EQ(s.pids().limit(), 40u);
  EXPECT_EQ(s.pids().current(), Number(ReadText(pids + "/pids.current")));
  ASSERT_EQ(s.networks_size(), 1);
  EXPECT_EQ(s.networks(0).name(), "eth0");

  ASSERT_TRUE(agent_.Resume(c->id()).ok());
  ASSERT_TRUE(agent_.Remove(c->id()).ok());
}

TEST_F(StatsTest, ACpuQuotaShowsAsThrottlingAndUsageGrows) {
  auto config = Busybox({"sh", "-c", "while :; do :; done"});
  config.mutable_resources()->set_cpu_millis(200);  // --cpus 0.2
  auto c = agent_.Run(config);
  ASSERT_TRUE(c.ok()) << c.status();
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  auto first = Stats(agent_, {c->id()});
  ASSERT_TRUE(first.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto second = Stats(agent_, {c->id()});
  ASSERT_TRUE(second.ok());
  const v1::CpuStats& a = (*first)[0].cpu();
  const v1::CpuStats& b = (*second)[0].cpu();
  EXPECT_GT(b.usage_ns(), a.usage_ns());
  EXPECT_GT(a.periods(), 5u);
  EXPECT_GT(a.throttled_periods(), 0u) << "a busy loop under a 20% quota is throttled";
  EXPECT_GT(a.throttled_ns(), 0u);
  EXPECT_GE(b.throttled_periods(), a.throttled_periods());
  // At most the quota's share of the wall time between the two samples (plus a period).
  const int64_t wall = ((*second)[0].time().seconds() - (*first)[0].time().seconds()) * 1'000'000'000ll +
                       ((*second)[0].time().nanos() - (*first)[0].time().nanos());
  EXPECT_LE(static_cast<int64_t>(b.usage_ns() - a.usage_ns()), wall / 5 + 100'000'000) << "wall " << wall;
  ASSERT_TRUE(agent_.Remove(c->id()).ok());
}

TEST_F(StatsTest, NetworkCountersComeFromTheContainersOwnInterface) {
  auto config = Busybox({"sleep", "1000"});
  config.mutable_security()->add_cap_add("NET_RAW");  // for ping
  auto c = agent_.Run(config);
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string gateway = c->network_settings().gateway();
  ASSERT_FALSE(gateway.empty());
  auto ping = agent_.Exec(c->id(), {"ping", "-c", "3", "-W", "2", gateway});
  ASSERT_TRUE(ping.ok());
  ASSERT_EQ(ping->exit_code, 0) << ping->out << ping->err;
  std::vector<uint64_t> before = ProcNetDev(agent_, c->id());
  auto stats = Stats(agent_, {c->id()});
  std::vector<uint64_t> after = ProcNetDev(agent_, c->id());
  ASSERT_TRUE(stats.ok());
  ASSERT_EQ(before.size(), 4u);
  ASSERT_EQ(after.size(), 4u);
  ASSERT_EQ((*stats)[0].networks_size(), 1);
  const v1::NetworkInterfaceStats& n = (*stats)[0].networks(0);
  EXPECT_EQ(n.name(), "eth0");
  EXPECT_GE(n.tx_packets(), 3u) << "three echo requests crossed the veth";
  EXPECT_GE(n.rx_packets(), 3u) << "and three replies came back";
  for (auto [got, lo, hi] : {std::tuple{n.rx_bytes(), before[0], after[0]}, {n.rx_packets(), before[1], after[1]},
                             {n.tx_bytes(), before[2], after[2]}, {n.tx_packets(), before[3], after[3]}}) {
    EXPECT_GE(got, lo);
    EXPECT_LE(got, hi);
  }
  ASSERT_TRUE(agent_.Remove(c->id()).ok());
}

TEST_F(StatsTest, AllRunningOnesStreamsAndBadInput) {
  auto running = agent_.Run(Busybox({"sleep", "1000"}));
  ASSERT_TRUE(running.ok());
  auto exited = agent_.RunToExit(Busybox({"true"}));
  ASSERT_TRUE(exited.ok());
  auto created = agent_.Create(Busybox({"true"}));
  ASSERT_TRUE(created.ok());

  auto all = Stats(agent_, {});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u) << "only running and paused containers";
  EXPECT_EQ((*all)[0].id(), running->id());
  auto named = Stats(agent_, {created->id()});
  ASSERT_TRUE(named.ok());
  ASSERT_EQ(named->size(), 1u);
  EXPECT_EQ((*named)[0].state(), v1::CREATED);
  EXPECT_FALSE((*named)[0].has_cpu()) << "a container that is not running has no figures";
  EXPECT_EQ(Stats(agent_, {"no-such-container"}).status().code(), absl::StatusCode::kNotFound);

  {
    grpc::ClientContext ctx;
    v1::StatsStreamRequest req;
    req.set_interval_ms(100);
    auto reader = agent_.containers().StatsStream(&ctx, req);
    std::vector<uint64_t> usage;
    v1::StatsResponse resp;
    while (usage.size() < 3 && reader->Read(&resp)) {
      ASSERT_EQ(resp.stats_size(), 1);
      usage.push_back(resp.stats(0).cpu().usage_ns());
    }
    ctx.TryCancel();
    (void)reader->Finish();
    ASSERT_EQ(usage.size(), 3u);
    EXPECT_LE(usage[0], usage[2]);
  }
  {
    grpc::ClientContext ctx;
    v1::StatsStreamRequest req;
    req.set_interval_ms(10);
    auto reader = agent_.containers().StatsStream(&ctx, req);
    v1::StatsResponse resp;
    EXPECT_FALSE(reader->Read(&resp));
    grpc::Status st = reader->Finish();
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(absl::StrContains(st.error_message(), "interval_ms")) << st.error_message();
  }

  CliResult table = agent_.Cli({"stats", "--no-stream"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_TRUE(absl::StartsWith(table.out, "CONTAINER ID")) << table.out;
  EXPECT_TRUE(absl::StrContains(table.out, running->name())) << table.out;
  EXPECT_FALSE(absl::StrContains(table.out, created->name())) << table.out;
  CliResult json = agent_.Cli({"stats", "--no-stream", "--format", "json", running->name()});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_TRUE(absl::StrContains(json.out, "\"working_set_bytes\"")) << json.out;
  CliResult missing = agent_.Cli({"stats", "--no-stream", "no-such-container"});
  EXPECT_EQ(missing.exit_code, 125);
  EXPECT_TRUE(absl::StrContains(missing.err, "no-such-container")) << missing.err;

  ASSERT_TRUE(agent_.Remove(running->id()).ok());
  ASSERT_TRUE(agent_.Remove(created->id()).ok());
}

}  // namespace
}  // namespace berth::testing
