// Process identity: a pid is only trusted together with its start time, and signals and
// namespace opens go through a pidfd so that a reused pid never reaches a stranger.
#include "runtime/base/proc_util.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace berth {
namespace {

pid_t Sleeper() {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::pause();
    ::_exit(0);
  }
  return pid;
}

TEST(ProcUtilTest, SignalProcessChecksTheStartTime) {
  pid_t pid = Sleeper();
  ASSERT_GT(pid, 0);
  auto start = ProcessStartTime(pid);
  ASSERT_TRUE(start.ok()) << start.status();
  // Another process's start time: the pid is not the one meant, so nothing is sent.
  EXPECT_TRUE(SignalProcess(pid, *start + 1, SIGKILL).ok());
  ::usleep(50000);
  EXPECT_TRUE(ProcessAlive(pid, *start));
  EXPECT_TRUE(SignalProcess(pid, *start, SIGKILL).ok());
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status));
  // Gone: not an error, and nothing else is hit.
  EXPECT_TRUE(SignalProcess(pid, *start, SIGKILL).ok());
}

TEST(ProcUtilTest, OpenNamespaceOfOnlyThatProcess) {
  pid_t pid = Sleeper();
  ASSERT_GT(pid, 0);
  auto start = ProcessStartTime(pid);
  ASSERT_TRUE(start.ok());
  auto ns = OpenNamespaceOf(pid, *start, "net");
  ASSERT_TRUE(ns.ok()) << ns.status();
  struct stat theirs, ours;
  ASSERT_EQ(::fstat(ns->get(), &theirs), 0);
  ASSERT_EQ(::stat("/proc/self/ns/net", &ours), 0);
  EXPECT_EQ(theirs.st_ino, ours.st_ino);  // a child shares our netns

  auto wrong = OpenNamespaceOf(pid, *start + 1, "net");
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kFailedPrecondition);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  auto gone = OpenNamespaceOf(pid, *start, "net");
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace berth
