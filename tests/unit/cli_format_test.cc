// berth CLI: durations, ps columns, tables, JSON, log timestamps, ps filters.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/time/time.h"
#include "cli/human_format.h"
#include "cli/json_output.h"
#include "cli/log_prefixer.h"
#include "cli/ps_filters.h"
#include "cli/table.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

TEST(HumanDuration, DockerWording) {
  EXPECT_EQ(HumanDuration(absl::Milliseconds(300)), "Less than a second");
  EXPECT_EQ(HumanDuration(absl::Seconds(-5)), "Less than a second");
  EXPECT_EQ(HumanDuration(absl::Seconds(1)), "1 second");
  EXPECT_EQ(HumanDuration(absl::Seconds(5)), "5 seconds");
  EXPECT_EQ(HumanDuration(absl::Seconds(59)), "59 seconds");
  EXPECT_EQ(HumanDuration(absl::Seconds(60)), "About a minute");
  EXPECT_EQ(HumanDuration(absl::Seconds(119)), "About a minute");
  EXPECT_EQ(HumanDuration(absl::Minutes(3)), "3 minutes");
  EXPECT_EQ(HumanDuration(absl::Minutes(59)), "59 minutes");
  EXPECT_EQ(HumanDuration(absl::Minutes(60)), "About an hour");
  EXPECT_EQ(HumanDuration(absl::Minutes(89)), "About an hour");
  EXPECT_EQ(HumanDuration(absl::Minutes(90)), "2 hours");
  EXPECT_EQ(HumanDuration(absl::Hours(47)), "47 hours");
  EXPECT_EQ(HumanDuration(absl::Hours(48)), "2 days");
  EXPECT_EQ(HumanDuration(absl::Hours(24 * 14)), "2 weeks");
  EXPECT_EQ(HumanDuration(absl::Hours(24 * 60)), "2 months");
  EXPECT_EQ(HumanDuration(absl::Hours(24 * 365 * 3)), "3 years");
}

v1::Container At(v1::ContainerState state, int created_ago, int started_ago, int finished_ago,
                 int exit_code = 0) {
  v1::Container c;
  c.set_state(state);
  *c.mutable_created_at() = TimeToProto(kNow - absl::Seconds(created_ago));
  if (started_ago >= 0) *c.mutable_started_at() = TimeToProto(kNow - absl::Seconds(started_ago));
  if (finished_ago >= 0) {
    *c.mutable_finished_at() = TimeToProto(kNow - absl::Seconds(finished_ago));
  }
  c.set_exit_code(exit_code);
  return c;
}

TEST(StatusText, EachState) {
  EXPECT_EQ(StatusText(At(v1::CREATED, 5, -1, -1), kNow), "Created");
  EXPECT_EQ(StatusText(At(v1::RUNNING, 400, 180, -1), kNow), "Up 3 minutes");
  EXPECT_EQ(StatusText(At(v1::PAUSED, 400, 65, -1), kNow), "Up About a minute (Paused)");
  EXPECT_EQ(StatusText(At(v1::EXITED, 400, 300, 120, 0), kNow), "Exited (0) 2 minutes ago");
  EXPECT_EQ(StatusText(At(v1::EXITED, 400, 300, 5, 137), kNow), "Exited (137) 5 seconds ago");
  EXPECT_EQ(StatusText(At(v1::EXITED, 400, -1, -1, 1), kNow), "Exited (1)");
  EXPECT_EQ(StatusText(At(v1::RUNNING, 400, -1, -1), kNow), "Up");
  EXPECT_EQ(StatusText(v1::Container(), kNow), "Unknown");
}

TEST(CreatedText, AgoOrNothing) {
  EXPECT_EQ(CreatedText(At(v1::CREATED, 5, -1, -1), kNow), "5 seconds ago");
  EXPECT_EQ(CreatedText(v1::Container(), kNow), "");
}

TEST(CommandText, QuotedAndTruncated) {
  v1::Container c;
  c.add_command("sleep");
  c.add_command("1000");
  EXPECT_EQ(CommandText(c, true), "\"sleep 1000\"");
  c.clear_command();
  for (const char* a : {"sh", "-c", "while true; do date; sleep 1; done"}) c.add_command(a);
  EXPECT_EQ(CommandText(c, true), "\"sh -c while true; d\u2026\"");
  EXPECT_EQ(CommandText(c, false), "\"sh -c while true; do date; sleep 1; done\"");
  c.clear_command();
  c.add_command("echo");
  c.add_command("say \"hi\"\\\n");
  EXPECT_EQ(CommandText(c, false), "\"echo say \\\"hi\\\"\\\\\\n\"");
}

TEST(Ellipsis, CountsCodePoints) {
  EXPECT_EQ(Ellipsis("short", 20), "short");
  EXPECT_EQ(Ellipsis("abcdef", 6), "abcdef");
  EXPECT_EQ(Ellipsis("abcdefg", 6), "abcde\u2026");
  EXPECT_EQ(Ellipsis("\u00e9\u00e9\u00e9\u00e9", 3), "\u00e9\u00e9\u2026");
  EXPECT_EQ(Ellipsis("abc", 0), "");
  EXPECT_EQ(DisplayWidth("\u00e9t\u00e9"), 3u);
}

TEST(Quote, EscapesControlCharacters) {
  EXPECT_EQ(Quote(""), "\"\"");
  EXPECT_EQ(Quote("a\tb\x01"), "\"a\\tb\\x01\"");
  EXPECT_EQ(Quote("caf\u00e9"), "\"caf\u00e9\"");
}

TEST(ShortId, TwelveCharacters) {
  EXPECT_EQ(ShortId("3f2a9b1c4d5e6f708192a3b4c5d6e7f8"), "3f2a9b1c4d5e");
  EXPECT_EQ(ShortId("abc"), "abc");
}

TEST(TimestampConversions, RoundTripAndFormat) {
  const absl::Time t = absl::FromUnixSeconds(1700000000) + absl::Nanoseconds(123456789);
  EXPECT_EQ(TimeFromProto(TimeToProto(t)), t);
  const absl::Time before_epoch = absl::FromUnixSeconds(-1) + absl::Milliseconds(250);
  EXPECT_EQ(TimeToProto(before_epoch).seconds(), -1);
  EXPECT_EQ(TimeToProto(before_epoch).nanos(), 250000000);
  EXPECT_EQ(FormatLogTimestamp(t), "2023-11-14T22:13:20.123456789Z");
  EXPECT_EQ(FormatLogTimestamp(absl::FromUnixSeconds(1700000000)),
            "2023-11-14T22:13:20.000000000Z");
}

TEST(FormatTable, AlignsColumnsWithThreeSpaces) {
  EXPECT_EQ(FormatTable({{"CONTAINER ID", "IMAGE", "NAMES"},
                         {"3f2a9b1c4d5e", "busybox", "web"},
                         {"bb", "caf\u00e9", ""}}),
            "CONTAINER ID   IMAGE     NAMES\n"
            "3f2a9b1c4d5e   busybox   web\n"
            "bb             caf\u00e9\n");
  EXPECT_EQ(FormatTable({{"A", "B"}, {"x"}}), "A   B\nx\n");
  EXPECT_EQ(FormatTable({}), "");
}

TEST(PrettyJson, IndentsOutsideStrings) {
  EXPECT_EQ(PrettyJson(R"({"a":[1,2],"b":{},"c":[],"d":"x,{:}\"y"})"),
            "{\n"
            "    \"a\": [\n"
            "        1,\n"
            "        2\n"
            "    ],\n"
            "    \"b\": {},\n"
            "    \"c\": [],\n"
            "    \"d\": \"x,{:}\\\"y\"\n"
            "}");
  EXPECT_EQ(PrettyJson("[]"), "[]");
}

TEST(MessagesToJsonArray, ProtoFieldNamesAndDefaults) {
  v1::Container c;
  c.set_id("abc");
  c.set_state(v1::RUNNING);
  c.mutable_resources()->set_memory_limit_bytes(1024);
  (*c.mutable_labels())["app"] = "web";
  const std::string json = *MessagesToJsonArray({&c});
  EXPECT_EQ(json.front(), '[');
  EXPECT_EQ(json.back(), '\n');
  EXPECT_NE(json.find("\"id\": \"abc\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"state\": \"RUNNING\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"memory_limit_bytes\": \"1024\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"exit_code\": 0"), std::string::npos) << json;  // defaults printed
  EXPECT_NE(json.find("\"app\": \"web\""), std::string::npos) << json;
  EXPECT_EQ(*MessagesToJsonArray({}), "[]\n");
}

TEST(TimestampPrefixer, PrefixesEveryLineAcrossChunks) {
  TimestampPrefixer p;
  const absl::Time t1 = absl::FromUnixSeconds(1700000000);
  const absl::Time t2 = t1 + absl::Seconds(1);
  const std::string s1 = FormatLogTimestamp(t1) + " ";
  const std::string s2 = FormatLogTimestamp(t2) + " ";
  EXPECT_EQ(p.Apply(v1::STDOUT, "a\nb", t1), s1 + "a\n" + s1 + "b");
  // stderr has its own line state; stdout's line is still open.
  EXPECT_EQ(p.Apply(v1::STDERR, "e\n", t2), s2 + "e\n");
  EXPECT_EQ(p.Apply(v1::STDOUT, "c\nd\n", t2), "c\n" + s2 + "d\n");
  EXPECT_EQ(p.Apply(v1::STDOUT, "", t2), "");
}

TEST(PsQuery, DefaultsToRunningAndPaused) {
  PsQuery q = *BuildPsQuery(false, {});
  ASSERT_EQ(q.request.states_size(), 2);
  EXPECT_EQ(q.request.states(0), v1::RUNNING);
  EXPECT_EQ(q.request.states(1), v1::PAUSED);
  EXPECT_EQ(BuildPsQuery(true, {})->request.states_size(), 0);
}

TEST(PsQuery, Filters) {
  PsQuery q = *BuildPsQuery(false, {"label=app=web", "label=tier", "status=exited",
                                    "status=created", "name=we", "id=3f2a"});
  EXPECT_EQ(q.request.label_selector(), "app=web,tier");
  ASSERT_EQ(q.request.states_size(), 2);  // a status filter replaces the running-only default
  EXPECT_EQ(q.request.states(0), v1::EXITED);
  EXPECT_EQ(q.request.states(1), v1::CREATED);
  v1::Container c;
  c.set_name("web");
  c.set_id("3f2a9b");
  EXPECT_TRUE(MatchesClientFilters(q, c));
  c.set_name("db");
  EXPECT_FALSE(MatchesClientFilters(q, c));
  c.set_name("web");
  c.set_id("99");
  EXPECT_FALSE(MatchesClientFilters(q, c));
}

TEST(PsQuery, RejectsUnknownFilters) {
  for (const char* bad : {"label", "label=", "status=dead", "ancestor=busybox", "nokey",
                          "label=a=1,b=2"}) {
    EXPECT_FALSE(BuildPsQuery(false, {bad}).ok()) << bad;
  }
}

}  // namespace
}  // namespace berth::cli
