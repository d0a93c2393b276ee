// The lifecycle of real busybox containers through the gRPC API: create, start, exit codes,
// stop with a grace period, kill, remove, pause/resume, auto-remove, list filters and lookup
// by prefix or name, List's summary view.
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/channel.h>
#include <grpcpp/generic/generic_stub.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/agent_harness.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// Every test runs twice: containers without a user namespace, and with --userns=auto as
// the agent's default (root in the container an unprivileged id on the node).
class Lifecycle : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(agent_.Start({"--default-userns", GetParam()})); }

  // Creates and starts a container; the test fails if either step fails.
  v1::Container MustRun(v1::ContainerConfig config) {
    auto c = agent_.Run(std::move(config));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : v1::Container{};
  }

  std::set<std::string> Names(const std::vector<v1::Container>& list) {
    std::set<std::string> out;
    for (const auto& c : list) out.insert(c.name());
    return out;
  }

  AgentHarness agent_;
};

TEST_P(Lifecycle, EchoExitsZeroAndLogsItsOutput) {
  v1::Container c = MustRun(Busybox({"echo", "hello"}));
  ASSERT_FALSE(c.id().empty());
  EXPECT_EQ(c.id().size(), 64u);
  auto wait = agent_.Wait(c.id());
  ASSERT_TRUE(wait.ok()) << wait.status();
  EXPECT_EQ(wait->exit_code(), 0);
  EXPECT_FALSE(wait->oom_killed());
  EXPECT_EQ(wait->container().state(), v1::EXITED);
  auto logs = agent_.Logs(c.id());
  ASSERT_TRUE(logs.ok()) << logs.status();
  EXPECT_EQ(*logs, "hello\n");
  auto inspected = agent_.Inspect(c.id());
  ASSERT_TRUE(inspected.ok()) << inspected.status();
  EXPECT_EQ(inspected->state(), v1::EXITED);
  EXPECT_EQ(inspected->exit_code(), 0);
  EXPECT_EQ(inspected->pid(), 0);
  EXPECT_TRUE(inspected->has_started_at());
  EXPECT_TRUE(inspected->has_finished_at());
}

TEST_P(Lifecycle, WaitReportsTheExitCode) {
  v1::Container c = MustRun(Busybox({"sh", "-c", "exit 3"}));
  auto wait = agent_.Wait(c.id());
  ASSERT_TRUE(wait.ok()) << wait.status();
  EXPECT_EQ(wait->exit_code(), 3);
  auto inspected = agent_.Inspect(c.id());
  ASSERT_TRUE(inspected.ok()) << inspected.status();
  EXPECT_EQ(inspected->exit_code(), 3);
}

TEST_P(Lifecycle, StopKillsAfterTheGracePeriodWhenInitIgnoresSigterm) {
  // PID 1 of a pid namespace ignores signals it has no handler for: SIGTERM does nothing.
  v1::Container c = MustRun(Busybox({"sleep", "1000"}));
  auto stopped = agent_.Stop(c.id(), 1);
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(stopped->state(), v1::EXITED);
  EXPECT_EQ(stopped->exit_code(), 128 + SIGKILL);
  auto wait = agent_.Wait(c.id());
  ASSERT_TRUE(wait.ok()) << wait.status();
  EXPECT_EQ(wait->exit_code(), 137);
  EXPECT_FALSE(wait->oom_killed());
  // Stopping an exited container is a no-op.
  auto again = agent_.Stop(c.id(), 1);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->exit_code(), 137);
}

TEST_P(Lifecycle, KillDeliversSigtermToATrap) {
  v1::Container c =
      MustRun(Busybox({"sh", "-c", "trap 'exit 42' TERM; echo ready; while true; do sleep 0.1; done"}));
  // The trap must be installed before the signal arrives, or PID 1 ignores it.
  ASSERT_TRUE(Eventually([&] {
    auto logs = agent_.Logs(c.id());
    return logs.ok() && *logs == "ready\n";
  })) << "the container never printed ready";
  ASSERT_TRUE(agent_.KillContainer(c.id(), SIGTERM).ok());
  auto wait = agent_.Wait(c.id(), 30);
  ASSERT_TRUE(wait.ok()) << wait.status();
  EXPECT_EQ(wait->exit_code(), 42);
  // Killing an exited container is refused.
  EXPECT_EQ(agent_.KillContainer(c.id(), SIGKILL).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_P(Lifecycle, RemoveOfARunningContainerNeedsForce) {
  v1::Container c = MustRun(Busybox({"sleep", "1000"}));
  absl::Status plain = agent_.Remove(c.id(), /*force=*/false);
  EXPECT_EQ(plain.code(), absl::StatusCode::kFailedPrecondition) << plain;
  auto still = agent_.Inspect(c.id());
  ASSERT_TRUE(still.ok()) << still.status();
  EXPECT_EQ(still->state(), v1::RUNNING);

  absl::Status forced = agent_.Remove(c.id(), /*force=*/true);
  ASSERT_TRUE(forced.ok()) << forced;
  EXPECT_EQ(agent_.Inspect(c.id()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(::access((agent_.root() + "/containers/" + c.id()).c_str(), F_OK), 0)
      << "the container's directory outlived its removal";
  EXPECT_EQ(agent_.Remove(c.id(), true).code(), absl::StatusCode::kNotFound);
}

TEST_P(Lifecycle, RemoveOfAnExitedContainerNeedsNoForce) {
  v1::Container c = MustRun(Busybox({"true"}));
  ASSERT_TRUE(agent_.Wait(c.id()).ok());
  ASSERT_TRUE(agent_.Remove(c.id(), /*force=*/false).ok());
  EXPECT_EQ(agent_.Inspect(c.id()).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(Lifecycle, PauseFreezesTheCgroupAndResumeThawsIt) {
  v1::Container c = MustRun(Busybox({"sleep", "1000"}));
  const bool v1_driver = agent_.CgroupDriverName() == "v1";
  std::string freezer = v1_driver ? agent_.CgroupDir(c.id(), "freezer") : agent_.CgroupDir(c.id(), "");
  ASSERT_FALSE(freezer.empty());

  ASSERT_TRUE(agent_.Pause(c.id()).ok());
  auto paused = agent_.Inspect(c.id());
  ASSERT_TRUE(paused.ok()) << paused.status();
  EXPECT_EQ(paused->state(), v1::PAUSED);
  if (v1_driver) {
    EXPECT_EQ(ReadText(freezer + "/freezer.state"), "FROZEN\n");
  } else {
    EXPECT_THAT(ReadText(freezer + "/cgroup.events"), HasSubstr("frozen 1"));
  }
  auto exec = agent_.Exec(c.id(), {"true"});
  EXPECT_EQ(exec.status().code(), absl::StatusCode::kFailedPrecondition) << exec.status();
  EXPECT_EQ(agent_.Pause(c.id()).code(), absl::StatusCode::kFailedPrecondition);

  ASSERT_TRUE(agent_.Resume(c.id()).ok());
  auto resumed = agent_.Inspect(c.id());
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->state(), v1::RUNNING);
  if (v1_driver) {
    EXPECT_EQ(ReadText(freezer + "/freezer.state"), "THAWED\n");
  } else {
    EXPECT_THAT(ReadText(freezer + "/cgroup.events"), HasSubstr("frozen 0"));
  }
  EXPECT_EQ(agent_.Resume(c.id()).code(), absl::StatusCode::kFailedPrecondition);
  auto works = agent_.Exec(c.id(), {"true"});
  ASSERT_TRUE(works.ok()) << works.status();
  EXPECT_EQ(works->exit_code, 0);
}

TEST_P(Lifecycle, StopOfAPausedContainerEndsIt) {
  v1::Container c = MustRun(Busybox({"sleep", "1000"}));
  ASSERT_TRUE(agent_.Pause(c.id()).ok());
  auto stopped = agent_.Stop(c.id(), 1);
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(stopped->state(), v1::EXITED);
  EXPECT_EQ(stopped->exit_code(), 137);
}

TEST_P(Lifecycle, StartTwiceIsRefusedAndAnExitedOneStartsAgain) {
  auto created = agent_.Create(Busybox({"sleep", "1000"}));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->state(), v1::CREATED);
  auto started = agent_.StartContainer(created->id());
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(started->state(), v1::RUNNING);
  EXPECT_GT(started->pid(), 0);
  auto again = agent_.StartContainer(created->id());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition) << again.status();

  // An exited container starts again, as with docker start: a new process on the same root
  // file system (what the first run wrote is still there), not counted as a policy restart.
  v1::Container done = MustRun(Busybox({"sh", "-c", "echo ran >> /runs; cat /runs"}));
  ASSERT_TRUE(agent_.Wait(done.id()).ok());
  auto restarted = agent_.StartContainer(done.id());
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  ASSERT_TRUE(agent_.Wait(done.id()).ok());
  auto logs = agent_.Logs(done.id());
  ASSERT_TRUE(logs.ok());
  EXPECT_EQ(*logs, "ran\nran\nran\n");
  EXPECT_EQ(agent_.Inspect(done.id())->restart_count(), 0);
}

TEST_P(Lifecycle, AutoRemoveContainerDisappearsAfterExit) {
  auto config = Busybox({"echo", "bye"});
  config.set_auto_remove(true);
  v1::Container c = MustRun(config);
  ASSERT_FALSE(c.id().empty());
  EXPECT_TRUE(Eventually([&] { return agent_.Inspect(c.id()).status().code() == absl::StatusCode::kNotFound; }))
      << "auto_remove container still there: " << agent_.Inspect(c.id()).status();
  EXPECT_TRUE(Eventually([&] { return ::access((agent_.root() + "/containers/" + c.id()).c_str(), F_OK) != 0; }))
      << "its directory is still there";
  auto list = agent_.List();
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_TRUE(list->empty());
}

TEST_P(Lifecycle, ListFiltersByLabelSelectorAndState) {
  auto web = Busybox({"sleep", "1000"});
  web.set_name("web");
  (*web.mutable_labels())["app"] = "web";
  (*web.mutable_labels())["tier"] = "front";
  auto db = Busybox({"sleep", "1000"});
  db.set_name("db");
  (*db.mutable_labels())["app"] = "db";
  auto plain = Busybox({"sleep", "1000"});
  plain.set_name("plain");
  ASSERT_TRUE(agent_.Run(web).ok());
  ASSERT_TRUE(agent_.Create(db).ok());  // stays CREATED
  v1::Container done = MustRun(plain);
  ASSERT_TRUE(agent_.Stop(done.id(), 0).ok());  // EXITED

  auto names = [&](const std::string& selector, const std::vector<v1::ContainerState>& states = {}) {
    auto list = agent_.List(selector, states);
    EXPECT_TRUE(list.ok()) << selector << ": " << list.status();
    return list.ok() ? Names(*list) : std::set<std::string>{};
  };
  EXPECT_THAT(names(""), UnorderedElementsAre("web", "db", "plain"));
  EXPECT_THAT(names("app=web"), UnorderedElementsAre("web"));
  EXPECT_THAT(names("app"), UnorderedElementsAre("web", "db"));
  EXPECT_THAT(names("app!=web"), UnorderedElementsAre("db", "plain"));
  EXPECT_THAT(names("app=web,tier=front"), UnorderedElementsAre("web"));
  EXPECT_THAT(names("app=db,tier=front"), ::testing::IsEmpty());
  EXPECT_THAT(names("", {v1::RUNNING}), UnorderedElementsAre("web"));
  EXPECT_THAT(names("", {v1::CREATED}), UnorderedElementsAre("db"));
  EXPECT_THAT(names("", {v1::EXITED}), UnorderedElementsAre("plain"));
  EXPECT_THAT(names("", {v1::RUNNING, v1::EXITED}), UnorderedElementsAre("web", "plain"));
  EXPECT_THAT(names("app", {v1::CREATED}), UnorderedElementsAre("db"));
  EXPECT_EQ(agent_.List("=x").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(Lifecycle, ListSummariesCarryWhatPsShowsAndNoMore) {
  auto older = Busybox({"sleep", "1000"});
  older.set_name("older");
  (*older.mutable_labels())["app"] = "web";
  older.add_env("SECRET=1");
  v1::Mount* tmp = older.add_mounts();
  tmp->set_type(v1::MOUNT_TYPE_TMPFS);
  tmp->set_destination("/scratch");
  MustRun(older);
  auto newer = Busybox({"sh", "-c", "exit 4"});
  newer.set_name("newer");
  v1::Container exited = MustRun(newer);
  ASSERT_TRUE(agent_.Wait(exited.id()).ok());

  auto list = [&](v1::ListView view) {
    grpc::ClientContext ctx;
    v1::ListRequest req;
    req.set_view(view);
    v1::ListResponse resp;
    grpc::Status st = agent_.containers().List(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp;
  };
  v1::ListResponse full = list(v1::LIST_VIEW_FULL);
  v1::ListResponse summary = list(v1::LIST_VIEW_SUMMARY);
  ASSERT_EQ(full.containers_size(), 2);
  ASSERT_EQ(summary.containers_size(), 2);
  EXPECT_LT(summary.ByteSizeLong() * 3, full.ByteSizeLong());
  for (int i = 0; i < 2; ++i) {
    const v1::Container& f = full.containers(i);
    const v1::Container& s = summary.containers(i);
    SCOPED_TRACE(f.name());
    EXPECT_EQ(s.id(), f.id());  // the same order: newest first
    EXPECT_EQ(s.name(), f.name());
    EXPECT_EQ(s.image(), f.image());
    EXPECT_EQ(s.image_id(), f.image_id());
    EXPECT_THAT(s.command(), ::testing::ElementsAreArray(f.command()));
    EXPECT_EQ(s.labels().size(), f.labels().size());
    EXPECT_EQ(s.state(), f.state());
    EXPECT_EQ(s.pid(), f.pid());
    EXPECT_EQ(s.exit_code(), f.exit_code());
    EXPECT_EQ(s.created_at().seconds(), f.created_at().seconds());
    EXPECT_EQ(s.started_at().nanos(), f.started_at().nanos());
    EXPECT_EQ(s.finished_at().nanos(), f.finished_at().nanos());
    EXPECT_EQ(s.network_settings().mode(), f.network_settings().mode());
    EXPECT_EQ(s.config().mounts_size(), f.config().mounts_size());
    // What a listing does not show stays in the record.
    EXPECT_TRUE(f.has_security());
    EXPECT_FALSE(s.has_security());
    EXPECT_FALSE(f.env().empty());
    EXPECT_TRUE(s.env().empty());
    EXPECT_TRUE(s.config().env().empty());
    EXPECT_TRUE(s.log_path().empty());
  }
  EXPECT_EQ(summary.containers(0).name(), "newer");
  EXPECT_EQ(summary.containers(0).state(), v1::EXITED);
  EXPECT_EQ(summary.containers(0).exit_code(), 4);
  EXPECT_EQ(summary.containers(1).state(), v1::RUNNING);
  EXPECT_GT(summary.containers(1).pid(), 0);
  EXPECT_EQ(summary.containers(1).labels().at("app"), "web");
  EXPECT_EQ(summary.containers(1).config().mounts(0).destination(), "/scratch");

  grpc::ClientContext ctx;
  v1::ListRequest bad;
  bad.set_view(static_cast<v1::ListView>(9));
  v1::ListResponse resp;
  grpc::Status st = agent_.containers().List(&ctx, bad, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("view"));

  // List answers with bytes it writes itself: what another client sends and reads, raw.
  grpc::GenericStub raw(agent_.channel());
  auto call = [&](const std::string& request, std::string* response) {
    grpc::ClientContext ctx;
    grpc::Slice slice(request);
    grpc::ByteBuffer req_bytes(&slice, 1), resp_bytes;
    std::mutex mu;
    std::condition_variable cv;
    std::optional<grpc::Status> done;
    raw.UnaryCall(&ctx, "/berth.v1.Containers/List", grpc::StubOptions(), &req_bytes, &resp_bytes,
                  [&](grpc::Status s) {
                    std::lock_guard<std::mutex> lock(mu);
                    done = s;
                    cv.notify_one();
                  });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done.has_value(); });
    std::vector<grpc::Slice> slices;
    if (done->ok()) EXPECT_TRUE(resp_bytes.Dump(&slices).ok());
    for (const grpc::Slice& piece : slices) response->append(reinterpret_cast<const char*>(piece.begin()), piece.size());
    return *done;
  };
  // A field this agent does not know (a newer client's) is skipped, as Protobuf does.
  v1::ListRequest summaries;
  summaries.set_view(v1::LIST_VIEW_SUMMARY);
  std::string request = summaries.SerializeAsString() + std::string("\xf8\x3e\x01", 3);  // field 999 = 1
  std::string bytes;
  ASSERT_TRUE(call(request, &bytes).ok());
  v1::ListResponse parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(parsed, summary));
  std::string ignored;
  st = call(std::string("\x0a\xff\xff\xff\xff\x0f", 6), &ignored);  // a length past the end
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("does not parse as a berth.v1.ListRequest"));
}

// Each container's tree goes to a block group of ext4's choosing, not all to their parent's,
// where each new inode stepped over every one deleted in the last seconds (no journal).
TEST_P(Lifecycle, ContainersDirIsTheTopOfItsTreesOnExt4) {
  const std::string dir = agent_.root() + "/containers";
  struct statfs fs {};
  ASSERT_EQ(::statfs(dir.c_str(), &fs), 0) << dir;
  if (fs.f_type != EXT4_SUPER_MAGIC) GTEST_SKIP() << dir << " is not on ext4";
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  int flags = 0;
  EXPECT_EQ(::ioctl(fd, FS_IOC_GETFLAGS, &flags), 0);
  ::close(fd);
  EXPECT_NE(flags & FS_TOPDIR_FL, 0);
}

TEST_P(Lifecycle, ContainersAreFoundByUniquePrefixAndByName) {
  auto config = Busybox({"sleep", "1000"});
  config.set_name("lookup-me");
  v1::Container c = MustRun(config);
  ASSERT_EQ(c.name(), "lookup-me");
  for (const std::string& ref : {c.id(), c.id().substr(0, 12), c.id().substr(0, 5), std::string("lookup-me")}) {
    auto found = agent_.Inspect(ref);
    ASSERT_TRUE(found.ok()) << ref << ": " << found.status();
    EXPECT_EQ(found->id(), c.id()) << ref;
  }
  // Every verb takes the same references.
  auto exec = agent_.Exec("lookup-me", {"true"});
  ASSERT_TRUE(exec.ok()) << exec.status();
  EXPECT_EQ(exec->exit_code, 0);
  EXPECT_EQ(agent_.Inspect("lookup-m").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(agent_.Inspect("no-such-container").status().code(), absl::StatusCode::kNotFound);
  std::string other_prefix = c.id()[0] == 'f' ? "0" : "f";
  EXPECT_EQ(agent_.Inspect(other_prefix + c.id().substr(1, 11)).status().code(), absl::StatusCode::kNotFound);

  // A second container may not take the name.
  auto clash = agent_.Create(config);
  EXPECT_EQ(clash.status().code(), absl::StatusCode::kAlreadyExists) << clash.status();
  // Once removed, the name is free again.
  ASSERT_TRUE(agent_.Remove("lookup-me", true).ok());
  auto reused = agent_.Create(config);
  ASSERT_TRUE(reused.ok()) << reused.status();
  EXPECT_NE(reused->id(), c.id());
}

INSTANTIATE_TEST_SUITE_P(Userns, Lifecycle, ::testing::Values("host", "auto"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace berth::testing
