#include <fcntl.h>

#include "agent/log_reader.h"
#include "gtest/gtest.h"
#include "runtime/base/file_util.h"

namespace berth::agent {
namespace {

class LogReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-log-test-XXXXXX";
    int fd = mkstemp(tmpl);
    path_ = tmpl;
    crilog::LogWriter writer{UniqueFd(fd)};
    ASSERT_TRUE(writer.Write(crilog::Stream::kStdout, "one\ntwo\n", 1000).ok());
    ASSERT_TRUE(writer.Write(crilog::Stream::kStderr, "err\n", 2000).ok());
    ASSERT_TRUE(writer.Write(crilog::Stream::kStdout, "thr", 3000).ok());
    ASSERT_TRUE(writer.Write(crilog::Stream::kStdout, "ee\n", 4000).ok());
  }
  void TearDown() override { ::unlink(path_.c_str()); }

  std::string Read(LogQuery q) {
    std::string out;
    auto st = ReadLogs(
        path_, q,
        [&](const crilog::Entry& e) {
          out += (e.stream == crilog::Stream::kStderr ? "E:" : "O:") + e.text + (e.partial ? "" : "\n");
          return true;
        },
        [] { return true; });
    EXPECT_TRUE(st.ok()) << st;
    return out;
  }
  std::string path_;
};

TEST_F(LogReaderTest, ReadsEverythingWithStreams) {
  EXPECT_EQ(Read({}), "O:one\nO:two\nE:err\nO:thrO:ee\n");
}

TEST_F(LogReaderTest, TailCountsWholeLines) {
  EXPECT_EQ(Read({.tail = 2}), "E:err\nO:thrO:ee\n");
  EXPECT_EQ(Read({.tail = 1}), "O:thrO:ee\n");
  EXPECT_EQ(Read({.tail = 100}), "O:one\nO:two\nE:err\nO:thrO:ee\n");
}

TEST_F(LogReaderTest, SinceFiltersByTime) { EXPECT_EQ(Read({.since_ns = 2000}), "E:err\nO:thrO:ee\n"); }

TEST_F(LogReaderTest, FollowStopsWhenFinishedAndDrained) {
  int calls = 0;
  std::string out;
  auto st = ReadLogs(
      path_, {.follow = true},
      [&](const crilog::Entry& e) {
        out += e.text;
        return true;
      },
      [&] { return ++calls > 2; });
  EXPECT_TRUE(st.ok());
  EXPECT_EQ(out, "onetwoerrthree");
}

TEST_F(LogReaderTest, MissingFileIsEmpty) {
  std::string none;
  EXPECT_TRUE(ReadLogs("/tmp/does-not-exist-berth", {}, [&](const crilog::Entry&) { return true; }, [] { return true; }).ok());
}

}  // namespace
}  // namespace berth::agent
