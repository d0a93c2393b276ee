// `berth events` flags and its one-line text form.
#include <gtest/gtest.h>

#include "cli/event_format.h"
#include "google/protobuf/util/time_util.h"

namespace berth::cli {
namespace {

using google::protobuf::util::TimeUtil;

TEST(EventsSince, DigitsAreASequenceNumberAndTheRestATime) {
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  v1::SubscribeRequest r;
  ASSERT_TRUE(ApplyEventsSince("42", now, r).ok());
  EXPECT_EQ(r.since_case(), v1::SubscribeRequest::kSinceSequence);
  EXPECT_EQ(r.since_sequence(), 42u);

  v1::SubscribeRequest zero;
  ASSERT_TRUE(ApplyEventsSince("0", now, zero).ok());
  EXPECT_EQ(zero.since_case(), v1::SubscribeRequest::kSinceSequence) << "0 is the whole journal, not unset";

  v1::SubscribeRequest ago;
  ASSERT_TRUE(ApplyEventsSince("10m", now, ago).ok());
  ASSERT_EQ(ago.since_case(), v1::SubscribeRequest::kSinceTime);
  EXPECT_EQ(ago.since_time().seconds(), 1'800'000'000 - 600);

  v1::SubscribeRequest rfc;
  ASSERT_TRUE(ApplyEventsSince("2026-12-02T10:00:00Z", now, rfc).ok());
  EXPECT_EQ(rfc.since_case(), v1::SubscribeRequest::kSinceTime);

  v1::SubscribeRequest bad;
  EXPECT_FALSE(ApplyEventsSince("yesterday", now, bad).ok());
  EXPECT_FALSE(ApplyEventsSince("99999999999999999999999", now, bad).ok());
}

TEST(EventsFilter, KnownKeysOnly) {
  v1::EventFilter f;
  for (const char* ok : {"type=container.exit", "id=abc", "container=def", "name=web", "label=app=shop"}) {
    EXPECT_TRUE(AddEventFilter(ok, f).ok()) << ok;
  }
  EXPECT_EQ(f.types_size(), 1);
  EXPECT_EQ(f.ids_size(), 2);
  EXPECT_EQ(f.labels(0), "app=shop");
  for (const char* bad : {"colour=red", "type", "=x", "type="}) {
    absl::Status st = AddEventFilter(bad, f);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(EventLine, DockerShapedWithSequence) {
  v1::Event e;
  e.set_sequence(12);
  *e.mutable_time() = TimeUtil::NanosecondsToTimestamp(1'800'000'000'123456789);
  e.set_type("container.exit");
  e.set_id("3f2a");
  e.set_name("web");
  e.set_exit_code(0);
  (*e.mutable_attributes())["image"] = "busybox";
  (*e.mutable_labels())["app"] = "shop";
  EXPECT_EQ(FormatEventLine(e),
            "2027-01-15T08:00:00.123456789Z container exit 3f2a (app=shop, exit_code=0, image=busybox, name=web, seq=12)\n");
  v1::Event start;
  start.set_sequence(1);
  start.set_type("agent.start");
  EXPECT_EQ(FormatEventLine(start), "1970-01-01T00:00:00.000000000Z agent start (seq=1)\n");
}

}  // namespace
}  // namespace berth::cli
