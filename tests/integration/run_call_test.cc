// Containers.Run, the one call that creates, attaches to and starts a container (`berth run`
// without -d), against a real agent and real busybox containers: its responses in order, the
// exit code after the removal with auto_remove, stdin and a terminal's size before the start,
// and what a failed create or start leaves behind.
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/host_checks.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;

// Everything one Run call answered.
struct RunOutcome {
  std::vector<v1::RunResponse::MsgCase> order;  // the kind of each response, consecutive
                                               // output chunks of one stream counted once
  v1::Container created;
  std::string out, err;
  int exit_code = -1;
  grpc::Status status;
  bool process_start_failed = false;  // the trailing metadata of a command that could not start
  // Taken when the exit code arrived: the container's state as Inspect saw it then.
  absl::StatusCode inspect_at_exit = absl::StatusCode::kUnknown;
};

class RunCall : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(agent_.Start()); }

  // One Run call: `first` is sent, then `more` (stdin, close), then the call is half-closed.
  RunOutcome Run(const v1::RunRequest& first, const std::vector<v1::RunRequest>& more = {}) {
    RunOutcome o;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    auto stream = agent_.containers().Run(&ctx);
    stream->Write(first);
    for (const v1::RunRequest& r : more) stream->Write(r);
    stream->WritesDone();
    v1::RunResponse resp;
    while (stream->Read(&resp)) {
      if (o.order.empty() || o.order.back() != resp.msg_case()) o.order.push_back(resp.msg_case());
      if (resp.has_created()) o.created = resp.created();
      if (resp.has_output()) (resp.output().stream() == v1::STDERR ? o.err : o.out) += resp.output().data();
      if (resp.msg_case() == v1::RunResponse::kExitCode) {
        o.exit_code = resp.exit_code();
        o.inspect_at_exit = agent_.Inspect(o.created.id()).status().code();
      }
    }
    o.status = stream->Finish();
    const auto& trailers = ctx.GetServerTrailingMetadata();
    o.process_start_failed = trailers.find("berth-process-start-failed") != trailers.end();
    return o;
  }

  static v1::RunRequest Request(v1::ContainerConfig config) {
    v1::RunRequest r;
    *r.mutable_config() = std::move(config);
    return r;
  }

  AgentHarness agent_;
};

TEST_F(RunCall, AnswersTheContainerThenItsOutputThenItsExitCode) {
  RunOutcome o = Run(Request(Busybox({"sh", "-c", "echo out; echo err >&2; exit 3"})));
  ASSERT_TRUE(o.status.ok()) << o.status.error_message();
  ASSERT_FALSE(o.order.empty());
  EXPECT_EQ(o.order.front(), v1::RunResponse::kCreated);
  EXPECT_EQ(o.order.back(), v1::RunResponse::kExitCode);
  EXPECT_TRUE(IsHexId(o.created.id())) << o.created.id();
  EXPECT_EQ(o.out, "out\n");
  EXPECT_EQ(o.err, "err\n");
  EXPECT_EQ(o.exit_code, 3);
  // Without auto_remove it stays, exited, as after Create + Start.
  auto c = agent_.Inspect(o.created.id());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->state(), v1::EXITED);
  EXPECT_EQ(c->exit_code(), 3);
  auto logs = agent_.Logs(o.created.id());
  ASSERT_TRUE(logs.ok()) << logs.status();
  EXPECT_THAT(*logs, HasSubstr("out\n"));
  EXPECT_TRUE(agent_.Remove(o.created.id()).ok());
}

TEST_F(RunCall, WithAutoRemoveTheExitCodeComesOnceTheContainerIsGone) {
  v1::ContainerConfig config = Busybox({"sh", "-c", "echo bye; exit 7"});
  config.set_auto_remove(true);
  RunOutcome o = Run(Request(config));
  ASSERT_TRUE(o.status.ok()) << o.status.error_message();
  EXPECT_EQ(o.out, "bye\n");
  EXPECT_EQ(o.exit_code, 7);
  // Looked up the moment the exit code arrived, not eventually.
  EXPECT_EQ(o.inspect_at_exit, absl::StatusCode::kNotFound);
  EXPECT_TRUE(ContainerDirIds(agent_).empty()) << "its directory outlived the exit code";
  EXPECT_TRUE(ContainerCgroupIds(agent_).empty()) << "its cgroup outlived the exit code";
  EXPECT_TRUE(ListAll(agent_).empty());
}

TEST_F(RunCall, StdinSentWithTheCallReachesTheContainer) {
  v1::ContainerConfig config = Busybox({"sh", "-c", "tr a-z A-Z; echo done"});
  config.set_open_stdin(true);
  v1::RunRequest first = Request(config);
  first.set_stdin(true);
  first.set_stdin_data("first ");  // before the start: it waits in the container's stdin
  v1::RunRequest more, close;
  more.set_stdin_data("second\n");
  close.set_close_stdin(true);
  RunOutcome o = Run(first, {more, close});
  ASSERT_TRUE(o.status.ok()) << o.status.error_message();
  EXPECT_EQ(o.out, "FIRST SECOND\ndone\n");
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_TRUE(agent_.Remove(o.created.id()).ok());
}

TEST_F(RunCall, ATerminalHasTheCallersSizeFromItsFirstInstruction) {
  v1::ContainerConfig config = Busybox({"stty", "size"});
  config.set_tty(true);
  config.set_open_stdin(true);  // as run -it: the call holds the terminal's input side
  v1::RunRequest first = Request(config);
  first.set_stdin(true);
  first.mutable_resize()->set_rows(33);
  first.mutable_resize()->set_cols(101);
  RunOutcome o = Run(first);
  ASSERT_TRUE(o.status.ok()) << o.status.error_message();
  EXPECT_THAT(o.out, HasSubstr("33 101"));
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_TRUE(agent_.Remove(o.created.id()).ok());
}

TEST_F(RunCall, AFailedCreateEndsTheCallAndLeavesNothing) {
  v1::ContainerConfig config = Busybox({"true"});
  config.set_image("no-such-image:latest");
  RunOutcome o = Run(Request(config));
  EXPECT_EQ(o.status.error_code(), grpc::StatusCode::NOT_FOUND) << o.status.error_message();
  EXPECT_THAT(o.status.error_message(), HasSubstr("no-such-image"));
  EXPECT_TRUE(o.order.empty()) << "no response before the container exists";
  EXPECT_TRUE(ListAll(agent_).empty());
  EXPECT_TRUE(ContainerDirIds(agent_).empty());

  v1::ContainerConfig bad_name = Busybox({"true"});
  bad_name.set_name("-not/a name");
  o = Run(Request(bad_name));
  EXPECT_EQ(o.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << o.status.error_message();
  EXPECT_TRUE(ListAll(agent_).empty());
}

TEST_F(RunCall, ACommandThatCannotStartLeavesItExitedOrRemovedWithAutoRemove) {
  RunOutcome o = Run(Request(Busybox({"/no/such/command"})));
  EXPECT_EQ(o.status.error_code(), grpc::StatusCode::NOT_FOUND) << o.status.error_message();
  EXPECT_TRUE(o.process_start_failed) << "a client cannot tell it from a missing container (127)";
  ASSERT_EQ(o.order.size(), 1u);
  EXPECT_EQ(o.order.front(), v1::RunResponse::kCreated);
  // It stays, as a failed Start leaves it: its exit (127) is recorded once the shim reports it.
  auto waited = agent_.Wait(o.created.id());
  ASSERT_TRUE(waited.ok()) << waited.status();
  EXPECT_EQ(waited->exit_code(), 127);
  EXPECT_EQ(waited->container().state(), v1::EXITED);
  EXPECT_TRUE(agent_.Remove(o.created.id()).ok());

  v1::ContainerConfig config = Busybox({"/no/such/command"});
  config.set_auto_remove(true);
  o = Run(Request(config));
  EXPECT_EQ(o.status.error_code(), grpc::StatusCode::NOT_FOUND) << o.status.error_message();
  EXPECT_EQ(agent_.Inspect(o.created.id()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(ListAll(agent_).empty());
  EXPECT_TRUE(ContainerCgroupIds(agent_).empty());
}

TEST_F(RunCall, ACallWithoutARequestIsRefused) {
  grpc::ClientContext ctx;
  auto stream = agent_.containers().Run(&ctx);
  stream->WritesDone();
  v1::RunResponse resp;
  EXPECT_FALSE(stream->Read(&resp));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("no request"));
}

}  // namespace
}  // namespace berth::testing
