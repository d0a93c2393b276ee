#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

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

TEST_F(LogReaderTest, UntilEndsAtTheFirstLaterEntry) {
  EXPECT_EQ(Read({.until_ns = 2000}), "O:one\nO:two\nE:err\n");
  EXPECT_EQ(Read({.since_ns = 2000, .until_ns = 3000}), "E:err\nO:thr");
  EXPECT_EQ(Read({.until_ns = 999}), "");
}

TEST_F(LogReaderTest, FollowEndsOnceUntilHasPassed) {
  // Never finished: only the past `until` ends this follow.
  std::string out;
  auto st = ReadLogs(
      path_, {.until_ns = 5000, .follow = true},
      [&](const crilog::Entry& e) {
        out += e.text;
        return true;
      },
      [] { return false; });
  EXPECT_TRUE(st.ok());
  EXPECT_EQ(out, "onetwoerrthree");
}

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

TEST_F(LogReaderTest, TailWithSinceCountsOnlyLinesAfterIt) {
  EXPECT_EQ(Read({.tail = 5, .since_ns = 2000}), "E:err\nO:thrO:ee\n");
  EXPECT_EQ(Read({.tail = 1, .since_ns = 2000}), "O:thrO:ee\n");
}

// A tail of a file many read chunks long, with partial runs across chunk boundaries and an
// unfinished last record: the same answer as reading everything and keeping the end.
TEST_F(LogReaderTest, TailOfALargeFileAcrossChunks) {
  int fd = ::open(path_.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  crilog::LogWriter writer{UniqueFd(fd)};
  std::vector<std::string> lines;
  for (int i = 0; i < 20000; ++i) {
    std::string text = "line-" + std::to_string(i) + std::string(static_cast<size_t>(i % 97), 'x');
    if (i % 10 == 0) {
      // A line written in three pieces: two P records and an F.
      ASSERT_TRUE(writer.Write(crilog::Stream::kStdout, text.substr(0, 3), 1000 + i).ok());
      ASSERT_TRUE(writer.Write(crilog::Stream::kStdout, text.substr(3, 2), 1000 + i).ok());
      ASSERT_TRUE(writer.Write(crilog::Stream::kStdout, text.substr(5) + "\n", 1000 + i).ok());
    } else {
      ASSERT_TRUE(writer.Write(crilog::Stream::kStderr, text + "\n", 1000 + i).ok());
    }
    lines.push_back(i % 10 == 0 ? "O:" + text.substr(0, 3) + "O:" + text.substr(3, 2) + "O:" + text.substr(5) + "\n"
                                : "E:" + text + "\n");
  }
  ASSERT_TRUE(writer.Write(crilog::Stream::kStdout, "unfinish", 999999).ok());  // no F yet
  for (int64_t tail : {1, 2, 10, 11, 999, 5000, 19999, 20000, 30000}) {
    std::string want;
    for (size_t i = lines.size() - static_cast<size_t>(std::min<int64_t>(tail, 20000)); i < lines.size(); ++i) {
      want += lines[i];
    }
    std::string got = Read({.tail = tail});
    // The unfinished run is still read (as the plain reader does) after the whole lines.
    EXPECT_TRUE(got == want + "O:unfinish") << "tail " << tail << ": " << got.size() << " bytes, want "
                                           << want.size() + 10;
  }
}

TEST_F(LogReaderTest, MissingFileIsEmpty) {
  std::string none;
  EXPECT_TRUE(ReadLogs("/tmp/does-not-exist-berth", {}, [&](const crilog::Entry&) { return true; }, [] { return true; }).ok());
}

// A log rotated into several files reads as one, in order; tail counts lines across the
// files (a line's P records may sit in the file before its F).
TEST(RotatedLogReader, ReadsAndTailsAcrossFiles) {
  char tmpl[] = "/tmp/berth-rotlog-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string path = dir + "/container.log";
  auto writer = crilog::LogWriter::Open(path, {.max_bytes = 300, .max_files = 10});
  ASSERT_TRUE(writer.ok()) << writer.status();
  std::string all;
  for (int i = 0; i < 40; ++i) {
    std::string text = "line " + std::to_string(i);
    if (i % 7 == 3) {  // in two pieces
      ASSERT_TRUE(writer->Write(crilog::Stream::kStdout, text.substr(0, 3), 1000 + i).ok());
      ASSERT_TRUE(writer->Write(crilog::Stream::kStdout, text.substr(3) + "\n", 1000 + i).ok());
    } else {
      ASSERT_TRUE(writer->Write(crilog::Stream::kStdout, text + "\n", 1000 + i).ok());
    }
    all += text + "\n";
  }
  EXPECT_GE(writer->rotations(), 5u);
  for (int n = 0; n <= static_cast<int>(writer->rotations()); ++n) {
    auto text = ReadFile(crilog::RotatedLogPath(path, n));
    ASSERT_TRUE(text.ok()) << n;
    EXPECT_LE(text->size(), 300u);
    EXPECT_EQ(text->back(), '\n');
  }
  auto read = [&](LogQuery q) {
    std::string out;
    EXPECT_TRUE(ReadLogs(path, q,
                         [&](const crilog::Entry& e) {
                           out += e.text + (e.partial ? "" : "\n");
                           return true;
                         },
                         [] { return true; })
                    .ok());
    return out;
  };
  EXPECT_EQ(read({}), all);
  EXPECT_EQ(read({.tail = 2}), "line 38\nline 39\n");
  std::string last15;
  for (int i = 25; i < 40; ++i) last15 += "line " + std::to_string(i) + "\n";
  EXPECT_EQ(read({.tail = 15}), last15);
  EXPECT_EQ(read({.since_ns = 1035}), "line 35\nline 36\nline 37\nline 38\nline 39\n");
  // max-file keeps what it says: an older file was dropped once there were more.
  auto small = crilog::LogWriter::Open(dir + "/small.log", {.max_bytes = 100, .max_files = 2});
  ASSERT_TRUE(small.ok());
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(small->Write(crilog::Stream::kStderr, "x\n", 1).ok());
  EXPECT_EQ(::access((dir + "/small.log.1").c_str(), F_OK), 0);
  EXPECT_NE(::access((dir + "/small.log.2").c_str(), F_OK), 0);
  (void)RemoveTree(dir);
}

}  // namespace
}  // namespace berth::agent
