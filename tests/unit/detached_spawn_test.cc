// SpawnDetached: the program runs as the pid returned, is not the caller's child, and the
// caller's signal mask is as it was.
#include "runtime/base/detached_spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "runtime/base/unique_fd.h"

extern char** environ;

namespace berth {
namespace {

TEST(SpawnDetached, TheProgramRunsAsThePidReturnedAndIsNotOurChild) {
  int out[2], in[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
  UniqueFd out_read(out[0]), out_write(out[1]), in_read(in[0]), in_write(in[1]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, in_read.get(), 0);
  // Says who it is and who its parent is, then waits for its stdin to close.
  char* argv[] = {const_cast<char*>("/bin/sh"), const_cast<char*>("-c"),
                  const_cast<char*>("echo $$ $PPID; read line"), nullptr};
  sigset_t before, after;
  ASSERT_EQ(::pthread_sigmask(SIG_SETMASK, nullptr, &before), 0);
  absl::StatusOr<pid_t> pid = SpawnDetached("/bin/sh", &actions, nullptr, argv, environ);
  ASSERT_EQ(::pthread_sigmask(SIG_SETMASK, nullptr, &after), 0);
  posix_spawn_file_actions_destroy(&actions);
  ASSERT_TRUE(pid.ok()) << pid.status();
  out_write.Reset();
  in_read.Reset();
  for (int sig = 1; sig < NSIG; ++sig) EXPECT_EQ(sigismember(&before, sig), sigismember(&after, sig)) << sig;

  char buf[64] = {};
  ssize_t n = ::read(out_read.get(), buf, sizeof(buf) - 1);
  ASSERT_GT(n, 0);
  std::vector<std::string> ids = absl::StrSplit(absl::string_view(buf, static_cast<size_t>(n - 1)), ' ');
  ASSERT_EQ(ids.size(), 2u) << buf;
  pid_t self = 0, parent = 0;
  ASSERT_TRUE(absl::SimpleAtoi(ids[0], &self));
  ASSERT_TRUE(absl::SimpleAtoi(ids[1], &parent));
  EXPECT_EQ(self, *pid);
  EXPECT_NE(parent, ::getpid()) << "the program must not be the caller's child";
  EXPECT_EQ(::waitpid(*pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  // The helper was reaped: the caller has no child left at all.
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  in_write.Reset();  // it reads EOF and ends; its new parent reaps it
}

TEST(SpawnDetached, AProgramThatCannotBeStartedIsAnError) {
  char* argv[] = {const_cast<char*>("/nonexistent/program"), nullptr};
  absl::StatusOr<pid_t> pid = SpawnDetached("/nonexistent/program", nullptr, nullptr, argv, environ);
  ASSERT_FALSE(pid.ok());
  EXPECT_TRUE(absl::IsNotFound(pid.status())) << pid.status();
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1) << "the helper must be reaped";
}

}  // namespace
}  // namespace berth
