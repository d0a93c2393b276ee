// ContainerManager::Exec and ::Attach: the shim does the process work; the agent gets fds.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/user_lookup.h"
#include "agent/container_manager.h"
#include "agent/ids.h"
#include "agent/grpc_status.h"
#include "agent/shim_client.h"
#include "runtime/base/crash_point.h"
#include "runtime/base/errno_status.h"
#include "runtime/shim/shim_protocol.h"
#include "runtime/spec/spec.h"

namespace berth::agent {

namespace {

absl::StatusOr<std::shared_ptr<const ExecBase>> LoadExecBase(const std::string& bundle) {
  auto container = spec::LoadBundle(bundle);
  if (!container.ok()) return Annotate(container.status(), "exec: read the container's spec");
  auto base = std::make_shared<ExecBase>();
  base->process = std::move(container->process);
  auto lower = container->annotations.find(spec::kAnnotationOverlayLower);
  if (lower != container->annotations.end()) {
    base->layers = absl::StrSplit(lower->second, ':');
  } else {
    base->layers = {container->root.path};
  }
  return base;
}

// The process the shim's kExec takes: the container's process, overridden by the exec
// request the way `docker exec` does (env adds to the container's, cwd and user replace it).
absl::StatusOr<spec::Process> ExecProcess(const ExecBase& container, const v1::ProcessSpec& p) {
  if (p.args().empty() || p.args(0).empty()) return absl::InvalidArgumentError("start.args must not be empty");
  std::vector<std::string> env = container.process.env;
  for (int i = 0; i < p.env_size(); ++i) {
    const std::string& e = p.env(i);
    if (e.empty() || e[0] == '=' || e.find('=') == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("start.env[", i, "] must be KEY=VALUE, got \"", e, "\""));
    }
    std::string key = e.substr(0, e.find('='));
    std::erase_if(env, [&](const std::string& x) { return x.substr(0, x.find('=')) == key; });
    env.push_back(e);
  }
  std::string cwd = p.working_dir().empty() ? container.process.cwd : p.working_dir();
  if (cwd.empty() || cwd[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("start.working_dir must be absolute, got \"", cwd, "\""));
  }
  spec::User user = container.process.user;
  if (!p.user().empty()) {
    auto resolved = ResolveUser(container.layers, p.user());
    if (!resolved.ok()) return resolved.status();
    user = {resolved->uid, resolved->gid, resolved->additional_gids};
  }
  spec::Process out;
  out.args.assign(p.args().begin(), p.args().end());
  out.env = std::move(env);
  out.cwd = cwd;
  out.user = user;
  out.terminal = p.tty();
  if (p.tty() && p.has_terminal_size()) {
    out.console_size = spec::ConsoleSize{p.terminal_size().rows(), p.terminal_size().cols()};
  }
  out.no_new_privileges = container.process.no_new_privileges;
  if (container.process.capabilities) {
    const auto& c = *container.process.capabilities;
    // The container's set, in effect for root only (as for the container's own process).
    std::vector<std::string> in_effect = user.uid == 0 ? c.bounding : std::vector<std::string>{};
    out.capabilities = spec::Capabilities{c.bounding, in_effect, {}, in_effect, {}};
  }
  out.rlimits = container.process.rlimits;
  return out;
}

}  // namespace

absl::StatusOr<ExecHandle> ContainerManager::Exec(const std::string& ref, const v1::ProcessSpec& process,
                                                  bool announce) {
  auto entry = Find(ref);
  if (!entry.ok()) return entry.status();
  Entry& e = **entry;
  std::shared_ptr<const ExecBase> base;
  {
    std::lock_guard<std::mutex> lock(e.mu);
    if (e.record.state() != v1::RUNNING) {
      return absl::FailedPreconditionError(absl::StrCat("container ", e.name, " is not running (",
                                                        e.record.state() == v1::PAUSED ? "paused" : "not started or exited",
                                                        "); exec needs a running container"));
    }
    base = e.exec_base;
  }
  if (base == nullptr) {
    auto loaded = LoadExecBase(e.paths.bundle);
    if (!loaded.ok()) return loaded.status();
    base = *loaded;
    std::lock_guard<std::mutex> lock(e.mu);
    e.exec_base = base;
  }
  auto exec_process = ExecProcess(*base, process);
  if (!exec_process.ok()) return exec_process.status();
  shim::ExecRequest request{std::move(*exec_process), process.stdin()};
  auto conn = ShimOpen(e.paths.dir, shim::MsgType::kExec, shim::Encode(request));
  if (!conn.ok()) return Annotate(conn.status(), absl::StrCat("exec in container ", NameOf(e)));
  auto reply = shim::ReceiveMessage(conn->get());
  if (!reply.ok()) return Annotate(reply.status(), absl::StrCat("exec in container ", NameOf(e)));
  if (reply->type == shim::MsgType::kError) {
    absl::Status st = Annotate(shim::DecodeError(reply->payload), absl::StrCat("container ", NameOf(e)));
    // A running container refused its process: the process is what failed.
    return MarkProcessStartFailure(st);
  }
  if (reply->type != shim::MsgType::kExecStarted) return absl::InternalError("exec: unexpected reply from the shim");
  ExecHandle handle;
  handle.connection = std::move(*conn);
  handle.fds = std::move(reply->fds);
  handle.tty = process.tty();
  handle.stdin = process.stdin();
  auto started = shim::Decode<shim::ExecStarted>(reply->payload);
  if (started.ok()) handle.pid = started->pid;
  handle.container_id = e.id;
  handle.exec_id = NewContainerId();
  CrashPoint("exec.started");
  if (!announce) return handle;
  v1::Event event;
  {
    std::lock_guard<std::mutex> lock(e.mu);
    event = ContainerEvent(e.record, "");
  }
  event.set_type("exec.start");
  event.set_exec_id(handle.exec_id);
  (*event.mutable_attributes())["pid"] = std::to_string(handle.pid);
  (*event.mutable_attributes())["command"] = absl::StrJoin(process.args(), " ");
  Emit(std::move(event));
  return handle;
}

void ContainerManager::ExecExited(const ExecHandle& exec, int exit_code) {
  v1::Event event;
  if (auto entry = Find(exec.container_id); entry.ok()) {
    std::lock_guard<std::mutex> lock((*entry)->mu);
    event = ContainerEvent((*entry)->record, "");
  } else {
    event.set_id(exec.container_id);
  }
  event.set_type("exec.exit");
  event.set_exec_id(exec.exec_id);
  event.set_exit_code(exit_code);
  (*event.mutable_attributes())["pid"] = std::to_string(exec.pid);
  Emit(std::move(event));
}

void ContainerManager::WatchExecExit(ExecHandle exec) {
  UniqueFd connection = std::move(exec.connection);
  exec.fds.clear();
  auto watched = std::make_shared<ExecHandle>(std::move(exec));
  watcher_.Watch(watched->container_id, std::move(connection),
                 [this, watched](const std::string&, const std::optional<shim::ExitReport>& report) {
                   ExecExited(*watched, report ? report->exit_code : 255);
                 });
}

absl::StatusOr<AttachHandle> ContainerManager::Attach(const std::string& ref, bool want_stdin) {
  auto entry = Find(ref);
  if (!entry.ok()) return entry.status();
  Entry& e = **entry;
  bool tty;
  {
    std::lock_guard<std::mutex> lock(e.mu);
    if (e.record.state() == v1::EXITED) {
      return absl::FailedPreconditionError(absl::StrCat("container ", e.name, " has exited; use Logs for its output"));
    }
    tty = e.record.config().tty();
  }
  auto conn = ShimOpen(e.paths.dir, shim::MsgType::kAttach, shim::Encode(shim::AttachRequest{want_stdin}));
  if (!conn.ok()) return Annotate(conn.status(), absl::StrCat("attach to container ", NameOf(e)));
  auto reply = shim::ReceiveMessage(conn->get());
  if (!reply.ok()) return Annotate(reply.status(), absl::StrCat("attach to container ", NameOf(e)));
  if (reply->type == shim::MsgType::kError) return shim::DecodeError(reply->payload);
  if (reply->type != shim::MsgType::kAttached) return absl::InternalError("attach: unexpected reply from the shim");
  AttachHandle handle;
  handle.connection = std::move(*conn);
  handle.tty = tty;
  if (!reply->fds.empty()) handle.input = std::move(reply->fds[0]);
  return handle;
}

}  // namespace berth::agent
