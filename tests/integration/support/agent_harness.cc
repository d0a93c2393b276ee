#include "tests/integration/support/agent_harness.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <dirent.h>

#include <cerrno>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "runtime/base/file_util.h"
#include "runtime/network/netns.h"
#include "runtime/network/rtnetlink.h"
#include "tests/integration/support/network_support.h"

extern char** environ;

namespace berth::testing {

namespace {

// Starts argv[0] with `in`/`out`/`err` (when >= 0) as its stdin/stdout/stderr, inside the
// network namespace `netns_fd` when that is >= 0. fork rather than posix_spawn because setns
// has to happen between the two; the child only makes async-signal-safe calls. Every fd of
// ours is O_CLOEXEC, so the netns fd and the pipes' other ends do not reach the program.
// Returns the pid, or -1 with `error` set (the child's errno travels back on a CLOEXEC pipe).
pid_t SpawnProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env, int in, int out,
                   int err, int netns_fd, std::string* error) {
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::vector<std::string> env_store = env;
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    *error = absl::StrCat("pipe: ", std::strerror(errno));
    return -1;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    *error = absl::StrCat("fork: ", std::strerror(errno));
    ::close(report[0]);
    ::close(report[1]);
    return -1;
  }
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int stage = 0;
    if ((in >= 0 && ::dup2(in, 0) < 0) || (out >= 0 && ::dup2(out, 1) < 0) || (err >= 0 && ::dup2(err, 2) < 0)) {
      stage = 1;
    } else if (netns_fd >= 0 && ::setns(netns_fd, CLONE_NEWNET) != 0) {
      stage = 2;
    } else {
      ::execve(cargv[0], cargv.data(), envp.data());
      stage = 3;
    }
    int msg[2] = {stage, errno};
    (void)!::write(report[1], msg, sizeof(msg));
    ::_exit(127);
  }
  ::close(report[1]);
  int msg[2] = {0, 0};
  ssize_t n;
  do {
    n = ::read(report[0], msg, sizeof(msg));
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n == static_cast<ssize_t>(sizeof(msg))) {
    int status;
    ::waitpid(pid, &status, 0);
    static const char* kStage[] = {"", "dup2", "setns", "exec"};
    *error = absl::StrCat(kStage[msg[0] & 3], " ", argv[0], ": ", std::strerror(msg[1]));
    return -1;
  }
  return pid;
}

std::vector<std::string> CurrentEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  return env;
}

}  // namespace

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

v1::ContainerConfig Busybox(const std::vector<std::string>& args) {
  v1::ContainerConfig c;
  c.set_image("busybox");
  for (const auto& a : args) c.add_command(a);
  return c;
}

CliResult RunProgram(const std::vector<std::string>& argv, const std::string& stdin_data, int timeout_seconds,
                     const std::vector<std::string>& extra_env, int netns_fd) {
  CliResult result;
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC)) return result;
  // An extra NAME=value replaces the inherited NAME: getenv() would return the first of two.
  std::vector<std::string> env;
  for (const std::string& inherited : CurrentEnvironment()) {
    std::string name = inherited.substr(0, inherited.find('=') + 1);
    bool overridden = std::any_of(extra_env.begin(), extra_env.end(),
                                  [&](const std::string& e) { return e.compare(0, name.size(), name) == 0; });
    if (!overridden) env.push_back(inherited);
  }
  env.insert(env.end(), extra_env.begin(), extra_env.end());
  std::string spawn_error;
  pid_t pid = SpawnProcess(argv, env, in[0], out[1], err[1], netns_fd, &spawn_error);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  if (pid < 0) {
    ::close(in[1]);
    ::close(out[0]);
    ::close(err[0]);
    result.err = absl::StrCat("spawn: ", spawn_error);
    return result;
  }
  std::thread writer([fd = in[1], data = stdin_data] {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(fd, data.data() + done, data.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ::close(fd);
  });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  bool out_open = true, err_open = true, killed = false;
  char buf[8192];
  while (out_open || err_open) {
    struct pollfd p[2] = {{out_open ? out[0] : -1, POLLIN, 0}, {err_open ? err[0] : -1, POLLIN, 0}};
    ::poll(p, 2, 100);
    for (int i = 0; i < 2; ++i) {
      if (p[i].fd < 0 || !p[i].revents) continue;
      ssize_t n = ::read(p[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        (i == 0 ? out_open : err_open) = false;
      } else {
        (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
      }
    }
    if (!killed && std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      killed = true;
      result.err += "\n[killed: timeout]";
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  writer.join();
  ::close(out[0]);
  ::close(err[0]);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

AgentHarness::AgentHarness() {
  // An idle gRPC client notices a closed connection only on its backup poll; poll often
  // (read once, at gRPC's initialisation, so it only helps if set before the first channel).
  ::setenv("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "100", /*overwrite=*/0);
  char tmpl[] = "/tmp/berth-it-XXXXXX";
  dir_ = ::mkdtemp(tmpl);
  // Containers with a user namespace reach their own directory below it as unprivileged ids.
  ::chmod(dir_.c_str(), 0711);
  root_ = dir_ + "/root";
  socket_ = dir_ + "/berth.sock";
  log_path_ = dir_ + "/berthd.log";
  static int counter = 0;
  cgroup_parent_ = absl::StrCat("berth-it-", ::getpid(), "-", counter++);
  auto driver = DetectCgroupDriver();
  if (driver.ok()) cgroups_ = std::move(*driver);
  // The test host. Like a real machine it has its loopback up (published ports answer on
  // 127.0.0.1); it has no other link until the agent or a test makes one.
  absl::StatusOr<UniqueFd> netns = net::CreateNetns();
  if (!netns.ok()) {
    ADD_FAILURE() << "harness: create the test host network namespace: " << netns.status();
    return;
  }
  netns_ = std::move(*netns);
  ::fcntl(netns_.get(), F_SETFD, FD_CLOEXEC);
  absl::StatusOr<net::Rtnl> rtnl = net::Rtnl::OpenIn(netns_.get());
  absl::Status lo = rtnl.ok() ? rtnl->SetUp("lo") : rtnl.status();
  if (!lo.ok()) ADD_FAILURE() << "harness: bring lo up in the test host: " << lo;
}

void AgentHarness::Start(const std::vector<std::string>& extra_flags) {
  // Never in the machine's own namespace: without a test host there is no agent.
  ASSERT_TRUE(netns_.valid()) << "harness: no test host network namespace";
  std::vector<std::string> argv = {BERTHD_PATH, "--root", root_, "--socket", socket_, "--cgroup-parent",
                                   cgroup_parent_, "--log-level", "debug"};
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  UniqueFd log(::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  UniqueFd null(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  ASSERT_TRUE(log.valid() && null.valid()) << "open " << log_path_ << ": " << std::strerror(errno);
  std::string spawn_error;
  pid_ = SpawnProcess(argv, CurrentEnvironment(), -1, null.get(), log.get(), netns_.get(), &spawn_error);
  ASSERT_GT(pid_, 0) << "spawn berthd in the test host: " << spawn_error;
  // A channel makes progress on a connection attempt only while a call polls it (or on
  // gRPC's backup poll), and a call on a channel in TRANSIENT_FAILURE fails at once. So wait
  // for the socket first and ask with wait_for_ready so the call itself drives the connection.
  auto exited = [&] {
    int status;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
    pid_ = -1;
    return true;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (::access(socket_.c_str(), F_OK) != 0 && std::chrono::steady_clock::now() < deadline) {
    if (exited()) FAIL() << "berthd exited at start:\n" << ReadText(log_path_);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Connect();
  while (std::chrono::steady_clock::now() < deadline) {
    if (exited()) FAIL() << "berthd exited at start:\n" << ReadText(log_path_);
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(true);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    v1::VersionResponse resp;
    if (system_->Version(&ctx, v1::VersionRequest{}, &resp).ok()) {
      // Copied first: extra_flags may be last_flags_ itself.
      std::vector<std::string> flags = extra_flags;
      last_flags_ = std::move(flags);
      return;
    }
  }
  FAIL() << "berthd did not answer within 15 s:\n" << ReadText(log_path_);
}

void AgentHarness::Connect() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  channel_ = grpc::CreateCustomChannel("unix:" + socket_, grpc::InsecureChannelCredentials(), args);
  containers_ = v1::Containers::NewStub(channel_);
  system_ = v1::System::NewStub(channel_);
  networks_ = v1::Networks::NewStub(channel_);
}

void AgentHarness::Kill(int signal) {
  if (pid_ <= 0) return;
  // A graceful server shutdown waits until every client hung up, and an idle client reads
  // the server's GOAWAY only on its next backup poll (5 s by default): hang up first. The
  // fresh channel does not connect until it is used.
  Connect();
  ::kill(pid_, signal);
  int status;
  bool reaped = Eventually([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, std::chrono::seconds(15));
  if (!reaped) {
    ADD_FAILURE() << "berthd (pid " << pid_ << ") did not exit within 15 s of signal " << signal << "; SIGKILL";
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  pid_ = -1;
}

AgentHarness::~AgentHarness() {
  bool started = ::access(root_.c_str(), F_OK) == 0;
  // A restart for the clean-up uses the flags of the last start (the same bridge and subnet).
  if (pid_ <= 0 && started) Start(last_flags_);
  bool all_removed = !started;
  if (pid_ > 0) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::ListResponse list;
    if (containers_->List(&ctx, v1::ListRequest{}, &list).ok()) {
      all_removed = true;
      for (const auto& c : list.containers()) {
        absl::Status st = Remove(c.id(), true);
        // NotFound: an auto_remove container went away meanwhile.
        if (!st.ok() && !absl::IsNotFound(st)) {
          ADD_FAILURE() << "harness: remove " << c.name() << ": " << st;
          all_removed = false;
        }
      }
    }
    Kill(SIGTERM);
  }
  CheckNothingLeftBehind();
  // Only meaningful once the agent removed every container (otherwise a failure is reported
  // above already). The namespace, and whatever is left in it, goes with netns_.
  if (all_removed && netns_.valid()) CheckNoNetworkLeftovers();
  if (::testing::Test::HasFailure()) {
    std::fprintf(stderr, "---- berthd log (%s) ----\n%s\n", log_path_.c_str(), ReadText(log_path_).c_str());
  }
  (void)RemoveTree(dir_);
}

void AgentHarness::CheckNothingLeftBehind() {
  // A container cgroup is <parent>/<id>: any subdirectory of a parent dir is one.
  auto container_cgroups = [&] {
    std::vector<std::string> out;
    for (const std::string& parent : CgroupDirsNamed(cgroup_parent_)) {
      DIR* d = ::opendir(parent.c_str());
      if (!d) continue;
      while (struct dirent* e = ::readdir(d)) {
        if (e->d_type == DT_DIR && std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
          out.push_back(absl::StrCat(parent, "/", e->d_name));
        }
      }
      ::closedir(d);
    }
    return out;
  };
  // The shim destroys a container's cgroup and exits just after the exit is recorded: give
  // that a bounded moment before calling anything a leak.
  std::vector<pid_t> procs;
  std::vector<std::string> cgroups;
  Eventually(
      [&] {
        procs = ProcessesMentioning(dir_);
        cgroups = container_cgroups();
        return procs.empty() && cgroups.empty();
      },
      std::chrono::seconds(5));
  for (pid_t pid : procs) {
    std::string cmdline = ReadText(absl::StrCat("/proc/", pid, "/cmdline"));
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    ADD_FAILURE() << "harness: process " << pid << " outlived the agent and its containers: " << cmdline;
    ::kill(pid, SIGKILL);
  }
  for (const std::string& dir : cgroups) {
    ADD_FAILURE() << "harness: container cgroup left behind: " << dir
                  << " (cgroup.procs: " << ReadText(dir + "/cgroup.procs") << ")";
    std::string name = dir.substr(dir.rfind('/') + 1);
    if (cgroups_) (void)cgroups_->Destroy(absl::StrCat(cgroup_parent_, "/", name));
  }
  // The parent itself is the harness's to remove: the agent keeps it while it runs.
  if (cgroups_) (void)cgroups_->Destroy(cgroup_parent_);
  // Hierarchies the driver does not manage (or a driver that failed): remove bottom-up.
  for (const std::string& dir : container_cgroups()) {
    std::vector<std::string> pids = absl::StrSplit(ReadText(dir + "/cgroup.procs"), '\n', absl::SkipEmpty());
    for (const std::string& pid : pids) ::kill(std::stoi(pid), SIGKILL);
    Eventually([&] { return ::rmdir(dir.c_str()) == 0 || errno == ENOENT; }, std::chrono::seconds(5));
  }
  for (const std::string& dir : CgroupDirsNamed(cgroup_parent_)) ::rmdir(dir.c_str());
  std::vector<std::string> left = CgroupDirsNamed(cgroup_parent_);
  EXPECT_TRUE(left.empty()) << "harness: cgroup dirs of " << cgroup_parent_
                            << " could not be removed: " << absl::StrJoin(left, ", ");
  std::vector<pid_t> still;
  Eventually([&] { return (still = ProcessesMentioning(dir_)).empty(); }, std::chrono::seconds(5));
  EXPECT_TRUE(still.empty()) << "harness: processes naming " << dir_ << " survive SIGKILL: " << absl::StrJoin(still, ", ");
}

void AgentHarness::CheckNoNetworkLeftovers() {
  std::vector<std::string> veths, leases, dnat;
  std::string nft_error;
  // A removed container's veth and rules go synchronously in the agent, but the kernel may
  // finish deleting a link of a dying namespace a moment later: a bounded moment.
  Eventually(
      [&] {
        veths = LinkNamesWithPrefix(netns_.get(), "bth");
        leases = LeaseFiles(root_);
        absl::StatusOr<std::string> nft = NftTable(netns_.get());
        nft_error = nft.ok() ? "" : nft.status().ToString();
        dnat = nft.ok() ? DnatRules(*nft) : std::vector<std::string>{};
        return veths.empty() && leases.empty() && dnat.empty() && nft_error.empty();
      },
      std::chrono::seconds(5));
  EXPECT_TRUE(veths.empty()) << "harness: container veths left in the test host: " << absl::StrJoin(veths, ", ");
  EXPECT_TRUE(leases.empty()) << "harness: address leases left under " << root_
                              << "/networks: " << absl::StrJoin(leases, ", ");
  EXPECT_TRUE(dnat.empty()) << "harness: DNAT rules left in table ip berth:\n" << absl::StrJoin(dnat, "\n");
  EXPECT_TRUE(nft_error.empty()) << "harness: list table ip berth in the test host: " << nft_error;
}

absl::Status AgentHarness::RunInHostNetns(const std::function<absl::Status()>& fn) const {
  if (!netns_.valid()) return absl::FailedPreconditionError("no test host network namespace");
  return net::RunInNetns(netns_.get(), fn);
}

CliResult AgentHarness::RunInHost(const std::vector<std::string>& argv, int timeout_seconds,
                                  const std::string& stdin_data) const {
  if (!netns_.valid()) return CliResult{.exit_code = -1, .out = "", .err = "no test host network namespace"};
  return RunProgram(argv, stdin_data, timeout_seconds, {}, netns_.get());
}

absl::StatusOr<v1::Network> AgentHarness::CreateNetwork(const std::string& name, const std::string& subnet,
                                                        const std::string& gateway) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::CreateNetworkRequest req;
  req.set_name(name);
  req.set_subnet(subnet);
  req.set_gateway(gateway);
  v1::CreateNetworkResponse resp;
  auto st = networks_->Create(&ctx, req, &resp);
  if (!st.ok()) return FromGrpc(st);
  return resp.network();
}

absl::StatusOr<v1::Network> AgentHarness::InspectNetwork(const std::string& id) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::InspectNetworkRequest req;
  req.set_id(id);
  v1::InspectNetworkResponse resp;
  auto st = networks_->Inspect(&ctx, req, &resp);
  if (!st.ok()) return FromGrpc(st);
  return resp.network();
}

absl::StatusOr<std::vector<v1::Network>> AgentHarness::ListNetworks() {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::ListNetworksResponse resp;
  auto st = networks_->List(&ctx, v1::ListNetworksRequest{}, &resp);
  if (!st.ok()) return FromGrpc(st);
  return std::vector<v1::Network>(resp.networks().begin(), resp.networks().end());
}

absl::Status AgentHarness::RemoveNetwork(const std::string& id) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::RemoveNetworkRequest req;
  req.set_id(id);
  v1::RemoveNetworkResponse resp;
  return FromGrpc(networks_->Remove(&ctx, req, &resp));
}

absl::StatusOr<v1::Container> AgentHarness::Create(v1::ContainerConfig config) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::CreateRequest req;
  *req.mutable_config() = std::move(config);
  v1::CreateResponse resp;
  auto st = containers_->Create(&ctx, req, &resp);
  if (!st.ok()) return FromGrpc(st);
  return resp.container();
}

absl::StatusOr<v1::Container> AgentHarness::Run(v1::ContainerConfig config) {
  auto c = Create(std::move(config));
  if (!c.ok()) return c;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::StartRequest req;
  req.set_id(c->id());
  v1::StartResponse resp;
  auto st = containers_->Start(&ctx, req, &resp);
  if (!st.ok()) return FromGrpc(st);
  return resp.container();
}

absl::StatusOr<v1::Container> AgentHarness::Inspect(const std::string& id) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::InspectRequest req;
  req.set_id(id);
  v1::InspectResponse resp;
  auto st = containers_->Inspect(&ctx, req, &resp);
  if (!st.ok()) return FromGrpc(st);
  return resp.container();
}

absl::StatusOr<v1::WaitResponse> AgentHarness::Wait(const std::string& id, int timeout_seconds) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout_seconds));
  v1::WaitRequest req;
  req.set_id(id);
  v1::WaitResponse resp;
  auto st = containers_->Wait(&ctx, req, &resp);
  if (!st.ok()) return FromGrpc(st);
  return resp;
}

absl::Status AgentHarness::Remove(const std::string& id, bool force) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::RemoveRequest req;
  req.set_id(id);
  req.set_force(force);
  v1::RemoveResponse resp;
  return FromGrpc(containers_->Remove(&ctx, req, &resp));
}

absl::StatusOr<CliResult> AgentHarness::RunToExit(v1::ContainerConfig config, int timeout_seconds) {
  auto c = Run(std::move(config));
  if (!c.ok()) return c.status();
  auto wait = Wait(c->id(), timeout_seconds);
  if (!wait.ok()) return wait.status();
  v1::LogsRequest req;
  req.set_id(c->id());
  auto chunks = LogChunks(req);
  if (!chunks.ok()) return chunks.status();
  CliResult result;
  result.exit_code = wait->exit_code();
  for (const auto& chunk : *chunks) (chunk.stream() == v1::STDERR ? result.err : result.out) += chunk.data();
  return result;
}

absl::StatusOr<v1::Container> AgentHarness::StartContainer(const std::string& id) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::StartRequest req;
  req.set_id(id);
  v1::StartResponse resp;
  auto st = containers_->Start(&ctx, req, &resp);
  if (!st.ok()) return FromGrpc(st);
  return resp.container();
}

absl::StatusOr<v1::Container> AgentHarness::Stop(const std::string& id, std::optional<int> timeout_seconds,
                                                 int signal) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(90));
  v1::StopRequest req;
  req.set_id(id);
  req.set_signal(signal);
  if (timeout_seconds) req.set_timeout_seconds(*timeout_seconds);
  v1::StopResponse resp;
  auto st = containers_->Stop(&ctx, req, &resp);
  if (!st.ok()) return FromGrpc(st);
  return resp.container();
}

absl::Status AgentHarness::KillContainer(const std::string& id, int signal) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::KillRequest req;
  req.set_id(id);
  req.set_signal(signal);
  v1::KillResponse resp;
  return FromGrpc(containers_->Kill(&ctx, req, &resp));
}

absl::Status AgentHarness::Pause(const std::string& id) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::PauseRequest req;
  req.set_id(id);
  v1::PauseResponse resp;
  return FromGrpc(containers_->Pause(&ctx, req, &resp));
}

absl::Status AgentHarness::Resume(const std::string& id) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::ResumeRequest req;
  req.set_id(id);
  v1::ResumeResponse resp;
  return FromGrpc(containers_->Resume(&ctx, req, &resp));
}

absl::StatusOr<std::vector<v1::Container>> AgentHarness::List(const std::string& label_selector,
                                                              const std::vector<v1::ContainerState>& states) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::ListRequest req;
  req.set_label_selector(label_selector);
  for (auto s : states) req.add_states(s);
  v1::ListResponse resp;
  auto st = containers_->List(&ctx, req, &resp);
  if (!st.ok()) return FromGrpc(st);
  return std::vector<v1::Container>(resp.containers().begin(), resp.containers().end());
}

absl::StatusOr<v1::VersionResponse> AgentHarness::Version() {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::VersionResponse resp;
  auto st = system_->Version(&ctx, v1::VersionRequest{}, &resp);
  if (!st.ok()) return FromGrpc(st);
  return resp;
}

std::string AgentHarness::CgroupDriverName() {
  auto v = Version();
  return v.ok() ? v->cgroup_driver() : "";
}

bool AgentHarness::WaitForState(const std::string& id, v1::ContainerState state, std::chrono::milliseconds timeout) {
  return Eventually(
      [&] {
        auto c = Inspect(id);
        return c.ok() && c->state() == state;
      },
      timeout);
}

absl::StatusOr<CliResult> AgentHarness::Exec(const std::string& id, const std::vector<std::string>& args,
                                             const std::string& stdin_data, bool tty) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto stream = containers_->Exec(&ctx);
  v1::ExecRequest first;
  first.set_id(id);
  for (const auto& a : args) first.mutable_start()->add_args(a);
  first.mutable_start()->set_stdin(!stdin_data.empty());
  first.mutable_start()->set_tty(tty);
  stream->Write(first);
  if (!stdin_data.empty()) {
    v1::ExecRequest data;
    data.set_stdin(stdin_data);
    stream->Write(data);
    v1::ExecRequest close;
    close.set_close_stdin(true);
    stream->Write(close);
  }
  CliResult result;
  v1::ExecResponse resp;
  while (stream->Read(&resp)) {
    if (resp.has_output()) {
      (resp.output().stream() == v1::STDERR ? result.err : result.out) += resp.output().data();
    } else if (resp.has_exit_code()) {
      result.exit_code = resp.exit_code();
      stream->WritesDone();
    }
  }
  auto st = stream->Finish();
  if (!st.ok()) return FromGrpc(st);
  return result;
}

absl::StatusOr<std::string> AgentHarness::Logs(const std::string& id) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::LogsRequest req;
  req.set_id(id);
  auto reader = containers_->Logs(&ctx, req);
  std::string text;
  v1::LogsResponse resp;
  while (reader->Read(&resp)) text += resp.chunk().data();
  auto st = reader->Finish();
  if (!st.ok()) return FromGrpc(st);
  return text;
}

absl::StatusOr<std::vector<v1::OutputChunk>> AgentHarness::LogChunks(const v1::LogsRequest& request,
                                                                     int timeout_seconds) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout_seconds));
  auto reader = containers_->Logs(&ctx, request);
  std::vector<v1::OutputChunk> chunks;
  v1::LogsResponse resp;
  while (reader->Read(&resp)) chunks.push_back(resp.chunk());
  auto st = reader->Finish();
  if (!st.ok()) return FromGrpc(st);
  return chunks;
}

CliResult AgentHarness::Cli(const std::vector<std::string>& args, const std::string& stdin_data, int timeout_seconds) {
  std::vector<std::string> argv = {BERTH_CLI_PATH, "--host", "unix://" + socket_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv, stdin_data, timeout_seconds);
}

std::string AgentHarness::BusyboxLayerDir() const {
  std::vector<std::string> layers;
  for (const std::string& name : ListDirectory(root_ + "/images/layers")) {
    if (!name.empty() && name[0] != '.') layers.push_back(root_ + "/images/layers/" + name);
  }
  return layers.size() == 1 ? layers[0] : "";
}

std::string AgentHarness::CgroupDir(const std::string& id, const std::string& controller) const {
  if (!cgroups_) return "";
  auto dir = cgroups_->Directory(absl::StrCat(cgroup_parent_, "/", id), controller);
  return dir.ok() ? *dir : "";
}

bool Eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::vector<pid_t> ProcessesMentioning(const std::string& needle) {
  std::vector<pid_t> out;
  DIR* proc = ::opendir("/proc");
  if (!proc) return out;
  while (struct dirent* e = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0' || pid == ::getpid()) continue;
    // A zombie's cmdline reads empty; a reaped process's not at all.
    std::string cmdline = ReadText(absl::StrCat("/proc/", pid, "/cmdline"));
    if (cmdline.find(needle) == std::string::npos) continue;
    std::string stat = ReadText(absl::StrCat("/proc/", pid, "/stat"));
    size_t paren = stat.rfind(')');
    if (paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z') continue;
    out.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(proc);
  return out;
}

std::vector<std::string> CgroupDirsNamed(const std::string& name) {
  // "4:memory:/a/b" -> "/a/b"; the candidates are <mount>/<own path>/<name> and <mount>/<name>.
  std::set<std::string> own = {"/"};
  for (absl::string_view line : absl::StrSplit(ReadText("/proc/self/cgroup"), '\n', absl::SkipEmpty())) {
    std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (parts.size() == 3) own.insert(parts[2]);
  }
  std::vector<std::string> out;
  DIR* d = ::opendir("/sys/fs/cgroup");
  if (!d) return out;
  std::set<std::string> seen;
  auto consider = [&](const std::string& mount) {
    for (const std::string& path : own) {
      std::string candidate = absl::StrCat(mount, path == "/" ? "" : path, "/", name);
      struct stat st;
      if (::stat(candidate.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && seen.insert(candidate).second) {
        out.push_back(candidate);
      }
    }
  };
  consider("/sys/fs/cgroup");  // a pure v2 host mounts the unified hierarchy here
  while (struct dirent* e = ::readdir(d)) {
    if ((e->d_type != DT_DIR && e->d_type != DT_LNK) || e->d_name[0] == '.') continue;
    consider(absl::StrCat("/sys/fs/cgroup/", e->d_name));
  }
  ::closedir(d);
  return out;
}

}  // namespace berth::testing
