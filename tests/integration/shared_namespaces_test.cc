// docker's --ipc, --uts and --pid on a real berthd: a container joining a running one's
// namespaces (as a pod's containers join their sandbox's) or the node's, read back from
// /proc/<pid>/ns of the real processes; the refusals, and a restart that joins again.
#include <unistd.h>

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/host_checks.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;

class SharedNamespacesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    agent_.Start();
    ASSERT_TRUE(agent_.running());
  }
  v1::Container MustRun(v1::ContainerConfig config) {
    auto c = agent_.Run(std::move(config));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : v1::Container();
  }
  AgentHarness agent_;
};

TEST_F(SharedNamespacesTest, JoinsAnotherContainersIpcUtsAndPid) {
  v1::ContainerConfig holder_config = Busybox({"sleep", "1000"});
  holder_config.set_name("holder");
  holder_config.set_hostname("pod-host");
  v1::Container holder = MustRun(holder_config);
  ASSERT_GT(holder.pid(), 0);

  v1::ContainerConfig member_config = Busybox({"sleep", "1000"});
  member_config.set_ipc("container:holder");
  member_config.set_uts("container:" + holder.id());
  member_config.set_pid("container:holder");
  v1::Container member = MustRun(member_config);
  ASSERT_GT(member.pid(), 0);

  for (const std::string type : {"ipc", "uts", "pid"}) {
    EXPECT_EQ(NamespaceOf(member.pid(), type), NamespaceOf(holder.pid(), type)) << type;
  }
  for (const std::string type : {"net", "mnt"}) {
    EXPECT_NE(NamespaceOf(member.pid(), type), NamespaceOf(holder.pid(), type)) << type << " stays its own";
  }
  // The record names the holder by id, whatever the request said.
  auto inspected = agent_.Inspect(member.id());
  ASSERT_TRUE(inspected.ok());
  EXPECT_EQ(inspected->config().ipc(), "container:" + holder.id());
  EXPECT_EQ(inspected->config().pid(), "container:" + holder.id());

  // Inside: the holder's host name (also in /etc/hostname), and its sleep is PID 1.
  auto r = agent_.Exec(member.id(), {"sh", "-c", "hostname; cat /etc/hostname; cat /proc/1/cmdline | tr '\\0' ' '"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->out, "pod-host\npod-host\nsleep 1000 ") << r->err;
  // Shared IPC: a message queue made by one is seen by the other.
  auto made = agent_.Exec(holder.id(), {"sh", "-c", "ipcmk -Q >/dev/null && ipcs -q | grep -c 0x"});
  ASSERT_TRUE(made.ok()) << made.status();
  if (made->exit_code == 0) {
    auto seen = agent_.Exec(member.id(), {"sh", "-c", "ipcs -q | grep -c 0x"});
    ASSERT_TRUE(seen.ok());
    EXPECT_EQ(seen->out, made->out);
  }

  // Stopped and started again, it joins the holder's namespaces again.
  ASSERT_TRUE(agent_.Stop(member.id(), 1).ok());
  auto restarted = agent_.StartContainer(member.id());
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  EXPECT_EQ(NamespaceOf(restarted->pid(), "pid"), NamespaceOf(holder.pid(), "pid"));
  EXPECT_EQ(NamespaceOf(restarted->pid(), "uts"), NamespaceOf(holder.pid(), "uts"));
}

TEST_F(SharedNamespacesTest, HostModesShareTheNodes) {
  v1::ContainerConfig config = Busybox({"sleep", "1000"});
  config.set_ipc("host");
  config.set_uts("host");
  config.set_pid("host");
  v1::Container c = MustRun(config);
  ASSERT_GT(c.pid(), 0);
  for (const std::string type : {"ipc", "uts", "pid"}) {
    EXPECT_EQ(NamespaceOf(c.pid(), type), NamespaceOf(::getpid(), type)) << type;
  }
  char name[256] = {};
  ASSERT_EQ(::gethostname(name, sizeof(name) - 1), 0);
  auto r = agent_.Exec(c.id(), {"cat", "/etc/hostname"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, std::string(name) + "\n");
}

// Without a pid namespace of its own, what init started outlives init: the container's end
// kills it (it is in the container's cgroup, and holds its output open), and the cgroup goes.
TEST_F(SharedNamespacesTest, WithTheNodesPidNamespaceWhatInitLeftEndsWithIt) {
  v1::ContainerConfig config = Busybox({"sh", "-c", "sleep 1000 & echo $!"});
  config.set_pid("host");
  auto r = agent_.RunToExit(config);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->err;
  pid_t left = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(r->out), &left)) << r->out;
  EXPECT_TRUE(WaitUntil([&] { return !PidRunning(left); }, std::chrono::seconds(10)))
      << "sleep " << left << " outlived its container";
  EXPECT_TRUE(WaitUntil([&] { return ContainerCgroupIds(agent_).empty(); }, std::chrono::seconds(10)));
}

TEST_F(SharedNamespacesTest, RefusalsLeaveNothingBehind) {
  v1::ContainerConfig missing = Busybox({"true"});
  missing.set_ipc("container:no-such-one");
  EXPECT_EQ(agent_.Create(missing).status().code(), absl::StatusCode::kNotFound);

  v1::ContainerConfig bad = Busybox({"true"});
  bad.set_pid("shareable");
  auto refused = agent_.Create(bad);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("\"shareable\""));

  v1::ContainerConfig stopped_config = Busybox({"true"});
  stopped_config.set_name("stopped");
  auto stopped = agent_.Create(stopped_config);
  ASSERT_TRUE(stopped.ok());
  v1::ContainerConfig joins_stopped = Busybox({"true"});
  joins_stopped.set_uts("container:stopped");
  auto not_running = agent_.Create(joins_stopped);
  EXPECT_EQ(not_running.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(not_running.status().message(), HasSubstr("not running"));

  v1::ContainerConfig both = Busybox({"true"});
  both.set_uts("host");
  both.set_hostname("mine");
  EXPECT_EQ(agent_.Create(both).status().code(), absl::StatusCode::kInvalidArgument);

  auto all = agent_.List();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 1u) << "only the one created on purpose";
}

}  // namespace
}  // namespace berth::testing
