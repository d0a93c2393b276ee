#include "agent/shim_client.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "runtime/base/detached_spawn.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"

extern char** environ;

namespace berth::agent {

namespace {
constexpr int kLaunchTimeoutMs = 60000;
}

std::vector<std::string> ShimArguments(const ShimLaunch& launch) {
  std::vector<std::string> args = {"--id",        launch.id,        "--bundle", launch.bundle,
                                   "--state-dir", launch.state_dir, "--log",    launch.log_path};
  if (launch.open_stdin) args.push_back("--stdin");
  if (launch.log_max_size_bytes > 0) {
    for (const std::string& a : {std::string("--log-max-size"), absl::StrCat(launch.log_max_size_bytes),
                                 std::string("--log-max-files"), absl::StrCat(launch.log_max_files)}) {
      args.push_back(a);
    }
  }
  return args;
}

absl::Status SpawnShim(const std::string& shim_path, int exec_fd, const std::vector<std::string>& arguments,
                       int report_fd, const std::vector<int>& inherit_fds) {
  std::vector<std::string> args = {shim_path, std::string(shim::kDetachedArgument)};
  args.insert(args.end(), arguments.begin(), arguments.end());
  if (!inherit_fds.empty()) {
    args.push_back("--preserve-fds");
    args.push_back(absl::StrCat(inherit_fds.size()));
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  // The inherited fds are first copied above every target number, so that no dup2 below
  // overwrites a source that is still to be copied; the report fd too.
  std::vector<UniqueFd> staged;
  for (int fd : inherit_fds) {
    staged.emplace_back(::fcntl(fd, F_DUPFD_CLOEXEC, 64));
    if (!staged.back()) return ErrnoToStatus("stage an fd for the shim");
  }
  UniqueFd report(::fcntl(report_fd, F_DUPFD_CLOEXEC, 64));
  if (!report) return ErrnoToStatus("stage the shim's report fd");
  // From a sealed copy when there is one: what runs next to the container can then never be
  // written through /proc/<pid>/exe (the CVE-2019-5736 class). The copy is named through a
  // staged fd too: its own number may be one of the targets below (4 + i).
  UniqueFd exec_copy;
  if (exec_fd >= 0) {
    exec_copy.Reset(::fcntl(exec_fd, F_DUPFD_CLOEXEC, 64));
    if (!exec_copy) return ErrnoToStatus("stage the shim's executable");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, report.get(), shim::kShimReportFd);  // dup2 clears CLOEXEC
  for (size_t i = 0; i < staged.size(); ++i) {
    posix_spawn_file_actions_adddup2(&actions, staged[i].get(), shim::kShimReportFd + 1 + static_cast<int>(i));
  }
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
  std::string exec_path = exec_copy ? absl::StrCat("/proc/self/fd/", exec_copy.get()) : shim_path;
  absl::StatusOr<pid_t> pid = SpawnDetached(exec_path.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (!pid.ok()) return Annotate(pid.status(), absl::StrCat("start ", shim_path));
  return absl::OkStatus();
}

namespace {

// "<pid> <start time>" of a report line.
std::optional<LaunchedShim> ParseInit(absl::string_view fields_text) {
  std::vector<absl::string_view> fields = absl::StrSplit(fields_text, ' ');
  LaunchedShim init;
  if (fields.size() == 2 && absl::SimpleAtoi(fields[0], &init.init_pid) && init.init_pid > 0 &&
      absl::SimpleAtoi(fields[1], &init.init_start_time)) {
    return init;
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<LaunchedShim> ReadShimReport(int report_fd, absl::FunctionRef<void(const LaunchedShim&)> on_init) {
  std::string report;  // what came and is not a whole line yet
  bool told = false;   // on_init has run
  char buf[1024];
  for (;;) {
    const size_t newline = report.find('\n');
    if (newline != std::string::npos) {
      const std::string line = report.substr(0, newline);
      absl::string_view rest = line;
      if (!absl::ConsumePrefix(&rest, "pid ")) {
        report = line;  // the final line
        break;
      }
      report.erase(0, newline + 1);
      std::optional<LaunchedShim> init = ParseInit(rest);
      if (!init) return absl::InternalError(absl::StrCat("berth-shim gave a bad report line: \"", line, "\""));
      if (!told) on_init(*init);
      told = true;
      continue;
    }
    struct pollfd p = {report_fd, POLLIN, 0};
    int n = ::poll(&p, 1, kLaunchTimeoutMs);
    if (n == 0) return absl::DeadlineExceededError("berth-shim did not report within 60 s");
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoToStatus("poll shim report");
    }
    ssize_t r = ::read(report_fd, buf, sizeof(buf));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    // The container's init may hold the pipe open until it execs: read lines, not to EOF.
    report.append(buf, static_cast<size_t>(r));
  }
  absl::string_view line = absl::StripAsciiWhitespace(report);
  if (absl::ConsumePrefix(&line, "ok ")) {
    if (std::optional<LaunchedShim> launched = ParseInit(line)) {
      if (!told) on_init(*launched);
      return *launched;
    }
  } else if (absl::ConsumePrefix(&line, "error ")) {
    size_t sp = line.find(' ');
    int code = 0;
    if (sp != absl::string_view::npos && absl::SimpleAtoi(line.substr(0, sp), &code) && code > 0 && code <= 16) {
      return absl::Status(static_cast<absl::StatusCode>(code), line.substr(sp + 1));
    }
    return absl::InternalError(line);
  }
  if (report.empty()) return absl::InternalError("berth-shim ended before reporting (it crashed or was killed)");
  return absl::InternalError(absl::StrCat("berth-shim gave no usable report: \"", report, "\""));
}

absl::StatusOr<LaunchedShim> LaunchShim(const std::string& shim_path, int exec_fd, const ShimLaunch& launch,
                                        absl::FunctionRef<void(const LaunchedShim&)> on_init) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoToStatus("pipe for shim report");
  UniqueFd rd(fds[0]);
  UniqueFd wr(fds[1]);
  RETURN_IF_ERROR(SpawnShim(shim_path, exec_fd, ShimArguments(launch), wr.get(), launch.inherit_fds));
  wr.Reset();  // EOF once the shim and its container no longer hold it
  return ReadShimReport(rd.get(), on_init);
}

absl::StatusOr<UniqueFd> ShimOpen(const std::string& state_dir, shim::MsgType type, const std::string& payload) {
  auto conn = shim::ConnectShim(absl::StrCat(state_dir, "/", shim::kShimSocketName));
  if (!conn.ok()) return conn.status();
  if (absl::Status st = shim::SendMessage(conn->get(), type, payload); !st.ok()) return st;
  return std::move(*conn);
}

absl::StatusOr<shim::Message> ShimRequest(const std::string& state_dir, shim::MsgType type, const std::string& payload) {
  auto conn = ShimOpen(state_dir, type, payload);
  if (!conn.ok()) return conn.status();
  auto reply = shim::ReceiveMessage(conn->get());
  if (!reply.ok()) return reply.status();
  if (reply->type == shim::MsgType::kError) return shim::DecodeError(reply->payload);
  return std::move(*reply);
}

}  // namespace berth::agent
