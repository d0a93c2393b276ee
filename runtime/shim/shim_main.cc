// berth-shim: the per-container monitor.
//
//   berth-shim [--detached] --id ID --bundle DIR --state-dir DIR --log FILE [--stdin] [--preserve-fds N]
//   berth-shim [--detached] --standby    (the same arguments and fds come later, on fd 3: shim_protocol.h)
//
// The agent starts it with fd 3 = the write end of a report pipe, and fds 4 .. 3+N that the
// bundle names as /proc/self/fd/<n> (a namespace to join, opened by the agent). The shim detaches
// (a new session, and not the agent's child: with --detached its starter saw to that; without, it
// forks once and the first process exits 0 at once), creates the container, then writes one line
// to fd 3 and closes it:
//   ok <container pid> <its start time>\n   the container waits at its start gate; shim.sock listens
//   error <absl code as int> <message>\n  nothing is left behind; the shim exits 1
// Without a pipe at fd 3 (a manual run) there is no report. See shim_server.h for the rest.
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unique_fd.h"
#include "runtime/cgroup/cgroup_driver.h"
#include "runtime/shim/shim_protocol.h"
#include "runtime/shim/shim_server.h"
#include "runtime/shim/shim_zygote.h"

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

// The arguments after the program's name.
absl::StatusOr<ShimOptions> ParseArgs(const std::vector<std::string>& args) {
  ShimOptions options;
  const size_t argc = args.size();
  for (size_t i = 0; i < argc; ++i) {
    std::string arg = args[i];
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
      value = args[++i];
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

// A standby shim touches, while nobody waits for it, the heap and stack that creating and
// starting a container will use: on a VM every first touch of a page is a fault of tens of
// microseconds. One create and start reads or writes 32 of its heap pages and 7 of its stack
// (smaps' Referenced after clear_refs); a page touched here and never used costs as much as
// one the create faults in. Freed, the heap pages stay at its top (below the trim threshold)
// until the shim's idle trim returns them.
constexpr size_t kWarmHeapBlock = 16 * 1024;
constexpr int kWarmHeapBlocks = 8;
constexpr size_t kWarmStack = 32 * 1024;

[[gnu::noinline]] void WarmStack() {
  char frame[kWarmStack];
  std::memset(frame, 0, sizeof(frame));
  asm volatile("" : : "r"(frame) : "memory");  // the stores stay
}

void WarmUp() {
  ::mallopt(M_TRIM_THRESHOLD, 4 * kWarmHeapBlock * kWarmHeapBlocks);
  std::vector<void*> blocks;
  blocks.reserve(kWarmHeapBlocks);
  for (int i = 0; i < kWarmHeapBlocks; ++i) {
    void* block = std::malloc(kWarmHeapBlock);
    if (block != nullptr) std::memset(block, 0, kWarmHeapBlock);
    blocks.push_back(block);
  }
  for (void* block : blocks) std::free(block);
  WarmStack();
}

// Moves the received fds to 4, 5, ... (the bundle names them /proc/self/fd/<n>), close-on-exec
// like inherited ones. Everything above 3 was closed at start, so only these may be in the way.
absl::Status PlacePreservedFds(std::vector<UniqueFd>& received) {
  std::vector<UniqueFd> staged;
  for (UniqueFd& fd : received) {
    staged.emplace_back(::fcntl(fd.get(), F_DUPFD_CLOEXEC, kReportFd + 1 + kMaxFds));
    if (!staged.back()) return ErrnoToStatus("stage a preserved fd");
    fd.Reset();
  }
  for (size_t i = 0; i < staged.size(); ++i) {
    if (::dup3(staged[i].get(), kReportFd + 1 + static_cast<int>(i), O_CLOEXEC) < 0) {
      return ErrnoToStatus("place a preserved fd");
    }
  }
  return absl::OkStatus();
}

// Shows a launched standby's arguments (`arguments`: each ends in a NUL, as in
// /proc/<pid>/cmdline) in ps and /proc/<pid>/cmdline in place of "--standby", so that it reads
// as a shim started directly with its container's arguments, which people and tools look
// for. They are written over the argument strings the standby was started with: the agent
// passes empty arguments after --standby to make room (kStandbyArgumentRoom), and what does not
// fit is cut. (PR_SET_MM would move the area instead, but wants CAP_SYS_RESOURCE.)
void ShowArguments(int argc, char** argv, const std::string& arguments) {
  if (argc < 2) return;
  char* area = argv[1];
  char* const end = argv[argc - 1] + std::strlen(argv[argc - 1]);  // the area's last NUL
  const size_t room = static_cast<size_t>(end - area);
  const size_t n = std::min(arguments.size(), room);
  std::memcpy(area, arguments.data(), n);
  std::memset(area + n, 0, room - n + 1);
}

// What a standby prepared while it waited: the launch's options, and the cgroup driver.
struct StandbyLaunch {
  ShimOptions options;
  std::unique_ptr<CgroupDriver> cgroups;  // null when detection failed: Create retries and reports
};

// The cgroup driver, or null when detection failed (Create retries and reports).
std::unique_ptr<CgroupDriver> DetectedCgroupsOrNull() {
  absl::StatusOr<std::unique_ptr<CgroupDriver>> cgroups = DetectCgroupDriver();
  return cgroups.ok() ? *std::move(cgroups) : nullptr;
}

// Waits on the report socket for the agent's kLaunch: the arguments and fds of a launch.
// nullopt when the agent closed the socket first (it stopped, or no longer needs us).
// `cgroups`: the driver a zygote detected for its standbys; null: detected here.
absl::StatusOr<std::optional<StandbyLaunch>> AwaitLaunch(int report_fd, int argc, char** argv,
                                                         std::unique_ptr<CgroupDriver> cgroups) {
  if (report_fd < 0) return absl::InvalidArgumentError("--standby needs a socket at fd 3");
  WarmUp();
  StandbyLaunch prepared;
  prepared.cgroups = cgroups ? std::move(cgroups) : DetectedCgroupsOrNull();
  absl::StatusOr<Message> launch = ReceiveMessage(report_fd);
  if (absl::IsUnavailable(launch.status())) return std::nullopt;
  if (!launch.ok()) return launch.status();
  if (launch->type != MsgType::kLaunch) {
    return absl::InvalidArgumentError(
        absl::StrCat("a standby shim expects a launch, got message type ", static_cast<int>(launch->type)));
  }
  std::vector<std::string> args = absl::StrSplit(launch->payload, '\0', absl::SkipEmpty());
  absl::StatusOr<ShimOptions> options = ParseArgs(args);
  if (!options.ok()) return options.status();
  options->preserve_fds = static_cast<int>(launch->fds.size());
  RETURN_IF_ERROR(PlacePreservedFds(launch->fds));
  prepared.options = *std::move(options);
  ShowArguments(argc, argv, launch->payload);
  return std::optional<StandbyLaunch>(std::move(prepared));
}

int Main(int argc, char** argv) {
  // Started from a sealed memfd copy, the kernel names us after the fd ("5"): keep the name
  // people and tools look for in ps and /proc.
  ::prctl(PR_SET_NAME, "berth-shim", 0, 0, 0);
  const int report_fd = ReportFd();
  const bool detached = argc >= 2 && argv[1] == kDetachedArgument;
  if (detached) {
    --argc;
    ++argv;
  }
  const bool zygote = argc >= 2 && std::strcmp(argv[1], "--zygote") == 0;
  const bool standby = zygote || (argc >= 2 && std::strcmp(argv[1], "--standby") == 0);
  int preserve = standby ? 0 : PreserveFdsArgument(argc, argv);
  CloseInheritedFds(report_fd, preserve >= 0 && preserve <= 16 ? preserve : 0);
  NullStdio();

  absl::StatusOr<ShimOptions> options = absl::UnknownError("no launch yet");
  if (!standby) {
    options = ParseArgs(std::vector<std::string>(argv + 1, argv + argc));
    if (!options.ok()) {
      ReportError(report_fd, options.status());
      return 1;
    }
  }

  // Detach: the agent must never be the container's (grand)parent, so that killing or
  // restarting it leaves the container and its monitor alone. A starter that saw to it
  // (--detached) saves us a fork, and the faults of a second copy of what ran so far.
  if (!detached) {
    pid_t child = ::fork();
    if (child < 0) {
      ReportError(report_fd, ErrnoToStatus("fork"));
      return 1;
    }
    if (child > 0) _exit(0);
  }
  ::setsid();  // EPERM when the starter made us a session leader already
  std::unique_ptr<CgroupDriver> cgroups;
  if (zygote) {
    // Once for all its standbys, which inherit it: reading and parsing /proc/self/mountinfo
    // in each cost every create 0.1-0.2 ms of CPU, more on a node with many mounts.
    cgroups = DetectedCgroupsOrNull();
    absl::StatusOr<bool> forked = ServeForks(report_fd);
    if (!forked.ok()) {
      ReportError(report_fd, forked.status());
      return 1;
    }
    if (!*forked) return 0;
    ::setsid();  // a standby leads a session of its own, as one started directly does
    ShowArguments(argc, argv, "--standby");
  }
  // Orphans below us (a daemon an exec'd process left behind, say) are reparented here and reaped.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  if (::chdir("/") != 0) {
    // Paths are absolute; a missing / is not worth failing over.
  }

  if (standby) {
    absl::StatusOr<std::optional<StandbyLaunch>> launch = AwaitLaunch(report_fd, argc, argv, std::move(cgroups));
    if (!launch.ok()) {
      ReportError(report_fd, launch.status());
      return 1;
    }
    if (!launch->has_value()) return 0;
    options = std::move((*launch)->options);
    cgroups = std::move((*launch)->cgroups);
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

  auto server = ShimServer::Create(*options, std::move(signal_fd), std::move(cgroups),
                                   [report_fd](pid_t pid, uint64_t start_time) {
                                     // A lost line shows in the final one's write.
                                     (void)Report(report_fd, absl::StrCat("pid ", pid, " ", start_time, "\n"));
                                   });
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
