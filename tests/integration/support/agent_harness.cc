#include "tests/integration/support/agent_harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "runtime/base/file_util.h"

extern char** environ;

namespace berth::testing {

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
                     const std::vector<std::string>& extra_env) {
  CliResult result;
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC)) return result;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) env_store.emplace_back(*e);
  for (const auto& e : extra_env) env_store.push_back(e);
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawn(&pid, cargv[0], &fa, nullptr, cargv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(out[0]);
    ::close(err[0]);
    result.err = absl::StrCat("spawn ", argv[0], ": ", std::strerror(rc));
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
  char tmpl[] = "/tmp/berth-it-XXXXXX";
  dir_ = ::mkdtemp(tmpl);
  root_ = dir_ + "/root";
  socket_ = dir_ + "/berth.sock";
  log_path_ = dir_ + "/berthd.log";
  static int counter = 0;
  cgroup_parent_ = absl::StrCat("berth-it-", ::getpid(), "-", counter++);
  auto driver = DetectCgroupDriver();
  if (driver.ok()) cgroups_ = std::move(*driver);
}

void AgentHarness::Start(const std::vector<std::string>& extra_flags) {
  std::vector<std::string> argv = {BERTHD_PATH, "--root", root_, "--socket", socket_, "--cgroup-parent",
                                   cgroup_parent_, "--log-level", "debug"};
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  int rc = posix_spawn(&pid_, BERTHD_PATH, &fa, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ASSERT_EQ(rc, 0) << "spawn berthd";
  channel_ = grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials());
  containers_ = v1::Containers::NewStub(channel_);
  system_ = v1::System::NewStub(channel_);
  for (int i = 0; i < 300; ++i) {
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      FAIL() << "berthd exited at start:\n" << ReadText(log_path_);
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
    v1::VersionResponse resp;
    if (system_->Version(&ctx, v1::VersionRequest{}, &resp).ok()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL() << "berthd did not answer within 15 s:\n" << ReadText(log_path_);
}

void AgentHarness::Kill(int signal) {
  if (pid_ <= 0) return;
  ::kill(pid_, signal);
  int status;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

AgentHarness::~AgentHarness() {
  if (pid_ <= 0 && ::access(root_.c_str(), F_OK) == 0) Start();
  if (pid_ > 0) {
    grpc::ClientContext ctx;
    v1::ListResponse list;
    if (containers_->List(&ctx, v1::ListRequest{}, &list).ok()) {
      for (const auto& c : list.containers()) (void)Remove(c.id(), true);
    }
    Kill(SIGTERM);
  }
  if (cgroups_) (void)cgroups_->Destroy(cgroup_parent_);
  if (::testing::Test::HasFailure()) {
    std::fprintf(stderr, "---- berthd log (%s) ----\n%s\n", log_path_.c_str(), ReadText(log_path_).c_str());
  }
  (void)RemoveTree(dir_);
}

absl::StatusOr<v1::Container> AgentHarness::Create(v1::ContainerConfig config) {
  grpc::ClientContext ctx;
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
  v1::StartRequest req;
  req.set_id(c->id());
  v1::StartResponse resp;
  auto st = containers_->Start(&ctx, req, &resp);
  if (!st.ok()) return FromGrpc(st);
  return resp.container();
}

absl::StatusOr<v1::Container> AgentHarness::Inspect(const std::string& id) {
  grpc::ClientContext ctx;
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
  v1::RemoveRequest req;
  req.set_id(id);
  req.set_force(force);
  v1::RemoveResponse resp;
  return FromGrpc(containers_->Remove(&ctx, req, &resp));
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

CliResult AgentHarness::Cli(const std::vector<std::string>& args, const std::string& stdin_data, int timeout_seconds) {
  std::vector<std::string> argv = {BERTH_CLI_PATH, "--host", "unix://" + socket_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv, stdin_data, timeout_seconds);
}

std::string AgentHarness::CgroupDir(const std::string& id, const std::string& controller) const {
  if (!cgroups_) return "";
  auto dir = cgroups_->Directory(absl::StrCat(cgroup_parent_, "/", id), controller);
  return dir.ok() ? *dir : "";
}

}  // namespace berth::testing
