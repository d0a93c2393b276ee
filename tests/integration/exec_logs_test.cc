// Exec into real containers (output, exit codes, stdin, tty, the pid namespace, refusals)
// and Logs (streams, tail, follow, the CRI log file on disk).
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/agent_harness.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;

class ExecLogs : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(agent_.Start()); }

  // A running `sleep 1000` container (with `hostname` when given).
  std::string RunSleeper(const std::string& hostname = "") {
    auto config = Busybox({"sleep", "1000"});
    if (!hostname.empty()) config.set_hostname(hostname);
    auto c = agent_.Run(config);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? c->id() : "";
  }

  // Runs `args` to its exit and returns its id.
  std::string RunToExit(const std::vector<std::string>& args) {
    auto c = agent_.Run(Busybox(args));
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) return "";
    auto wait = agent_.Wait(c->id());
    EXPECT_TRUE(wait.ok()) << wait.status();
    return c->id();
  }

  AgentHarness agent_;
};

TEST_F(ExecLogs, ExecRunsInTheContainersUtsNamespace) {
  std::string id = RunSleeper("exec-host");
  ASSERT_FALSE(id.empty());
  auto r = agent_.Exec(id, {"hostname"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->out, "exec-host\n");
  EXPECT_EQ(r->err, "");
}

TEST_F(ExecLogs, ExecExitCodePropagates) {
  std::string id = RunSleeper();
  ASSERT_FALSE(id.empty());
  auto r = agent_.Exec(id, {"sh", "-c", "echo to-out; echo to-err >&2; exit 5"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 5);
  EXPECT_EQ(r->out, "to-out\n");
  EXPECT_EQ(r->err, "to-err\n");
  // A process killed by a signal reports 128 + the signal, as a shell does.
  auto killed = agent_.Exec(id, {"sh", "-c", "kill -9 $$"});
  ASSERT_TRUE(killed.ok()) << killed.status();
  EXPECT_EQ(killed->exit_code, 137);
  // The container itself is unaffected.
  auto c = agent_.Inspect(id);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->state(), v1::RUNNING);
}

// The agent keeps what an exec takes from the container's spec after the first one: each exec
// still starts from the container's own env, user and working directory, never from the
// overrides of an exec before it.
TEST_F(ExecLogs, EachExecStartsFromTheContainersProcessNotThePreviousExecs) {
  auto config = Busybox({"sleep", "1000"});
  config.add_env("WHO=container");
  auto c = agent_.Run(config);
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string script = "echo \"$WHO\"; id -u; pwd";
  CliResult overridden =
      agent_.Cli({"exec", "-e", "WHO=exec", "-u", "1234:1234", "-w", "/tmp", c->id(), "sh", "-c", script});
  EXPECT_EQ(overridden.exit_code, 0) << overridden.err;
  EXPECT_EQ(overridden.out, "exec\n1234\n/tmp\n");
  for (int i = 0; i < 2; ++i) {
    auto plain = agent_.Exec(c->id(), {"sh", "-c", script});
    ASSERT_TRUE(plain.ok()) << plain.status();
    EXPECT_EQ(plain->exit_code, 0) << plain->err;
    EXPECT_EQ(plain->out, "container\n0\n/\n");
  }
}

TEST_F(ExecLogs, ExecPassesStdinUntilItIsClosed) {
  std::string id = RunSleeper();
  ASSERT_FALSE(id.empty());
  std::string input = "line one\nline two\n";
  for (int i = 0; i < 2000; ++i) input += "filler line to cross a pipe buffer\n";
  auto r = agent_.Exec(id, {"cat"}, input);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->out.size(), input.size());
  EXPECT_TRUE(r->out == input) << "cat did not echo its stdin";

  auto counted = agent_.Exec(id, {"wc", "-l"}, "a\nb\nc\n");
  ASSERT_TRUE(counted.ok()) << counted.status();
  EXPECT_EQ(counted->out, "3\n");
}

TEST_F(ExecLogs, ExecWithTtyGetsATerminal) {
  std::string id = RunSleeper();
  ASSERT_FALSE(id.empty());
  auto r = agent_.Exec(id, {"sh", "-c", "test -t 0 && test -t 1 && test -t 2 && echo yes-a-tty; stty size"}, "",
                       /*tty=*/true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->out;
  EXPECT_THAT(r->out, HasSubstr("yes-a-tty\r\n"));  // the pty turns \n into \r\n
  EXPECT_EQ(r->err, "");  // a terminal has one stream

  // The terminal is the container's own: opened in its /dev/pts, so `tty` can name it.
  auto named = agent_.Exec(id, {"tty"}, "", /*tty=*/true);
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ(named->exit_code, 0) << named->out;
  EXPECT_THAT(named->out, ::testing::MatchesRegex("/dev/pts/[0-9]+\r\n"));
  auto listed = agent_.Exec(id, {"sh", "-c", "ls /dev/pts"});
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_THAT(listed->out, HasSubstr("ptmx"));

  auto plain = agent_.Exec(id, {"sh", "-c", "test -t 1 && echo tty || echo no-tty"});
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->out, "no-tty\n");
}

TEST_F(ExecLogs, ExecSeesTheContainersInit) {
  std::string id = RunSleeper();
  ASSERT_FALSE(id.empty());
  auto r = agent_.Exec(id, {"cat", "/proc/1/cmdline"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->out, std::string("sleep\0" "1000\0", 11));
  auto pid = agent_.Exec(id, {"sh", "-c", "echo $$"});
  ASSERT_TRUE(pid.ok()) << pid.status();
  EXPECT_NE(pid->out, "1\n");
  // Same mount namespace too: a file written by one exec is seen by the next.
  ASSERT_TRUE(agent_.Exec(id, {"sh", "-c", "echo shared > /tmp/f"}).ok());
  auto read = agent_.Exec(id, {"cat", "/tmp/f"});
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->out, "shared\n");
}

TEST_F(ExecLogs, ExecInAnExitedContainerIsRefused) {
  std::string id = RunToExit({"true"});
  ASSERT_FALSE(id.empty());
  auto r = agent_.Exec(id, {"true"});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  // And in one that was created but never started.
  auto created = agent_.Create(Busybox({"sleep", "1000"}));
  ASSERT_TRUE(created.ok()) << created.status();
  auto c = agent_.Exec(created->id(), {"true"});
  EXPECT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition) << c.status();
}

TEST_F(ExecLogs, ExecOfAMissingBinaryFailsWithNotFound) {
  std::string id = RunSleeper();
  ASSERT_FALSE(id.empty());
  // A process that never started has no exit code: the call itself fails with the exec
  // error, NOT_FOUND naming the program (as docs/ARCHITECTURE.md says under Requests).
  auto r = agent_.Exec(id, {"no-such-binary", "arg"});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("exec no-such-binary"));
  EXPECT_THAT(r.status().message(), HasSubstr("No such file or directory"));
  auto abs = agent_.Exec(id, {"/bin/no-such-binary"});
  EXPECT_EQ(abs.status().code(), absl::StatusCode::kNotFound) << abs.status();
  EXPECT_THAT(abs.status().message(), HasSubstr("/bin/no-such-binary"));
  // The container goes on.
  auto ok = agent_.Exec(id, {"true"});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->exit_code, 0);
}

TEST_F(ExecLogs, LogsMarkStderr) {
  std::string id = RunToExit({"sh", "-c", "echo out; echo err >&2"});
  ASSERT_FALSE(id.empty());
  v1::LogsRequest req;
  req.set_id(id);
  auto chunks = agent_.LogChunks(req);
  ASSERT_TRUE(chunks.ok()) << chunks.status();
  ASSERT_EQ(chunks->size(), 2u);
  std::string out, err;
  for (const auto& c : *chunks) {
    EXPECT_TRUE(c.has_time());
    (c.stream() == v1::STDERR ? err : out) += c.data();
  }
  EXPECT_EQ(out, "out\n");
  EXPECT_EQ(err, "err\n");
}

TEST_F(ExecLogs, LogsTail) {
  std::string id = RunToExit({"sh", "-c", "echo 1; echo 2; echo 3; echo 4"});
  ASSERT_FALSE(id.empty());
  v1::LogsRequest req;
  req.set_id(id);
  req.set_tail(2);
  auto chunks = agent_.LogChunks(req);
  ASSERT_TRUE(chunks.ok()) << chunks.status();
  std::string text;
  for (const auto& c : *chunks) text += c.data();
  EXPECT_EQ(text, "3\n4\n");
  req.set_tail(10);
  chunks = agent_.LogChunks(req);
  ASSERT_TRUE(chunks.ok()) << chunks.status();
  text.clear();
  for (const auto& c : *chunks) text += c.data();
  EXPECT_EQ(text, "1\n2\n3\n4\n");
}

TEST_F(ExecLogs, LogsFollowStreamsLaterLinesAndEndsAtExit) {
  // "b" is written only once the test has seen "a" (it creates /tmp/go by exec).
  auto c = agent_.Run(Busybox({"sh", "-c", "echo a; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo b"}));
  ASSERT_TRUE(c.ok()) << c.status();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::LogsRequest req;
  req.set_id(c->id());
  req.set_follow(true);
  auto reader = agent_.containers().Logs(&ctx, req);
  v1::LogsResponse resp;
  ASSERT_TRUE(reader->Read(&resp)) << FromGrpc(reader->Finish());
  EXPECT_EQ(resp.chunk().data(), "a\n");
  auto running = agent_.Inspect(c->id());
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(running->state(), v1::RUNNING);
  auto go = agent_.Exec(c->id(), {"touch", "/tmp/go"});
  ASSERT_TRUE(go.ok()) << go.status();
  ASSERT_TRUE(reader->Read(&resp)) << "follow ended before the second line";
  EXPECT_EQ(resp.chunk().data(), "b\n");
  EXPECT_FALSE(reader->Read(&resp)) << "unexpected chunk: " << resp.chunk().data();
  // The stream ended by itself when the container exited, well before the deadline.
  absl::Status st = FromGrpc(reader->Finish());
  EXPECT_TRUE(st.ok()) << st;
  auto exited = agent_.Inspect(c->id());
  ASSERT_TRUE(exited.ok());
  EXPECT_EQ(exited->state(), v1::EXITED);
}

TEST_F(ExecLogs, LogsFollowOfAnExitedContainerReturnsAtOnce) {
  std::string id = RunToExit({"echo", "done"});
  ASSERT_FALSE(id.empty());
  v1::LogsRequest req;
  req.set_id(id);
  req.set_follow(true);
  auto chunks = agent_.LogChunks(req, 20);
  ASSERT_TRUE(chunks.ok()) << chunks.status();
  ASSERT_EQ(chunks->size(), 1u);
  EXPECT_EQ((*chunks)[0].data(), "done\n");
}

TEST_F(ExecLogs, LogFileIsInCriFormat) {
  std::string id = RunToExit({"sh", "-c", "echo out; echo err >&2; echo; printf 'no newline'"});
  ASSERT_FALSE(id.empty());
  auto c = agent_.Inspect(id);
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string path = agent_.root() + "/containers/" + id + "/container.log";
  EXPECT_EQ(c->log_path(), path);
  std::string text = ReadText(path);
  ASSERT_FALSE(text.empty()) << "no log at " << path;
  EXPECT_EQ(text.back(), '\n');
  const std::regex line_re(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) [PF] .*$)");
  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 4u) << text;
  for (const auto& line : lines) EXPECT_TRUE(std::regex_match(line, line_re)) << "not a CRI log line: " << line;
  std::string stdout_text, stderr_text;
  for (const auto& line : lines) {
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(' ', 3));
    ASSERT_EQ(f.size(), 4u) << line;
    (f[1] == "stderr" ? stderr_text : stdout_text) += f[2] + "|" + f[3] + ";";
  }
  EXPECT_EQ(stderr_text, "F|err;");
  EXPECT_THAT(stdout_text, ::testing::StartsWith("F|out;F|;"));
  // The last line lacked a newline; however it is tagged, its text is kept whole.
  EXPECT_THAT(stdout_text, ::testing::EndsWith("|no newline;"));
  v1::LogsRequest req;
  req.set_id(id);
  auto chunks = agent_.LogChunks(req);
  ASSERT_TRUE(chunks.ok()) << chunks.status();
  std::string out;
  for (const auto& chunk : *chunks) {
    if (chunk.stream() == v1::STDOUT) out += chunk.data();
  }
  EXPECT_THAT(out, ::testing::StartsWith("out\n\nno newline"));
}

}  // namespace
}  // namespace berth::testing
