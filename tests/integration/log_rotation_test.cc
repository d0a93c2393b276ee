// Log rotation without loss: a container writes a known pseudo-random stream (short lines,
// lines longer than the shim's 32 KiB read buffer, stdout and stderr interleaved, a last line
// without a newline) through more than 50 rotations. Reassembled by the CRI rules from the
// rotated files, from Logs, and from a Logs --follow that started before the container did,
// each stream is byte for byte what was written; every file ends on a whole record.
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "runtime/base/file_util.h"
#include "runtime/shim/cri_log.h"
#include "tests/integration/support/agent_harness.h"

namespace berth::testing {
namespace {

constexpr int64_t kMaxSize = 64 * 1024;
constexpr int kMaxFiles = 100;

struct Stream {
  std::string out, err;
};

// Chunks the container cats in order: /data/N, to stderr when /data/N.err exists.
Stream WriteChunks(const std::string& dir) {
  std::mt19937 rng(20261202);
  Stream expected;
  int n = 0;
  auto text = [&](size_t len) {
    std::string s(len, ' ');
    for (char& c : s) c = static_cast<char>('!' + rng() % 90);  // printable, no newline
    return s;
  };
  while (expected.out.size() + expected.err.size() < 4'500'000) {
    std::string chunk;
    const int kind = static_cast<int>(rng() % 10);
    if (kind < 7) {  // a few short lines
      for (int i = 0, lines = 1 + static_cast<int>(rng() % 20); i < lines; ++i) chunk += text(rng() % 120) + "\n";
    } else if (kind < 9) {  // one line longer than the shim's buffer: several P records
      chunk = text(40'000 + rng() % 60'000) + "\n";
    } else {  // a line in pieces: no newline yet
      chunk = text(1 + rng() % 300);
    }
    const bool err = rng() % 3 == 0;
    std::ofstream(absl::StrCat(dir, "/", n), std::ios::binary) << chunk;
    if (err) std::ofstream(absl::StrCat(dir, "/", n, ".err")) << "";
    (err ? expected.err : expected.out) += chunk;
    ++n;
  }
  // The last line of stdout has no newline.
  std::string last = text(77);
  std::ofstream(absl::StrCat(dir, "/", n), std::ios::binary) << last;
  expected.out += last;
  return expected;
}

// Every file of the log, oldest first; each must end on a whole record and parse.
Stream ReassembleFiles(const std::string& log, int* files) {
  std::vector<std::string> names;
  for (int n = kMaxFiles; n >= 1; --n) {
    if (::access(crilog::RotatedLogPath(log, n).c_str(), F_OK) == 0) names.push_back(crilog::RotatedLogPath(log, n));
  }
  names.push_back(log);
  *files = static_cast<int>(names.size());
  Stream got;
  for (const std::string& name : names) {
    auto text = ReadFile(name);
    EXPECT_TRUE(text.ok()) << name;
    if (!text.ok()) continue;
    EXPECT_LE(static_cast<int64_t>(text->size()), kMaxSize) << name << " is over max-size";
    if (!text->empty()) EXPECT_EQ(text->back(), '\n') << name << " ends inside a record";
    for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
      auto e = crilog::ParseLine(line);
      EXPECT_TRUE(e.ok()) << name << ": " << e.status();
      if (!e.ok()) continue;
      std::string& into = e->stream == crilog::Stream::kStdout ? got.out : got.err;
      into += e->text;
      if (!e->partial) into += "\n";
    }
  }
  return got;
}

Stream FromChunks(const std::vector<v1::OutputChunk>& chunks) {
  Stream got;
  for (const auto& c : chunks) (c.stream() == v1::STDERR ? got.err : got.out) += c.data();
  return got;
}

// Where two long strings first differ, for a readable failure.
std::string FirstDifference(const std::string& a, const std::string& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return absl::StrCat("sizes ", a.size(), " and ", b.size(), ", first difference at byte ", i);
}

TEST(LogRotation, FiftyRotationsLoseNothingFromFilesLogsOrFollow) {
  AgentHarness agent;
  agent.Start();
  const std::string data = agent.dir() + "/chunks";
  ASSERT_TRUE(MakeDirs(data, 0755).ok());
  const Stream expected = WriteChunks(data);

  auto config = Busybox({"sh", "-c",
                         "i=0; while [ -f /data/$i ]; do if [ -f /data/$i.err ]; then cat /data/$i >&2; "
                         "else cat /data/$i; fi; i=$((i+1)); done"});
  auto* mount = config.add_mounts();
  mount->set_source(data);
  mount->set_destination("/data");
  mount->set_read_only(true);
  config.mutable_log()->set_max_size_bytes(kMaxSize);
  config.mutable_log()->set_max_files(kMaxFiles);
  auto c = agent.Create(config);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->config().log().max_size_bytes(), kMaxSize);
  EXPECT_EQ(c->config().log().max_files(), kMaxFiles);

  // A follower from before the start: it must go through every rotation.
  std::vector<v1::OutputChunk> followed;
  absl::Status follow_status;
  std::thread follower([&] {
    v1::LogsRequest req;
    req.set_id(c->id());
    req.set_follow(true);
    auto chunks = agent.LogChunks(req, 120);
    follow_status = chunks.status();
    if (chunks.ok()) followed = std::move(*chunks);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(agent.StartContainer(c->id()).ok());
  auto waited = agent.Wait(c->id(), 120);
  follower.join();
  ASSERT_TRUE(waited.ok()) << waited.status();
  ASSERT_EQ(waited->exit_code(), 0);

  int files = 0;
  Stream from_files = ReassembleFiles(c->log_path(), &files);
  EXPECT_GE(files, 51) << "fewer than 50 rotations";
  EXPECT_TRUE(from_files.out == expected.out) << "stdout from the files: " << FirstDifference(from_files.out, expected.out);
  EXPECT_TRUE(from_files.err == expected.err) << "stderr from the files: " << FirstDifference(from_files.err, expected.err);

  v1::LogsRequest all;
  all.set_id(c->id());
  auto chunks = agent.LogChunks(all);
  ASSERT_TRUE(chunks.ok()) << chunks.status();
  Stream from_logs = FromChunks(*chunks);
  EXPECT_TRUE(from_logs.out == expected.out) << "stdout from Logs: " << FirstDifference(from_logs.out, expected.out);
  EXPECT_TRUE(from_logs.err == expected.err) << "stderr from Logs: " << FirstDifference(from_logs.err, expected.err);

  ASSERT_TRUE(follow_status.ok()) << follow_status;
  Stream from_follow = FromChunks(followed);
  EXPECT_TRUE(from_follow.out == expected.out) << "stdout from Logs --follow: "
                                               << FirstDifference(from_follow.out, expected.out);
  EXPECT_TRUE(from_follow.err == expected.err) << "stderr from Logs --follow: "
                                               << FirstDifference(from_follow.err, expected.err);

  // --tail across files: the last 3 lines of the whole log, the unfinished one included.
  v1::LogsRequest tail;
  tail.set_id(c->id());
  tail.set_tail(3);
  auto tailed = agent.LogChunks(tail);
  ASSERT_TRUE(tailed.ok());
  Stream from_tail = FromChunks(*tailed);
  EXPECT_TRUE(absl::EndsWith(expected.out, from_tail.out)) << from_tail.out.size();
  EXPECT_FALSE(from_tail.out.empty());
  ASSERT_TRUE(agent.Remove(c->id()).ok());
}

TEST(LogRotation, DefaultsComeFromTheAgentAndBadOptionsAreRefused) {
  AgentHarness agent;
  agent.Start();
  auto c = agent.Create(Busybox({"true"}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->config().log().max_size_bytes(), 10 << 20);
  EXPECT_EQ(c->config().log().max_files(), 3);
  auto bad = Busybox({"true"});
  bad.mutable_log()->set_max_files(1000);
  EXPECT_EQ(agent.Create(bad).status().code(), absl::StatusCode::kInvalidArgument);
  CliResult cli = agent.Cli({"run", "--log-opt", "max-size=1k", "--log-opt", "max-file=2", "busybox", "true"});
  EXPECT_EQ(cli.exit_code, 125);
  EXPECT_TRUE(absl::StrContains(cli.err, "max-size must be at least 4096")) << cli.err;
  CliResult unknown = agent.Cli({"run", "--log-opt", "compress=true", "busybox", "true"});
  EXPECT_EQ(unknown.exit_code, 125);
  EXPECT_TRUE(absl::StrContains(unknown.err, "max-size and max-file")) << unknown.err;
  CliResult ok = agent.Cli({"run", "--rm", "--log-opt", "max-size=8k", "--log-opt", "max-file=2", "busybox", "sh",
                            "-c", "seq 1 5000"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_TRUE(absl::EndsWith(ok.out, "4999\n5000\n")) << "attach sees everything even as the log rotates";
  ASSERT_TRUE(agent.Remove(c->id()).ok());
}

}  // namespace
}  // namespace berth::testing
