// Restart policies on real containers: on-failure with a retry limit, always with its
// doubling back-off (read from the events' times) and Stop ending it, a restart on the
// bridge keeping the container's address, and what the agent restarts when it starts again
// after a SIGKILL (always and unless-stopped, a caller's Stop honoured as Docker does).
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "berth/v1/events.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/support/agent_harness.h"

namespace berth::testing {
namespace {

using google::protobuf::util::TimeUtil;

v1::ContainerConfig WithPolicy(std::vector<std::string> args, const std::string& policy, int max_retries = 0) {
  auto config = Busybox(std::move(args));
  config.mutable_restart_policy()->set_name(policy);
  config.mutable_restart_policy()->set_max_retries(max_retries);
  return config;
}

// Every event about `id` in the journal so far.
std::vector<v1::Event> EventsOf(AgentHarness& agent, const std::string& id) {
  auto stub = v1::Events::NewStub(agent.channel());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  v1::SubscribeRequest req;
  req.set_since_sequence(0);
  req.mutable_filter()->add_ids(id);
  auto reader = stub->Subscribe(&ctx, req);
  std::vector<v1::Event> out;
  v1::Event e;
  while (reader->Read(&e)) out.push_back(e);  // ends at the deadline
  return out;
}

TEST(RestartPolicy, OnFailureRetriesItsCountThenStaysExited) {
  AgentHarness agent;
  agent.Start();
  auto c = agent.Run(WithPolicy({"sh", "-c", "echo run; exit 3"}, "on-failure", 2));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(Eventually([&] {
    auto got = agent.Inspect(c->id());
    return got.ok() && got->restart_count() == 2 && got->state() == v1::EXITED;
  })) << "not restarted twice";
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto got = agent.Inspect(c->id());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->restart_count(), 2) << "on-failure:2 allows two restarts";
  EXPECT_EQ(got->state(), v1::EXITED);
  EXPECT_EQ(got->exit_code(), 3);
  auto logs = agent.Logs(c->id());
  ASSERT_TRUE(logs.ok());
  EXPECT_EQ(*logs, "run\nrun\nrun\n");
  int restarts = 0;
  for (const auto& e : EventsOf(agent, c->id())) restarts += e.type() == "container.restart";
  EXPECT_EQ(restarts, 2);
  // A clean exit is no failure: no restart.
  auto ok = agent.Run(WithPolicy({"true"}, "on-failure"));
  ASSERT_TRUE(ok.ok());
  ASSERT_TRUE(agent.Wait(ok->id()).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(agent.Inspect(ok->id())->restart_count(), 0);
  CliResult ps = agent.Cli({"ps", "-a"});
  EXPECT_TRUE(absl::StrContains(ps.out, "(restarted 2x)")) << ps.out;
}

TEST(RestartPolicy, AlwaysBacksOffDoublingAndStopEndsIt) {
  AgentHarness agent;
  agent.Start();
  auto c = agent.Run(WithPolicy({"true"}, "always"));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(Eventually([&] { return agent.Inspect(c->id())->restart_count() >= 4; })) << "not restarting";
  // The delay from each exit to the restart after it: 100, 200, 400, 800 ms...
  std::vector<int64_t> delays_ms;
  int64_t exited_ns = 0;
  for (const auto& e : EventsOf(agent, c->id())) {
    if (e.type() == "container.exit") exited_ns = TimeUtil::TimestampToNanoseconds(e.time());
    if (e.type() == "container.restart" && exited_ns > 0) {
      delays_ms.push_back((TimeUtil::TimestampToNanoseconds(e.time()) - exited_ns) / 1'000'000);
    }
  }
  ASSERT_GE(delays_ms.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    const int64_t want = 100 << i;
    EXPECT_GE(delays_ms[i], want) << "restart " << i + 1;
    EXPECT_LT(delays_ms[i], want * 2 + 1500) << "restart " << i + 1;  // slack for a loaded machine
  }
  ASSERT_TRUE(agent.Stop(c->id(), 1).ok());
  const int count = agent.Inspect(c->id())->restart_count();
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  auto got = agent.Inspect(c->id());
  EXPECT_EQ(got->state(), v1::EXITED) << "a stopped container stays stopped";
  EXPECT_LE(got->restart_count(), count + 1) << "at most the restart that was already on its way";
  EXPECT_TRUE(got->stopped_by_caller());
}

TEST(RestartPolicy, ARestartOnTheBridgeKeepsItsAddress) {
  AgentHarness agent;
  agent.Start();
  auto c = agent.Run(WithPolicy({"sh", "-c", "ip -4 -o addr show eth0 | cut -d' ' -f7; sleep 0.5; exit 1"}, "on-failure", 1));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(Eventually([&] {
    auto got = agent.Inspect(c->id());
    return got->restart_count() == 1 && got->state() == v1::EXITED;
  }));
  auto logs = agent.Logs(c->id());
  ASSERT_TRUE(logs.ok());
  const std::string address = c->network_settings().ip_address() + "/" +
                              std::to_string(c->network_settings().prefix_length()) + "\n";
  EXPECT_EQ(*logs, address + address) << "both runs had the same address on eth0";
}

TEST(RestartPolicy, TheAgentRestartsWhatExitedWhileItWasDown) {
  AgentHarness agent;
  agent.Start();
  auto always = agent.Run(WithPolicy({"sh", "-c", "sleep 1"}, "always"));
  auto unless = agent.Run(WithPolicy({"sh", "-c", "sleep 1"}, "unless-stopped"));
  auto stopped_unless = agent.Run(WithPolicy({"sleep", "1000"}, "unless-stopped"));
  auto stopped_always = agent.Run(WithPolicy({"sleep", "1000"}, "always"));
  ASSERT_TRUE(always.ok() && unless.ok() && stopped_unless.ok() && stopped_always.ok());
  ASSERT_TRUE(agent.Stop(stopped_unless->id(), 1).ok());
  ASSERT_TRUE(agent.Stop(stopped_always->id(), 1).ok());
  agent.Kill(SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the two short ones exit meanwhile
  agent.Start();
  for (const auto* c : {&*always, &*unless, &*stopped_always}) {
    EXPECT_TRUE(Eventually([&] {
      auto got = agent.Inspect(c->id());
      return got.ok() && got->restart_count() >= 1;
    })) << c->name() << " was not restarted";
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto got = agent.Inspect(stopped_unless->id());
  EXPECT_EQ(got->state(), v1::EXITED) << "unless-stopped leaves a stopped container stopped";
  EXPECT_EQ(got->restart_count(), 0);
}

TEST(RestartPolicy, BadPoliciesAreRefused) {
  AgentHarness agent;
  agent.Start();
  EXPECT_EQ(agent.Create(WithPolicy({"true"}, "sometimes")).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(agent.Create(WithPolicy({"true"}, "always", 3)).status().code(), absl::StatusCode::kInvalidArgument);
  auto rm = WithPolicy({"true"}, "always");
  rm.set_auto_remove(true);
  auto refused = agent.Create(rm);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "conflict")) << refused.status();
  CliResult cli = agent.Cli({"run", "-d", "--restart", "on-failure:x", "busybox", "true"});
  EXPECT_EQ(cli.exit_code, 125);
  EXPECT_TRUE(absl::StrContains(cli.err, "on-failure:3")) << cli.err;
  auto list = agent.List();
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty()) << "nothing half-made";
}

}  // namespace
}  // namespace berth::testing
