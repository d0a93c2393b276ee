// Agent restarts: SIGKILL berthd while containers run (and while they are being created), start
// it again, and check that it serves the same containers, learned the exits that happened
// while it was away, and removed whatever a crash left half-made.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "berth/v1/events.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/host_checks.h"

extern char** environ;

namespace berth::testing {
namespace {

using google::protobuf::util::TimeUtil;

constexpr auto kExitBound = std::chrono::seconds(15);

TEST(Restart, ContainersSurviveAgentSigkill) {
  AgentHarness agent;
  agent.Start();
  auto web_config = Busybox({"sleep", "1000"});
  web_config.set_name("web");
  auto web = agent.Run(web_config);
  ASSERT_TRUE(web.ok()) << web.status();
  auto brief_config = Busybox({"sh", "-c", "echo before; sleep 2; echo after; exit 7"});
  brief_config.set_name("brief");
  auto brief = agent.Run(brief_config);
  ASSERT_TRUE(brief.ok()) << brief.status();
  ASSERT_GT(web->pid(), 0);
  ASSERT_GT(brief->pid(), 0);

  const int64_t kill_ns = absl::GetCurrentTimeNanos();
  agent.Kill(SIGKILL);
  // The agent is not the containers' parent: both still run without it.
  EXPECT_TRUE(PidRunning(web->pid()));
  ASSERT_TRUE(PidRunning(brief->pid())) << "brief exited before the agent was killed; the test proves nothing";

  // brief ends while no agent runs; its shim records the exit.
  ASSERT_TRUE(WaitUntil([&] { return !PidRunning(brief->pid()); }, kExitBound)) << "brief did not exit";
  EXPECT_TRUE(PidRunning(web->pid()));

  agent.Start();
  auto web_after = agent.Inspect("web");
  ASSERT_TRUE(web_after.ok()) << web_after.status();
  EXPECT_EQ(web_after->state(), v1::RUNNING);
  EXPECT_EQ(web_after->pid(), web->pid());
  EXPECT_EQ(web_after->id(), web->id());

  auto brief_after = agent.Inspect("brief");
  ASSERT_TRUE(brief_after.ok()) << brief_after.status();
  EXPECT_EQ(brief_after->state(), v1::EXITED);
  EXPECT_EQ(brief_after->exit_code(), 7);
  EXPECT_GT(TimeUtil::TimestampToNanoseconds(brief_after->finished_at()), kill_ns);
  EXPECT_GE(TimeUtil::TimestampToNanoseconds(brief_after->finished_at()),
            TimeUtil::TimestampToNanoseconds(brief_after->started_at()));
  EXPECT_TRUE(brief_after->error().empty()) << brief_after->error();

  // Output written while the agent was away was logged by the shim.
  auto brief_logs = agent.Logs("brief");
  ASSERT_TRUE(brief_logs.ok()) << brief_logs.status();
  EXPECT_EQ(*brief_logs, "before\nafter\n");
  auto brief_wait = agent.Wait("brief", 10);
  ASSERT_TRUE(brief_wait.ok()) << brief_wait.status();
  EXPECT_EQ(brief_wait->exit_code(), 7);

  auto listed = ListAll(agent);
  std::set<std::string> names;
  for (const auto& c : listed) names.insert(c.name());
  EXPECT_EQ(names, (std::set<std::string>{"web", "brief"}));

  // The reconnected web serves exec and logs.
  auto exec = agent.Exec("web", {"sh", "-c", "echo from-exec; echo to-log > /proc/1/fd/1"});
  ASSERT_TRUE(exec.ok()) << exec.status();
  EXPECT_EQ(exec->exit_code, 0);
  EXPECT_EQ(exec->out, "from-exec\n");
  std::string web_logs;
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto l = agent.Logs("web");
        if (l.ok()) web_logs = *l;
        return web_logs == "to-log\n";
      },
      std::chrono::seconds(10)))
      << "web logs: " << web_logs;

  // Stop goes through the reconnected exit watcher; Wait then reports the exit.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::StopRequest req;
    req.set_id("web");
    req.set_timeout_seconds(1);
    v1::StopResponse resp;
    auto st = agent.containers().Stop(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(resp.container().state(), v1::EXITED);
  }
  auto web_wait = agent.Wait("web", 10);
  ASSERT_TRUE(web_wait.ok()) << web_wait.status();
  EXPECT_EQ(web_wait->exit_code(), 128 + SIGKILL);  // sleep as PID 1 ignores SIGTERM
  EXPECT_EQ(web_wait->container().state(), v1::EXITED);
  EXPECT_FALSE(PidRunning(web->pid()));

  for (const auto& c : listed) EXPECT_TRUE(agent.Remove(c.id(), false).ok()) << c.name();
  EXPECT_TRUE(ListAll(agent).empty());
  EXPECT_TRUE(ContainerDirIds(agent).empty());
  EXPECT_TRUE(WaitUntil([&] { return ContainerCgroupIds(agent).empty(); }, kExitBound));
}

TEST(Restart, SecondRestartKeepsRecordedExit) {
  // An exit applied at one restart stays recorded at the next (the record was persisted).
  AgentHarness agent;
  agent.Start();
  auto c = agent.Run(Busybox({"sh", "-c", "exit 3"}));
  ASSERT_TRUE(c.ok()) << c.status();
  auto w = agent.Wait(c->id(), 20);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->exit_code(), 3);
  agent.Restart();
  agent.Restart();
  auto after = agent.Inspect(c->id());
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->state(), v1::EXITED);
  EXPECT_EQ(after->exit_code(), 3);
  EXPECT_EQ(TimeUtil::TimestampToNanoseconds(after->finished_at()),
            TimeUtil::TimestampToNanoseconds(w->container().finished_at()));
}

TEST(Restart, RmContainersThatExitedWhileTheAgentWasDownAreRemovedAtItsStart) {
  // As docker's daemon does: a --rm container whose exit the agent did not see, or saw but had
  // not removed yet, is removed when the agent starts again; one without --rm keeps its exit.
  AgentHarness agent;
  agent.Start();
  auto rm_config = Busybox({"sleep", "1000"});
  rm_config.set_name("rm-me");
  rm_config.set_auto_remove(true);
  auto rm = agent.Run(rm_config);
  ASSERT_TRUE(rm.ok()) << rm.status();
  auto kept_config = Busybox({"sleep", "1000"});
  kept_config.set_name("kept");
  auto kept = agent.Run(kept_config);
  ASSERT_TRUE(kept.ok()) << kept.status();
  ASSERT_GT(rm->pid(), 0);
  ASSERT_GT(kept->pid(), 0);

  agent.Kill(SIGKILL);
  // Both processes were started by this test; they end while no agent runs.
  ASSERT_EQ(::kill(rm->pid(), SIGKILL), 0);
  ASSERT_EQ(::kill(kept->pid(), SIGKILL), 0);
  ASSERT_TRUE(WaitUntil([&] { return !PidRunning(rm->pid()) && !PidRunning(kept->pid()); }, kExitBound));

  agent.Start();
  auto gone = agent.Inspect(rm->id());
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound) << gone.status();
  auto kept_after = agent.Inspect("kept");
  ASSERT_TRUE(kept_after.ok()) << kept_after.status();
  EXPECT_EQ(kept_after->state(), v1::EXITED);
  EXPECT_EQ(kept_after->exit_code(), 128 + SIGKILL);
  EXPECT_EQ(ContainerDirIds(agent), (std::set<std::string>{kept->id()}));
  EXPECT_TRUE(WaitUntil([&] { return ContainerCgroupIds(agent).count(rm->id()) == 0; }, kExitBound));
  ASSERT_TRUE(agent.Remove(kept->id(), false).ok());
}

TEST(Restart, AStartComesBackFromTheShimsStateFile) {
  // A start is not written to the record; after a restart the agent takes it from the shim's
  // state file: the running container keeps its start time, and one that died with its shim
  // (as everything does at a reboot) is an exit with the start time it had.
  AgentHarness agent;
  agent.Start();
  auto live = agent.Run(Busybox({"sleep", "1000"}));
  ASSERT_TRUE(live.ok()) << live.status();
  auto lost = agent.Run(Busybox({"sleep", "1000"}));
  ASSERT_TRUE(lost.ok()) << lost.status();
  ASSERT_TRUE(live->has_started_at() && lost->has_started_at());
  agent.Kill(SIGKILL);
  const pid_t shim_pid = ShimPidFromState(agent, lost->id());
  ASSERT_GT(shim_pid, 0);
  ASSERT_EQ(::kill(shim_pid, SIGKILL), 0);
  ASSERT_EQ(::kill(lost->pid(), SIGKILL), 0);
  ASSERT_TRUE(WaitUntil([&] { return !PidRunning(shim_pid) && !PidRunning(lost->pid()); }, kExitBound));
  agent.Start();

  auto running = agent.Inspect(live->id());
  ASSERT_TRUE(running.ok()) << running.status();
  EXPECT_EQ(running->state(), v1::RUNNING);
  EXPECT_EQ(TimeUtil::TimestampToNanoseconds(running->started_at()),
            TimeUtil::TimestampToNanoseconds(live->started_at()));
  auto exited = agent.Inspect(lost->id());
  ASSERT_TRUE(exited.ok()) << exited.status();
  EXPECT_EQ(exited->state(), v1::EXITED);
  EXPECT_EQ(exited->exit_code(), 255);
  EXPECT_NE(exited->error().find("monitor"), std::string::npos) << exited->error();
  EXPECT_EQ(TimeUtil::TimestampToNanoseconds(exited->started_at()),
            TimeUtil::TimestampToNanoseconds(lost->started_at()));
  EXPECT_GE(TimeUtil::TimestampToNanoseconds(exited->finished_at()),
            TimeUtil::TimestampToNanoseconds(exited->started_at()));
  // The same after one more restart: what recovery found was written down.
  agent.Restart();
  auto again = agent.Inspect(lost->id());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(TimeUtil::TimestampToNanoseconds(again->started_at()),
            TimeUtil::TimestampToNanoseconds(lost->started_at()));
}

TEST(Restart, CreatedContainerWithoutRecordIsRemoved) {
  AgentHarness agent;
  agent.Start();
  auto kept = agent.Create(Busybox({"sleep", "1000"}));
  ASSERT_TRUE(kept.ok()) << kept.status();
  auto crashed = agent.Create(Busybox({"sleep", "1000"}));
  ASSERT_TRUE(crashed.ok()) << crashed.status();
  const std::string id = crashed->id();
  const pid_t shim_pid = ShimPidFromState(agent, id);
  ASSERT_GT(shim_pid, 0);
  ASSERT_TRUE(PidRunning(shim_pid));
  ASSERT_TRUE(PidRunning(crashed->pid()));
  const std::string pids_cgroup = agent.CgroupDir(id, "pids");
  const std::string memory_cgroup = agent.CgroupDir(id, "memory");
  ASSERT_FALSE(pids_cgroup.empty());
  ASSERT_EQ(::access(pids_cgroup.c_str(), F_OK), 0) << pids_cgroup;

  agent.Kill(SIGKILL);
  // Model a crash after the shim made the container but before the record was written.
  const std::string dir = ContainersDir(agent) + "/" + id;
  ASSERT_EQ(::unlink((dir + "/container.json").c_str()), 0);
  agent.Start();

  EXPECT_NE(::access(dir.c_str(), F_OK), 0) << dir << " still exists";
  EXPECT_TRUE(WaitUntil([&] { return !PidRunning(shim_pid); }, kExitBound)) << "shim " << shim_pid << " lives";
  EXPECT_TRUE(WaitUntil([&] { return !PidRunning(crashed->pid()); }, kExitBound)) << "init lives";
  EXPECT_NE(::access(pids_cgroup.c_str(), F_OK), 0) << pids_cgroup;
  EXPECT_NE(::access(memory_cgroup.c_str(), F_OK), 0) << memory_cgroup;
  EXPECT_EQ(agent.Inspect(id).status().code(), absl::StatusCode::kNotFound);

  // The other container is untouched and still startable.
  auto listed = ListAll(agent);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id(), kept->id());
  EXPECT_EQ(listed[0].state(), v1::CREATED);
  EXPECT_EQ(ContainerDirIds(agent), std::set<std::string>{kept->id()});
  EXPECT_EQ(ContainerCgroupIds(agent), std::set<std::string>{kept->id()});
  grpc::ClientContext ctx;
  v1::StartRequest req;
  req.set_id(kept->id());
  v1::StartResponse resp;
  auto st = agent.containers().Start(&ctx, req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.container().state(), v1::RUNNING);
}

// A create's first record is durable under a pending name before its commit (a rename, not
// synced). After a restart in the same boot, a pending record is a create that was never
// reported: undone. One of an earlier boot may be a commit whose rename the node lost when it
// went down: kept, unless it does not read whole (its create cannot have been reported).
TEST(Restart, PendingRecordsAreUndoneInTheirBootAndKeptFromAnEarlierOne) {
  AgentHarness agent;
  agent.Start();
  auto earlier = agent.Create(Busybox({"sleep", "1000"}));
  ASSERT_TRUE(earlier.ok()) << earlier.status();
  auto this_boot = agent.Create(Busybox({"sleep", "1000"}));
  ASSERT_TRUE(this_boot.ok()) << this_boot.status();
  auto torn = agent.Create(Busybox({"sleep", "1000"}));
  ASSERT_TRUE(torn.ok()) << torn.status();
  // Kept from an earlier boot as well, but as after a real reboot: its shim and init are gone.
  auto rebooted = agent.Create(Busybox({"sleep", "1000"}));
  ASSERT_TRUE(rebooted.ok()) << rebooted.status();
  const pid_t this_boot_shim = ShimPidFromState(agent, this_boot->id());
  ASSERT_GT(this_boot_shim, 0);
  const pid_t rebooted_shim = ShimPidFromState(agent, rebooted->id());
  ASSERT_GT(rebooted_shim, 0);

  agent.Kill(SIGKILL);
  ASSERT_EQ(::kill(rebooted_shim, SIGKILL), 0);
  ASSERT_EQ(::kill(rebooted->pid(), SIGKILL), 0);
  ASSERT_TRUE(WaitUntil([&] { return !PidRunning(rebooted_shim) && !PidRunning(rebooted->pid()); }, kExitBound));
  const std::string boot_id(absl::StripAsciiWhitespace(ReadText("/proc/sys/kernel/random/boot_id")));
  ASSERT_FALSE(boot_id.empty());
  const std::string other_boot = "00000000-0000-4000-8000-000000000000";
  ASSERT_NE(boot_id, other_boot);
  auto pend = [&](const v1::Container& c, const std::string& boot) {
    const std::string record = ContainersDir(agent) + "/" + c.id() + "/container.json";
    const std::string pending = record + ".pending-" + boot;
    EXPECT_EQ(::rename(record.c_str(), pending.c_str()), 0) << record;
    return pending;
  };
  pend(*earlier, other_boot);
  pend(*this_boot, boot_id);
  pend(*rebooted, other_boot);
  const std::string torn_pending = pend(*torn, other_boot);
  ASSERT_EQ(::truncate(torn_pending.c_str(), 20), 0);
  agent.Start();

  auto listed = ListAll(agent);
  ASSERT_EQ(listed.size(), 2u);
  std::map<std::string, v1::Container> by_id;
  for (const v1::Container& c : listed) by_id[c.id()] = c;
  ASSERT_EQ(by_id.count(earlier->id()), 1u);
  EXPECT_EQ(by_id[earlier->id()].name(), earlier->name());
  EXPECT_EQ(by_id[earlier->id()].state(), v1::CREATED);
  ASSERT_EQ(by_id.count(rebooted->id()), 1u);
  EXPECT_EQ(by_id[rebooted->id()].state(), v1::EXITED) << "its monitor is gone: an exit, code unknown";
  EXPECT_EQ(by_id[rebooted->id()].exit_code(), 255);
  for (const auto* c : {&*earlier, &*rebooted}) {
    EXPECT_EQ(::access((ContainersDir(agent) + "/" + c->id() + "/container.json").c_str(), F_OK), 0);
  }
  EXPECT_EQ(ContainerDirIds(agent), (std::set<std::string>{earlier->id(), rebooted->id()}));
  EXPECT_TRUE(WaitUntil([&] { return !PidRunning(this_boot_shim); }, kExitBound)) << "shim " << this_boot_shim;
  EXPECT_TRUE(WaitUntil([&] { return !PidRunning(this_boot->pid()) && !PidRunning(torn->pid()); }, kExitBound));
  EXPECT_TRUE(WaitUntil([&] { return ContainerCgroupIds(agent) == std::set<std::string>{earlier->id()}; }, kExitBound));
  auto restarted = agent.StartContainer(rebooted->id());
  ASSERT_TRUE(restarted.ok()) << "a kept container whose processes are gone starts again: " << restarted.status();
  auto again = agent.Exec(rebooted->id(), {"echo", "again"});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->out, "again\n");
  EXPECT_TRUE(agent.Remove(rebooted->id(), true).ok());
  auto started = agent.StartContainer(earlier->id());
  ASSERT_TRUE(started.ok()) << started.status();
  auto exec = agent.Exec(earlier->id(), {"echo", "kept"});
  ASSERT_TRUE(exec.ok()) << exec.status();
  EXPECT_EQ(exec->out, "kept\n");
  EXPECT_TRUE(agent.Remove(earlier->id(), true).ok());
}

// The agent dies (or gives up) while a shim is still creating its container: nobody will
// read the shim's report, so no record of this container will ever exist. Recovery may already
// have run by the time the shim is done, so the shim itself must undo the container rather
// than keep it running unsupervised. Modelled by launching a shim whose report pipe has no
// reader.
TEST(Restart, ShimWhoseReportNobodyReadsUndoesItsContainer) {
  AgentHarness agent;
  agent.Start();
  // A valid bundle, taken from a container the agent made, moved to an id of our own.
  auto model = agent.Create(Busybox({"sleep", "1000"}));
  ASSERT_TRUE(model.ok()) << model.status();
  const std::string id(64, 'e');
  const std::string dir = ContainersDir(agent) + "/" + id;
  std::string config = ReadText(ContainersDir(agent) + "/" + model->id() + "/bundle/config.json");
  ASSERT_FALSE(config.empty());
  for (size_t p = config.find(model->id()); p != std::string::npos; p = config.find(model->id(), p)) {
    config.replace(p, model->id().size(), id);
  }
  for (const char* sub : {"", "/bundle", "/rootfs", "/upper", "/work"}) {
    ASSERT_EQ(::mkdir((dir + sub).c_str(), 0700), 0) << dir + sub;
  }
  {
    std::ofstream out(dir + "/bundle/config.json");
    out << config;
  }

  int report[2];
  ASSERT_EQ(::pipe2(report, O_CLOEXEC), 0);
  ::close(report[0]);  // the agent that would read the report is gone
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, report[1], 3);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<std::string> args = {BERTH_SHIM_PATH, "--id", id, "--bundle", dir + "/bundle",
                                   "--state-dir", dir, "--log", dir + "/container.log"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t first = -1;
  int rc = ::posix_spawn(&first, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(report[1]);
  ASSERT_EQ(rc, 0);
  int status = 0;
  ASSERT_EQ(::waitpid(first, &status, 0), first);  // the shim detaches: its first process exits

  EXPECT_TRUE(WaitUntil([&] { return ProcessesMentioning(id).empty(); }, std::chrono::seconds(10)))
      << "the shim keeps an unrecorded container running";
  EXPECT_TRUE(ContainerCgroupIds(agent).count(id) == 0) << "its cgroup remains";
  EXPECT_NE(::access((dir + "/state.json").c_str(), F_OK), 0);
  EXPECT_NE(::access((dir + "/shim.sock").c_str(), F_OK), 0);

  // What remains is a directory without a record, which the next start removes.
  agent.Restart();
  EXPECT_NE(::access(dir.c_str(), F_OK), 0);
  EXPECT_EQ(ContainerDirIds(agent), std::set<std::string>{model->id()});
}

TEST(Restart, TrashAndUnknownCgroupsAreCollected) {
  AgentHarness agent;
  agent.Start();
  auto c = agent.Run(Busybox({"sleep", "1000"}));
  ASSERT_TRUE(c.ok()) << c.status();
  agent.Kill(SIGKILL);
  // An interrupted removal: the directory was renamed to .trash-<id> (its shim still runs,
  // as Remove renames only after the exit, so end it the documented way first).
  const pid_t shim_pid = ShimPidFromState(agent, c->id());
  ASSERT_GT(shim_pid, 0);
  ASSERT_EQ(::kill(shim_pid, SIGTERM), 0);
  ASSERT_TRUE(WaitUntil([&] { return !PidRunning(c->pid()); }, kExitBound));
  const std::string dir = ContainersDir(agent) + "/" + c->id();
  const std::string trash = ContainersDir(agent) + "/.trash-" + c->id();
  ASSERT_EQ(::rename(dir.c_str(), trash.c_str()), 0);
  // And a cgroup of a container id the agent never recorded.
  const std::string unknown(64, 'd');
  std::vector<std::string> unknown_dirs;
  for (const char* controller : {"pids", "memory"}) {
    unknown_dirs.push_back(agent.CgroupDir(unknown, controller));
    ASSERT_EQ(::mkdir(unknown_dirs.back().c_str(), 0755), 0) << unknown_dirs.back();
  }
  agent.Start();
  for (const auto& d : unknown_dirs) EXPECT_NE(::access(d.c_str(), F_OK), 0) << d;
  EXPECT_NE(::access(trash.c_str(), F_OK), 0);
  EXPECT_TRUE(DirEntries(ContainersDir(agent)).empty());
  EXPECT_TRUE(ListAll(agent).empty());
  EXPECT_TRUE(ContainerCgroupIds(agent).empty());
}

// Creates (and starts) containers one after another until the agent stops answering or
// `limit` were made.
struct CreateLoop {
  std::atomic<int> created{0};
  std::atomic<bool> stop{false};
  std::atomic<bool> done{false};
  std::vector<std::string> errors;
  std::thread thread;

  void Begin(AgentHarness& agent, int limit) {
    thread = std::thread([this, &agent, limit] {
      for (int i = 0; i < limit && !stop; ++i) {
        auto c = agent.Run(Busybox({"sleep", "1000"}));
        if (!c.ok()) {
          errors.push_back(std::string(c.status().message()));
          break;
        }
        ++created;
      }
      done = true;
    });
  }
};

TEST(Restart, SigkillDuringCreatesLeavesOnlyUsableContainers) {
  AgentHarness agent;
  agent.Start();
  // Several rounds, each killing at a different moment of a Create.
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(::testing::Message() << "round " << round);
    CreateLoop loop;
    const int before = static_cast<int>(ListAll(agent).size());
    loop.Begin(agent, 40);
    ASSERT_TRUE(WaitUntil([&] { return loop.created >= 2 || loop.done; }, std::chrono::seconds(60)));
    // Land somewhere inside the next Create (a Run takes some tens of ms here).
    std::this_thread::sleep_for(std::chrono::milliseconds(3 + 7 * round));
    agent.Kill(SIGKILL);
    loop.stop = true;
    loop.thread.join();
    agent.Start();

    // Every container dir is a recorded container, and every recorded container is listed.
    auto listed = ListAll(agent);
    std::set<std::string> listed_ids;
    for (const auto& c : listed) listed_ids.insert(c.id());
    EXPECT_GE(static_cast<int>(listed.size()), before + loop.created.load());
    EXPECT_EQ(ContainerDirIds(agent), listed_ids);
    for (const auto& id : ContainerDirIds(agent)) {
      EXPECT_EQ(::access((ContainersDir(agent) + "/" + id + "/container.json").c_str(), F_OK), 0) << id;
    }
    // No cgroup for a container the agent does not know (a shim of the interrupted Create may
    // still be finishing: give it a moment to go away).
    for (const char* controller : {"pids", "memory"}) {
      EXPECT_TRUE(WaitUntil(
          [&] {
            for (const auto& id : ContainerCgroupIds(agent, controller)) {
              if (!listed_ids.count(id)) return false;
            }
            return true;
          },
          kExitBound))
          << controller << " cgroup of an unknown container remains";
    }
    // Each is usable: a running one answers exec, a created one starts.
    for (const auto& c : listed) {
      SCOPED_TRACE(c.id());
      if (c.state() == v1::CREATED) {
        grpc::ClientContext ctx;
        v1::StartRequest req;
        req.set_id(c.id());
        v1::StartResponse resp;
        auto st = agent.containers().Start(&ctx, req, &resp);
        EXPECT_TRUE(st.ok()) << st.error_message();
      }
      auto i = agent.Inspect(c.id());
      ASSERT_TRUE(i.ok()) << i.status();
      EXPECT_EQ(i->state(), v1::RUNNING);
      auto exec = agent.Exec(c.id(), {"echo", "ok"});
      ASSERT_TRUE(exec.ok()) << exec.status();
      EXPECT_EQ(exec->out, "ok\n");
    }
  }
  // And each can be removed, leaving nothing.
  for (const auto& c : ListAll(agent)) EXPECT_TRUE(agent.Remove(c.id(), true).ok()) << c.id();
  EXPECT_TRUE(ListAll(agent).empty());
  // Deleted just after each Remove returned.
  EXPECT_TRUE(WaitUntil([&] { return DirEntries(ContainersDir(agent)).empty(); }, kExitBound));
  EXPECT_TRUE(WaitUntil([&] { return ContainerCgroupIds(agent).empty(); }, kExitBound));
  EXPECT_TRUE(WaitUntil([&] { return ContainerCgroupIds(agent, "memory").empty(); }, kExitBound));
}

// SIGTERM with streams that have no end of their own (logs -f, events, attach, stats) open on
// another connection: the agent ends them and exits by itself (the harness would SIGKILL it
// after 15 s and fail), the clients see their streams end, and the container runs on.
TEST(Restart, SigtermEndsOpenStreamsAndLeavesContainersRunning) {
  AgentHarness agent;
  agent.Start();
  auto c = agent.Run(Busybox({"sh", "-c", "while :; do echo tick; sleep 0.2; done"}));
  ASSERT_TRUE(c.ok()) << c.status();
  auto channel = grpc::CreateChannel("unix:" + agent.socket(), grpc::InsecureChannelCredentials());
  auto containers = v1::Containers::NewStub(channel);
  auto events = v1::Events::NewStub(channel);

  grpc::ClientContext logs_ctx;
  v1::LogsRequest logs_req;
  logs_req.set_id(c->id());
  logs_req.set_follow(true);
  auto logs = containers->Logs(&logs_ctx, logs_req);
  v1::LogsResponse logs_resp;
  ASSERT_TRUE(logs->Read(&logs_resp));
  grpc::ClientContext events_ctx;
  auto subscription = events->Subscribe(&events_ctx, v1::SubscribeRequest());
  grpc::ClientContext attach_ctx;
  auto attach = containers->Attach(&attach_ctx);
  v1::AttachRequest attach_req;
  attach_req.set_id(c->id());
  ASSERT_TRUE(attach->Write(attach_req));
  v1::AttachResponse attach_resp;
  ASSERT_TRUE(attach->Read(&attach_resp));
  grpc::ClientContext stats_ctx;
  v1::StatsStreamRequest stats_req;
  stats_req.set_interval_ms(200);
  auto stats = containers->StatsStream(&stats_ctx, stats_req);
  v1::StatsResponse stats_resp;
  ASSERT_TRUE(stats->Read(&stats_resp));

  agent.Kill(SIGTERM);
  while (logs->Read(&logs_resp)) {
  }
  EXPECT_FALSE(logs->Finish().ok());
  v1::Event event;
  while (subscription->Read(&event)) {
  }
  EXPECT_FALSE(subscription->Finish().ok());
  while (attach->Read(&attach_resp)) {
  }
  EXPECT_FALSE(attach->Finish().ok());
  while (stats->Read(&stats_resp)) {
  }
  EXPECT_FALSE(stats->Finish().ok());
  EXPECT_TRUE(PidRunning(c->pid())) << "SIGTERM stops the agent, not its containers";
  agent.Start();
  auto again = agent.Inspect(c->id());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->state(), v1::RUNNING);
}

}  // namespace
}  // namespace berth::testing
