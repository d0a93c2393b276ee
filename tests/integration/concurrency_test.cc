// Many clients at once against one agent, and slow calls that must not hold up calls about
// other containers.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/host_checks.h"

namespace berth::testing {
namespace {

constexpr auto kBound = std::chrono::seconds(15);

TEST(Concurrency, TwentyClientsCreateStartWaitRemove) {
  AgentHarness agent;
  agent.Start();
  constexpr int kThreads = 20;
  constexpr int kRounds = 3;
  std::mutex mu;
  std::vector<std::string> failures;
  std::atomic<int> done{0};
  auto fail = [&](std::string what) {
    std::lock_guard<std::mutex> lock(mu);
    failures.push_back(std::move(what));
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        const std::string where = absl::StrCat("client ", t, " round ", r, ": ");
        auto config = Busybox({"sh", "-c", "echo $HOSTNAME"});
        // Half get an explicit hostname, half the default (the id's first 12 characters).
        if (t % 2 == 0) config.set_hostname(absl::StrCat("host-", t, "-", r));
        auto c = agent.Run(config);
        if (!c.ok()) {
          fail(where + "run: " + c.status().ToString());
          return;
        }
        const std::string expected = (t % 2 == 0 ? absl::StrCat("host-", t, "-", r) : c->id().substr(0, 12)) + "\n";
        auto w = agent.Wait(c->id(), 60);
        if (!w.ok()) {
          fail(where + "wait: " + w.status().ToString());
          return;
        }
        if (w->exit_code() != 0) fail(absl::StrCat(where, "exit code ", w->exit_code()));
        auto logs = agent.Logs(c->id());
        if (!logs.ok()) {
          fail(where + "logs: " + logs.status().ToString());
        } else if (*logs != expected) {
          fail(where + "output \"" + *logs + "\", expected \"" + expected + "\"");
        }
        if (absl::Status st = agent.Remove(c->id(), false); !st.ok()) {
          fail(where + "remove: " + st.ToString());
          return;
        }
        ++done;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_THAT(failures, ::testing::IsEmpty());
  EXPECT_EQ(done.load(), kThreads * kRounds);
  EXPECT_TRUE(ListAll(agent).empty());
  EXPECT_TRUE(ContainerDirIds(agent).empty());
  // A removed container's directory is deleted just after its Remove returns.
  EXPECT_TRUE(WaitUntil([&] { return DirEntries(ContainersDir(agent)).empty(); }, kBound));
  for (const char* controller : {"pids", "memory", "cpu", "freezer"}) {
    EXPECT_TRUE(WaitUntil([&] { return ContainerCgroupIds(agent, controller).empty(); }, kBound))
        << controller << " cgroups remain";
  }
}

// An exec whose process runs until told otherwise; Started() once the agent reported its pid.
class SlowExec {
 public:
  SlowExec(AgentHarness& agent, const std::string& id, std::vector<std::string> args) {
    ctx_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    stream_ = agent.containers().Exec(&ctx_);
    v1::ExecRequest first;
    first.set_id(id);
    for (const auto& a : args) first.mutable_start()->add_args(a);
    stream_->Write(first);
    thread_ = std::thread([this] {
      v1::ExecResponse resp;
      while (stream_->Read(&resp)) {
        if (resp.msg_case() == v1::ExecResponse::kPid) started_ = true;
        if (resp.msg_case() == v1::ExecResponse::kExitCode) {
          exit_code_ = resp.exit_code();
          stream_->WritesDone();
        }
      }
      status_ = stream_->Finish();
      finished_ = true;
    });
  }
  ~SlowExec() {
    if (!finished_) ctx_.TryCancel();
    thread_.join();
  }
  bool started() const { return started_; }
  bool finished() const { return finished_; }
  // Waits for the end; the exit code, or -1.
  int Join() {
    thread_.join();
    thread_ = std::thread([] {});
    return status_.ok() ? exit_code_.load() : -1;
  }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::ExecRequest, v1::ExecResponse>> stream_;
  std::thread thread_;
  std::atomic<bool> started_{false};
  std::atomic<bool> finished_{false};
  std::atomic<int> exit_code_{-1};
  grpc::Status status_;
};

// A deadline-bounded context: the call must return in `seconds` (it is not a timing claim,
// only "does not wait for the slow call").
std::unique_ptr<grpc::ClientContext> Bounded(int seconds = 3) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

// Two removals of one container at once: one does the work, the other answers NOT_FOUND, but
// only once the container is gone (`run --rm` sends its exit code after such a Remove, racing
// the agent's own auto-removal).
TEST(Concurrency, ARemoveThatMeetsAnotherReturnsOnceTheContainerIsGone) {
  AgentHarness agent;
  agent.Start();
  for (int round = 0; round < 10; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    auto c = agent.Run(Busybox({"sleep", "1000"}));
    ASSERT_TRUE(c.ok()) << c.status();
    struct Outcome {
      absl::Status removed;
      absl::StatusCode inspect_after = absl::StatusCode::kUnknown;
    };
    Outcome outcomes[2];
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (Outcome& o : outcomes) {
      threads.emplace_back([&agent, &ready, &o, id = c->id()] {
        ++ready;
        while (ready.load() < 2) {
        }
        o.removed = agent.Remove(id, /*force=*/true);
        o.inspect_after = agent.Inspect(id).status().code();
      });
    }
    for (auto& t : threads) t.join();
    int done = 0;
    for (const Outcome& o : outcomes) {
      if (o.removed.ok()) {
        ++done;
      } else {
        EXPECT_EQ(o.removed.code(), absl::StatusCode::kNotFound) << o.removed;
      }
      EXPECT_EQ(o.inspect_after, absl::StatusCode::kNotFound) << "a Remove returned while the container was still there";
    }
    EXPECT_EQ(done, 1) << "exactly one Remove does the work";
  }
  EXPECT_TRUE(ListAll(agent).empty());
}

TEST(Concurrency, SlowExecDoesNotBlockOtherCalls) {
  AgentHarness agent;
  agent.Start();
  auto busy_config = Busybox({"sleep", "1000"});
  busy_config.set_name("busy");
  auto busy = agent.Run(busy_config);
  ASSERT_TRUE(busy.ok()) << busy.status();

  SlowExec slow(agent, busy->id(), {"sleep", "5"});
  ASSERT_TRUE(WaitUntil([&] { return slow.started() || slow.finished(); }, kBound));
  ASSERT_TRUE(slow.started()) << "the slow exec did not start";

  // Each call returns while the slow exec still runs.
  {
    auto ctx = Bounded();
    v1::InspectRequest req;
    req.set_id("busy");
    v1::InspectResponse resp;
    auto st = agent.containers().Inspect(ctx.get(), req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(resp.container().state(), v1::RUNNING);
    EXPECT_FALSE(slow.finished());
  }
  {
    auto ctx = Bounded();
    v1::ListResponse resp;
    auto st = agent.containers().List(ctx.get(), v1::ListRequest{}, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(resp.containers_size(), 1);
    EXPECT_FALSE(slow.finished());
  }
  std::string other_id;
  {
    auto ctx = Bounded();
    v1::CreateRequest req;
    *req.mutable_config() = Busybox({"sleep", "1000"});
    v1::CreateResponse resp;
    auto st = agent.containers().Create(ctx.get(), req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    other_id = resp.container().id();
    EXPECT_FALSE(slow.finished());
  }
  {
    auto ctx = Bounded();
    v1::StartRequest req;
    req.set_id(other_id);
    v1::StartResponse resp;
    auto st = agent.containers().Start(ctx.get(), req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_FALSE(slow.finished());
  }
  // A second exec into the same busy container is not queued behind the first either.
  {
    SlowExec quick(agent, busy->id(), {"true"});
    ASSERT_TRUE(WaitUntil([&] { return quick.finished(); }, std::chrono::seconds(3)));
    EXPECT_EQ(quick.Join(), 0);
    EXPECT_FALSE(slow.finished());
  }
  EXPECT_EQ(slow.Join(), 0);
}

TEST(Concurrency, StopInGracePeriodDoesNotBlockOtherCalls) {
  AgentHarness agent;
  agent.Start();
  // sleep as PID 1 ignores SIGTERM: a Stop with a 5 s grace period waits that long.
  auto stubborn = agent.Run(Busybox({"sleep", "1000"}));
  ASSERT_TRUE(stubborn.ok()) << stubborn.status();
  auto other = agent.Run(Busybox({"sleep", "1000"}));
  ASSERT_TRUE(other.ok()) << other.status();

  std::atomic<bool> stop_done{false};
  grpc::Status stop_status;
  v1::StopResponse stop_resp;
  std::thread stopper([&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    v1::StopRequest req;
    req.set_id(stubborn->id());
    req.set_timeout_seconds(5);
    stop_status = agent.containers().Stop(&ctx, req, &stop_resp);
    stop_done = true;
  });
  // Give the Stop a moment to reach the agent; correctness does not depend on it.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  {
    auto ctx = Bounded();
    v1::InspectRequest req;
    req.set_id(stubborn->id());
    v1::InspectResponse resp;
    auto st = agent.containers().Inspect(ctx.get(), req, &resp);
    EXPECT_TRUE(st.ok()) << "inspect of the stopping container: " << st.error_message();
  }
  {
    auto ctx = Bounded();
    v1::ListResponse resp;
    auto st = agent.containers().List(ctx.get(), v1::ListRequest{}, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(resp.containers_size(), 2);
  }
  {
    auto ctx = Bounded();
    v1::KillRequest req;
    req.set_id(other->id());
    v1::KillResponse resp;
    auto st = agent.containers().Kill(ctx.get(), req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
  }
  auto w = agent.Wait(other->id(), 3);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->exit_code(), 128 + SIGKILL);
  EXPECT_FALSE(stop_done.load()) << "the stop ended early; the calls above were not checked against it";

  stopper.join();
  ASSERT_TRUE(stop_status.ok()) << stop_status.error_message();
  EXPECT_EQ(stop_resp.container().state(), v1::EXITED);
  EXPECT_EQ(stop_resp.container().exit_code(), 128 + SIGKILL);
}

}  // namespace
}  // namespace berth::testing
