// The standby berth-shim (agent/shim_launcher.h) on a real berthd: started once the agent has
// launched a container, detached from the agent, it becomes the next container's shim, with
// the namespaces that container joins passed to it; a standby that died is replaced without a
// failed create; standbys are forked by one zygote, which is replaced when it dies; and both
// end with the agent. Standbys are told apart from other agents' (the tests run in parallel) by
// their network namespace: the harness's test host. And a standby and a zygote of the test's
// own: the bad launches and requests they refuse, the standbys a zygote forks, and their quiet
// end without one.
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "runtime/base/file_util.h"
#include "runtime/base/unique_fd.h"
#include "runtime/shim/shim_protocol.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/host_checks.h"

extern char** environ;

namespace berth::testing {
namespace {

constexpr auto kBound = std::chrono::seconds(10);

// Field 4 (ppid) of /proc/<pid>/stat; the command name may hold spaces, so count after ')'.
pid_t ParentOf(pid_t pid) {
  absl::StatusOr<std::string> stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return -1;
  size_t paren = stat->rfind(')');
  if (paren == std::string::npos) return -1;
  std::vector<std::string> fields = absl::StrSplit(stat->substr(paren + 2), ' ');
  return fields.size() > 1 ? static_cast<pid_t>(std::stol(fields[1])) : -1;
}

// Live `berth-shim --standby` processes in the agent's test host.
std::vector<pid_t> Standbys(const AgentHarness& agent) {
  std::vector<pid_t> found;
  const std::string agent_net = NamespaceOf(agent.pid(), "net");
  for (const std::string& entry : DirEntries("/proc")) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(entry, &pid) || pid <= 0) continue;
    absl::StatusOr<std::string> cmdline = ReadFile(absl::StrCat("/proc/", pid, "/cmdline"));
    if (!cmdline.ok()) continue;
    std::vector<std::string> args = absl::StrSplit(*cmdline, '\0');
    // The agent starts shims detached itself: `berth-shim --detached --standby`.
    if (args.size() < 3 || !absl::EndsWith(args[0], "berth-shim") || args[1] != "--detached" ||
        args[2] != "--standby") {
      continue;
    }
    if (NamespaceOf(pid, "net") == agent_net && PidRunning(pid)) found.push_back(pid);
  }
  return found;
}

// `berth-shim --detached --zygote`, as the agent starts its zygote.
bool IsZygote(pid_t pid) {
  absl::StatusOr<std::string> cmdline = ReadFile(absl::StrCat("/proc/", pid, "/cmdline"));
  if (!cmdline.ok()) return false;
  std::vector<std::string> args = absl::StrSplit(*cmdline, '\0');
  return args.size() >= 3 && absl::EndsWith(args[0], "berth-shim") && args[1] == "--detached" &&
         args[2] == "--zygote";
}

pid_t OneStandby(const AgentHarness& agent) {
  pid_t pid = 0;
  WaitUntil(
      [&] {
        std::vector<pid_t> s = Standbys(agent);
        pid = s.size() == 1 ? s[0] : 0;
        return pid > 0;
      },
      kBound);
  return pid;
}

TEST(ShimStandbyTest, TheNextContainersShimIsStartedAheadAndEndsWithTheAgent) {
  AgentHarness agent;
  agent.Start();
  ASSERT_TRUE(agent.running());
  // An agent that has launched nothing keeps no standby.
  EXPECT_TRUE(Standbys(agent).empty());

  v1::ContainerConfig holder_config = Busybox({"sleep", "1000"});
  holder_config.set_name("holder");
  holder_config.set_hostname("pod-host");
  absl::StatusOr<v1::Container> holder = agent.Run(holder_config);
  ASSERT_TRUE(holder.ok()) << holder.status();

  const pid_t standby = OneStandby(agent);
  ASSERT_GT(standby, 0) << "no standby berth-shim after the first launch";
  EXPECT_NE(ParentOf(standby), agent.pid()) << "a standby is detached from the agent";
  EXPECT_EQ(::getsid(standby), standby) << "a standby leads a session of its own";
  // It was forked by the agent's zygote, itself detached from the agent.
  const pid_t zygote = ParentOf(standby);
  EXPECT_TRUE(IsZygote(zygote)) << "the standby's parent " << zygote << " is not a berth-shim zygote";
  EXPECT_NE(ParentOf(zygote), agent.pid()) << "the zygote is detached from the agent";

  // The next container is made by that standby, joining the holder's namespaces through the
  // fds the agent passed it on the socket.
  v1::ContainerConfig member_config = Busybox({"sleep", "1000"});
  member_config.set_ipc("container:holder");
  member_config.set_uts("container:holder");
  member_config.set_pid("container:holder");
  absl::StatusOr<v1::Container> member = agent.Run(member_config);
  ASSERT_TRUE(member.ok()) << member.status();
  EXPECT_EQ(ShimPidFromState(agent, member->id()), standby);
  // ps shows it with its container's arguments, as a shim started directly.
  absl::StatusOr<std::string> cmdline = ReadFile(absl::StrCat("/proc/", standby, "/cmdline"));
  ASSERT_TRUE(cmdline.ok()) << cmdline.status();
  EXPECT_TRUE(absl::StrContains(*cmdline, absl::StrCat(std::string(1, '\0'), "--id", std::string(1, '\0'), member->id())))
      << absl::StrReplaceAll(*cmdline, {{std::string(1, '\0'), " "}});
  EXPECT_FALSE(absl::StrContains(*cmdline, "--standby"));
  for (const std::string type : {"ipc", "uts", "pid"}) {
    EXPECT_EQ(NamespaceOf(member->pid(), type), NamespaceOf(holder->pid(), type)) << type;
  }
  EXPECT_NE(NamespaceOf(member->pid(), "mnt"), NamespaceOf(holder->pid(), "mnt"));
  auto r = agent.Exec(member->id(), {"sh", "-c", "hostname; cat /proc/1/cmdline | tr '\\0' ' '"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->out, "pod-host\nsleep 1000 ") << r->err;

  // A new standby replaces the one used.
  pid_t next = 0;
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::vector<pid_t> s = Standbys(agent);
        next = s.size() == 1 && s[0] != standby ? s[0] : 0;
        return next > 0;
      },
      kBound));

  EXPECT_EQ(ParentOf(next), zygote) << "one zygote forks every standby";

  // A standby that died is not a failed create: the launch starts its shim directly. Its
  // zygote died too: the next standby comes from a new one.
  ASSERT_EQ(::kill(next, SIGKILL), 0);
  ASSERT_EQ(::kill(zygote, SIGKILL), 0);
  ASSERT_TRUE(WaitUntil([&] { return !PidRunning(next) && !PidRunning(zygote); }, kBound));
  absl::StatusOr<CliResult> ran = agent.RunToExit(Busybox({"sh", "-c", "echo made; exit 7"}));
  ASSERT_TRUE(ran.ok()) << ran.status();
  EXPECT_EQ(ran->exit_code, 7);
  EXPECT_EQ(ran->out, "made\n");
  const pid_t last = OneStandby(agent);
  ASSERT_GT(last, 0);
  const pid_t last_zygote = ParentOf(last);
  EXPECT_TRUE(IsZygote(last_zygote)) << "the standby's parent " << last_zygote << " is not a berth-shim zygote";
  EXPECT_NE(last_zygote, zygote);
  absl::StatusOr<CliResult> ran_again = agent.RunToExit(Busybox({"true"}));
  ASSERT_TRUE(ran_again.ok()) << ran_again.status();
  EXPECT_EQ(ran_again->exit_code, 0);
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::vector<pid_t> s = Standbys(agent);
        return s.size() == 1 && s[0] != last && ParentOf(s[0]) == last_zygote;
      },
      kBound))
      << "the new zygote forks the standby after";

  // The agent's ends of their sockets close with the agent, and the standby and zygote leave.
  const pid_t final_standby = OneStandby(agent);
  agent.Kill(SIGKILL);
  EXPECT_TRUE(WaitUntil([&] { return !PidRunning(final_standby); }, kBound))
      << "standby " << final_standby << " outlived the agent";
  EXPECT_TRUE(WaitUntil([&] { return !PidRunning(last_zygote); }, kBound))
      << "zygote " << last_zygote << " outlived the agent";
  // Back up, the agent recovers the two containers and the harness removes them.
  agent.Start();
  ASSERT_TRUE(agent.running());
}

// A standby of our own, without an agent: `berth-shim --standby` with one end of a socket pair
// at fd 3. The test process is a subreaper, so the standby, detached from its first process
// (reaped here), becomes our child and its exit status can be read. With `detached`, it is
// started as `berth-shim --detached --standby` and, not forking, is the process started here.
// `mode` "--zygote" starts a zygote the same way.
class LoneStandby {
 public:
  explicit LoneStandby(bool detached = false, const char* mode = "--standby") {
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    int pair[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
    ours_.Reset(pair[0]);
    UniqueFd theirs(pair[1]);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, theirs.get(), 3);
    const std::string detached_argument(shim::kDetachedArgument);
    std::vector<char*> argv = {const_cast<char*>(BERTH_SHIM_PATH)};
    if (detached) argv.push_back(const_cast<char*>(detached_argument.c_str()));
    argv.push_back(const_cast<char*>(mode));
    // As the agent does: room for what a standby shows in ps (shim_protocol.h).
    std::string empty;
    for (int i = 0; i < shim::kStandbyArgumentRoom; ++i) argv.push_back(empty.data());
    argv.push_back(nullptr);
    EXPECT_EQ(::posix_spawn(&first_, BERTH_SHIM_PATH, &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    if (detached) return;
    int status = -1;
    EXPECT_EQ(::waitpid(first_, &status, 0), first_);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }

  // The process posix_spawn started.
  pid_t first() const { return first_; }
  ~LoneStandby() { ::prctl(PR_SET_CHILD_SUBREAPER, 0); }

  int socket() const { return ours_.get(); }
  void Close() { ours_.Reset(); }

  // The one report packet the standby sends back ("" when none came).
  std::string Report() {
    char line[512] = {};
    ssize_t n = ::read(ours_.get(), line, sizeof(line));
    return n > 0 ? std::string(line, static_cast<size_t>(n)) : "";
  }

  // The standby's exit status, once it has ended (bounded: it must not wait forever); `pid`,
  // when given, says which process that was.
  int ExitStatus(pid_t* pid = nullptr) {
    for (int i = 0; i < 500; ++i) {
      int status = 0;
      pid_t ended = ::waitpid(-1, &status, WNOHANG);
      if (ended > 0) {
        if (pid != nullptr) *pid = ended;
        return status;
      }
      ::usleep(20000);
    }
    ADD_FAILURE() << "the standby did not end within 10 s";
    return -1;
  }

 private:
  UniqueFd ours_;
  pid_t first_ = 0;
};

TEST(ShimStandbyTest, AStandbyWhoseAgentLeavesEndsQuietly) {
  LoneStandby standby;
  standby.Close();
  const int status = standby.ExitStatus();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(ShimStandbyTest, ADetachedStandbyDoesNotForkAway) {
  // Started with --detached (as the agent starts it), the process started is the standby
  // itself: it ends only when its socket closes, and nothing else was made.
  LoneStandby standby(/*detached=*/true);
  standby.Close();
  pid_t ended = 0;
  const int status = standby.ExitStatus(&ended);
  EXPECT_EQ(ended, standby.first()) << "a second process: the shim forked itself away";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1) << "a process besides the standby";
}

TEST(ShimStandbyTest, ALaunchWithBadArgumentsIsReportedOnTheSocket) {
  LoneStandby standby;
  const std::string arguments = std::string("--id\0x\0--frob\0", 13);
  ASSERT_TRUE(shim::SendMessage(standby.socket(), shim::MsgType::kLaunch, arguments).ok());
  const std::string report = standby.Report();
  EXPECT_EQ(report.rfind("error 3 unknown argument --frob", 0), 0u) << report;
  const int status = standby.ExitStatus();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
}

TEST(ShimStandbyTest, AStandbyTakesOnlyALaunch) {
  LoneStandby standby;
  ASSERT_TRUE(shim::SendMessage(standby.socket(), shim::MsgType::kState, "").ok());
  const std::string report = standby.Report();
  EXPECT_EQ(report.rfind("error 3 a standby shim expects a launch", 0), 0u) << report;
  const int status = standby.ExitStatus();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
}

// The children of `parent` (by /proc/<pid>/stat), zombies included.
std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> found;
  for (const std::string& entry : DirEntries("/proc")) {
    pid_t pid = 0;
    if (absl::SimpleAtoi(entry, &pid) && pid > 0 && ParentOf(pid) == parent) found.push_back(pid);
  }
  return found;
}

// Asks a lone zygote for a standby; returns our end of the standby's socket and its pid.
std::pair<UniqueFd, pid_t> ForkStandby(LoneStandby& zygote) {
  int pair[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
  UniqueFd ours(pair[0]);
  UniqueFd theirs(pair[1]);
  const std::vector<pid_t> before = ChildrenOf(zygote.first());
  EXPECT_TRUE(shim::SendMessage(zygote.socket(), shim::MsgType::kFork, "", {theirs.get()}).ok());
  pid_t standby = 0;
  WaitUntil(
      [&] {
        for (pid_t child : ChildrenOf(zygote.first())) {
          if (std::find(before.begin(), before.end(), child) == before.end()) standby = child;
        }
        return standby > 0;
      },
      kBound);
  return {std::move(ours), standby};
}

TEST(ShimStandbyTest, AZygoteForksStandbysUntilItsSocketCloses) {
  LoneStandby zygote(/*detached=*/true, "--zygote");
  auto [first_socket, first] = ForkStandby(zygote);
  ASSERT_GT(first, 0) << "the zygote forked no standby";
  // Right after the fork it is still a copy of the zygote; soon a standby in its own session.
  EXPECT_TRUE(WaitUntil([&] { return ::getsid(first) == first; }, kBound))
      << "a forked standby leads a session of its own";
  absl::StatusOr<std::string> cmdline;
  EXPECT_TRUE(WaitUntil(
      [&] {
        cmdline = ReadFile(absl::StrCat("/proc/", first, "/cmdline"));
        return cmdline.ok() && absl::StrContains(*cmdline, std::string("\0--standby\0", 11)) &&
               !absl::StrContains(*cmdline, "--zygote");
      },
      kBound))
      << (cmdline.ok() ? *cmdline : cmdline.status().ToString());

  // It is a standby with its own socket at fd 3: a bad launch is reported there, and the
  // standby exits. The zygote does not leave it a zombie.
  const std::string arguments = std::string("--id\0x\0--frob\0", 13);
  ASSERT_TRUE(shim::SendMessage(first_socket.get(), shim::MsgType::kLaunch, arguments).ok());
  char line[512] = {};
  ssize_t n = ::read(first_socket.get(), line, sizeof(line));
  const std::string report = n > 0 ? std::string(line, static_cast<size_t>(n)) : "";
  EXPECT_EQ(report.rfind("error 3 unknown argument --frob", 0), 0u) << report;
  EXPECT_TRUE(WaitUntil([&] { return ::access(absl::StrCat("/proc/", first).c_str(), F_OK) != 0; }, kBound))
      << "standby " << first << " stayed, a zombie of its zygote";

  // A second one; it leaves when its socket closes, and the zygote when its own does.
  auto [second_socket, second] = ForkStandby(zygote);
  ASSERT_GT(second, 0);
  EXPECT_NE(second, first);
  second_socket.Reset();
  EXPECT_TRUE(WaitUntil([&] { return ::access(absl::StrCat("/proc/", second).c_str(), F_OK) != 0; }, kBound));
  zygote.Close();
  pid_t ended = 0;
  const int status = zygote.ExitStatus(&ended);
  EXPECT_EQ(ended, zygote.first());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1) << "a process besides the zygote";
}

TEST(ShimStandbyTest, AZygoteTakesOnlyAForkWithOneFd) {
  LoneStandby zygote(/*detached=*/true, "--zygote");
  ASSERT_TRUE(shim::SendMessage(zygote.socket(), shim::MsgType::kFork, "").ok());
  const std::string report = zygote.Report();
  EXPECT_EQ(report.rfind("error 3 a berth-shim zygote expects a fork with one fd, got message type 13 with 0 fds", 0), 0u)
      << report;
  const int status = zygote.ExitStatus();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  EXPECT_TRUE(ChildrenOf(::getpid()).empty());
}

}  // namespace
}  // namespace berth::testing
