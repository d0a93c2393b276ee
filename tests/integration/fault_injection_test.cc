// Crash-point fault injection (runtime/base/crash_point.h): for each named durable step of
// create, start, stop, exit, remove, exec, image layer commit, network attach and release, the
// agent is started with BERTH_CRASH_AT naming it, driven to it, and dies there of SIGKILL.
// Started again without the variable, it must hold no duplicate and only usable containers
// (a running one execs, an exited one reports the code its process really exited with), and
// once they are removed nothing may be left: no shim, cgroup, container dir, mount, veth,
// lease or half-imported layer. The event journal continues after the last event seen before
// the crash with no gap and no duplicate. rotation.renamed kills the shim (it rotates the
// log), not the agent: the container's exit is then unknown (255) and nothing leaks either.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "berth/v1/events.grpc.pb.h"
#include "gtest/gtest.h"
#include "runtime/base/crash_point.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/host_checks.h"
#include "tests/integration/support/image_support.h"
#include "tests/integration/support/network_support.h"
#include "tests/integration/support/oci_builder.h"

namespace berth::testing {
namespace {

// A container whose SIGTERM ends it with 0 once it says "ready" (PID 1 ignores a TERM that
// comes before its trap).
v1::ContainerConfig Trapping() {
  return Busybox({"sh", "-c", "trap 'exit 0' TERM; echo ready; sleep 1000 & wait"});
}

struct CrashCase {
  const char* point;
  // Drives the agent to the point. The call that reaches it fails (the agent is gone), so
  // what it returns is not checked here.
  std::function<void(AgentHarness&)> drive;
  // After the restart, before everything is removed: what must hold of the containers left.
  std::function<void(AgentHarness&, const std::vector<v1::Container>&)> verify;
  bool shim_dies = false;  // the point is in the shim, not the agent
};

// A container on the bridge has its interface with the address its record shows.
void ExpectConnected(AgentHarness& agent, const v1::Container& c) {
  if (c.network_settings().mode() != "bridge") return;
  auto exec = agent.Exec(c.id(), {"ip", "-4", "-o", "addr", "show", "eth0"});
  ASSERT_TRUE(exec.ok()) << c.name() << ": " << exec.status();
  EXPECT_TRUE(absl::StrContains(exec->out, c.network_settings().ip_address() + "/"))
      << c.name() << " has not its address " << c.network_settings().ip_address() << ": " << exec->out << exec->err;
}

void ExpectUsable(AgentHarness& agent, const std::vector<v1::Container>& containers) {
  for (const v1::Container& c : containers) {
    if (c.state() == v1::RUNNING) {
      auto exec = agent.Exec(c.id(), {"echo", "alive"});
      ASSERT_TRUE(exec.ok()) << c.name() << ": " << exec.status();
      EXPECT_EQ(exec->out, "alive\n") << c.name();
      ExpectConnected(agent, c);
    } else if (c.state() == v1::CREATED) {
      auto started = agent.StartContainer(c.id());
      ASSERT_TRUE(started.ok()) << c.name() << " was created but cannot start: " << started.status();
      ExpectConnected(agent, c);
    }
  }
}

void RunContainer(AgentHarness& agent) {
  auto c = agent.Run(Trapping());
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(Eventually([&] { return agent.Logs(c->id()).value_or("") == "ready\n"; }));
}

std::vector<CrashCase> Cases() {
  auto create = [](AgentHarness& agent) { (void)agent.Create(Trapping()); };
  auto create_and_start = [](AgentHarness& agent) {
    auto c = agent.Create(Trapping());
    ASSERT_TRUE(c.ok()) << c.status();
    (void)agent.StartContainer(c->id());
  };
  auto remove = [](AgentHarness& agent) {
    ASSERT_NO_FATAL_FAILURE(RunContainer(agent));
    auto list = agent.List();
    ASSERT_TRUE(list.ok() && list->size() == 1);
    (void)agent.Remove((*list)[0].id());
  };
  auto stopped_with_zero = [](AgentHarness& agent, const std::vector<v1::Container>& cs) {
    ASSERT_EQ(cs.size(), 1u);
    EXPECT_EQ(cs[0].state(), v1::EXITED);
    EXPECT_EQ(cs[0].exit_code(), 0) << "the trap's exit code, recorded while the agent was down";
  };
  auto at_most_one = [](AgentHarness& agent, const std::vector<v1::Container>& cs) {
    EXPECT_LE(cs.size(), 1u);
    ExpectUsable(agent, cs);
  };
  auto running = [](AgentHarness& agent, const std::vector<v1::Container>& cs) {
    ASSERT_EQ(cs.size(), 1u);
    EXPECT_EQ(cs[0].state(), v1::RUNNING);
    ExpectUsable(agent, cs);
  };
  auto gone_or_exited = [](AgentHarness& agent, const std::vector<v1::Container>& cs) {
    for (const v1::Container& c : cs) EXPECT_EQ(c.state(), v1::EXITED) << c.name();
  };
  return {
      {"create.lease_written", create, at_most_one},
      {"create.bundle_written", create, at_most_one},
      {"network.attached", create, at_most_one},
      {"create.record_pending", create,
       [](AgentHarness& agent, const std::vector<v1::Container>& cs) {
         // Durable, but the create was never reported: undone at recovery, in this boot.
         EXPECT_TRUE(cs.empty()) << "a create that died before its commit is listed: " << cs[0].name();
         EXPECT_TRUE(DirEntries(ContainersDir(agent)).empty());
       }},
      {"create.shim_launched", create, at_most_one},
      {"create.network_connected", create, at_most_one},
      {"create.record_written", create,
       [](AgentHarness& agent, const std::vector<v1::Container>& cs) {
         ASSERT_EQ(cs.size(), 1u) << "a written record is a container";
         EXPECT_EQ(cs[0].state(), v1::CREATED);
         ExpectUsable(agent, cs);
       }},
      {"start.shim_started", create_and_start, running},
      {"exec.started",
       [](AgentHarness& agent) {
         ASSERT_NO_FATAL_FAILURE(RunContainer(agent));
         (void)agent.Exec(agent.List()->at(0).id(), {"true"});
       },
       running},
      {"stop.signalled",
       [](AgentHarness& agent) {
         ASSERT_NO_FATAL_FAILURE(RunContainer(agent));
         (void)agent.Stop(agent.List()->at(0).id(), 10);
       },
       stopped_with_zero},
      {"exit.recorded",
       [](AgentHarness& agent) {
         auto c = agent.Run(Busybox({"sh", "-c", "exit 3"}));
         ASSERT_TRUE(c.ok()) << c.status();
         (void)agent.Wait(c->id(), 10);
       },
       [](AgentHarness&, const std::vector<v1::Container>& cs) {
         ASSERT_EQ(cs.size(), 1u);
         EXPECT_EQ(cs[0].state(), v1::EXITED);
         EXPECT_EQ(cs[0].exit_code(), 3);
       }},
      {"remove.killed", remove, gone_or_exited},
      {"remove.renamed", remove, gone_or_exited},
      {"network.released", remove, gone_or_exited},
      {"remove.tree_discarded", remove, gone_or_exited},
      {"pull.layer_committed",
       [](AgentHarness& agent) {
         absl::StatusOr<Image> busybox = ExportedBusybox(agent);
         ASSERT_TRUE(busybox.ok()) << busybox.status();
         Image derived = busybox->With(MakeLayer({File("etc/crash-test", "x\n")}));
         derived.Seal();
         (void)ImportImages(agent, LayoutTar({&derived}, {"t/crash:v1"}));
       },
       [](AgentHarness& agent, const std::vector<v1::Container>&) {
         // Imported whole or not at all; usable either way, and no half-unpacked layer.
         for (const std::string& entry : DirEntries(agent.root() + "/images/layers")) {
           EXPECT_FALSE(absl::StartsWith(entry, ".tmp-")) << "half-unpacked layer " << entry;
         }
         auto run = agent.RunToExit(Busybox({"true"}));
         ASSERT_TRUE(run.ok()) << run.status();
         EXPECT_EQ(run->exit_code, 0);
       }},
      {"rotation.renamed",
       [](AgentHarness& agent) {
         auto config = Busybox({"sh", "-c", "i=0; while [ $i -lt 400 ]; do echo line-$i-padding-padding-padding; i=$((i+1)); done; sleep 1000"});
         config.mutable_log()->set_max_size_bytes(4096);
         config.mutable_log()->set_max_files(2);
         auto c = agent.Run(config);
         ASSERT_TRUE(c.ok()) << c.status();
         // The shim dies at its first rotation; the agent records an exit it cannot know.
         ASSERT_TRUE(agent.WaitForState(c->id(), v1::EXITED, std::chrono::seconds(20)));
       },
       [](AgentHarness&, const std::vector<v1::Container>& cs) {
         ASSERT_EQ(cs.size(), 1u);
         // Renamed to .1, the new file not opened yet: the shim died between the two.
         EXPECT_EQ(::access((cs[0].log_path() + ".1").c_str(), F_OK), 0) << "no rotation happened";
         EXPECT_NE(::access(cs[0].log_path().c_str(), F_OK), 0) << "the shim went on after the rename";
         EXPECT_EQ(cs[0].state(), v1::EXITED);
         EXPECT_EQ(cs[0].exit_code(), 255);
         EXPECT_TRUE(absl::StrContains(cs[0].error(), "monitor")) << cs[0].error();
       },
       /*shim_dies=*/true},
  };
}

// The highest sequence number in the journal (0: none).
uint64_t LastSequence(AgentHarness& agent) {
  auto stub = v1::Events::NewStub(agent.channel());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  v1::SubscribeRequest req;
  req.set_since_sequence(0);
  auto reader = stub->Subscribe(&ctx, req);
  uint64_t last = 0;
  v1::Event e;
  while (reader->Read(&e)) last = e.sequence();
  return last;
}

std::vector<uint64_t> SequencesAfter(AgentHarness& agent, uint64_t after) {
  auto stub = v1::Events::NewStub(agent.channel());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  v1::SubscribeRequest req;
  req.set_since_sequence(after);
  auto reader = stub->Subscribe(&ctx, req);
  std::vector<uint64_t> out;
  v1::Event e;
  while (reader->Read(&e)) out.push_back(e.sequence());
  return out;
}

// What is on the node besides the agent, once every container is removed.
std::vector<std::string> Leftovers(AgentHarness& agent) {
  std::vector<std::string> found;
  Eventually(
      [&] {
        found.clear();
        for (pid_t pid : ProcessesMentioning(agent.dir())) {
          if (pid != agent.pid()) found.push_back(absl::StrCat("process ", pid, " ", ReadText(absl::StrCat("/proc/", pid, "/comm"))));
        }
        for (const char* controller : {"pids", "memory", "cpu"}) {
          for (const std::string& id : ContainerCgroupIds(agent, controller)) found.push_back(absl::StrCat(controller, " cgroup ", id));
        }
        for (const std::string& entry : DirEntries(ContainersDir(agent))) found.push_back("dir containers/" + entry);
        for (const std::string& veth : LinkNamesWithPrefix(agent.netns_fd(), "bth")) found.push_back("veth " + veth);
        for (const std::string& lease : LeaseFiles(agent.root())) found.push_back("lease " + lease);
        std::ifstream mounts("/proc/self/mountinfo");
        for (std::string line; std::getline(mounts, line);) {
          if (absl::StrContains(line, agent.dir() + "/root/containers")) found.push_back("mount " + line);
        }
        return found.empty();
      },
      std::chrono::seconds(10));
  return found;
}

class FaultInjection : public ::testing::TestWithParam<CrashCase> {};

TEST_P(FaultInjection, TheAgentRecoversFromACrashThere) {
  const CrashCase& c = GetParam();
  AgentHarness agent;
  if (absl::StartsWith(c.point, "pull.")) {
    agent.Start();  // its first start imports the default image, which commits a layer too
    agent.Kill();
  }
  ::setenv(kCrashAtVariable, c.point, 1);
  agent.Start();
  ::unsetenv(kCrashAtVariable);  // nothing else this test starts may crash
  ASSERT_TRUE(agent.running());
  const std::string log = agent.dir() + "/berthd.log";
  const uint64_t before = LastSequence(agent);
  ASSERT_GT(before, 0u) << "agent.start is an event";

  ASSERT_NO_FATAL_FAILURE(c.drive(agent));
  // The agent says where it dies on its stderr (the log); the shim's stderr is /dev/null, so
  // its cases prove the point by what it left (verify).
  const std::string marker = absl::StrCat("berth: crash point ", c.point);
  if (!c.shim_dies) {
    ASSERT_TRUE(Eventually([&] { return absl::StrContains(ReadText(log), marker); }, std::chrono::seconds(20)))
        << "never reached " << c.point;
    EXPECT_TRUE(Eventually([&] { return !PidRunning(agent.pid()) || ReadText(absl::StrCat("/proc/", agent.pid(), "/stat")).find(") Z") != std::string::npos; }))
        << "the agent survived its crash point";
  }
  agent.Restart();

  auto list = agent.List();
  ASSERT_TRUE(list.ok()) << list.status();
  std::set<std::string> ids, names;
  for (const v1::Container& container : *list) {
    EXPECT_TRUE(ids.insert(container.id()).second) << "duplicate id " << container.id();
    EXPECT_TRUE(names.insert(container.name()).second) << "duplicate name " << container.name();
  }
  // Every shim belongs to a container the agent lists.
  for (pid_t pid : ProcessesMentioning(agent.dir())) {
    if (pid == agent.pid()) continue;
    std::string cmdline = ReadText(absl::StrCat("/proc/", pid, "/cmdline"));
    bool owned = false;
    for (const std::string& id : ids) owned = owned || absl::StrContains(cmdline, id);
    EXPECT_TRUE(owned) << "orphaned process " << pid << ": " << cmdline;
  }
  ASSERT_NO_FATAL_FAILURE(c.verify(agent, *list));

  // The journal goes on from before the crash: every number once, none skipped.
  std::vector<uint64_t> after = SequencesAfter(agent, before);
  for (size_t i = 0; i < after.size(); ++i) {
    ASSERT_EQ(after[i], before + 1 + i) << "events after " << before << ": " << absl::StrJoin(after, ",");
  }
  ASSERT_FALSE(after.empty()) << "agent.start of the restart is missing";

  auto remaining = agent.List();
  ASSERT_TRUE(remaining.ok()) << remaining.status();
  for (const v1::Container& container : *remaining) {
    EXPECT_TRUE(agent.Remove(container.id()).ok()) << container.name();
  }
  std::vector<std::string> left = Leftovers(agent);
  EXPECT_TRUE(left.empty()) << absl::StrJoin(left, "\n");
}

INSTANTIATE_TEST_SUITE_P(CrashPoints, FaultInjection, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<CrashCase>& info) {
                           std::string name = info.param.point;
                           for (char& ch : name) {
                             if (ch == '.') ch = '_';
                           }
                           return name;
                         });

TEST(CrashPoint, OffUnlessNamed) {
  EXPECT_TRUE(CrashListNames("a.b", "a.b"));
  EXPECT_TRUE(CrashListNames("x,a.b,y", "a.b"));
  EXPECT_FALSE(CrashListNames("a.bc,xa.b", "a.b"));
  EXPECT_FALSE(CrashListNames("", "a.b"));
  // A process with the variable naming the point dies of SIGKILL there; another point passes.
  pid_t child = ::fork();
  if (child == 0) {
    ::setenv(kCrashAtVariable, "here", 1);
    CrashPoint("elsewhere");
    CrashPoint("here");
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
}

}  // namespace
}  // namespace berth::testing
