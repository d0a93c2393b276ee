#include "bench/bench_berth.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <thread>

#include "bench/bench_proc.h"
#include "bench/bench_stats.h"
#include "runtime/base/file_util.h"

namespace berth::bench {

namespace v1 = berth::v1;

namespace {

constexpr auto kCallTimeout = std::chrono::seconds(60);

void SetDeadline(grpc::ClientContext& ctx) { ctx.set_deadline(std::chrono::system_clock::now() + kCallTimeout); }

void Check(const grpc::Status& status, const std::string& what) {
  if (!status.ok()) {
    throw BenchError(what + ": " + status.error_message() + " (gRPC code " +
                     std::to_string(static_cast<int>(status.error_code())) + ")");
  }
}

bool SocketAccepts(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

void BerthAgent::Start() {
  SpawnOptions io;
  io.stdout_path = options_.log_path;
  io.stderr_path = options_.log_path;
  io.own_process_group = true;
  std::vector<std::string> argv = {options_.berthd,         "--root",      options_.root,
                                   "--socket",              options_.socket, "--cgroup-parent",
                                   options_.cgroup_parent,  "--log-level", options_.log_level};
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  pid_ = Spawn(argv, io);
}

void BerthAgent::WaitServing(std::chrono::seconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!SocketAccepts(options_.socket)) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw BenchError("berthd ended (" + DescribeWaitStatus(status) + ") before serving; its log:\n" +
                       FileTail(options_.log_path));
    }
    ThrowIfInterrupted();
    if (Clock::now() > deadline) throw BenchError("berthd did not serve on " + options_.socket + " in time");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void BerthAgent::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 250; ++i) {
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

BerthClient::BerthClient(const std::string& socket_path)
    : BerthClient(grpc::CreateChannel("unix://" + socket_path, grpc::InsecureChannelCredentials())) {}

BerthClient::BerthClient(std::shared_ptr<grpc::Channel> channel)
    : channel_(std::move(channel)),
      containers_(v1::Containers::NewStub(channel_)),
      system_(v1::System::NewStub(channel_)) {}

void BerthClient::WaitReady(std::chrono::seconds timeout) {
  if (!channel_->WaitForConnected(std::chrono::system_clock::now() + timeout)) {
    throw BenchError("cannot connect to berthd");
  }
}

std::string BerthClient::Version() {
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  v1::VersionResponse resp;
  Check(system_->Version(&ctx, v1::VersionRequest(), &resp), "Version");
  return resp.version() + " (api " + resp.api_version() + ", cgroups " + resp.cgroup_driver() + ")";
}

std::string BerthClient::Create(const std::string& image, const std::vector<std::string>& command,
                                const std::string& network, const v1::SecurityOptions& security) {
  v1::CreateRequest req;
  req.mutable_config()->set_image(image);
  *req.mutable_config()->mutable_security() = security;
  if (!network.empty()) req.mutable_config()->set_network(network);
  for (const auto& c : command) req.mutable_config()->add_command(c);
  v1::CreateResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  Check(containers_->Create(&ctx, req, &resp), "Create");
  live_.insert(resp.container().id());
  return resp.container().id();
}

void BerthClient::Start(const std::string& id) {
  v1::StartRequest req;
  req.set_id(id);
  v1::StartResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  Check(containers_->Start(&ctx, req, &resp), "Start");
}

void BerthClient::Remove(const std::string& id, bool force) {
  v1::RemoveRequest req;
  req.set_id(id);
  req.set_force(force);
  v1::RemoveResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  Check(containers_->Remove(&ctx, req, &resp), "Remove");
  live_.erase(id);
}

v1::Container BerthClient::Inspect(const std::string& id) {
  v1::InspectRequest req;
  req.set_id(id);
  v1::InspectResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  Check(containers_->Inspect(&ctx, req, &resp), "Inspect");
  return resp.container();
}

RunPhases BerthClient::RunToExit(const std::string& image, const std::vector<std::string>& command,
                                 const std::string& network, const v1::SecurityOptions& security) {
  RunPhases p;
  auto t0 = Clock::now();
  const std::string id = Create(image, command, network, security);
  auto t1 = Clock::now();

  grpc::ClientContext ctx;
  SetDeadline(ctx);
  auto stream = containers_->Attach(&ctx);
  v1::AttachRequest first;
  first.set_id(id);
  first.set_stdin(false);
  stream->Write(first);
  // Nothing more to send (no stdin, no terminal): half-close now, so the agent's request
  // reader ends at once instead of waiting for us.
  stream->WritesDone();
  // The agent sends initial metadata once the stream receives the container's output.
  stream->WaitForInitialMetadata();
  auto t2 = Clock::now();

  Start(id);
  auto t3 = Clock::now();

  int exit_code = -1;
  auto t4 = t3;
  v1::AttachResponse resp;
  while (stream->Read(&resp)) {
    if (resp.msg_case() == v1::AttachResponse::kExitCode) {
      exit_code = resp.exit_code();
      t4 = Clock::now();
    }
  }
  Check(stream->Finish(), "Attach");
  auto t5 = Clock::now();
  if (exit_code != 0) throw BenchError("container " + id + " exited with " + std::to_string(exit_code));

  Remove(id, /*force=*/true);  // force, as the agent's auto-remove: the exit may not be recorded yet
  auto t6 = Clock::now();

  p.create = MillisBetween(t0, t1);
  p.attach = MillisBetween(t1, t2);
  p.start = MillisBetween(t2, t3);
  p.exit = MillisBetween(t3, t4);
  p.close = MillisBetween(t4, t5);
  p.remove = MillisBetween(t5, t6);
  p.total = MillisBetween(t0, t6);
  return p;
}

RunPhases BerthClient::RunInOneCall(const std::string& image, const std::vector<std::string>& command,
                                    const std::string& network) {
  RunPhases p;
  auto t0 = Clock::now();
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  auto stream = containers_->Run(&ctx);
  v1::RunRequest first;
  first.mutable_config()->set_image(image);
  first.mutable_config()->set_auto_remove(true);
  if (!network.empty()) first.mutable_config()->set_network(network);
  for (const auto& c : command) first.mutable_config()->add_command(c);
  stream->Write(first);
  stream->WritesDone();  // no stdin: the agent's request reader ends at once
  std::string id;
  int exit_code = -1;
  auto t1 = t0, t2 = t0;
  v1::RunResponse resp;
  while (stream->Read(&resp)) {
    if (resp.has_created()) {
      id = resp.created().id();
      t1 = Clock::now();
    } else if (resp.msg_case() == v1::RunResponse::kExitCode) {
      exit_code = resp.exit_code();
      t2 = Clock::now();
    }
  }
  Check(stream->Finish(), "Run");
  auto t3 = Clock::now();
  if (exit_code != 0) throw BenchError("container " + id + " exited with " + std::to_string(exit_code));
  p.create = MillisBetween(t0, t1);
  p.exit = MillisBetween(t1, t2);
  p.close = MillisBetween(t2, t3);
  p.total = MillisBetween(t0, t3);
  return p;
}

std::string BerthClient::RunDetached(const std::string& image, const std::vector<std::string>& command,
                                     const v1::SecurityOptions& security) {
  std::string id = Create(image, command, "", security);
  Start(id);
  return id;
}

double BerthClient::TimedCreate(const std::string& image, const std::vector<std::string>& command,
                                const std::string& network, std::string* id) {
  auto t0 = Clock::now();
  *id = Create(image, command, network);
  return MillisBetween(t0, Clock::now());
}

ExecPhases BerthClient::Exec(const std::string& id, const std::vector<std::string>& args) {
  ExecPhases p;
  auto t0 = Clock::now();
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  auto stream = containers_->Exec(&ctx);
  v1::ExecRequest first;
  first.set_id(id);
  for (const auto& a : args) first.mutable_start()->add_args(a);
  stream->Write(first);
  stream->WritesDone();  // no stdin
  int exit_code = -1;
  auto t1 = t0, t2 = t0;
  v1::ExecResponse resp;
  while (stream->Read(&resp)) {
    if (resp.msg_case() == v1::ExecResponse::kPid) t1 = Clock::now();
    if (resp.msg_case() == v1::ExecResponse::kExitCode) {
      exit_code = resp.exit_code();
      t2 = Clock::now();
    }
  }
  Check(stream->Finish(), "Exec");
  auto t3 = Clock::now();
  if (exit_code != 0) throw BenchError("exec in " + id + " exited with " + std::to_string(exit_code));
  p.started = MillisBetween(t0, t1);
  p.exit = MillisBetween(t0, t2);
  p.total = MillisBetween(t0, t3);
  return p;
}

std::vector<std::string> BerthClient::RemoveAll() {
  std::vector<std::string> left;
  std::set<std::string> ids = live_;
  for (const auto& id : ids) {
    try {
      Remove(id, /*force=*/true);
    } catch (const BenchError& e) {
      std::fprintf(stderr, "berth-bench: remove %s: %s\n", id.c_str(), e.what());
      left.push_back(id);
    }
  }
  return left;
}

std::string BusyboxLayer(const std::string& agent_root) {
  const std::string layers = agent_root + "/images/layers";
  for (const std::string& name : berth::ListDirectory(layers)) {
    if (name.empty() || name[0] == '.') continue;
    const std::string layer = layers + "/" + name;
    if (::access((layer + "/bin/busybox").c_str(), X_OK) == 0) return layer;
  }
  throw BenchError("berthd built no busybox image layer below " + layers);
}

}  // namespace berth::bench
