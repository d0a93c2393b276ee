#include "runtime/shim/cri_log.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/file_util.h"

namespace berth::crilog {
namespace {

constexpr int64_t kSec = 1000000000;

TEST(CriLogTimestamp, FormatsNineDigitsUtc) {
  EXPECT_EQ(FormatTimestamp(0), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(FormatTimestamp(1475713029 * kSec + 669794202), "2016-10-06T00:17:09.669794202Z");
  EXPECT_EQ(FormatTimestamp(1709251199 * kSec + 5), "2024-02-29T23:59:59.000000005Z");
  EXPECT_EQ(FormatTimestamp(-1), "1969-12-31T23:59:59.999999999Z");
  EXPECT_EQ(FormatTimestamp(-2208988800 * kSec), "1900-01-01T00:00:00.000000000Z");
}

TEST(CriLogTimestamp, RoundTrips) {
  for (int64_t t : {int64_t{0}, int64_t{1}, int64_t{-1}, 1475713029 * kSec + 669794202,
                    1709251199 * kSec + 999999999, -2208988800 * kSec + 123,
                    int64_t{951782400} * kSec /* 2000-02-29 */}) {
    auto parsed = ParseTimestamp(FormatTimestamp(t));
    ASSERT_TRUE(parsed.ok()) << FormatTimestamp(t) << ": " << parsed.status();
    EXPECT_EQ(*parsed, t) << FormatTimestamp(t);
  }
}

TEST(CriLogTimestamp, AcceptsRfc3339FractionsAndOffsets) {
  // Go's RFC3339Nano (containerd, kubelet) trims trailing zeros of the fraction.
  EXPECT_EQ(*ParseTimestamp("2016-10-06T00:17:09.5Z"), 1475713029 * kSec + 500000000);
  EXPECT_EQ(*ParseTimestamp("2016-10-06T00:17:09Z"), 1475713029 * kSec);
  EXPECT_EQ(*ParseTimestamp("2016-10-06T02:17:09.669794202+02:00"), 1475713029 * kSec + 669794202);
  EXPECT_EQ(*ParseTimestamp("2016-10-05T23:47:09-00:30"), 1475713029 * kSec);
}

TEST(CriLogTimestamp, RejectsMalformed) {
  for (const char* bad : {
           "",
           "2016-10-06",
           "2016-10-06 00:17:09.669794202Z",   // space instead of T
           "2016-10-06t00:17:09.669794202Z",   // lower-case t
           "2016-10-06T00:17:09.669794202z",   // lower-case z
           "2016-10-06T00:17:09.669794202",    // no zone
           "2016-10-06T00:17:09.Z",            // empty fraction
           "2016-10-06T00:17:09.6697942021Z",  // ten digits
           "2016-13-06T00:17:09Z",             // month 13
           "2016-00-06T00:17:09Z",             // month 0
           "2015-02-29T00:17:09Z",             // not a leap year
           "2016-04-31T00:17:09Z",             // April has 30 days
           "2016-10-06T24:00:00Z",             // hour 24
           "2016-10-06T00:60:00Z",             // minute 60
           "2016-10-06T00:00:60Z",             // leap second
           "2016-10-06T00:17:09Z ",            // trailing space
           "2016-10-06T00:17:09+0200",         // offset without colon
           "2016-1-06T00:17:09Z",              // one-digit month
           "+016-10-06T00:17:09Z",
           "9999-12-31T23:59:59Z",  // beyond int64 nanoseconds
       }) {
    EXPECT_FALSE(ParseTimestamp(bad).ok()) << bad;
  }
}

TEST(CriLogLine, FormatsAndParses) {
  Entry e;
  e.time_ns = 1475713029 * kSec + 669794202;
  e.stream = Stream::kStderr;
  e.partial = true;
  e.text = "part of a line";
  std::string line = FormatLine(e);
  EXPECT_EQ(line, "2016-10-06T00:17:09.669794202Z stderr P part of a line\n");
  auto back = ParseLine(line);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->time_ns, e.time_ns);
  EXPECT_EQ(back->stream, Stream::kStderr);
  EXPECT_TRUE(back->partial);
  EXPECT_EQ(back->text, "part of a line");

  // Without the newline, with an empty text, with spaces and a carriage return (tty output).
  auto full = ParseLine("2016-10-06T00:17:09.669794202Z stdout F  two  spaces \r");
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->stream, Stream::kStdout);
  EXPECT_FALSE(full->partial);
  EXPECT_EQ(full->text, " two  spaces \r");
  auto empty = ParseLine("2016-10-06T00:17:09.669794202Z stdout F \n");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->text, "");
}

TEST(CriLogLine, RejectsMalformed) {
  for (const char* bad : {
           "",
           "\n",
           "2016-10-06T00:17:09.669794202Z",
           "2016-10-06T00:17:09.669794202Z stdout",
           "2016-10-06T00:17:09.669794202Z stdout F",  // no space after the tag
           "2016-10-06T00:17:09.669794202Z stdin F text",
           "2016-10-06T00:17:09.669794202Z stdout X text",
           "2016-10-06T00:17:09.669794202Z stdout FP text",
           "2016-10-06T00:17:09.669794202Z  stdout F text",
           "2016-10-06T00:17:09.669794202Z stdout F one\ntwo\n",
           "yesterday stdout F text",
           "2016-10-06T00:17:09.669794202Z stdout  F text",
       }) {
    EXPECT_FALSE(ParseLine(bad).ok()) << bad;
  }
}

class LogWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cri_log_test.XXXXXX";
    int fd = ::mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    path_ = tmpl;
    ::close(fd);
    UniqueFd append(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    ASSERT_TRUE(append.valid());
    writer_.emplace(std::move(append));
  }
  void TearDown() override { ::unlink(path_.c_str()); }

  std::vector<Entry> Entries() {
    auto text = ReadFile(path_);
    EXPECT_TRUE(text.ok());
    std::vector<Entry> out;
    if (text->empty()) return out;
    EXPECT_EQ(text->back(), '\n');
    for (absl::string_view line :
         absl::StrSplit(absl::string_view(*text), '\n', absl::SkipEmpty())) {
      auto e = ParseLine(line);
      EXPECT_TRUE(e.ok()) << e.status();
      if (e.ok()) out.push_back(*e);
    }
    return out;
  }

  std::string path_;
  std::optional<LogWriter> writer_;
};

TEST_F(LogWriterTest, CompleteAndPartialLines) {
  ASSERT_TRUE(writer_->Write(Stream::kStdout, "one\ntwo\n", 5 * kSec).ok());
  ASSERT_TRUE(writer_->Write(Stream::kStderr, "par", 6 * kSec).ok());
  ASSERT_TRUE(writer_->Write(Stream::kStderr, "tial\n\nlast", 7 * kSec).ok());
  ASSERT_TRUE(writer_->Write(Stream::kStdout, "", 8 * kSec).ok());
  auto e = Entries();
  ASSERT_EQ(e.size(), 6u);
  EXPECT_EQ(e[0].text, "one");
  EXPECT_FALSE(e[0].partial);
  EXPECT_EQ(e[0].time_ns, 5 * kSec);
  EXPECT_EQ(e[1].text, "two");
  EXPECT_EQ(e[2].stream, Stream::kStderr);
  EXPECT_TRUE(e[2].partial);
  EXPECT_EQ(e[2].text, "par");
  EXPECT_FALSE(e[3].partial);
  EXPECT_EQ(e[3].text, "tial");
  EXPECT_EQ(e[3].time_ns, 7 * kSec);
  EXPECT_FALSE(e[4].partial);
  EXPECT_EQ(e[4].text, "");
  EXPECT_TRUE(e[5].partial);
  EXPECT_EQ(e[5].text, "last");
}

TEST_F(LogWriterTest, SplitsLongLines) {
  const size_t kMax = 16 * 1024;
  std::string long_line(2 * kMax + 100, 'x');
  long_line[kMax] = 'y';  // the first byte of the second entry
  ASSERT_TRUE(writer_->Write(Stream::kStdout, long_line + "\n", kSec).ok());
  ASSERT_TRUE(writer_->Write(Stream::kStdout, std::string(kMax, 'z') + "\n", kSec).ok());
  ASSERT_TRUE(writer_->Write(Stream::kStdout, std::string(kMax + 1, 'w'), kSec).ok());
  auto e = Entries();
  ASSERT_EQ(e.size(), 6u);
  EXPECT_TRUE(e[0].partial);
  EXPECT_EQ(e[0].text.size(), kMax);
  EXPECT_TRUE(e[1].partial);
  EXPECT_EQ(e[1].text.size(), kMax);
  EXPECT_EQ(e[1].text[0], 'y');
  EXPECT_FALSE(e[2].partial);
  EXPECT_EQ(e[2].text.size(), 100u);
  EXPECT_EQ(e[0].text + e[1].text + e[2].text, long_line);
  // Exactly the limit fits in one entry.
  EXPECT_FALSE(e[3].partial);
  EXPECT_EQ(e[3].text.size(), kMax);
  // One byte over, without a newline: two partial entries, nothing held back.
  EXPECT_TRUE(e[4].partial);
  EXPECT_EQ(e[4].text.size(), kMax);
  EXPECT_TRUE(e[5].partial);
  EXPECT_EQ(e[5].text, "w");
}

TEST(LogWriter, ReportsWriteErrors) {
  LogWriter writer{UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC))};
  EXPECT_FALSE(writer.Write(Stream::kStdout, "x\n", 0).ok());
}

}  // namespace
}  // namespace berth::crilog
