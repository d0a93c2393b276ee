// berth-init (runtime/init) run for real as PID 1 of a new pid namespace (root), with
// busybox sh as the program: exit codes, signal forwarding, reaping of orphans, exec errors.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

constexpr char kBusybox[] = "/bin/busybox";
constexpr auto kDeadline = std::chrono::seconds(20);

struct InitResult {
  int exit_code = -1;  // berth-init's own exit code; -1 if it did not exit normally
  std::string out;
  std::string err;
};

// Reads from `fd` until EOF, or until `stop` is found in what was read when it is not empty.
// False at the deadline.
bool ReadUntil(int fd, std::string& into, Clock::time_point deadline, const std::string& stop = "") {
  for (;;) {
    if (!stop.empty() && into.find(stop) != std::string::npos) return true;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    struct pollfd p = {fd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    char buf[4096];
    ssize_t got = ::read(fd, buf, sizeof(buf));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return stop.empty();
    into.append(buf, static_cast<size_t>(got));
  }
}

// Runs BERTH_INIT_PATH with `args` as PID 1 of a new pid namespace. `during(init_pid, out)`
// runs while it does: the pid is berth-init's in our namespace, `out` is what it printed on
// stdout so far, and `out_fd` the pipe to read more from.
InitResult RunAsPid1(const std::vector<std::string>& args,
                     const std::function<void(pid_t, int, std::string&)>& during = nullptr) {
  InitResult result;
  int out[2], err[2], report[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 || ::pipe2(report, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return result;
  }
  pid_t helper = ::fork();
  if (helper == 0) {
    // The helper's own children are born in the new namespace; the first one is its PID 1.
    if (::unshare(CLONE_NEWPID) != 0) ::_exit(100);
    pid_t init = ::fork();
    if (init == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::dup2(err[1], STDERR_FILENO);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(BERTH_INIT_PATH));
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(BERTH_INIT_PATH, argv.data());
      ::_exit(101);
    }
    if (init < 0) ::_exit(102);
    (void)!::write(report[1], &init, sizeof(init));
    int status = 0;
    while (::waitpid(init, &status, 0) < 0 && errno == EINTR) {
    }
    (void)!::write(report[1], &status, sizeof(status));
    ::_exit(0);
  }
  ::close(out[1]);
  ::close(err[1]);
  ::close(report[1]);
  auto deadline = Clock::now() + kDeadline;
  pid_t init = -1;
  if (helper > 0 && ::read(report[0], &init, sizeof(init)) == sizeof(init)) {
    if (during) during(init, out[0], result.out);
    bool done = ReadUntil(out[0], result.out, deadline) && ReadUntil(err[0], result.err, deadline);
    if (!done) {
      ADD_FAILURE() << "berth-init did not finish within " << kDeadline.count() << "s";
      ::kill(init, SIGKILL);
    }
    int status = 0;
    if (::read(report[0], &status, sizeof(status)) == sizeof(status) && WIFEXITED(status)) {
      result.exit_code = WEXITSTATUS(status);
    }
  } else {
    ADD_FAILURE() << "could not start berth-init in a new pid namespace";
  }
  if (helper > 0) {
    int status = 0;
    ::waitpid(helper, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "helper status " << status;
  }
  ::close(out[0]);
  ::close(err[0]);
  ::close(report[0]);
  return result;
}

class InitReaperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "a new pid namespace needs root";
    if (::access(kBusybox, X_OK) != 0) GTEST_SKIP() << "needs " << kBusybox;
  }
  static std::vector<std::string> Sh(const std::string& script) { return {kBusybox, "sh", "-c", script}; }
};

TEST_F(InitReaperTest, RunsAsPid1AndPassesTheExitCodeThrough) {
  InitResult parent = RunAsPid1(Sh("echo $PPID"));
  EXPECT_EQ(parent.exit_code, 0) << parent.err;
  EXPECT_EQ(parent.out, "1\n");  // the program's parent is berth-init, PID 1

  EXPECT_EQ(RunAsPid1(Sh("exit 0")).exit_code, 0);
  EXPECT_EQ(RunAsPid1(Sh("exit 7")).exit_code, 7);
  EXPECT_EQ(RunAsPid1({"--", kBusybox, "sh", "-c", "exit 3"}).exit_code, 3);
  EXPECT_EQ(RunAsPid1(Sh("kill -9 $$")).exit_code, 128 + SIGKILL);
}

TEST_F(InitReaperTest, SignalsSentToInitReachTheChild) {
  // TERM and HUP go to the child; INT (a terminal's signal) to its process group.
  const std::vector<std::pair<int, std::string>> cases = {{SIGTERM, "TERM"}, {SIGHUP, "HUP"}, {SIGINT, "INT"},
                                                          {SIGUSR1, "USR1"}};
  for (const auto& [sig, name] : cases) {
    SCOPED_TRACE(name);
    auto start = Clock::now();
    InitResult r = RunAsPid1(
        Sh("trap 'exit 42' " + name + "; echo ready; while :; do /bin/busybox sleep 0.05; done"),
        [sig = sig](pid_t init, int out_fd, std::string& out) {
          ASSERT_TRUE(ReadUntil(out_fd, out, Clock::now() + kDeadline, "ready\n")) << out;
          ASSERT_EQ(::kill(init, sig), 0);
        });
    EXPECT_EQ(r.exit_code, 42) << r.err;
    EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
  }
}

TEST_F(InitReaperTest, OrphanedZombiesAreReaped) {
  // The inner sh starts a short sleep and exits at once: the sleep is re-parented to PID 1.
  // "$(...)" returns when the sleep has exited (it held the pipe). A zombie still answers
  // kill -0, so the orphan's pid disappearing means berth-init reaped it.
  const std::string script =
      "orphan=$(/bin/busybox sh -c '/bin/busybox sleep 0.1 & echo $!'); "
      "i=0; while [ $i -lt 100 ]; do "
      "  kill -0 $orphan 2>/dev/null || exit 0; "
      "  /bin/busybox sleep 0.02; i=$((i+1)); "
      "done; echo \"orphan $orphan was never reaped\" >&2; exit 1";
  InitResult r = RunAsPid1(Sh(script));
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(InitReaperTest, ExitsWithTheChildEvenWhenOthersStillRun) {
  auto start = Clock::now();
  InitResult r = RunAsPid1(Sh("/bin/busybox sleep 30 & exit 5"));
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));  // the namespace ends with PID 1
}

TEST_F(InitReaperTest, PauseHoldsUntilTerminatedAndIgnoresOtherSignals) {
  // A pod's namespace holder: still there after SIGUSR1 and SIGCHLD, gone with 0 at SIGTERM.
  InitResult r = RunAsPid1({"--pause"}, [](pid_t init, int, std::string&) {
    ASSERT_EQ(::kill(init, SIGUSR1), 0);
    ASSERT_EQ(::kill(init, SIGCHLD), 0);
    ::usleep(200 * 1000);
    // Its parent (the test's helper) reaps it at once if it exits.
    EXPECT_EQ(::kill(init, 0), 0) << "berth-init --pause exited on a signal it should ignore";
    ASSERT_EQ(::kill(init, SIGTERM), 0);
  });
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(InitReaperTest, ExecFailuresAre127And126) {
  InitResult missing = RunAsPid1({"/nonexistent/program", "arg"});
  EXPECT_EQ(missing.exit_code, 127);
  EXPECT_THAT(missing.err, HasSubstr("berth-init: exec /nonexistent/program: No such file or directory"));

  InitResult not_in_path = RunAsPid1({"no-such-program-berth"});
  EXPECT_EQ(not_in_path.exit_code, 127);

  InitResult dir = RunAsPid1({"/tmp"});  // not executable: EACCES
  EXPECT_EQ(dir.exit_code, 126);
  EXPECT_THAT(dir.err, HasSubstr("berth-init: exec /tmp: Permission denied"));

  InitResult usage = RunAsPid1({});
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_THAT(usage.err, HasSubstr("usage: berth-init"));
}

}  // namespace
