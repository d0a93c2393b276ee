// The event journal (segments, limits, torn tails, reopening), the subscriber filter and the
// hub's bounded subscriber queues.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "agent/event_filter.h"
#include "agent/event_hub.h"
#include "agent/event_journal.h"
#include "google/protobuf/util/time_util.h"
#include "runtime/base/file_util.h"

namespace berth::agent {
namespace {

using google::protobuf::util::TimeUtil;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/berth-events-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { (void)RemoveTree(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

v1::Event Make(const std::string& type, const std::string& id, int64_t time_ns = 0) {
  v1::Event e;
  e.set_type(type);
  e.set_id(id);
  *e.mutable_time() = TimeUtil::NanosecondsToTimestamp(time_ns);
  return e;
}

std::vector<uint64_t> ReadAll(const EventJournal& j, uint64_t after, uint64_t upto, absl::Status* status = nullptr) {
  std::vector<uint64_t> seen;
  absl::Status st = j.ReadAfter(after, upto, [&](const v1::Event& e) {
    seen.push_back(e.sequence());
    return true;
  });
  if (status) *status = st;
  return seen;
}

std::vector<uint64_t> Range(uint64_t from, uint64_t to) {
  std::vector<uint64_t> r;
  for (uint64_t i = from; i <= to; ++i) r.push_back(i);
  return r;
}

TEST(EventJournal, NumbersEventsFromOneAndReadsThemBack) {
  TempDir dir;
  auto j = EventJournal::Open(dir.path());
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ((*j)->first_sequence(), 1u);
  EXPECT_EQ((*j)->last_sequence(), 0u);
  for (int i = 0; i < 5; ++i) {
    v1::Event e = Make("container.create", "id" + std::to_string(i));
    ASSERT_TRUE((*j)->Append(e).ok());
    EXPECT_EQ(e.sequence(), static_cast<uint64_t>(i + 1));
  }
  std::vector<std::string> ids;
  ASSERT_TRUE((*j)->ReadAfter(2, 5, [&](const v1::Event& e) {
                    ids.push_back(e.id());
                    return true;
                  }).ok());
  EXPECT_EQ(ids, (std::vector<std::string>{"id2", "id3", "id4"}));
  EXPECT_EQ(ReadAll(**j, 0, 3), Range(1, 3));  // upto bounds the read
}

TEST(EventJournal, ReopenedJournalContinuesTheNumbering) {
  TempDir dir;
  JournalLimits limits;
  limits.segment_events = 3;  // several segments
  {
    auto j = EventJournal::Open(dir.path(), limits);
    ASSERT_TRUE(j.ok());
    for (int i = 0; i < 8; ++i) {
      v1::Event e = Make("agent.start", "");
      ASSERT_TRUE((*j)->Append(e).ok());
    }
  }
  auto j = EventJournal::Open(dir.path(), limits);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ((*j)->last_sequence(), 8u);
  EXPECT_EQ((*j)->event_count(), 8u);
  v1::Event e = Make("agent.start", "");
  ASSERT_TRUE((*j)->Append(e).ok());
  EXPECT_EQ(e.sequence(), 9u);
  EXPECT_EQ(ReadAll(**j, 0, 9), Range(1, 9));
}

TEST(EventJournal, TornLastRecordIsCutOffAtOpen) {
  TempDir dir;
  std::string segment;
  {
    auto j = EventJournal::Open(dir.path());
    ASSERT_TRUE(j.ok());
    for (int i = 0; i < 3; ++i) {
      v1::Event e = Make("exec.start", "c");
      ASSERT_TRUE((*j)->Append(e).ok());
    }
  }
  segment = dir.path() + "/" + ListDirectory(dir.path()).at(0);
  struct stat st;
  ASSERT_EQ(::stat(segment.c_str(), &st), 0);
  // The agent died in the middle of writing record 3: half of it is on disk.
  ASSERT_EQ(::truncate(segment.c_str(), st.st_size - 5), 0);
  auto j = EventJournal::Open(dir.path());
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ((*j)->last_sequence(), 2u);
  v1::Event e = Make("exec.exit", "c");
  ASSERT_TRUE((*j)->Append(e).ok());
  EXPECT_EQ(e.sequence(), 3u);
  EXPECT_EQ(ReadAll(**j, 0, 3), Range(1, 3));
  // Garbage after the last record (a torn header) is cut off as well.
  {
    int fd = ::open(segment.c_str(), O_WRONLY | O_APPEND);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "\x05\x00", 2), 2);
    ::close(fd);
  }
  j = EventJournal::Open(dir.path());
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)->last_sequence(), 3u);
}

TEST(EventJournal, DropsWholeOldSegmentsToStayWithinItsLimits) {
  TempDir dir;
  JournalLimits limits;
  limits.max_events = 10;
  limits.segment_events = 4;
  auto j = EventJournal::Open(dir.path(), limits);
  ASSERT_TRUE(j.ok());
  for (int i = 0; i < 25; ++i) {
    v1::Event e = Make("image.tag", "x");
    ASSERT_TRUE((*j)->Append(e).ok());
    EXPECT_LE((*j)->event_count(), 10u);
  }
  // Segments hold 1-4, 5-8, ..., 25: the newest 10 or fewer, in whole segments.
  EXPECT_EQ((*j)->last_sequence(), 25u);
  EXPECT_EQ((*j)->first_sequence(), 17u);
  EXPECT_EQ(ListDirectory(dir.path()).size(), 3u);
  absl::Status st;
  EXPECT_EQ(ReadAll(**j, 16, 25, &st), Range(17, 25));
  EXPECT_TRUE(st.ok());
  ReadAll(**j, 10, 25, &st);
  EXPECT_EQ(st.code(), absl::StatusCode::kOutOfRange);
  EXPECT_NE(st.message().find("oldest kept is 17"), std::string::npos) << st;
}

TEST(EventJournal, ByteLimitAlsoDropsSegments) {
  TempDir dir;
  JournalLimits limits;
  limits.max_bytes = 4096;
  limits.segment_bytes = 1024;
  auto j = EventJournal::Open(dir.path(), limits);
  ASSERT_TRUE(j.ok());
  for (int i = 0; i < 200; ++i) {
    v1::Event e = Make("container.create", std::string(64, 'a'));
    ASSERT_TRUE((*j)->Append(e).ok());
    EXPECT_LE((*j)->byte_count(), 4096u);
  }
  EXPECT_GT((*j)->first_sequence(), 1u);
  EXPECT_EQ(ReadAll(**j, (*j)->first_sequence() - 1, 200).size(), 200 - (*j)->first_sequence() + 1);
}

TEST(EventJournal, SequenceBeforeFindsTheFirstEventAtATime) {
  TempDir dir;
  auto j = EventJournal::Open(dir.path());
  ASSERT_TRUE(j.ok());
  for (int64_t t : {100, 200, 300, 400}) {
    v1::Event e = Make("network.create", "n", t * 1'000'000'000);
    ASSERT_TRUE((*j)->Append(e).ok());
  }
  auto before = (*j)->SequenceBefore(absl::FromUnixSeconds(250));
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(*before, 2u);  // events 3 and 4 are at or after 250 s
  EXPECT_EQ(*(*j)->SequenceBefore(absl::FromUnixSeconds(1)), 0u);
  EXPECT_EQ(*(*j)->SequenceBefore(absl::FromUnixSeconds(1000)), 4u);
}

TEST(EventMatcher, TypesIdsNamesAndLabels) {
  v1::Event exit = Make("container.exit", "abcdef0123");
  exit.set_name("web");
  (*exit.mutable_labels())["app"] = "shop";
  (*exit.mutable_labels())["tier"] = "front";

  auto match = [&](const v1::EventFilter& f) {
    auto m = EventMatcher::From(f);
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() && m->Matches(exit);
  };
  v1::EventFilter f;
  EXPECT_TRUE(match(f));
  f.add_types("container");
  EXPECT_TRUE(match(f));
  f.set_types(0, "container.start");
  EXPECT_FALSE(match(f));
  f.add_types("container.exit");  // alternatives
  EXPECT_TRUE(match(f));
  f.add_ids("abcd");  // a prefix
  EXPECT_TRUE(match(f));
  f.add_names("db");
  EXPECT_FALSE(match(f));  // different keys must all match
  f.add_names("web");
  EXPECT_TRUE(match(f));
  f.clear_names();
  f.add_labels("app=shop");
  f.add_labels("tier");
  EXPECT_TRUE(match(f));
  f.add_labels("tier=back");  // every label must be there
  EXPECT_FALSE(match(f));

  v1::EventFilter kind_prefix;
  kind_prefix.add_types("exec");
  auto m = EventMatcher::From(kind_prefix);
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->Matches(Make("executor.start", "")));  // a kind is a whole word
  EXPECT_TRUE(m->Matches(Make("exec.exit", "")));
}

TEST(EventMatcher, RefusesWhatItCannotMatch) {
  for (const char* bad : {"containers", "container.died", ""}) {
    v1::EventFilter f;
    f.add_types(bad);
    auto m = EventMatcher::From(f);
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  v1::EventFilter f;
  f.add_labels("=v");
  EXPECT_EQ(EventMatcher::From(f).status().code(), absl::StatusCode::kInvalidArgument);
  v1::EventFilter big;
  big.add_ids(std::string(100000, 'a'));
  auto m = EventMatcher::From(big);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_LT(m.status().message().size(), 400u) << "the value is capped in the message";
}

TEST(EventHub, SubscribersGetEventsInOrderAfterTheirStart) {
  TempDir dir;
  auto j = EventJournal::Open(dir.path());
  ASSERT_TRUE(j.ok());
  EventHub hub(**j);
  hub.Publish(Make("agent.start", ""));
  auto sub = hub.Subscribe(nullptr);
  EXPECT_EQ(sub->live_after(), 1u);
  hub.Publish(Make("container.create", "a"));
  hub.Publish(Make("container.start", "a"));
  auto first = sub->Next(absl::Seconds(1));
  auto second = sub->Next(absl::Seconds(1));
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->sequence(), 2u);
  EXPECT_EQ(second->type(), "container.start");
  EXPECT_GT(TimeUtil::TimestampToNanoseconds(second->time()), 0) << "Publish stamps the time";
  EXPECT_FALSE(sub->Next(absl::Milliseconds(10)).has_value());
  hub.Unsubscribe(sub);
}

TEST(EventHub, ASubscriberThatFallsBehindOverflowsWithoutBlockingPublish) {
  TempDir dir;
  auto j = EventJournal::Open(dir.path());
  ASSERT_TRUE(j.ok());
  std::atomic<int> cancelled{0};
  EventHub hub(**j, /*subscriber_queue=*/4, /*stuck_grace=*/absl::Milliseconds(100));
  auto slow = hub.Subscribe([&] { cancelled++; });
  auto fast = hub.Subscribe(nullptr);
  for (int i = 0; i < 100; ++i) {
    hub.Publish(Make("image.tag", "x"));
    ASSERT_TRUE(fast->Next(absl::Seconds(1)).has_value());  // keeps up
  }
  EXPECT_TRUE(slow->overflowed());
  EXPECT_FALSE(fast->overflowed());
  EXPECT_FALSE(slow->Next(absl::Milliseconds(1)).has_value());
  EXPECT_EQ((*j)->last_sequence(), 100u) << "every event is in the journal all the same";
  // Still overflowed after the grace: its stream is cancelled (once).
  for (int i = 0; i < 40 && cancelled.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(cancelled.load(), 1);
  hub.Unsubscribe(slow);
  hub.Unsubscribe(fast);
}

}  // namespace
}  // namespace berth::agent
