#include "runtime/shim/shim_server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/idle_memory.h"
#include "runtime/base/proc_util.h"
#include "runtime/base/status_macros.h"
#include "runtime/lifecycle/live_container.h"
#include "runtime/seccomp/compiled_program.h"
#include "runtime/shim/shim_stdio.h"

namespace berth::shim {

namespace {

// epoll keys: fixed sources below 16, connections from 16 on (never reused, so a stale event
// for a dropped connection cannot reach a newer one that got the same fd number).
constexpr uint64_t kSignalKey = 1;
constexpr uint64_t kListenKey = 2;
constexpr uint64_t kStdoutKey = 3;
constexpr uint64_t kStderrKey = 4;
constexpr uint64_t kFirstConnectionKey = 16;

constexpr size_t kOutputChunk = 32 * 1024;
// After init exits: how long output may keep coming (a process outside the cgroup that holds
// the pipe) before the shim stops waiting for EOF.
constexpr int64_t kDrainTimeoutNs = 2'000'000'000;
// How long a client gets to take the final kExit before it is dropped.
constexpr int kFinalSendTimeoutMs = 2000;

int64_t NowNs() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int64_t MonotonicNs() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// The wait status a siginfo from waitid() describes.
int WaitStatusFromSiginfo(const siginfo_t& info) {
  if (info.si_code == CLD_EXITED) return (info.si_status & 0xff) << 8;
  return (info.si_status & 0x7f) | (info.si_code == CLD_DUMPED ? 0x80 : 0);
}

absl::Status SetNonBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
    return ErrnoToStatus("fcntl O_NONBLOCK");
  return absl::OkStatus();
}

// Waits up to `timeout_ms` for child `pid` to exit, without reaping it.
bool WaitForExit(pid_t pid, int timeout_ms) {
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return false;
  pollfd p{pidfd, POLLIN, 0};
  int rc;
  do {
    rc = ::poll(&p, 1, timeout_ms);
  } while (rc < 0 && errno == EINTR);
  ::close(pidfd);
  return rc > 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ShimServer>> ShimServer::Create(
    const ShimOptions& options, UniqueFd signal_fd, std::unique_ptr<CgroupDriver> cgroups,
    std::function<void(pid_t pid, uint64_t start_time)> on_init_cloned) {
  std::unique_ptr<ShimServer> server(new ShimServer(options));
  server->cgroups_ = std::move(cgroups);
  if (absl::Status st = server->Init(std::move(signal_fd), on_init_cloned); !st.ok()) {
    return st;  // ~ShimServer removes what Init made
  }
  return server;
}

ShimServer::~ShimServer() {
  // Normal exit: FinishExit already did this. Failed Create: the container object (never
  // started) kills init and removes the cgroup itself; the files are ours to remove.
  if (socket_bound_) ::unlink(socket_path_.c_str());
  if (!done_ && !state_.status.empty()) {
    ::unlink(absl::StrCat(options_.state_dir, "/", kStateFileName).c_str());
  }
}

absl::Status ShimServer::Init(UniqueFd signal_fd, const std::function<void(pid_t, uint64_t)>& on_init_cloned) {
  signal_fd_ = std::move(signal_fd);
  next_key_ = kFirstConnectionKey;
  state_.id = options_.id;
  state_.shim_pid = ::getpid();
  ASSIGN_OR_RETURN(state_.shim_start_time, ProcessStartTime(state_.shim_pid));

  // The agent's compiled program when it was made for this very config.json: then
  // linux.seccomp is not even parsed. Else (a bundle from elsewhere, or edited) compile it here.
  ASSIGN_OR_RETURN(spec::BundleConfig config, spec::ReadBundleConfig(options_.bundle));
  std::optional<seccomp::Program> compiled;
  if (auto bytes = ReadFile(absl::StrCat(options_.bundle, "/", seccomp::kCompiledProgramFile)); bytes.ok()) {
    compiled = seccomp::DecodeProgram(*bytes, config.text);
  }
  if (compiled) {
    bool had_seccomp = false;
    ASSIGN_OR_RETURN(spec_, spec::ParseBundleConfig(config, spec::SeccompSection::kSkip, &had_seccomp));
    if (had_seccomp) seccomp_ = std::move(compiled);
  } else {
    ASSIGN_OR_RETURN(spec_, spec::ParseBundleConfig(config));
    if (spec_.linux.seccomp.has_value()) {
      absl::StatusOr<seccomp::Program> program = seccomp::Compile(*spec_.linux.seccomp);
      if (!program.ok()) return Annotate(program.status(), "linux.seccomp");
      seccomp_ = std::move(*program);
    }
  }
  if (cgroups_ == nullptr) {
    ASSIGN_OR_RETURN(cgroups_, DetectCgroupDriver());
  }
  RETURN_IF_ERROR(MakeDirs(options_.state_dir, 0700));

  ASSIGN_OR_RETURN(crilog::LogWriter log, crilog::LogWriter::Open(options_.log_path, options_.log_rotation));
  log_.emplace(std::move(log));

  terminal_ = spec_.process.terminal;
  ASSIGN_OR_RETURN(ProcessStdio io, MakeProcessStdio(terminal_, options_.stdin));
  CreateOptions create;
  create.console_socket_fd = io.ChildConsoleSocket();
  create.on_cloned = [&](pid_t pid) {
    init_pid_ = pid;
    absl::StatusOr<uint64_t> start_time = ProcessStartTime(pid);
    if (!start_time.ok()) return;  // read again below, where a failure is reported
    state_.pid_start_time = *start_time;
    if (on_init_cloned) on_init_cloned(pid, *start_time);
  };
  // Done while init sets up its root, so that its ready is answered at once. A failure here
  // is the create's, once CreateContainer has returned (its container then kills init).
  std::optional<absl::Status> prepared;
  create.while_init_sets_up = [&] { prepared = PrepareToServe(init_pid_); };
  ASSIGN_OR_RETURN(container_, CreateContainer(spec_, io.ChildView(), *cgroups_,
                                               seccomp_ ? &*seccomp_ : nullptr, create));
  io.CloseChildEnds();
  init_pid_ = container_->pid();
  if (!prepared) prepared = PrepareToServe(init_pid_);
  RETURN_IF_ERROR(*prepared);
  mount_ns_.Reset(::open(absl::StrCat("/proc/", init_pid_, "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC));
  RETURN_IF_ERROR(io.TakePtyMaster());
  // The namespaces the agent passed in have been joined (or copied into the child's plan).
  for (int fd = kShimReportFd + 1; fd <= kShimReportFd + options_.preserve_fds; ++fd) ::close(fd);

  if (terminal_) {
    // The master stays blocking: attach hands duplicates of it to the agent, and O_NONBLOCK
    // would be shared with them. The loop reads it only when epoll reports it readable.
    stdout_fd_ = std::move(io.pty_master);
  } else {
    stdout_fd_ = std::move(io.stdout_reader);
    stderr_fd_ = std::move(io.stderr_reader);
    RETURN_IF_ERROR(SetNonBlocking(stdout_fd_.get()));
    RETURN_IF_ERROR(SetNonBlocking(stderr_fd_.get()));
    stdin_writer_ = std::move(io.stdin_writer);
  }

  RETURN_IF_ERROR(Watch(stdout_fd_.get(), kStdoutKey));
  if (stderr_fd_) RETURN_IF_ERROR(Watch(stderr_fd_.get(), kStderrKey));
  return absl::OkStatus();
}

absl::Status ShimServer::PrepareToServe(pid_t init_pid) {
  state_.pid = init_pid;
  if (state_.pid_start_time == 0) {
    ASSIGN_OR_RETURN(state_.pid_start_time, ProcessStartTime(init_pid));
  }
  state_.status = "created";
  state_.created_at_ns = NowNs();
  RETURN_IF_ERROR(SaveState());
  RETURN_IF_ERROR(Listen());

  epoll_.Reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) return ErrnoToStatus("epoll_create1");
  RETURN_IF_ERROR(Watch(signal_fd_.get(), kSignalKey));
  return Watch(listen_fd_.get(), kListenKey);
}

absl::Status ShimServer::Listen() {
  socket_path_ = absl::StrCat(options_.state_dir, "/", kShimSocketName);
  listen_fd_.Reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!listen_fd_) return ErrnoToStatus("socket");
  if (::unlink(socket_path_.c_str()) != 0 && errno != ENOENT) {
    return ErrnoToStatus(absl::StrCat("remove stale ", socket_path_));
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // A deep state directory is reached through /proc/self/fd (sun_path holds 107 bytes).
  UniqueFd dir;
  std::string bind_path = socket_path_;
  if (bind_path.size() >= sizeof(addr.sun_path)) {
    dir.Reset(::open(options_.state_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir) return ErrnoToStatus(absl::StrCat("open ", options_.state_dir));
    bind_path = absl::StrCat("/proc/self/fd/", dir.get(), "/", kShimSocketName);
  }
  std::memcpy(addr.sun_path, bind_path.c_str(), bind_path.size() + 1);
  // The socket file is created 0600 (only the agent, as the same user, may connect). umask is
  // per process and the shim has no threads, so narrowing it around bind is safe.
  mode_t old_umask = ::umask(0177);
  int rc = ::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int err = errno;
  ::umask(old_umask);
  if (rc != 0) return ErrnoStatus(err, absl::StrCat("bind ", socket_path_));
  socket_bound_ = true;
  if (::listen(listen_fd_.get(), 64) != 0)
    return ErrnoToStatus(absl::StrCat("listen ", socket_path_));
  return absl::OkStatus();
}

absl::Status ShimServer::Watch(int fd, uint64_t key) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  if (key >= kFirstConnectionKey) ev.events |= EPOLLRDHUP;
  ev.data.u64 = key;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return ErrnoToStatus("epoll_ctl add");
  return absl::OkStatus();
}

// Always before close: a process the shim forks (init, an exec's joiner) may hold a copy of the
// fd, and epoll keeps watching a file until every copy is closed.
void ShimServer::Unwatch(int fd) {
  if (fd >= 0 && epoll_) ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

absl::Status ShimServer::SaveState() { return WriteStateFile(options_.state_dir, state_); }

void ShimServer::Run() {
  Reap();  // init may have died before the loop started
  epoll_event events[16];
  while (!done_) {
    int timeout_ms = -1;
    if (init_exited_) {
      int64_t left = drain_deadline_ns_ - MonotonicNs();
      if (left <= 0 || !OutputsOpen()) {
        FinishExit();
        break;
      }
      timeout_ms = static_cast<int>(left / 1'000'000) + 1;
    } else if (release_pending_) {
      timeout_ms = kIdleReleaseMs;
    }
    int n = ::epoll_wait(epoll_.get(), events, 16, timeout_ms);
    if (n == 0 && release_pending_ && !init_exited_) {
      // Quiet for a while: nothing short-lived waits on the time this takes (~0.5 ms).
      ReleaseIdleMemory(IdleRelease::kOwnBinary);
      release_pending_ = false;
      continue;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      // A bug (EBADF, EINVAL): nothing can be served any more. Leave nothing behind.
      if (!init_exited_) {
        ::kill(init_pid_, SIGKILL);
        container_.reset();    // may reap init itself
        int status = SIGKILL;  // the wait status of a SIGKILLed process
        while (::waitpid(init_pid_, &status, 0) < 0 && errno == EINTR) {
        }
        OnInitExit(status);
      }
      FinishExit();
      break;
    }
    for (int i = 0; i < n && !done_; ++i) HandleEvent(events[i].data.u64, events[i].events);
  }
}

void ShimServer::HandleEvent(uint64_t key, uint32_t events) {
  switch (key) {
    case kSignalKey:
      HandleSignals();
      return;
    case kListenKey:
      Accept();
      return;
    case kStdoutKey:
      ReadOutput(stdout_fd_, crilog::Stream::kStdout);
      return;
    case kStderrKey:
      ReadOutput(stderr_fd_, crilog::Stream::kStderr);
      return;
    default:
      HandleRequest(key);
  }
}

void ShimServer::HandleSignals() {
  bool reap = false;
  for (;;) {
    signalfd_siginfo info;
    ssize_t n = ::read(signal_fd_.get(), &info, sizeof(info));
    if (n != static_cast<ssize_t>(sizeof(info))) break;
    if (info.ssi_signo == SIGCHLD) {
      reap = true;
    } else if (info.ssi_signo == SIGHUP) {
      // No terminal of ours can hang up; a stray SIGHUP must not end the monitor.
    } else if (info.ssi_signo == SIGTERM || info.ssi_signo == SIGINT) {
      // Stop the container; its exit then takes the normal path (state, cgroup, socket).
      // init is not reaped until init_exited_, so the pid cannot have been reused.
      if (!init_exited_) ::kill(init_pid_, SIGKILL);
    }
  }
  // SIGCHLDs coalesce: one reap pass collects every child that exited.
  if (reap) Reap();
}

void ShimServer::Reap() {
  for (;;) {
    siginfo_t info{};
    // WNOWAIT first: the zombie keeps its pid reserved while the container object (whose
    // destructor may signal init) is let go.
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return;
    const pid_t pid = info.si_pid;
    int status = WaitStatusFromSiginfo(info);
    if (pid == init_pid_ && !init_exited_) container_.reset();
    int reaped_status;
    if (::waitpid(pid, &reaped_status, WNOHANG) == pid) status = reaped_status;
    if (pid == init_pid_ && !init_exited_) {
      OnInitExit(status);
    } else if (execs_.count(pid)) {
      OnExecExit(pid, status);
    }
    // Anything else is an orphan reparented to us (we are a subreaper): reaped, nothing to do.
  }
}

void ShimServer::OnInitExit(int wait_status) {
  init_exited_ = true;
  state_.exit_code = ExitCodeFromWaitStatus(wait_status);
  state_.finished_at_ns = NowNs();
  const std::string& path = spec_.linux.cgroups_path;
  if (!path.empty()) {
    // The OOM flag first: Destroy removes the counters with the cgroup.
    if (auto kills = cgroups_->OomKills(path); kills.ok()) state_.oom_killed = *kills > 0;
    // The one place its cgroup is removed. Usually nothing is left in it (init was its pid
    // namespace's last process): removed as it is, without Destroy's thaw, walk and kill.
    // Otherwise (exec'd processes, daemons of a container without its own pid namespace,
    // cgroups of its own below) Destroy kills what is left, which also closes the last
    // writers of the output pipes; init is gone already (pid 0: nothing to signal).
    absl::Status removed = cgroups_->RemoveEmpty(path);
    if (!removed.ok()) removed = lifecycle::DestroyContainer(*cgroups_, {0, 0, path});
    if (!removed.ok() && state_.error.empty()) state_.error = std::string(removed.message());
    cgroup_removed_ = removed.ok();
  }
  stdin_writer_.Reset();
  drain_deadline_ns_ = MonotonicNs() + kDrainTimeoutNs;
}

void ShimServer::OnExecExit(pid_t process, int wait_status) {
  uint64_t key = execs_[process].key;
  execs_.erase(process);
  auto it = connections_.find(key);
  if (it == connections_.end()) return;
  ExitReport report;
  report.exit_code = ExitCodeFromWaitStatus(wait_status);
  (void)SendMessage(it->second.fd.get(), MsgType::kExit, Encode(report));
  Drop(key);  // the reply stays readable after we close our end
  if (execs_.empty()) release_pending_ = true;  // what serving the exec ran
}

std::string ShimServer::ExitPayload() const {
  ExitReport report;
  report.exit_code = state_.exit_code;
  report.oom_killed = state_.oom_killed;
  report.started_at_ns = state_.started_at_ns;
  report.finished_at_ns = state_.finished_at_ns;
  report.error = state_.error;
  report.cgroup_removed = cgroup_removed_;
  return Encode(report);
}

void ShimServer::FinishExit() {
  CloseOutput(stdout_fd_);
  CloseOutput(stderr_fd_);
  state_.status = "exited";
  if (absl::Status st = SaveState(); !st.ok()) {
    // Nothing else can record it; the agent sees "running" with a dead pid and reconciles.
  }
  // Exec'd processes still running were in the cgroup Destroy emptied; collect them so their
  // clients get an exit code too.
  for (auto it = execs_.begin(); it != execs_.end();) {
    pid_t process = it->first;
    ++it;
    ::kill(process, SIGKILL);
    int status = 0;
    while (::waitpid(process, &status, 0) < 0 && errno == EINTR) {
    }
    OnExecExit(process, status);
  }
  const std::string payload = ExitPayload();
  for (auto& [key, conn] : connections_) {
    if (conn.mode != Mode::kAttach && conn.mode != Mode::kWait) continue;
    // Give a slow reader a bounded chance to take the last message.
    int flags = ::fcntl(conn.fd.get(), F_GETFL);
    if (flags >= 0) ::fcntl(conn.fd.get(), F_SETFL, flags & ~O_NONBLOCK);
    timeval tv{kFinalSendTimeoutMs / 1000, (kFinalSendTimeoutMs % 1000) * 1000};
    ::setsockopt(conn.fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    (void)SendMessage(conn.fd.get(), MsgType::kExit, payload);
  }
  while (!connections_.empty()) Drop(connections_.begin()->first);
  Unwatch(listen_fd_.get());
  listen_fd_.Reset();
  if (socket_bound_) {
    ::unlink(socket_path_.c_str());
    socket_bound_ = false;
  }
  mount_ns_.Reset();  // the container's mounts go now, with nobody waiting on them
  done_ = true;
}

void ShimServer::Accept() {
  for (;;) {
    int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN: all taken; other errors: the client is gone
    UniqueFd conn_fd(fd);
    uint64_t key = next_key_++;
    if (!Watch(conn_fd.get(), key).ok()) continue;
    connections_[key].fd = std::move(conn_fd);
  }
}

void ShimServer::Drop(uint64_t key) {
  auto it = connections_.find(key);
  if (it == connections_.end()) return;
  Unwatch(it->second.fd.get());
  if (it->second.exec_pid > 0) {
    if (auto exec = execs_.find(it->second.exec_pid); exec != execs_.end()) {
      exec->second.key = 0;
    }
  }
  connections_.erase(it);
}

void ShimServer::HandleRequest(uint64_t key) {
  auto it = connections_.find(key);
  if (it == connections_.end()) return;
  Connection& conn = it->second;
  auto msg = ReceiveMessage(conn.fd.get());
  if (!msg.ok()) {
    // EAGAIN (a spurious wake-up) is RESOURCE_EXHAUSTED; anything else ends the connection.
    if (msg.status().code() != absl::StatusCode::kResourceExhausted) Drop(key);
    return;
  }
  if (conn.mode != Mode::kIdle) {
    (void)SendMessage(
        conn.fd.get(), MsgType::kError,
        EncodeError(absl::FailedPreconditionError("connection is busy with a request")));
    return;
  }
  absl::Status st;
  switch (msg->type) {
    case MsgType::kStart:
      st = DoStart(conn);
      break;
    case MsgType::kExec:
      st = DoExec(key, conn, msg->payload);
      break;
    case MsgType::kAttach:
      st = DoAttach(conn, msg->payload);
      break;
    case MsgType::kWait:
      st = DoWait(conn);
      break;
    case MsgType::kState:
      st = SendMessage(conn.fd.get(), MsgType::kStateReply, Encode(state_));
      break;
    case MsgType::kKill:
      st = DoKill(conn, msg->payload);
      break;
    case MsgType::kPause:
      st = DoPause(conn, true);
      break;
    case MsgType::kResume:
      st = DoPause(conn, false);
      break;
    case MsgType::kUpdate:
      st = DoUpdate(conn, msg->payload);
      break;
    case MsgType::kProcesses:
      st = DoProcesses(conn);
      break;
    case MsgType::kReopenLog:
      st = DoReopenLog(conn);
      break;
    default:
      st = absl::InvalidArgumentError(
          absl::StrCat("unknown request type ", static_cast<int>(msg->type)));
  }
  if (!st.ok()) {
    if (st.code() == absl::StatusCode::kUnavailable) {
      Drop(key);
    } else if (!SendMessage(conn.fd.get(), MsgType::kError, EncodeError(st)).ok()) {
      Drop(key);
    }
  }
}

absl::Status ShimServer::DoStart(Connection& conn) {
  if (init_exited_ || state_.status != "created") {
    return absl::FailedPreconditionError(absl::StrCat(
        "container ", options_.id, " is ", init_exited_ ? "exited" : state_.status.c_str()));
  }
  absl::Status st = container_->Start();
  if (!st.ok()) {
    state_.error = std::string(st.message());
    // init reports a failed exec and exits; should it not, it must not linger at the gate.
    // Not reaped yet (only Reap does that, from this loop), so the pid is still init's.
    if (!WaitForExit(init_pid_, 1000)) ::kill(init_pid_, SIGKILL);
    (void)SaveState();
    return st;
  }
  state_.status = "running";
  state_.started_at_ns = NowNs();
  if (absl::Status saved = SaveState(); !saved.ok()) {
    // The container runs either way; the agent learns it from this reply and kState.
    state_.error = std::string(saved.message());
  }
  release_pending_ = true;  // from here on the shim only copies output and answers requests
  return SendMessage(conn.fd.get(), MsgType::kStarted, Encode(Started{state_.started_at_ns}));
}

absl::Status ShimServer::DoUpdate(Connection& conn, const std::string& payload) {
  ASSIGN_OR_RETURN(ResourceLimits limits, Decode<ResourceLimits>(payload));
  if (init_exited_) return absl::FailedPreconditionError(absl::StrCat("container ", options_.id, " has exited"));
  spec::LinuxResources resources = spec_.linux.resources;
  auto positive = [](auto v) { return v > 0 ? std::optional<decltype(v)>(v) : std::nullopt; };
  resources.memory_limit = positive(limits.memory_limit_bytes);
  resources.cpu_quota = positive(limits.cpu_quota_us);
  resources.cpu_period = positive(limits.cpu_period_us);
  resources.cpu_shares = positive(limits.cpu_shares);
  resources.pids_limit = positive(limits.pids_limit);
  RETURN_IF_ERROR(lifecycle::UpdateContainerResources(*cgroups_, Live(), resources));
  spec_.linux.resources = std::move(resources);  // what a later update starts from
  return SendMessage(conn.fd.get(), MsgType::kOk, "");
}

absl::Status ShimServer::DoProcesses(Connection& conn) {
  ProcessList list;
  if (!init_exited_) {
    ASSIGN_OR_RETURN(std::vector<pid_t> pids, lifecycle::ContainerProcesses(*cgroups_, Live()));
    list.pids.assign(pids.begin(), pids.end());
  }
  return SendMessage(conn.fd.get(), MsgType::kProcessList, Encode(list));
}

absl::Status ShimServer::DoReopenLog(Connection& conn) {
  // Opened first: if that fails, output keeps going to the file it was going to.
  ASSIGN_OR_RETURN(crilog::LogWriter log, crilog::LogWriter::Open(options_.log_path, options_.log_rotation));
  log_.emplace(std::move(log));
  return SendMessage(conn.fd.get(), MsgType::kOk, "");
}

lifecycle::LiveContainer ShimServer::Live() const {
  // init is our child and not reaped before init_exited_: its pid cannot be another's.
  return lifecycle::LiveContainer{init_pid_, 0, spec_.linux.cgroups_path};
}

absl::Status ShimServer::DoKill(Connection& conn, const std::string& payload) {
  ASSIGN_OR_RETURN(KillRequest req, Decode<KillRequest>(payload));
  if (init_exited_) {
    return absl::FailedPreconditionError(absl::StrCat("container ", options_.id, " has exited"));
  }
  if (req.exec_pid != 0) {
    auto exec = execs_.find(req.exec_pid);
    if (exec == execs_.end()) {
      return absl::NotFoundError(absl::StrCat("no exec with pid ", req.exec_pid, " runs in container ", options_.id));
    }
    // A pidfd that no longer signals means the process has ended, which is what the caller
    // wants.
    if (exec->second.process &&
        ::syscall(SYS_pidfd_send_signal, exec->second.process.get(), req.signal, nullptr, 0) != 0 && errno != ESRCH) {
      return ErrnoToStatus("signal the exec's process");
    }
    return SendMessage(conn.fd.get(), MsgType::kOk, "");
  }
  RETURN_IF_ERROR(lifecycle::SignalContainer(*cgroups_, Live(), req.signal, req.all));
  // A frozen process cannot act on a signal: stopping or killing a paused container thaws it.
  if (state_.status == "paused" && (req.signal == SIGKILL || req.signal == SIGTERM)) {
    RETURN_IF_ERROR(lifecycle::ThawContainer(*cgroups_, Live()));
    state_.status = "running";
    (void)SaveState();
  }
  return SendMessage(conn.fd.get(), MsgType::kOk, "");
}

absl::Status ShimServer::DoPause(Connection& conn, bool pause) {
  const char* needed = pause ? "running" : "paused";
  if (init_exited_ || state_.status != needed) {
    return absl::FailedPreconditionError(absl::StrCat("container ", options_.id, " is ",
                                                      init_exited_ ? "exited" : state_.status.c_str(), ", not ", needed));
  }
  RETURN_IF_ERROR(pause ? lifecycle::FreezeContainer(*cgroups_, Live()) : lifecycle::ThawContainer(*cgroups_, Live()));
  state_.status = pause ? "paused" : "running";
  (void)SaveState();  // the agent keeps its own record; this one is for its restart
  return SendMessage(conn.fd.get(), MsgType::kOk, "");
}

absl::Status ShimServer::DoExec(uint64_t key, Connection& conn, const std::string& payload) {
  if (init_exited_ || state_.status != "running") {
    return absl::FailedPreconditionError(
        absl::StrCat("container ", options_.id, " is not running"));
  }
  ASSIGN_OR_RETURN(ExecRequest req, Decode<ExecRequest>(payload));
  ASSIGN_OR_RETURN(ProcessStdio io, MakeProcessStdio(req.process.terminal, req.stdin));
  ExecOptions exec;
  exec.container_pid = init_pid_;
  exec.cgroups_path = spec_.linux.cgroups_path;
  exec.process = std::move(req.process);
  exec.stdio = io.ChildView();
  exec.console_socket_fd = io.ChildConsoleSocket();
  exec.seccomp = seccomp_ ? &*seccomp_ : nullptr;
  absl::StatusOr<ExecProcesses> started = StartExecInContainer(exec, *cgroups_);
  io.CloseChildEnds();
  if (!started.ok()) return started.status();
  const pid_t process = started->process;
  // Our child, reaped only by Reap(): the pid cannot name another process yet.
  UniqueFd process_fd(static_cast<int>(::syscall(SYS_pidfd_open, process, 0)));
  if (absl::Status st = io.TakePtyMaster(); !st.ok()) {
    // The process runs without a terminal anyone can reach: end it (Reap collects it as any
    // other child).
    ::kill(process, SIGKILL);
    return st;
  }

  conn.mode = Mode::kExec;
  conn.exec_pid = process;
  execs_[process] = RunningExec{key, std::move(process_fd)};
  std::vector<int> fds;
  if (io.pty_master) {
    fds.push_back(io.pty_master.get());
  } else {
    if (io.stdin_writer) fds.push_back(io.stdin_writer.get());
    fds.push_back(io.stdout_reader.get());
    fds.push_back(io.stderr_reader.get());
  }
  // Our copies close when `io` goes out of scope; the agent's are the only ones left. If the
  // agent is gone the process still runs to its end, and is reaped like any other.
  return SendMessage(conn.fd.get(), MsgType::kExecStarted, Encode(ExecStarted{process}), fds);
}

absl::Status ShimServer::DoAttach(Connection& conn, const std::string& payload) {
  ASSIGN_OR_RETURN(AttachRequest req, Decode<AttachRequest>(payload));
  const bool want_stdin = req.stdin;
  UniqueFd dup_master;
  std::vector<int> fds;
  if (want_stdin) {
    if (terminal_ && stdout_fd_) {
      dup_master.Reset(::fcntl(stdout_fd_.get(), F_DUPFD_CLOEXEC, 3));
      if (!dup_master) return ErrnoToStatus("dup pty master");
      fds.push_back(dup_master.get());
    } else if (stdin_writer_) {
      fds.push_back(stdin_writer_.get());
    }
  }
  RETURN_IF_ERROR(SendMessage(conn.fd.get(), MsgType::kAttached, Encode(Attached{!fds.empty()}), fds));
  // stdin-once: the pipe's writer now belongs to this client alone, so its close is the
  // container's EOF.
  if (!fds.empty() && !terminal_) stdin_writer_.Reset();
  conn.mode = Mode::kAttach;
  return absl::OkStatus();
}

absl::Status ShimServer::DoWait(Connection& conn) {
  // Answered in FinishExit, after state.json records the exit, also when init is already gone.
  conn.mode = Mode::kWait;
  return absl::OkStatus();
}

void ShimServer::ReadOutput(UniqueFd& fd, crilog::Stream stream) {
  if (!fd) return;
  if (buffer_.empty()) buffer_.resize(kOutputChunk);
  ssize_t n = ::read(fd.get(), buffer_.data(), buffer_.size());
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    // EOF, or EIO from a pty master whose last slave fd closed.
    CloseOutput(fd);
    return;
  }
  absl::string_view chunk(buffer_.data(), static_cast<size_t>(n));
  // A full disk must not stop the container or its attached clients; the log loses the chunk.
  (void)log_->Write(stream, chunk, NowNs());
  Broadcast(stream == crilog::Stream::kStdout ? MsgType::kStdout : MsgType::kStderr, chunk);
}

void ShimServer::CloseOutput(UniqueFd& fd) {
  if (!fd) return;
  Unwatch(fd.get());
  fd.Reset();
}

void ShimServer::Broadcast(MsgType type, absl::string_view data) {
  std::vector<uint64_t> gone;
  for (auto& [key, conn] : connections_) {
    if (conn.mode != Mode::kAttach) continue;
    // Non-blocking: a client whose socket buffer is full misses this chunk (counted), rather
    // than holding up the container and every other client.
    if (conn.dropped_bytes > 0) {
      absl::Status told = SendMessage(conn.fd.get(), MsgType::kDropped, Encode(Dropped{conn.dropped_bytes}));
      if (absl::IsResourceExhausted(told)) {
        conn.dropped_bytes += data.size();
        continue;
      }
      if (!told.ok()) {
        gone.push_back(key);
        continue;
      }
      conn.dropped_bytes = 0;
    }
    absl::Status sent = SendMessage(conn.fd.get(), type, data);
    if (absl::IsResourceExhausted(sent)) {
      conn.dropped_bytes += data.size();
    } else if (!sent.ok()) {
      gone.push_back(key);
    }
  }
  for (uint64_t key : gone) Drop(key);
}

}  // namespace berth::shim
