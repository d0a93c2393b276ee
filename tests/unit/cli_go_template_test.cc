// berth CLI: the Go-style templates of --format (cli/go_template.h) and the list formats built
// on them (cli/list_format.h): each construct, how values print, and the errors.
#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/go_template.h"
#include "cli/list_format.h"

namespace berth::cli {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using json = nlohmann::json;

const json& Container() {
  static const json* c = new json(json::parse(R"({
    "Id": "3f2a9c1e0b7d4a5f",
    "Name": "/web",
    "Args": ["-c", "sleep 1000"],
    "State": {"Status": "running", "Running": true, "Paused": false, "Pid": 4242, "ExitCode": 0,
              "Error": "", "OOMKilled": false, "Dead": false, "Restarting": false,
              "StartedAt": "2024-01-02T03:04:05Z", "FinishedAt": "0001-01-01T00:00:00Z"},
    "Config": {"Labels": {"app": "web", "tier": "front"}, "Env": ["A=1", "B=2"], "Tty": false,
               "Cmd": null},
    "Mounts": [{"Source": "/data", "Destination": "/srv", "RW": true},
               {"Source": "/etc/x", "Destination": "/x", "RW": false}],
    "Ratio": 2.5,
    "Big": 1000000.0,
    "Empty": [],
    "Networks": {"bridge": {"IPAddress": "10.89.0.2"}, "mynet": {"IPAddress": "10.90.0.3"}}
  })"));
  return *c;
}

// The output of `text` on the container above; the error text on failure.
std::string Render(const std::string& text, const json& dot = Container()) {
  absl::StatusOr<GoTemplate> t = GoTemplate::Parse(text);
  if (!t.ok()) return "PARSE ERROR: " + std::string(t.status().message());
  absl::StatusOr<std::string> out = t->Execute(dot);
  if (!out.ok()) return "EXEC ERROR: " + std::string(out.status().message());
  return *out;
}

TEST(GoTemplate, TextAndFields) {
  EXPECT_EQ(Render("plain text"), "plain text");
  EXPECT_EQ(Render(""), "");
  EXPECT_EQ(Render("{{.State.Status}}"), "running");
  EXPECT_EQ(Render("pid={{.State.Pid}} name={{ .Name }}"), "pid=4242 name=/web");
  EXPECT_EQ(Render("{{$.Name}}"), "/web");
  EXPECT_EQ(Render("{{.}}", json("just a string")), "just a string");
  EXPECT_EQ(Render("{{/* a comment */}}x{{- /* trimmed */ -}} y"), "xy");
}

TEST(GoTemplate, TrimMarkers) {
  EXPECT_EQ(Render("a  {{- .Name -}}  \n b"), "a/webb");
  EXPECT_EQ(Render("a {{.Name -}} b"), "a /webb");
  EXPECT_EQ(Render("a {{- .Name}} b"), "a/web b");
  // "{{-3}}" is the number -3, not a trim marker.
  EXPECT_EQ(Render("a {{-3}}"), "a -3");
}

TEST(GoTemplate, ValuesPrintAsGoPrintsThem) {
  EXPECT_EQ(Render("{{.State.Running}} {{.State.Paused}}"), "true false");
  EXPECT_EQ(Render("{{.Ratio}} {{.Big}} {{.State.ExitCode}}"), "2.5 1e+06 0");
  EXPECT_EQ(Render("{{3.0}} {{-7}} {{0.00001}}"), "3 -7 1e-05");
  EXPECT_EQ(Render("{{.Config.Cmd}}"), "<no value>");
  EXPECT_EQ(Render("{{.Config.Labels}}"), "map[app:web tier:front]");
  EXPECT_EQ(Render("{{.Args}}"), "[-c sleep 1000]");
  EXPECT_EQ(Render("{{.Mounts}}"), "[map[Destination:/srv RW:true Source:/data] map[Destination:/x RW:false Source:/etc/x]]");
  EXPECT_EQ(Render("{{.Empty}}"), "[]");
  EXPECT_EQ(Render("{{json nil}}"), "null");
  EXPECT_THAT(Render("{{nil}}"), HasSubstr("nil is not a command"));
}

TEST(GoTemplate, Literals) {
  EXPECT_EQ(Render(R"({{"a\tb\u00e9"}}|{{`raw\n`}}|{{true}}|{{42}})"), "a\tb\u00e9|raw\\n|true|42");
}

TEST(GoTemplate, Json) {
  EXPECT_EQ(Render("{{json .Config.Labels}}"), R"({"app":"web","tier":"front"})");
  EXPECT_EQ(Render("{{json .Args}}"), R"(["-c","sleep 1000"])");
  EXPECT_EQ(Render("{{.Config.Labels | json}}"), R"({"app":"web","tier":"front"})");
  EXPECT_EQ(Render("{{json .Name}}"), R"("/web")");
}

TEST(GoTemplate, Index) {
  EXPECT_EQ(Render(R"({{index .Config.Labels "app"}})"), "web");
  // A label that is not there is "", as in docker's map of strings.
  EXPECT_EQ(Render(R"([{{index .Config.Labels "nope"}}])"), "[]");
  EXPECT_EQ(Render(R"({{index .Args 1}})"), "sleep 1000");
  EXPECT_EQ(Render(R"({{index .Mounts 1 "Destination"}})"), "/x");
  EXPECT_EQ(Render(R"({{(index .Networks "mynet").IPAddress}})"), "10.90.0.3");
  EXPECT_THAT(Render("{{index .Args 5}}"), AllOf(HasSubstr("EXEC ERROR"), HasSubstr("index out of range: 5")));
  EXPECT_THAT(Render("{{index .Name 0}}"), HasSubstr("can't index string"));
}

TEST(GoTemplate, StringFunctions) {
  EXPECT_EQ(Render(R"({{join .Args ","}})"), "-c,sleep 1000");
  EXPECT_EQ(Render(R"({{join .Config.Env " "}})"), "A=1 B=2");
  EXPECT_EQ(Render("{{len .Args}} {{len .Config.Labels}} {{len .Name}}"), "2 2 4");
  EXPECT_EQ(Render("{{upper .State.Status}} {{lower \"ABC\"}} {{title \"hello big-world\"}}"),
            "RUNNING abc Hello Big-World");
  EXPECT_EQ(Render(R"({{split "a,b,,c" ","}} {{len (split "a:b" ":")}})"), "[a b  c] 2");
  EXPECT_EQ(Render(R"({{index (split .Name "/") 1}})"), "web");
  EXPECT_EQ(Render(R"({{pad .State.Status 1 2}}|{{pad "" 3 3}}|{{truncate .Id 4}})"), " running  ||3f2a");
  EXPECT_EQ(Render(R"({{println .State.Status 1}})"), "running 1\n");
  EXPECT_EQ(Render(R"({{print "a" 1 2 "b"}})"), "a1 2b");
  EXPECT_EQ(Render(R"({{.State.Status | upper | printf "[%s]"}})"), "[RUNNING]");
}

TEST(GoTemplate, Printf) {
  EXPECT_EQ(Render(R"({{printf "%s has pid %d, %v, %q %%" .Name .State.Pid .State.Running .State.Status}})"),
            R"(/web has pid 4242, true, "running" %)");
  EXPECT_EQ(Render(R"({{printf "%-6s|%5d|%05d|%.2f|%.3s" "ab" 42 42 .Ratio "abcdef"}})"),
            "ab    |   42|00042|2.50|abc");
  EXPECT_EQ(Render(R"({{printf "%s %s" "one"}})"), "one %!s(MISSING)");
  EXPECT_EQ(Render(R"({{printf "%d" "x"}})"), "%!d(string=x)");
  EXPECT_EQ(Render(R"({{printf "x" 1}})"), "x%!(EXTRA int=1)");
}

TEST(GoTemplate, IfElseWithGoTruth) {
  EXPECT_EQ(Render("{{if .State.Running}}up{{else}}down{{end}}"), "up");
  EXPECT_EQ(Render("{{if .State.Paused}}p{{else if .State.Running}}r{{else}}x{{end}}"), "r");
  EXPECT_EQ(Render("{{if .State.Paused}}p{{else if .State.Dead}}d{{else}}x{{end}}"), "x");
  for (const char* falsy : {"false", "0", "\"\"", ".Empty", ".Config.Cmd", "0.0"}) {
    EXPECT_EQ(Render(std::string("{{if ") + falsy + "}}T{{else}}F{{end}}"), "F") << falsy;
  }
  for (const char* truthy : {"true", "1", "\"x\"", ".Args", ".Config.Labels", "-1", "0.5"}) {
    EXPECT_EQ(Render(std::string("{{if ") + truthy + "}}T{{else}}F{{end}}"), "T") << truthy;
  }
  EXPECT_EQ(Render("{{with .Config.Labels}}{{.app}}{{end}}"), "web");
  EXPECT_EQ(Render("{{with .Empty}}x{{else}}none{{end}}"), "none");
  EXPECT_EQ(Render("{{with .Empty}}x{{else with .State}}{{.Status}}{{end}}"), "running");
  EXPECT_EQ(Render("{{with $s := .State}}{{$s.Pid}} {{.Status}}{{end}}"), "4242 running");
}

TEST(GoTemplate, Comparisons) {
  EXPECT_EQ(Render(R"({{if eq .State.Status "running"}}yes{{end}})"), "yes");
  EXPECT_EQ(Render(R"({{eq .State.Status "exited" "running"}} {{ne 1 2}} {{lt 1 2.5}} {{ge "b" "a"}})"),
            "true true true true");
  EXPECT_EQ(Render(R"({{not .State.Running}} {{and 1 "" 3}} {{or 0 "" "x"}})"), "false  x");
  EXPECT_THAT(Render(R"({{eq .State.Pid "4242"}})"), HasSubstr("incompatible types"));
  EXPECT_THAT(Render(R"({{eq .Args .Args}})"), HasSubstr("can't compare"));
}

TEST(GoTemplate, Range) {
  EXPECT_EQ(Render("{{range .Mounts}}{{.Destination}} {{end}}"), "/srv /x ");
  EXPECT_EQ(Render("{{range $i, $m := .Mounts}}{{$i}}={{$m.Source}};{{end}}"), "0=/data;1=/etc/x;");
  EXPECT_EQ(Render("{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}},{{end}}"), "app:web,tier:front,");
  EXPECT_EQ(Render("{{range $v := .Config.Labels}}{{$v}} {{end}}"), "web front ");
  EXPECT_EQ(Render("{{range $name, $n := .Networks}}{{$name}}={{$n.IPAddress}} {{end}}"),
            "bridge=10.89.0.2 mynet=10.90.0.3 ");
  EXPECT_EQ(Render("{{range .Empty}}x{{else}}nothing{{end}}"), "nothing");
  EXPECT_EQ(Render("{{range .Config.Cmd}}x{{else}}nil{{end}}"), "nil");
  // $ is still the root inside.
  EXPECT_EQ(Render("{{range .Args}}{{$.Name}}{{end}}"), "/web/web");
  EXPECT_EQ(Render("{{range .Args -}}\n  [{{.}}]\n{{- end}}"), "[-c][sleep 1000]");
}

TEST(GoTemplate, Variables) {
  EXPECT_EQ(Render("{{$n := .Name}}{{$n}} {{$n = \"x\"}}{{$n}}"), "/web x");
  EXPECT_EQ(Render("{{$c := 0}}{{range .Args}}{{$c = .}}{{end}}{{$c}}"), "sleep 1000");
}

TEST(GoTemplate, UnknownFieldIsAnErrorNamingTheField) {
  const std::string out = Render("{{.State.Nope}}");
  EXPECT_THAT(out, HasSubstr("EXEC ERROR: template: 1:3:"));
  EXPECT_THAT(out, HasSubstr("no field \"Nope\" in \".State\""));
  EXPECT_THAT(out, HasSubstr("it has \"Dead\", \"Error\""));  // what it does have
  EXPECT_THAT(Render("{{.State.status}}"), HasSubstr("did you mean \"Status\"?"));
  EXPECT_THAT(Render("{{.Nmae}}"), HasSubstr("did you mean \"Name\"?"));
  // The list of keys is capped.
  json wide = json::object();
  for (int i = 0; i < 30; ++i) wide["Key" + std::to_string(i)] = i;
  EXPECT_THAT(Render("{{.Zzz}}", wide), AllOf(HasSubstr("and 20 more"), Not(HasSubstr("\"Key9\"")) ));
  // Long names are quoted and cut.
  const std::string long_name(500, 'Q');
  const std::string long_out = Render("{{." + long_name + "}}");
  EXPECT_THAT(long_out, HasSubstr("no field \"QQQ"));
  EXPECT_LT(long_out.size(), 400u);
  // A field of something that is no object.
  EXPECT_THAT(Render("{{.Name.First}}"), HasSubstr("can't read field \"First\" of \".Name\": it is a string"));
  EXPECT_THAT(Render("{{.Config.Cmd.X}}"), HasSubstr("it has no value"));
}

TEST(GoTemplate, ParseErrorsNamePositionAndExpectation) {
  EXPECT_EQ(Render("ab {{.Name"), "PARSE ERROR: template: 1:4: unclosed action: expected \"}}\"");
  EXPECT_EQ(Render("x\n  {{if .A}}y"), "PARSE ERROR: template: 2:5: unclosed {{if}}: expected {{end}}");
  EXPECT_THAT(Render("{{end}}"), HasSubstr("1:1: unexpected {{end}}"));
  EXPECT_THAT(Render("{{nosuch .A}}"), HasSubstr("1:3: function \"nosuch\" not defined"));
  EXPECT_THAT(Render("{{.A \"x\"}}"), HasSubstr("1:6: unexpected argument"));
  EXPECT_THAT(Render("{{.A | .B}}"), HasSubstr("after \"|\" a function must follow"));
  EXPECT_THAT(Render("{{$x}}"), HasSubstr("undefined variable \"$x\""));
  EXPECT_THAT(Render("{{\"abc}}"), HasSubstr("unterminated quoted string"));
  EXPECT_THAT(Render("{{(len .A}}"), HasSubstr("unclosed \"(\": expected \")\""));
  EXPECT_THAT(Render("{{}}"), HasSubstr("empty action"));
  EXPECT_THAT(Render("{{if}}{{end}}"), HasSubstr("missing value for {{if}}"));
  EXPECT_THAT(Render("{{range .A}}{{else if .B}}{{end}}"), HasSubstr("after {{else}}"));
  EXPECT_THAT(Render("{{if 1}}{{else}}{{else}}{{end}}"), HasSubstr("a second {{else}}"));
  EXPECT_THAT(Render("{{template \"x\"}}"), HasSubstr("{{template}} is not supported"));
  EXPECT_THAT(Render("{{3x}}"), HasSubstr("bad number syntax"));
  EXPECT_THAT(Render("{{.A}} {{ # }}"), HasSubstr("1:11: unexpected \"#\""));
  EXPECT_THAT(Render("{{/* open"), HasSubstr("unclosed comment"));
}

TEST(GoTemplate, ExecutionErrors) {
  EXPECT_THAT(Render("{{range .Name}}x{{end}}"),
              AllOf(HasSubstr("EXEC ERROR: template: 1:3: range can't iterate over \"/web\""),
                    HasSubstr("a string")));
  EXPECT_THAT(Render("{{range .State.Pid}}x{{end}}"), HasSubstr("range can't iterate over \"4242\""));
  EXPECT_THAT(Render("{{len .State.Pid}}"), HasSubstr("len of int"));
  EXPECT_THAT(Render("{{join .Name \",\"}}"), HasSubstr("join: wants a list"));
  EXPECT_THAT(Render("{{upper .State.Pid}}"), HasSubstr("upper: its argument must be a string"));
  EXPECT_THAT(Render("{{json}}"), HasSubstr("json: wants 1 argument, got 0"));
}

TEST(GoTemplate, WhatATemplateMayAskForIsBounded) {
  EXPECT_EQ(Render(R"({{printf "%999999999999d" 1 | len}})"), "1024");
  EXPECT_EQ(Render(R"({{pad "x" 99999999 0 | len}})"), "1025");
  std::string deep;
  for (int i = 0; i < 500; ++i) deep += "{{if 1}}";
  EXPECT_THAT(Render(deep), HasSubstr("nested too deeply"));
  EXPECT_THAT(Render("{{len " + std::string(500, '(') + "1" + std::string(500, ')') + "}}"),
              HasSubstr("nested too deeply"));
}

TEST(GoTemplate, OutlineNamesTheFirstFieldOfEachAction) {
  absl::StatusOr<GoTemplate> t =
      GoTemplate::Parse("{{.ID}}\t{{$.Names}} {{json .Labels}}\t{{range .Mounts}}{{.X}}{{end}}\t{{\"lit\"}}");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->RenderOutline([](std::string_view f) { return "<" + std::string(f) + ">"; }),
            "<ID>\t<Names> <Labels>\t<Mounts>\t<>");
}

const std::map<std::string, std::string, std::less<>> kPsHeaders = {{"ID", "CONTAINER ID"},
                                                                    {"RunningFor", "CREATED"}};

std::vector<json> PsRows() {
  return {json{{"ID", "3f2a9c1e0b7d"}, {"Names", "web"}, {"RunningFor", "2 minutes ago"}},
          json{{"ID", "a1b2c3d4e5f6"}, {"Names", "a-much-longer-name"}, {"RunningFor", "1 hour ago"}}};
}

TEST(ListFormat, KindsOfFormat) {
  for (const char* table : {"", "table", "table  ", " "}) {
    absl::StatusOr<ListFormat> f = ParseListFormat(table);
    ASSERT_TRUE(f.ok()) << table;
    EXPECT_EQ(f->kind, ListFormat::Kind::kDefaultTable) << table;
  }
  absl::StatusOr<ListFormat> json_format = ParseListFormat("json");
  ASSERT_TRUE(json_format.ok());
  EXPECT_EQ(json_format->kind, ListFormat::Kind::kJson);
  absl::StatusOr<ListFormat> row = ParseListFormat("{{.Names}}");
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(row->kind, ListFormat::Kind::kTemplate);
  EXPECT_FALSE(row->table);
  absl::StatusOr<ListFormat> bad = ParseListFormat("table {{.Names");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("unclosed action"));
}

TEST(ListFormat, RowsAndEscapes) {
  EXPECT_EQ(ExpandFormatEscapes(R"(a\tb\nc\\x)"), "a\tb\nc\\\\x");
  absl::StatusOr<ListFormat> f = ParseListFormat(R"({{.ID}}\t{{.Names}})");
  ASSERT_TRUE(f.ok()) << f.status();
  absl::StatusOr<std::string> out = RenderRows(*f, PsRows(), kPsHeaders);
  ASSERT_TRUE(out.ok()) << out.status();
  // Not a table: tabs stay as they are.
  EXPECT_EQ(*out, "3f2a9c1e0b7d\tweb\na1b2c3d4e5f6\ta-much-longer-name\n");
}

TEST(ListFormat, TableHasHeaderAndAlignedCells) {
  absl::StatusOr<ListFormat> f = ParseListFormat(R"(table {{.ID}}\t{{.Names}}\t{{.RunningFor}})");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(f->table);
  absl::StatusOr<std::string> out = RenderRows(*f, PsRows(), kPsHeaders);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out,
            "CONTAINER ID   NAMES                CREATED\n"
            "3f2a9c1e0b7d   web                  2 minutes ago\n"
            "a1b2c3d4e5f6   a-much-longer-name   1 hour ago\n");
  // No rows: the header alone. No tabs: lines as they are.
  absl::StatusOr<std::string> empty = RenderRows(*f, {}, kPsHeaders);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "CONTAINER ID   NAMES   CREATED\n");
  absl::StatusOr<ListFormat> spaced = ParseListFormat("table {{.Names}}: {{.ID}}");
  ASSERT_TRUE(spaced.ok());
  absl::StatusOr<std::string> plain = RenderRows(*spaced, PsRows(), kPsHeaders);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(*plain, "NAMES: CONTAINER ID\nweb: 3f2a9c1e0b7d\na-much-longer-name: a1b2c3d4e5f6\n");
}

TEST(ListFormat, AnUnknownFieldFailsTheListing) {
  absl::StatusOr<ListFormat> f = ParseListFormat("table {{.ID}}\t{{.Nope}}");
  ASSERT_TRUE(f.ok());
  absl::StatusOr<std::string> out = RenderRows(*f, PsRows(), kPsHeaders);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().message(), AllOf(HasSubstr("template: 1:"), HasSubstr("\"Nope\"")));
}

}  // namespace
}  // namespace berth::cli
