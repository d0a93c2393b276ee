// berth.v1.Events against a real agent: every kind of event from real containers, execs,
// images and networks; resuming after the agent is SIGKILLed (with an exit that happened
// while it was down) without a gap or a duplicate; the journal's bound (OUT_OF_RANGE); a
// subscriber that stops reading (RESOURCE_EXHAUSTED, the agent unaffected); and `berth
// events` writing each event as it arrives into a pipe.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "berth/v1/events.grpc.pb.h"
#include "berth/v1/images.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/support/agent_harness.h"

namespace berth::testing {
namespace {

// Reads a Subscribe stream on a thread of its own.
class EventReader {
 public:
  EventReader(std::shared_ptr<grpc::Channel> channel, v1::SubscribeRequest request)
      : stub_(v1::Events::NewStub(channel)) {
    reader_ = stub_->Subscribe(&ctx_, request);
    thread_ = std::thread([this] {
      v1::Event e;
      while (reader_->Read(&e)) {
        std::lock_guard<std::mutex> lock(mu_);
        events_.push_back(e);
        cv_.notify_all();
      }
      grpc::Status st = reader_->Finish();
      std::lock_guard<std::mutex> lock(mu_);
      status_ = st;
      done_ = true;
      cv_.notify_all();
    });
  }
  ~EventReader() {
    ctx_.TryCancel();
    thread_.join();
  }
  // Waits until `pred` holds for the events so far; false after the timeout.
  bool WaitFor(const std::function<bool(const std::vector<v1::Event>&)>& pred,
               std::chrono::seconds timeout = std::chrono::seconds(20)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return pred(events_) || done_; }) && pred(events_);
  }
  bool WaitForType(const std::string& type, const std::string& id = "") {
    return WaitFor([&](const std::vector<v1::Event>& es) {
      for (const auto& e : es) {
        if (e.type() == type && (id.empty() || e.id() == id)) return true;
      }
      return false;
    });
  }
  // The status the stream ended with (waits for the end).
  grpc::Status Finished(std::chrono::seconds timeout = std::chrono::seconds(20)) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return done_; })) return grpc::Status(grpc::StatusCode::UNKNOWN, "not done");
    return status_;
  }
  std::vector<v1::Event> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

 private:
  std::unique_ptr<v1::Events::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<v1::Event>> reader_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<v1::Event> events_;
  grpc::Status status_;
  bool done_ = false;
};

v1::SubscribeRequest Since(uint64_t sequence) {
  v1::SubscribeRequest r;
  r.set_since_sequence(sequence);
  return r;
}

// The types of the events about `id`, in order.
std::vector<std::string> TypesFor(const std::vector<v1::Event>& events, const std::string& id) {
  std::vector<std::string> types;
  for (const auto& e : events) {
    if (e.id() == id) types.push_back(e.type());
  }
  return types;
}

void ExpectContiguous(const std::vector<v1::Event>& events, uint64_t first) {
  for (size_t i = 0; i < events.size(); ++i) {
    ASSERT_EQ(events[i].sequence(), first + i) << "gap or duplicate at " << i << " (" << events[i].type() << ")";
  }
}

const v1::Event* Find(const std::vector<v1::Event>& events, const std::string& type, const std::string& id) {
  for (const auto& e : events) {
    if (e.type() == type && e.id() == id) return &e;
  }
  return nullptr;
}

std::string WriteConfig(const AgentHarness& agent, const std::string& text) {
  std::string path = agent.dir() + "/events.toml";
  std::ofstream(path) << text;
  return path;
}

TEST(Events, ContainersExecsImagesAndNetworksInOrder) {
  AgentHarness agent;
  agent.Start();
  EventReader all(agent.channel(), Since(0));
  ASSERT_TRUE(all.WaitForType("agent.recovery"));

  // A container that exits 3 by itself.
  auto quick_config = Busybox({"sh", "-c", "exit 3"});
  (*quick_config.mutable_labels())["suite"] = "events";
  auto quick = agent.Run(quick_config);
  ASSERT_TRUE(quick.ok()) << quick.status();
  ASSERT_TRUE(agent.Wait(quick->id()).ok());
  ASSERT_TRUE(agent.Remove(quick->id()).ok());

  // A long one: exec, pause, resume, kill.
  auto sleeper = agent.Run(Busybox({"sleep", "1000"}));
  ASSERT_TRUE(sleeper.ok()) << sleeper.status();
  auto exec = agent.Exec(sleeper->id(), {"sh", "-c", "exit 4"});
  ASSERT_TRUE(exec.ok()) << exec.status();
  ASSERT_EQ(exec->exit_code, 4);
  // An exec whose client goes away before it ends still has its exit recorded.
  {
    grpc::ClientContext ctx;
    auto stream = agent.containers().Exec(&ctx);
    v1::ExecRequest start;
    start.set_id(sleeper->id());
    start.mutable_start()->add_args("sleep");
    start.mutable_start()->add_args("1");
    ASSERT_TRUE(stream->Write(start));
    v1::ExecResponse started;
    ASSERT_TRUE(stream->Read(&started));
    ASSERT_GT(started.pid(), 0);
    ctx.TryCancel();
    (void)stream->Finish();
  }
  ASSERT_TRUE(agent.Pause(sleeper->id()).ok());
  ASSERT_TRUE(agent.Resume(sleeper->id()).ok());
  ASSERT_TRUE(agent.KillContainer(sleeper->id(), SIGKILL).ok());
  ASSERT_TRUE(agent.Wait(sleeper->id()).ok());

  // Stop, with its grace period.
  auto stopped = agent.Run(Busybox({"sleep", "1000"}));
  ASSERT_TRUE(stopped.ok());
  ASSERT_TRUE(agent.Stop(stopped->id(), 5).ok());

  // Images and networks.
  auto images = v1::Images::NewStub(agent.channel());
  {
    grpc::ClientContext ctx;
    v1::TagImageRequest tag;
    tag.set_source("busybox");
    tag.set_target("events/busybox:v1");
    v1::TagImageResponse resp;
    ASSERT_TRUE(images->Tag(&ctx, tag, &resp).ok());
    grpc::ClientContext ctx2;
    v1::RemoveImageRequest rm;
    rm.set_reference("events/busybox:v1");
    v1::RemoveImageResponse rm_resp;
    ASSERT_TRUE(images->Remove(&ctx2, rm, &rm_resp).ok());
  }
  auto net = agent.CreateNetwork("evnet");
  ASSERT_TRUE(net.ok()) << net.status();
  ASSERT_TRUE(agent.RemoveNetwork("evnet").ok());

  ASSERT_TRUE(all.WaitForType("network.remove"));
  ASSERT_TRUE(all.WaitFor([&](const std::vector<v1::Event>& es) {
    return std::count_if(es.begin(), es.end(), [](const v1::Event& e) { return e.type() == "exec.exit"; }) == 2;
  })) << "the exec whose client left has no exit event";
  std::vector<v1::Event> events = all.events();
  ExpectContiguous(events, 1);
  EXPECT_EQ(events[0].type(), "agent.start");

  EXPECT_EQ(TypesFor(events, quick->id()),
            (std::vector<std::string>{"container.create", "container.start", "container.exit", "container.remove"}));
  const v1::Event* quick_exit = Find(events, "container.exit", quick->id());
  ASSERT_NE(quick_exit, nullptr);
  EXPECT_EQ(quick_exit->exit_code(), 3);
  EXPECT_FALSE(quick_exit->oom_killed());
  EXPECT_EQ(quick_exit->labels().at("suite"), "events");
  EXPECT_EQ(quick_exit->attributes().at("image"), "busybox");
  EXPECT_FALSE(quick_exit->name().empty());

  // The second exec's exit comes when its process ends: before or after the container's
  // (they die together when it is killed), so it is checked apart.
  std::vector<std::string> sleeper_types = TypesFor(events, sleeper->id());
  auto last_exec_exit = std::find(sleeper_types.rbegin(), sleeper_types.rend(), "exec.exit");
  ASSERT_NE(last_exec_exit, sleeper_types.rend());
  EXPECT_GT(sleeper_types.rend() - last_exec_exit, 5) << "after the second exec.start";
  sleeper_types.erase(std::next(last_exec_exit).base());
  EXPECT_EQ(sleeper_types, (std::vector<std::string>{"container.create", "container.start", "exec.start", "exec.exit",
                                                     "exec.start", "container.pause", "container.resume",
                                                     "container.kill", "container.exit"}));
  int exec_exits = 0;
  for (const auto& e : events) {
    if (e.type() != "exec.exit") continue;
    ++exec_exits;
    EXPECT_FALSE(e.exec_id().empty());
    if (exec_exits == 1) EXPECT_EQ(e.exit_code(), 4);
  }
  const v1::Event* kill = Find(events, "container.kill", sleeper->id());
  ASSERT_NE(kill, nullptr);
  EXPECT_EQ(kill->attributes().at("signal"), "9");
  EXPECT_EQ(Find(events, "container.exit", sleeper->id())->exit_code(), 137);

  EXPECT_EQ(TypesFor(events, stopped->id()),
            (std::vector<std::string>{"container.create", "container.start", "container.exit", "container.stop"}));

  bool tagged = false, untagged = false;
  for (const auto& e : events) {
    if (e.type() == "image.tag" && e.name() == "events/busybox:v1") tagged = true;
    if (e.type() == "image.remove" && e.name() == "events/busybox:v1") untagged = true;
  }
  EXPECT_TRUE(tagged);
  EXPECT_TRUE(untagged);
  EXPECT_EQ(TypesFor(events, net->id()), (std::vector<std::string>{"network.create", "network.remove"}));

  // A filtered subscriber from the start of the journal sees only what it asked for.
  v1::SubscribeRequest exits = Since(0);
  exits.mutable_filter()->add_types("container.exit");
  exits.mutable_filter()->add_labels("suite=events");
  EventReader filtered(agent.channel(), exits);
  ASSERT_TRUE(filtered.WaitForType("container.exit", quick->id()));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(filtered.events().size(), 1u);
  EXPECT_EQ(filtered.events()[0].sequence(), quick_exit->sequence());
}

TEST(Events, ResumeAfterAgentSigkillHasNoGapAndNoDuplicate) {
  AgentHarness agent;
  agent.Start();
  uint64_t last_seen = 0;
  std::string brief_id;
  {
    EventReader live(agent.channel(), Since(0));
    auto brief = agent.Run(Busybox({"sleep", "2"}));
    ASSERT_TRUE(brief.ok()) << brief.status();
    brief_id = brief->id();
    ASSERT_TRUE(live.WaitForType("container.start", brief_id));
    last_seen = live.events().back().sequence();
  }
  agent.Kill(SIGKILL);
  // The container ends while no agent runs.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  agent.Start();

  EventReader resumed(agent.channel(), Since(last_seen));
  ASSERT_TRUE(resumed.WaitForType("agent.recovery"));
  std::vector<v1::Event> events = resumed.events();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].sequence(), last_seen + 1);
  ExpectContiguous(events, last_seen + 1);
  std::vector<std::string> types;
  for (const auto& e : events) types.push_back(e.type());
  EXPECT_EQ(types, (std::vector<std::string>{"agent.start", "container.exit", "agent.recovery"}));
  const v1::Event* exit = Find(events, "container.exit", brief_id);
  ASSERT_NE(exit, nullptr);
  EXPECT_EQ(exit->exit_code(), 0);
  EXPECT_EQ(exit->attributes().at("while_agent_down"), "true");
  EXPECT_EQ(events.back().attributes().at("exits_found"), "1");

  // The whole journal, once more from the start: every event once, in order, across both runs.
  EventReader everything(agent.channel(), Since(0));
  ASSERT_TRUE(everything.WaitFor([&](const std::vector<v1::Event>& es) {
    return !es.empty() && es.back().sequence() >= events.back().sequence();
  }));
  std::vector<v1::Event> journal = everything.events();
  ExpectContiguous(journal, 1);
  EXPECT_EQ(std::count_if(journal.begin(), journal.end(), [](const v1::Event& e) { return e.type() == "agent.start"; }),
            2);
  ASSERT_TRUE(agent.Remove(brief_id).ok());
}

TEST(Events, SequencesOutsideTheJournalAreOutOfRange) {
  AgentHarness agent;
  agent.Start({"--config", WriteConfig(agent, "events_max = 10\n")});
  auto images = v1::Images::NewStub(agent.channel());
  for (int i = 0; i < 15; ++i) {  // 30 events: the journal keeps the last 10 at most
    grpc::ClientContext ctx;
    v1::TagImageRequest tag;
    tag.set_source("busybox");
    tag.set_target("events/range:v1");
    v1::TagImageResponse resp;
    ASSERT_TRUE(images->Tag(&ctx, tag, &resp).ok());
    grpc::ClientContext ctx2;
    v1::RemoveImageRequest rm;
    rm.set_reference("events/range:v1");
    v1::RemoveImageResponse rm_resp;
    ASSERT_TRUE(images->Remove(&ctx2, rm, &rm_resp).ok());
  }
  EventReader old(agent.channel(), Since(1));
  grpc::Status st = old.Finished();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::OUT_OF_RANGE) << st.error_message();
  EXPECT_TRUE(absl::StrContains(st.error_message(), "the oldest kept is")) << st.error_message();
  EXPECT_TRUE(old.events().empty());

  // Resuming just before the oldest one the message names works, from that one on.
  const std::string marker = "the oldest kept is ";
  ASSERT_NE(st.error_message().find(marker), std::string::npos);
  uint64_t oldest = std::stoull(st.error_message().substr(st.error_message().find(marker) + marker.size()));

  EventReader ahead(agent.channel(), Since(1000));
  st = ahead.Finished();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::OUT_OF_RANGE) << st.error_message();

  EXPECT_GT(oldest, 20u);
  EventReader kept(agent.channel(), Since(oldest - 1));
  ASSERT_TRUE(kept.WaitFor([](const std::vector<v1::Event>& es) { return !es.empty(); }));
  EXPECT_EQ(kept.events()[0].sequence(), oldest);
  v1::SubscribeRequest bad = Since(0);
  bad.mutable_filter()->add_types("container.died");
  EventReader refused(agent.channel(), bad);
  st = refused.Finished();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(st.error_message(), "container.died")) << st.error_message();
}

TEST(Events, ASubscriberThatStopsReadingIsCutOffAndNothingWaitsForIt) {
  AgentHarness agent;
  agent.Start({"--config", WriteConfig(agent, "events_subscriber_queue = 8\n")});
  // A raw stream that is not read: its events fill the client's receive window (kept small
  // here, as a client with little memory would), then the agent's queue for it overflows.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16384);
  auto small_window = grpc::CreateCustomChannel("unix://" + agent.socket(), grpc::InsecureChannelCredentials(), args);
  auto stub = v1::Events::NewStub(small_window);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));  // never hang the suite
  v1::SubscribeRequest request;  // live only
  request.mutable_filter()->add_types("image");
  auto stalled = stub->Subscribe(&ctx, request);
  auto images = v1::Images::NewStub(agent.channel());
  const int kPairs = 600;  // 1200 events, each with a long name: well past any window
  for (int i = 0; i < kPairs; ++i) {
    std::string target = "events/stall-" + std::string(200, 'x') + ":v" + std::to_string(i);
    grpc::ClientContext c1;
    v1::TagImageRequest tag;
    tag.set_source("busybox");
    tag.set_target(target);
    v1::TagImageResponse resp;
    ASSERT_TRUE(images->Tag(&c1, tag, &resp).ok()) << "the agent stalled behind a subscriber at " << i;
    grpc::ClientContext c2;
    v1::RemoveImageRequest rm;
    rm.set_reference(target);
    v1::RemoveImageResponse rm_resp;
    ASSERT_TRUE(images->Remove(&c2, rm, &rm_resp).ok());
  }
  // Now read: what got through, then RESOURCE_EXHAUSTED naming where to resume.
  v1::Event e;
  uint64_t last = 0;
  size_t got = 0;
  while (stalled->Read(&e)) {
    if (last != 0) EXPECT_EQ(e.sequence(), last + 1);
    last = e.sequence();
    ++got;
  }
  grpc::Status st = stalled->Finish();
  ASSERT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
  EXPECT_LT(got, 2u * kPairs);
  const std::string marker = "since_sequence=";
  size_t at = st.error_message().find(marker);
  ASSERT_NE(at, std::string::npos) << st.error_message();
  uint64_t resume = std::stoull(st.error_message().substr(at + marker.size()));
  EXPECT_EQ(resume, last) << "resume right after the last event delivered";

  // Resuming from there gets the rest, each once, without a gap.
  v1::SubscribeRequest again = Since(resume);
  again.mutable_filter()->add_types("image");
  EventReader rest(agent.channel(), again);
  ASSERT_TRUE(rest.WaitFor([&](const std::vector<v1::Event>& es) { return got + es.size() == 2u * kPairs; }))
      << got << " + " << rest.events().size();
  if (!rest.events().empty()) EXPECT_EQ(rest.events()[0].sequence(), resume + 1);
}

TEST(Events, CliWritesEachEventAsItArrives) {
  AgentHarness agent;
  agent.Start();
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  pid_t cli = ::fork();
  ASSERT_GE(cli, 0);
  if (cli == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    std::string host = "unix://" + agent.socket();
    execl(BERTH_CLI_PATH, BERTH_CLI_PATH, "--host", host.c_str(), "events", "--filter", "type=container.exit",
          "--filter", "label=suite=cli-events", "--format", "json", static_cast<char*>(nullptr));
    _exit(127);
  }
  ::close(out[1]);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // subscribed
  auto other = agent.RunToExit(Busybox({"true"}));
  ASSERT_TRUE(other.ok());
  auto config = Busybox({"sh", "-c", "exit 5"});
  (*config.mutable_labels())["suite"] = "cli-events";
  auto result = agent.RunToExit(config);
  ASSERT_TRUE(result.ok());

  // The line comes while the CLI still runs (it is not buffered until exit).
  std::string text;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (text.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    struct pollfd p = {out[0], POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(out[0], buf, sizeof(buf));
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(::waitpid(cli, nullptr, WNOHANG), 0) << "the CLI is still following";
  ::kill(cli, SIGTERM);
  ::waitpid(cli, nullptr, 0);
  ::close(out[0]);
  ASSERT_NE(text.find('\n'), std::string::npos) << "no event line arrived: " << text;
  std::string line = text.substr(0, text.find('\n'));
  EXPECT_TRUE(absl::StrContains(line, "\"type\":\"container.exit\"")) << line;
  EXPECT_TRUE(absl::StrContains(line, "\"exit_code\":5")) << line;
  EXPECT_EQ(text.find("\"exit_code\":0"), std::string::npos) << "the unlabelled container was filtered out: " << text;

  CliResult bad = agent.Cli({"events", "--filter", "colour=red"});
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_TRUE(absl::StrContains(bad.err, "unknown key")) << bad.err;
}

}  // namespace
}  // namespace berth::testing
