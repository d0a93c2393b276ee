#include "runtime/base/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/quote.h"
#include "runtime/base/unique_fd.h"

namespace berth {
namespace {

constexpr size_t kMaxStderr = 64 << 10;

absl::Status Pipe(UniqueFd& read_end, UniqueFd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoToStatus("pipe");
  read_end.Reset(fds[0]);
  write_end.Reset(fds[1]);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SubprocessResult> RunSubprocess(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                                               const std::string& input, absl::Duration timeout, size_t max_output) {
  if (argv.empty()) return absl::InvalidArgumentError("no program to run");
  UniqueFd in_r, in_w, out_r, out_w, err_r, err_w;
  for (auto [r, w] : {std::pair{&in_r, &in_w}, {&out_r, &out_w}, {&err_r, &err_w}}) {
    if (auto st = Pipe(*r, *w); !st.ok()) return st;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_r.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_w.get(), 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);  // the agent blocks its stop signals; a helper must not
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, argv[0].c_str(), &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return ErrnoStatus(rc, absl::StrCat("run ", Quoted(argv[0])));
  in_r.Reset();
  out_w.Reset();
  err_w.Reset();
  ::fcntl(in_w.get(), F_SETFL, O_NONBLOCK);

  SubprocessResult result;
  size_t written = 0;
  if (input.empty()) in_w.Reset();
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status failure;
  char buf[16384];
  while (out_r || err_r) {
    int wait_ms = static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
    if (wait_ms == 0) {
      failure = absl::DeadlineExceededError(
          absl::StrCat(Quoted(argv[0]), " did not finish within ", absl::FormatDuration(timeout), "; killed"));
      break;
    }
    struct pollfd p[3] = {{out_r ? out_r.get() : -1, POLLIN, 0},
                          {err_r ? err_r.get() : -1, POLLIN, 0},
                          {in_w ? in_w.get() : -1, POLLOUT, 0}};
    int n = ::poll(p, 3, wait_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      failure = ErrnoToStatus("poll");
      break;
    }
    if (p[2].revents & (POLLOUT | POLLERR | POLLHUP)) {
      ssize_t w = ::write(in_w.get(), input.data() + written, input.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 && errno != EAGAIN && errno != EINTR) in_w.Reset();  // it closed its stdin
      if (written == input.size()) in_w.Reset();
    }
    for (int i = 0; i < 2; ++i) {
      if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      UniqueFd& fd = i == 0 ? out_r : err_r;
      ssize_t r = ::read(fd.get(), buf, sizeof(buf));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        fd.Reset();
        continue;
      }
      std::string& sink = i == 0 ? result.stdout_data : result.stderr_data;
      if (i == 1) {
        sink.append(buf, std::min(static_cast<size_t>(r), kMaxStderr - std::min(kMaxStderr, sink.size())));
      } else {
        sink.append(buf, static_cast<size_t>(r));
      }
    }
    if (result.stdout_data.size() > max_output) {
      failure = absl::ResourceExhaustedError(absl::StrCat(Quoted(argv[0]), " wrote more than ", max_output,
                                                          " bytes; killed"));
      break;
    }
  }
  if (!failure.ok()) ::kill(pid, SIGKILL);  // our own child, not reaped yet: the pid is still ours
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!failure.ok()) return failure;
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
  return result;
}

}  // namespace berth
