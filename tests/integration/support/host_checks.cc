#include "tests/integration/support/host_checks.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "gtest/gtest.h"
#include "runtime/base/file_util.h"

namespace berth::testing {

namespace {
// gRPC's synchronous client reads a connection only while a call waits on it, or from its
// backup poller, every 5 s by default. An agent's HTTP/2 settings that arrive between calls
// (the harness polls Version until berthd listens) and its GOAWAY at shutdown would each sit
// unread for up to those 5 s. Read before gRPC initialises, i.e. before main.
const bool kFastBackupPoll = [] {
  ::setenv("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "50", /*overwrite=*/0);
  return true;
}();
}  // namespace

std::vector<std::string> DirEntries(const std::string& dir) { return ListDirectory(dir); }

std::string NamespaceOf(pid_t pid, const std::string& type) {
  char buf[128] = {};
  const std::string link = "/proc/" + std::to_string(pid) + "/ns/" + type;
  ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "(unreadable " + link + ")";
}

bool PidRunning(pid_t pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  // /proc/<pid>/stat: "pid (comm) S ..."; comm may hold spaces or parentheses.
  std::string stat = ReadText("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return false;
  char state = stat[close + 2];
  return state != 'Z' && state != 'X';
}

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool IsHexId(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string ContainersDir(const AgentHarness& agent) { return agent.root() + "/containers"; }

std::set<std::string> ContainerDirIds(const AgentHarness& agent) {
  std::set<std::string> ids;
  for (const auto& n : DirEntries(ContainersDir(agent))) {
    if (IsHexId(n)) ids.insert(n);
  }
  return ids;
}

std::set<std::string> ContainerCgroupIds(const AgentHarness& agent, const std::string& controller) {
  std::set<std::string> ids;
  // CgroupDir names <parent>/<id>; its directory part is the parent.
  std::string probe = agent.CgroupDir("probe", controller);
  if (probe.empty()) return ids;
  std::string parent = probe.substr(0, probe.rfind('/'));
  for (const auto& n : DirEntries(parent)) {
    if (IsHexId(n)) ids.insert(n);
  }
  return ids;
}

pid_t ShimPidFromState(const AgentHarness& agent, const std::string& id) {
  auto j = nlohmann::json::parse(ReadText(ContainersDir(agent) + "/" + id + "/state.json"), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return 0;
  return j.value("shim_pid", 0);
}

std::vector<v1::Container> ListAll(AgentHarness& agent) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::ListResponse resp;
  grpc::Status st = agent.containers().List(&ctx, v1::ListRequest{}, &resp);
  EXPECT_TRUE(st.ok()) << "List: " << st.error_message();
  return {resp.containers().begin(), resp.containers().end()};
}

}  // namespace berth::testing
