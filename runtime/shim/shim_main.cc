// berth-shim: the per-container monitor.
//
//   berth-shim --id ID --bundle DIR --state-dir DIR --log FILE [--stdin] [--preserve-fds N]
//
// The agent starts it with fd 3 = the write end of a report pipe, and fds 4 .. 3+N that the
// bundle names as /proc/self/fd/<n> (a namespace to join, opened by the agent). The shim detaches (new
// session, one fork so the agent is not its parent: the first process exits 0 at once), creates
// the container, then writes one line to fd 3 and closes it:
//   ok <container pid> <its start time>\n   the container waits at its start gate; shim.sock listens
//   error <absl code as int> <message>\n  nothing is left behind; the shim exits 1
// Without a pipe at fd 3 (a manual run) there is no report. See shim_server.h for the rest.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/unique_fd.h"
#include "runtime/shim/shim_protocol.h"
#include "runtime/shim/shim_server.h"

namespace berth::shim {
namespace {

constexpr int kReportFd = kShimReportFd;

// Writes the whole line; false when it could not be delivered because the pipe's reader is
// gone (SIGPIPE is ignored by then). Without a pipe there is nobody to tell: true.
bool Report(int fd, const std::string& line) {
  if (fd < 0) return true;
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

void ReportError(int fd, const absl::Status& status) {
  std::string message(status.message());
  for (char& c : message) {
    if (c == '\n') c = ' ';
  }
  Report(fd, absl::StrCat("error ", static_cast<int>(status.code()), " ", message, "\n"));
}

// fd 3 counts as the report pipe only when it is a pipe or socket: a manual run may have
// inherited some unrelated file there.
int ReportFd() {
  struct stat st;
  if (::fstat(kReportFd, &st) != 0) return -1;
  if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode)) return -1;
  ::fcntl(kReportFd, F_SETFD, FD_CLOEXEC);
  return kReportFd;
}

// 0, 1 and 2 become /dev/null: the shim talks only through its socket, state.json and the log,
// and nothing it starts must inherit the agent's stdio.
void NullStdio() {
  int null_fd = ::open("/dev/null", O_RDWR);  // not CLOEXEC: it is dup'd onto 0..2
  if (null_fd < 0) return;
  for (int fd = 0; fd <= 2; ++fd) {
    if (fd != null_fd) ::dup2(null_fd, fd);
  }
  if (null_fd > 2) ::close(null_fd);
}

absl::Status MakeAbsolute(std::string& path, const char* flag) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(flag, " is required"));
  if (path[0] == '/') return absl::OkStatus();
  char cwd[4096];
  if (::getcwd(cwd, sizeof(cwd)) == nullptr) return ErrnoToStatus("getcwd");
  path = absl::StrCat(cwd, "/", path);
  return absl::OkStatus();
}

absl::StatusOr<ShimOptions> ParseArgs(int argc, char** argv) {
  ShimOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--stdin") {
      options.stdin = true;
      continue;
    }
    std::string value;
    size_t eq = arg.find('=');
    if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
    }
    std::string preserve_fds, log_max_size, log_max_files;
    std::string* field = arg == "--id"             ? &options.id
                         : arg == "--log-max-size" ? &log_max_size
                         : arg == "--log-max-files" ? &log_max_files
                         : arg == "--bundle"       ? &options.bundle
                         : arg == "--state-dir"    ? &options.state_dir
                         : arg == "--log"          ? &options.log_path
                         : arg == "--preserve-fds" ? &preserve_fds
                                                   : nullptr;
    if (field == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown argument ", arg,
          "; usage: berth-shim --id ID --bundle DIR --state-dir DIR --log FILE [--log-max-size BYTES] "
          "[--log-max-files N] [--stdin] "
          "[--preserve-fds N]"));
    }
    if (eq == std::string::npos) {
      if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat("missing value for ", arg));
      value = argv[++i];
    }
    *field = value;
    if (field == &preserve_fds &&
        (!absl::SimpleAtoi(preserve_fds, &options.preserve_fds) || options.preserve_fds < 0 ||
         options.preserve_fds > 16)) {
      return absl::InvalidArgumentError(absl::StrCat("--preserve-fds wants 0..16, got ", preserve_fds));
    }
    if (field == &log_max_size &&
        (!absl::SimpleAtoi(log_max_size, &options.log_rotation.max_bytes) || options.log_rotation.max_bytes < 0)) {
      return absl::InvalidArgumentError(absl::StrCat("--log-max-size wants bytes, got ", log_max_size));
    }
    if (field == &log_max_files &&
        (!absl::SimpleAtoi(log_max_files, &options.log_rotation.max_files) || options.log_rotation.max_files < 1 ||
         options.log_rotation.max_files > 1000)) {
      return absl::InvalidArgumentError(absl::StrCat("--log-max-files wants 1..1000, got ", log_max_files));
    }
  }
  if (options.id.empty()) return absl::InvalidArgumentError("--id is required");
  if (absl::Status st = MakeAbsolute(options.bundle, "--bundle"); !st.ok()) return st;
  if (absl::Status st = MakeAbsolute(options.state_dir, "--state-dir"); !st.ok()) return st;
  if (absl::Status st = MakeAbsolute(options.log_path, "--log"); !st.ok()) return st;
  return options;
}

// Whatever else the agent let us inherit must not live as long as the shim, nor reach the
// container. The preserved fds (4 ..) stay, close-on-exec.
void CloseInheritedFds(int report_fd, int preserve_fds) {
  unsigned first_closed = static_cast<unsigned>(kReportFd + 1 + preserve_fds);
  for (int fd = kReportFd + 1; fd < static_cast<int>(first_closed); ++fd) {
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  ::syscall(SYS_close_range, first_closed, ~0U, 0U);
  if (report_fd != kReportFd) ::close(kReportFd);
}

// --preserve-fds N, read before the arguments are parsed properly: fds must be closed first.
int PreserveFdsArgument(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    int n = 0;
    if (arg == "--preserve-fds" && i + 1 < argc && absl::SimpleAtoi(argv[i + 1], &n)) return n;
    if (arg.rfind("--preserve-fds=", 0) == 0 && absl::SimpleAtoi(arg.substr(15), &n)) return n;
  }
  return 0;
}

int Main(int argc, char** argv) {
  // Started from a sealed memfd copy, the kernel names us after the fd ("5"): keep the name
  // people and tools look for in ps and /proc.
  ::prctl(PR_SET_NAME, "berth-shim", 0, 0, 0);
  const int report_fd = ReportFd();
  int preserve = PreserveFdsArgument(argc, argv);
  CloseInheritedFds(report_fd, preserve >= 0 && preserve <= 16 ? preserve : 0);
  NullStdio();

  auto options = ParseArgs(argc, argv);
  if (!options.ok()) {
    ReportError(report_fd, options.status());
    return 1;
  }

  // Detach: the agent must never be the container's (grand)parent, so that killing or
  // restarting it leaves the container and its monitor alone.
  pid_t child = ::fork();
  if (child < 0) {
    ReportError(report_fd, ErrnoToStatus("fork"));
    return 1;
  }
  if (child > 0) _exit(0);
  ::setsid();
  // Orphans below us (a daemon an exec'd process left behind, say) are reparented here and reaped.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  if (::chdir("/") != 0) {
    // Paths are absolute; a missing / is not worth failing over.
  }

  // Signals arrive through the loop's signalfd; SIGPIPE is replaced by EPIPE.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  UniqueFd signal_fd(::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!signal_fd) {
    ReportError(report_fd, ErrnoToStatus("signalfd"));
    return 1;
  }

  auto server = ShimServer::Create(*options, std::move(signal_fd));
  if (!server.ok()) {
    ReportError(report_fd, server.status());
    return 1;
  }
  if (!Report(report_fd, absl::StrCat("ok ", (*server)->container_pid(), " ",
                                      (*server)->container_start_time(), "\n"))) {
    // The agent died or gave up on this launch: it will never record this container, and its
    // recovery may already have run. Undo it (the server's destructor kills init and removes
    // the cgroup, state.json and shim.sock) rather than run a container nobody knows.
    return 1;
  }
  if (report_fd >= 0) ::close(report_fd);

  (*server)->Run();
  return 0;
}

}  // namespace
}  // namespace berth::shim

int main(int argc, char** argv) { return berth::shim::Main(argc, argv); }
