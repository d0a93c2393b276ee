// Bad requests against a real agent: each is refused with the right gRPC code and a message
// naming what is wrong, leaves nothing behind (no container dir, no cgroup), and the agent
// keeps serving.
#include <signal.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/host_checks.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;

// Fails the test unless the agent still answers Version and List.
void ExpectAgentServes(AgentHarness& agent) {
  ASSERT_TRUE(agent.running());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::VersionResponse version;
  EXPECT_TRUE(agent.system().Version(&ctx, v1::VersionRequest{}, &version).ok()) << "agent stopped answering";
  (void)ListAll(agent);
}

struct BadCreate {
  std::string what;
  v1::ContainerConfig config;
  absl::StatusCode code;
  std::string message_part;  // the message must contain this
};

std::vector<BadCreate> BadCreates() {
  std::vector<BadCreate> cases;
  auto add = [&](std::string what, v1::ContainerConfig c, absl::StatusCode code, std::string part) {
    cases.push_back({std::move(what), std::move(c), code, std::move(part)});
  };
  const std::string long_name(129, 'n');
  for (const std::string& name : {std::string("-bad"), std::string("a/b"), long_name}) {
    auto c = Busybox({"true"});
    c.set_name(name);
    add("name " + name.substr(0, 10), c, absl::StatusCode::kInvalidArgument, name);
  }
  {
    auto c = Busybox({"true"});
    c.set_image("no-such-image");
    add("unknown image", c, absl::StatusCode::kNotFound, "no-such-image");
  }
  {
    auto c = Busybox({"true"});
    c.add_env("A=1");
    c.add_env("NOEQUALS");
    add("env without =", c, absl::StatusCode::kInvalidArgument, "NOEQUALS");
  }
  {
    auto c = Busybox({"true"});
    c.set_working_dir("relative/dir");
    add("relative working_dir", c, absl::StatusCode::kInvalidArgument, "relative/dir");
  }
  {
    auto c = Busybox({"true"});
    auto* m = c.add_mounts();
    m->set_source("tmp");
    m->set_destination("/mnt");
    add("relative mount source", c, absl::StatusCode::kInvalidArgument, "mounts[0].source");
  }
  {
    auto c = Busybox({"true"});
    auto* m = c.add_mounts();
    m->set_source("/nonexistent/berth-it-source");
    m->set_destination("/mnt");
    add("missing mount source", c, absl::StatusCode::kInvalidArgument, "/nonexistent/berth-it-source");
  }
  {
    auto c = Busybox({"true"});
    auto* m = c.add_mounts();
    m->set_source("/tmp");
    m->set_destination("/mnt/../etc");
    add("mount destination with ..", c, absl::StatusCode::kInvalidArgument, "mounts[0].destination");
  }
  {
    auto c = Busybox({"true"});
    c.mutable_resources()->set_memory_limit_bytes(1024);
    add("memory limit 1024", c, absl::StatusCode::kInvalidArgument, "1024");
  }
  {
    auto c = Busybox({"true"});
    c.mutable_resources()->set_pids_limit(-5);
    add("negative pids limit", c, absl::StatusCode::kInvalidArgument, "negative");
  }
  {
    auto c = Busybox({});
    c.clear_image();
    add("no image", c, absl::StatusCode::kInvalidArgument, "image");
  }
  return cases;
}

TEST(BadInput, RefusedCreatesLeaveNothingBehind) {
  AgentHarness agent;
  agent.Start();
  // One live container, so that "nothing new" is checked next to something that exists.
  auto keep = agent.Create(Busybox({"sleep", "1000"}));
  ASSERT_TRUE(keep.ok()) << keep.status();
  const std::set<std::string> dirs_before = ContainerDirIds(agent);
  const std::set<std::string> cgroups_before = ContainerCgroupIds(agent, "pids");
  const std::set<std::string> memory_before = ContainerCgroupIds(agent, "memory");
  ASSERT_EQ(dirs_before, std::set<std::string>{keep->id()});

  for (const BadCreate& bad : BadCreates()) {
    SCOPED_TRACE(bad.what);
    auto c = agent.Create(bad.config);
    ASSERT_FALSE(c.ok()) << "created " << c->id();
    EXPECT_EQ(c.status().code(), bad.code) << c.status();
    EXPECT_THAT(std::string(c.status().message()), HasSubstr(bad.message_part));
    EXPECT_EQ(ContainerDirIds(agent), dirs_before);
    EXPECT_EQ(ContainerCgroupIds(agent, "pids"), cgroups_before);
    EXPECT_EQ(ContainerCgroupIds(agent, "memory"), memory_before);
    // Nothing stray either (temp files, trash dirs).
    EXPECT_EQ(DirEntries(ContainersDir(agent)).size(), 1u);
    ExpectAgentServes(agent);
  }
  EXPECT_EQ(ListAll(agent).size(), 1u);
}

TEST(BadInput, DuplicateNameIsAlreadyExists) {
  AgentHarness agent;
  agent.Start();
  auto first = Busybox({"sleep", "1000"});
  first.set_name("dup");
  auto c = agent.Create(first);
  ASSERT_TRUE(c.ok()) << c.status();
  const auto dirs_before = ContainerDirIds(agent);

  auto again = agent.Create(first);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists) << again.status();
  EXPECT_THAT(std::string(again.status().message()), HasSubstr("dup"));
  EXPECT_EQ(ContainerDirIds(agent), dirs_before);
  EXPECT_EQ(ContainerCgroupIds(agent), dirs_before);

  // The name is free again once its container is gone.
  ASSERT_TRUE(agent.Remove(c->id()).ok());
  auto reused = agent.Create(first);
  EXPECT_TRUE(reused.ok()) << reused.status();
  ExpectAgentServes(agent);
}

TEST(BadInput, UnknownIdIsNotFoundForEveryVerb) {
  AgentHarness agent;
  agent.Start();
  const std::string id = "nosuch";
  auto inspect = agent.Inspect(id);
  EXPECT_EQ(inspect.status().code(), absl::StatusCode::kNotFound) << inspect.status();
  EXPECT_THAT(std::string(inspect.status().message()), HasSubstr(id));
  {
    grpc::ClientContext ctx;
    v1::StartRequest req;
    req.set_id(id);
    v1::StartResponse resp;
    EXPECT_EQ(agent.containers().Start(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext ctx;
    v1::StopRequest req;
    req.set_id(id);
    v1::StopResponse resp;
    EXPECT_EQ(agent.containers().Stop(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext ctx;
    v1::KillRequest req;
    req.set_id(id);
    v1::KillResponse resp;
    EXPECT_EQ(agent.containers().Kill(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  EXPECT_EQ(agent.Remove(id).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(agent.Wait(id, 10).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(agent.Logs(id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(agent.Exec(id, {"true"}).status().code(), absl::StatusCode::kNotFound);
  // A full-length id that does not exist is just as unknown.
  EXPECT_EQ(agent.Inspect(std::string(64, 'a')).status().code(), absl::StatusCode::kNotFound);
  ExpectAgentServes(agent);
}

// A 64 KiB or 1 MiB reference is refused up front with a short message (a trailer that big
// tears down a grpc-js client's whole connection); echoed values are quoted, so spaces at
// their ends survive the trip, and capped.
TEST(BadInput, HugeAndSpacedReferencesGetShortQuotedMessages) {
  AgentHarness agent;
  agent.Start();
  for (size_t size : {size_t{64} << 10, size_t{1} << 20}) {
    std::string huge(size, 'z');
    auto inspect = agent.Inspect(huge);
    EXPECT_EQ(inspect.status().code(), absl::StatusCode::kInvalidArgument) << size;
    EXPECT_LT(inspect.status().message().size(), 400u);
    EXPECT_THAT(std::string(inspect.status().message()), HasSubstr(std::to_string(size) + " bytes"));
    EXPECT_EQ(agent.Remove(huge).code(), absl::StatusCode::kInvalidArgument);
    grpc::ClientContext ctx;
    v1::InspectNetworkRequest req;
    req.set_id(huge);
    v1::InspectNetworkResponse resp;
    grpc::Status net = agent.networks().Inspect(&ctx, req, &resp);
    EXPECT_EQ(net.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_LT(net.error_message().size(), 400u);
  }
  auto spaced = agent.Inspect("  padded  ");
  EXPECT_EQ(spaced.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(spaced.status().message()), HasSubstr("\"  padded  \""));
  ExpectAgentServes(agent);
}

TEST(BadInput, AmbiguousIdPrefixIsInvalidArgument) {
  AgentHarness agent;
  agent.Start();
  // Pigeonhole: among 17 ids two share their first hex digit.
  std::map<char, std::vector<std::string>> by_first;
  char shared = 0;
  for (int i = 0; i < 17 && shared == 0; ++i) {
    auto c = agent.Create(Busybox({"true"}));
    ASSERT_TRUE(c.ok()) << c.status();
    auto& ids = by_first[c->id()[0]];
    ids.push_back(c->id());
    if (ids.size() == 2) shared = c->id()[0];
  }
  ASSERT_NE(shared, 0);
  auto inspect = agent.Inspect(std::string(1, shared));
  ASSERT_FALSE(inspect.ok());
  EXPECT_EQ(inspect.status().code(), absl::StatusCode::kInvalidArgument) << inspect.status();
  EXPECT_THAT(std::string(inspect.status().message()), HasSubstr("ambiguous"));
  EXPECT_EQ(agent.Remove(std::string(1, shared)).code(), absl::StatusCode::kInvalidArgument);
  // Both still exist, and each full id still resolves.
  for (const auto& id : by_first[shared]) {
    auto c = agent.Inspect(id);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->id(), id);
  }
  ExpectAgentServes(agent);
}

TEST(BadInput, KillWithInvalidSignal) {
  AgentHarness agent;
  agent.Start();
  auto c = agent.Run(Busybox({"sleep", "1000"}));
  ASSERT_TRUE(c.ok()) << c.status();
  grpc::ClientContext ctx;
  v1::KillRequest req;
  req.set_id(c->id());
  req.set_signal(99);
  v1::KillResponse resp;
  auto st = agent.containers().Kill(&ctx, req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_THAT(st.error_message(), HasSubstr("99"));
  // The container was not touched.
  auto after = agent.Inspect(c->id());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->state(), v1::RUNNING);
  EXPECT_TRUE(PidRunning(after->pid()));
  ExpectAgentServes(agent);
}

TEST(BadInput, MissingExecutableFailsStartAndEndsExited127) {
  AgentHarness agent;
  agent.Start();
  auto c = agent.Create(Busybox({"/no/such-binary", "arg"}));
  ASSERT_TRUE(c.ok()) << c.status();
  grpc::ClientContext ctx;
  v1::StartRequest req;
  req.set_id(c->id());
  v1::StartResponse resp;
  auto st = agent.containers().Start(&ctx, req, &resp);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();
  EXPECT_THAT(st.error_message(), HasSubstr("/no/such-binary"));

  ASSERT_TRUE(WaitUntil(
      [&] {
        auto i = agent.Inspect(c->id());
        return i.ok() && i->state() == v1::EXITED;
      },
      std::chrono::seconds(10)));
  auto after = agent.Inspect(c->id());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->state(), v1::EXITED);
  EXPECT_EQ(after->exit_code(), 127);
  EXPECT_THAT(after->error(), HasSubstr("/no/such-binary"));
  auto wait = agent.Wait(c->id(), 10);
  ASSERT_TRUE(wait.ok()) << wait.status();
  EXPECT_EQ(wait->exit_code(), 127);
  // Its cgroup went with it, and it can be removed.
  EXPECT_TRUE(WaitUntil([&] { return ContainerCgroupIds(agent).empty(); }, std::chrono::seconds(10)));
  EXPECT_TRUE(agent.Remove(c->id(), false).ok());
  EXPECT_TRUE(ContainerDirIds(agent).empty());
  ExpectAgentServes(agent);
}

TEST(BadInput, ExecWithEmptyArgs) {
  AgentHarness agent;
  agent.Start();
  auto c = agent.Run(Busybox({"sleep", "1000"}));
  ASSERT_TRUE(c.ok()) << c.status();
  auto r = agent.Exec(c->id(), {});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  auto r2 = agent.Exec(c->id(), {""});
  EXPECT_EQ(r2.status().code(), absl::StatusCode::kInvalidArgument) << r2.status();
  // A good exec still works afterwards.
  auto ok = agent.Exec(c->id(), {"echo", "fine"});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->out, "fine\n");
  EXPECT_EQ(ok->exit_code, 0);
  ExpectAgentServes(agent);
}

TEST(BadInput, ListWithUnknownStateOrBadSelector) {
  AgentHarness agent;
  agent.Start();
  {
    grpc::ClientContext ctx;
    v1::ListRequest req;
    req.add_states(static_cast<v1::ContainerState>(42));
    v1::ListResponse resp;
    auto st = agent.containers().List(&ctx, req, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
    EXPECT_THAT(st.error_message(), HasSubstr("42"));
  }
  {
    grpc::ClientContext ctx;
    v1::ListRequest req;
    req.add_states(v1::CONTAINER_STATE_UNSPECIFIED);
    v1::ListResponse resp;
    EXPECT_EQ(agent.containers().List(&ctx, req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext ctx;
    v1::ListRequest req;
    req.set_label_selector("=v");
    v1::ListResponse resp;
    EXPECT_EQ(agent.containers().List(&ctx, req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  ExpectAgentServes(agent);
}

}  // namespace
}  // namespace berth::testing
