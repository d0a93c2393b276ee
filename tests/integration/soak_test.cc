// The soak: create / start / exec / stop / remove cycles from 8 concurrent clients, each with
// its own connection, while the agent is SIGKILLed at random moments and started again. After
// every restart, once the cycles in flight have cleaned up after themselves, the node must
// hold nothing: no container record, shim, cgroup, container dir, mount, veth or lease. A
// call may fail only in a cycle that a kill interrupted; every finished cycle saw the right
// output and exit code.
//
// `make test` runs 300 cycles (kills throughout). `make soak` runs 10,000
// (BERTH_SOAK_CYCLES=10000): the kills then fall in the first 2,000 cycles, and the last 8,000
// run on one agent whose RSS, sampled at quiet moments, must stay within 5%.
// BERTH_SOAK_SEED repeats a run's kill schedule.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdio>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <random>
#include <condition_variable>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "berth/v1/containers.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/host_checks.h"
#include "tests/integration/support/network_support.h"

namespace berth::testing {
namespace {

constexpr int kClients = 8;
constexpr int kRssWindowCycles = 8000;  // the flat-RSS window of a long run
constexpr int kSampleEvery = 250;       // cycles between RSS samples

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  int n = 0;
  return v != nullptr && absl::SimpleAtoi(v, &n) && n > 0 ? n : fallback;
}

int64_t RssKb(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    long long kb = 0;
    if (std::sscanf(line.c_str(), "VmRSS: %lld kB", &kb) == 1) return kb;
  }
  return -1;
}

// What one client does, on its own channel (which reconnects by itself after a restart).
class SoakClient {
 public:
  SoakClient(const std::string& socket, int index) : index_(index) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 300);
    stub_ = v1::Containers::NewStub(
        grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(), args));
  }

  // One cycle; an error says which step failed and how.
  absl::Status Cycle(int n) {
    const std::string name = absl::StrCat("soak-", index_, "-", n);
    v1::CreateRequest create;
    *create.mutable_config() = Busybox({"sh", "-c", "trap 'exit 0' TERM; echo ready; sleep 1000 & wait"});
    create.mutable_config()->set_name(name);
    v1::CreateResponse created;
    if (auto st = Call("create", [&](grpc::ClientContext* c) { return stub_->Create(c, create, &created); }); !st.ok()) {
      return st;
    }
    const std::string id = created.container().id();
    v1::StartRequest start;
    start.set_id(id);
    v1::StartResponse started;
    if (auto st = Call("start", [&](grpc::ClientContext* c) { return stub_->Start(c, start, &started); }); !st.ok()) {
      return st;
    }
    if (absl::Status st = ExecEcho(id, n); !st.ok()) return st;
    // PID 1 ignores a SIGTERM that comes before its trap: stop once the trap is set.
    if (absl::Status st = AwaitReady(id); !st.ok()) return st;
    v1::StopRequest stop;
    stop.set_id(id);
    stop.set_timeout_seconds(10);
    v1::StopResponse stopped;
    if (auto st = Call("stop", [&](grpc::ClientContext* c) { return stub_->Stop(c, stop, &stopped); }); !st.ok()) {
      return st;
    }
    if (stopped.container().exit_code() != 0) {
      return absl::InternalError(absl::StrCat(name, ": stop gave exit code ", stopped.container().exit_code(), ", want 0"));
    }
    v1::RemoveRequest remove;
    remove.set_id(id);
    v1::RemoveResponse removed;
    return Call("remove", [&](grpc::ClientContext* c) { return stub_->Remove(c, remove, &removed); });
  }

  // After an interrupted cycle: remove what it may have left (by name), waiting for the agent
  // to come back. NOT_FOUND is success.
  absl::Status CleanUp(int n) {
    v1::RemoveRequest remove;
    remove.set_id(absl::StrCat("soak-", index_, "-", n));
    remove.set_force(true);
    absl::Status last;
    for (int attempt = 0; attempt < 600; ++attempt) {
      v1::RemoveResponse removed;
      last = Call("clean-up remove", [&](grpc::ClientContext* c) { return stub_->Remove(c, remove, &removed); });
      if (last.ok() || absl::IsNotFound(last)) return absl::OkStatus();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return last;
  }

 private:
  template <typename Fn>
  absl::Status Call(const char* step, Fn fn) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    grpc::Status st = fn(&ctx);
    if (st.ok()) return absl::OkStatus();
    return absl::Status(static_cast<absl::StatusCode>(st.error_code()), absl::StrCat(step, ": ", st.error_message()));
  }

  absl::Status AwaitReady(const std::string& id) {
    v1::LogsRequest req;
    req.set_id(id);
    for (int attempt = 0; attempt < 500; ++attempt) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
      auto reader = stub_->Logs(&ctx, req);
      std::string out;
      v1::LogsResponse resp;
      while (reader->Read(&resp)) out += resp.chunk().data();
      grpc::Status st = reader->Finish();
      if (!st.ok()) return absl::Status(static_cast<absl::StatusCode>(st.error_code()), "logs: " + st.error_message());
      if (out == "ready\n") return absl::OkStatus();
      if (!out.empty()) return absl::InternalError(absl::StrCat("logs: \"", out, "\", want \"ready\""));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return absl::DeadlineExceededError("the container never said ready");
  }

  absl::Status ExecEcho(const std::string& id, int n) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    auto stream = stub_->Exec(&ctx);
    v1::ExecRequest first;
    first.set_id(id);
    for (const std::string& a : {std::string("echo"), absl::StrCat("cycle-", n)}) first.mutable_start()->add_args(a);
    stream->Write(first);
    stream->WritesDone();
    std::string out;
    int exit_code = -1;
    v1::ExecResponse resp;
    while (stream->Read(&resp)) {
      if (resp.has_output()) out += resp.output().data();
      if (resp.msg_case() == v1::ExecResponse::kExitCode) exit_code = resp.exit_code();
    }
    grpc::Status st = stream->Finish();
    if (!st.ok()) return absl::Status(static_cast<absl::StatusCode>(st.error_code()), "exec: " + st.error_message());
    if (exit_code != 0 || out != absl::StrCat("cycle-", n, "\n")) {
      return absl::InternalError(absl::StrCat("exec: exit code ", exit_code, ", output \"", out, "\""));
    }
    return absl::OkStatus();
  }

  int index_;
  std::unique_ptr<v1::Containers::Stub> stub_;
};

// Cycles pass while it is open; closing it waits for those in flight. Unlike a
// std::shared_mutex (glibc's prefers readers), a closed gate admits no new cycle, so a check
// is never starved by eight busy clients.
class CycleGate {
 public:
  void Enter() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !closed_; });
    ++active_;
  }
  void Leave() {
    std::lock_guard<std::mutex> lock(mu_);
    --active_;
    cv_.notify_all();
  }
  void Close() {
    std::unique_lock<std::mutex> lock(mu_);
    closed_ = true;
    cv_.wait(lock, [&] { return active_ == 0; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = false;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool closed_ = false;
  int active_ = 0;
};

// The node while no cycle runs: nothing of any container may be left. Empty: all clean.
std::vector<std::string> Leftovers(AgentHarness& agent) {
  std::vector<std::string> found;
  Eventually(
      [&] {
        found.clear();
        auto list = agent.List();
        if (!list.ok()) {
          found.push_back(absl::StrCat("List: ", list.status().ToString()));
        } else {
          for (const v1::Container& c : *list) found.push_back(absl::StrCat("container ", c.name(), " ", c.id()));
        }
        for (pid_t pid : ProcessesMentioning(agent.dir())) {
          if (pid != agent.pid()) found.push_back(absl::StrCat("process ", pid, ": ", ReadText(absl::StrCat("/proc/", pid, "/comm"))));
        }
        for (const char* controller : {"pids", "memory", "cpu"}) {
          for (const std::string& id : ContainerCgroupIds(agent, controller)) {
            found.push_back(absl::StrCat(controller, " cgroup ", id));
          }
        }
        for (const std::string& entry : DirEntries(ContainersDir(agent))) found.push_back("dir containers/" + entry);
        for (const std::string& veth : LinkNamesWithPrefix(agent.netns_fd(), "bth")) found.push_back("veth " + veth);
        for (const std::string& lease : LeaseFiles(agent.root())) found.push_back("lease " + lease);
        std::ifstream mounts("/proc/self/mountinfo");
        for (std::string line; std::getline(mounts, line);) {
          if (absl::StrContains(line, agent.dir())) found.push_back("mount " + line);
        }
        return found.empty();
      },
      std::chrono::seconds(10));
  return found;
}

TEST(Soak, CyclesUnderAgentKillsLeaveNothingBehind) {
  const int cycles = EnvInt("BERTH_SOAK_CYCLES", 300);
  const unsigned seed = static_cast<unsigned>(EnvInt("BERTH_SOAK_SEED", static_cast<int>(std::random_device{}() & 0x7fffffff)));
  const bool long_run = cycles >= kRssWindowCycles + kRssWindowCycles / 4;  // room for kills before the window
  const int kills_until = long_run ? cycles - kRssWindowCycles : cycles;
  std::printf("soak: %d cycles, %d clients, seed %u (BERTH_SOAK_SEED repeats it)\n", cycles, kClients, seed);
  std::mt19937 random(seed);
  const int min_gap = std::max(20, kills_until / 20), max_gap = std::max(50, kills_until / 8);
  auto next_gap = [&] { return std::uniform_int_distribution<int>(min_gap, max_gap)(random); };

  AgentHarness agent;
  ASSERT_NO_FATAL_FAILURE(agent.Start());

  CycleGate gate;                   // closed for the checks
  std::atomic<int> next_cycle{0};
  std::atomic<int> finished{0};
  std::atomic<int> generation{0};   // agent starts so far
  std::mutex errors_mu;
  std::vector<std::string> errors;  // failures no kill explains
  std::atomic<int> interrupted{0};

  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      SoakClient client(agent.socket(), i);
      for (int n; (n = next_cycle++) < cycles;) {
        gate.Enter();
        const int before = generation.load();
        absl::Status st = client.Cycle(n);
        if (!st.ok()) {
          const bool killed = generation.load() != before || absl::IsUnavailable(st);
          if (killed) {
            ++interrupted;
          } else {
            std::lock_guard<std::mutex> el(errors_mu);
            errors.push_back(absl::StrCat("cycle ", n, " of client ", i, ": ", st.ToString()));
          }
          if (absl::Status clean = client.CleanUp(n); !clean.ok()) {
            std::lock_guard<std::mutex> el(errors_mu);
            errors.push_back(absl::StrCat("clean-up of cycle ", n, ": ", clean.ToString()));
          }
        }
        ++finished;
        gate.Leave();
      }
    });
  }

  int kills = 0;
  int next_kill = next_gap();
  int next_sample = kills_until + kSampleEvery;
  std::vector<int64_t> rss_kb;
  std::vector<std::string> check_failures;
  while (finished.load() < cycles) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const int done = finished.load();
    if (done >= next_kill && done < kills_until) {
      // Mid-cycle for most clients: the kill lands between any two steps of theirs.
      ++generation;
      agent.Restart();
      ++generation;
      ++kills;
      gate.Close();
      for (const std::string& left : Leftovers(agent)) {
        check_failures.push_back(absl::StrCat("after kill ", kills, ": ", left));
      }
      next_kill = finished.load() + next_gap();
      gate.Open();
    }
    if (long_run && done >= next_sample) {
      gate.Close();
      rss_kb.push_back(RssKb(agent.pid()));
      gate.Open();
      next_sample += kSampleEvery;
    }
  }
  for (auto& t : clients) t.join();
  for (const std::string& left : Leftovers(agent)) check_failures.push_back("at the end: " + left);

  std::printf("soak: %d kills, %d cycles interrupted by them\n", kills, interrupted.load());
  EXPECT_GE(kills, 2) << "the run was too short to kill the agent";
  EXPECT_TRUE(errors.empty()) << absl::StrJoin(errors, "\n");
  EXPECT_TRUE(check_failures.empty()) << absl::StrJoin(check_failures, "\n");
  EXPECT_LE(interrupted.load(), kills * kClients) << "more cycles failed than the kills can explain";
  if (long_run) {
    std::printf("soak: agent RSS (kB) every %d cycles of the last %d: %s\n", kSampleEvery, kRssWindowCycles,
                absl::StrJoin(rss_kb, " ").c_str());
    ASSERT_GE(rss_kb.size(), 8u);
    // The first and last quarter's means: a leak grows the second past the first.
    const size_t q = rss_kb.size() / 4;
    auto mean = [&](size_t from, size_t to) {
      int64_t sum = 0;
      for (size_t k = from; k < to; ++k) sum += rss_kb[k];
      return static_cast<double>(sum) / static_cast<double>(to - from);
    };
    const double first = mean(0, q), last = mean(rss_kb.size() - q, rss_kb.size());
    EXPECT_LE(last, first * 1.05) << "agent RSS grew from " << first << " kB to " << last << " kB";
  }
}

}  // namespace
}  // namespace berth::testing
