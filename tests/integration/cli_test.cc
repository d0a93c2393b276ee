// The real `berth` binary against a real agent: docker-like commands, their output, exit
// codes, JSON, stdin, and interactive sessions on a pseudo terminal.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>
#include "berth/v1/images.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/host_checks.h"
#include "tests/integration/support/pty_session.h"


namespace berth::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr auto kBound = std::chrono::seconds(15);

bool IsIdLine(const std::string& out) {
  return out.size() == 65 && out.back() == '\n' && IsHexId(out.substr(0, 64));
}

std::vector<std::string> CliArgv(AgentHarness& agent, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {BERTH_CLI_PATH, "--host", "unix://" + agent.socket()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// A shell session on the pty: compute 6*7, see 42, exit; the CLI must exit 0.
void ExpectShellSession(PtySession& s) {
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s.ReadUntil("# ")) << "no shell prompt; output: " << s.output();
  size_t mark = s.output().size();
  s.Type("echo $((6*7))\n");
  EXPECT_TRUE(s.ReadUntil("42", mark)) << "output: " << s.output();
  s.Type("exit\n");
  EXPECT_EQ(s.Finish(), 0) << "output: " << s.output();
}

TEST(Cli, RunRmPrintsOutputAndLeavesNothing) {
  AgentHarness agent;
  agent.Start();
  CliResult r = agent.Cli({"run", "--rm", "busybox", "echo", "hello"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello\n");
  // As docker: --rm returns once the container is gone, not before.
  EXPECT_TRUE(ListAll(agent).empty()) << "the --rm container is still listed";
  EXPECT_TRUE(WaitUntil([&] { return DirEntries(ContainersDir(agent)).empty(); }, kBound));
  EXPECT_TRUE(WaitUntil([&] { return ContainerCgroupIds(agent).empty(); }, kBound));
}

// docker's codes for a command that cannot run: 127 not found, 126 not executable; 125 stays
// the CLI's and the agent's own failures (here: no such container).
TEST(Cli, CommandsThatCannotRunExit127And126) {
  AgentHarness agent;
  agent.Start();
  CliResult missing = agent.Cli({"run", "--rm", "busybox", "/no/such-binary"});
  EXPECT_EQ(missing.exit_code, 127) << missing.err;
  EXPECT_THAT(missing.err, HasSubstr("/no/such-binary"));
  CliResult not_executable = agent.Cli({"run", "--rm", "busybox", "/etc/passwd"});
  EXPECT_EQ(not_executable.exit_code, 126) << not_executable.err;

  CliResult run = agent.Cli({"run", "-d", "--name", "web", "busybox", "sleep", "1000"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  CliResult exec_missing = agent.Cli({"exec", "web", "/no/such-binary"});
  EXPECT_EQ(exec_missing.exit_code, 127) << exec_missing.err;
  CliResult exec_not_executable = agent.Cli({"exec", "web", "/etc/passwd"});
  EXPECT_EQ(exec_not_executable.exit_code, 126) << exec_not_executable.err;
  CliResult no_container = agent.Cli({"exec", "nosuch", "true"});
  EXPECT_EQ(no_container.exit_code, 125) << no_container.err;
  CliResult ran = agent.Cli({"exec", "web", "sh", "-c", "exit 3"});
  EXPECT_EQ(ran.exit_code, 3) << ran.err;
}

TEST(Cli, RunPassesTheExitCodeThrough) {
  AgentHarness agent;
  agent.Start();
  CliResult r = agent.Cli({"run", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  auto listed = ListAll(agent);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].state(), v1::EXITED);
  EXPECT_EQ(listed[0].exit_code(), 3);
}

TEST(Cli, DetachedContainerLifecycle) {
  AgentHarness agent;
  agent.Start();
  CliResult run = agent.Cli({"run", "-d", "--name", "web", "--memory", "64m", "busybox", "sleep", "1000"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_TRUE(IsIdLine(run.out)) << "\"" << run.out << "\"";
  const std::string id = run.out.substr(0, 64);

  // PID 1 in the container's pid namespace is the container's command.
  CliResult ps_in = agent.Cli({"exec", "web", "ps"});
  ASSERT_EQ(ps_in.exit_code, 0) << ps_in.err;
  bool pid1_is_sleep = false;
  for (absl::string_view line : absl::StrSplit(ps_in.out, '\n')) {
    std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (!f.empty() && f[0] == "1") pid1_is_sleep = absl::StrContains(line, "sleep 1000");
  }
  EXPECT_TRUE(pid1_is_sleep) << ps_in.out;

  CliResult ps = agent.Cli({"ps"});
  ASSERT_EQ(ps.exit_code, 0) << ps.err;
  EXPECT_THAT(ps.out, HasSubstr("CONTAINER ID"));
  EXPECT_THAT(ps.out, HasSubstr("web"));
  EXPECT_THAT(ps.out, HasSubstr(id.substr(0, 12)));

  CliResult ps_json = agent.Cli({"ps", "-o", "json"});
  ASSERT_EQ(ps_json.exit_code, 0) << ps_json.err;
  auto listed = nlohmann::json::parse(ps_json.out, nullptr, false);
  ASSERT_FALSE(listed.is_discarded()) << ps_json.out;
  ASSERT_TRUE(listed.is_array());
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].value("id", ""), id);
  EXPECT_EQ(listed[0].value("name", ""), "web");
  EXPECT_EQ(listed[0].value("state", ""), "RUNNING");

  CliResult inspect = agent.Cli({"inspect", "web"});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  auto doc = nlohmann::json::parse(inspect.out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << inspect.out;
  ASSERT_TRUE(doc.is_array() && doc.size() == 1) << inspect.out;
  const auto& c = doc[0];
  EXPECT_EQ(c.value("state", ""), "RUNNING");
  ASSERT_TRUE(c.contains("resources")) << inspect.out;
  const auto& memory = c["resources"]["memory_limit_bytes"];
  // Protobuf's JSON mapping writes int64 as a string.
  EXPECT_TRUE(memory == "67108864" || memory == 67108864) << memory;
  // And the limit is real.
  EXPECT_EQ(absl::StripAsciiWhitespace(ReadText(agent.CgroupDir(id, "memory") + "/memory.limit_in_bytes")),
            "67108864");

  CliResult stop = agent.Cli({"stop", "-t", "1", "web"});
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  CliResult inspect2 = agent.Cli({"inspect", "web"});
  ASSERT_EQ(inspect2.exit_code, 0) << inspect2.err;
  auto doc2 = nlohmann::json::parse(inspect2.out, nullptr, false);
  ASSERT_TRUE(!doc2.is_discarded() && doc2.is_array() && doc2.size() == 1) << inspect2.out;
  EXPECT_EQ(doc2[0].value("state", ""), "EXITED");

  // Stopped containers are gone from ps, but not from ps -a.
  CliResult ps_after = agent.Cli({"ps"});
  EXPECT_THAT(ps_after.out, ::testing::Not(HasSubstr("web")));
  CliResult ps_all = agent.Cli({"ps", "-a"});
  EXPECT_THAT(ps_all.out, HasSubstr("web"));

  CliResult rm = agent.Cli({"rm", "web"});
  EXPECT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_TRUE(ListAll(agent).empty());
  CliResult gone = agent.Cli({"inspect", "web"});
  EXPECT_EQ(gone.exit_code, 125);
  EXPECT_THAT(gone.err, HasSubstr("Error:"));
}

// docker restart, and docker start of a stopped container: a new process (new pid) on the
// same root file system, running again with its limits, address and name.
TEST(Cli, RestartAndStartAgain) {
  AgentHarness agent;
  agent.Start();
  CliResult run = agent.Cli({"run", "-d", "--name", "again", "--memory", "64m", "busybox", "sh", "-c",
                             "trap 'exit 0' TERM; echo run >> /runs; sleep 1000 & wait"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string id = run.out.substr(0, 64);
  auto first = agent.Inspect(id);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(Eventually([&] { return agent.Exec(id, {"cat", "/runs"})->out == "run\n"; }));

  CliResult restart = agent.Cli({"restart", "-t", "5", "again"});
  ASSERT_EQ(restart.exit_code, 0) << restart.err;
  auto second = agent.Inspect(id);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->state(), v1::RUNNING);
  EXPECT_NE(second->pid(), first->pid());
  EXPECT_EQ(second->restart_count(), 0) << "a caller's restart is not the policy's";
  EXPECT_EQ(second->network_settings().ip_address(), first->network_settings().ip_address());
  ASSERT_TRUE(Eventually([&] { return agent.Exec(id, {"cat", "/runs"})->out == "run\nrun\n"; }));
  EXPECT_EQ(absl::StripAsciiWhitespace(ReadText(agent.CgroupDir(id, "memory") + "/memory.limit_in_bytes")),
            "67108864");

  ASSERT_EQ(agent.Cli({"stop", "again"}).exit_code, 0);
  EXPECT_EQ(agent.Inspect(id)->exit_code(), 0) << "the trap ran: SIGTERM, not SIGKILL";
  CliResult start = agent.Cli({"start", "again"});
  ASSERT_EQ(start.exit_code, 0) << start.err;
  EXPECT_EQ(agent.Inspect(id)->state(), v1::RUNNING);
  ASSERT_TRUE(Eventually([&] { return agent.Exec(id, {"cat", "/runs"})->out == "run\nrun\nrun\n"; }));
  CliResult twice = agent.Cli({"start", "again"});
  EXPECT_EQ(twice.exit_code, 125);
  EXPECT_THAT(twice.err, HasSubstr("running"));
}

// --stop-signal and --stop-timeout are the container's own: stop without -s/-t uses them.
TEST(Cli, StopSignalAndTimeoutOfTheContainer) {
  AgentHarness agent;
  agent.Start();
  CliResult run = agent.Cli({"run", "-d", "--network", "none", "--stop-signal", "usr1", "--stop-timeout", "30", "busybox",
                             "sh", "-c", "trap 'exit 42' USR1; echo ready; sleep 1000 & wait"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string id = run.out.substr(0, 64);
  auto c = agent.Inspect(id);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->config().stop_signal(), "SIGUSR1");
  EXPECT_EQ(c->config().stop_timeout_seconds(), 30);
  ASSERT_TRUE(Eventually([&] { return agent.Logs(id).value_or("") == "ready\n"; }));
  ASSERT_EQ(agent.Cli({"stop", id}).exit_code, 0);
  EXPECT_EQ(agent.Inspect(id)->exit_code(), 42) << "stopped by its own signal, not SIGTERM nor SIGKILL";

  // A process that ignores the stop signal is killed once the container's grace is over.
  run = agent.Cli({"run", "-d", "--network", "none", "--stop-timeout", "1", "busybox", "sleep", "1000"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string deaf = run.out.substr(0, 64);
  ASSERT_EQ(agent.Cli({"stop", deaf}).exit_code, 0);
  EXPECT_EQ(agent.Inspect(deaf)->exit_code(), 137);

  CliResult bad = agent.Cli({"run", "-d", "--stop-signal", "SIGNOPE", "busybox", "true"});
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_THAT(bad.err, HasSubstr("--stop-signal"));
}

// logs --until: what was written up to a time, not after it.
TEST(Cli, LogsUntilATime) {
  AgentHarness agent;
  agent.Start();
  auto c = agent.Run(Busybox({"sh", "-c", "echo early; sleep 1; echo late"}));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(agent.Wait(c->id()).ok());
  v1::LogsRequest req;
  req.set_id(c->id());
  auto chunks = agent.LogChunks(req);
  ASSERT_TRUE(chunks.ok()) << chunks.status();
  ASSERT_EQ(chunks->size(), 2u);
  const int64_t late_ns = google::protobuf::util::TimeUtil::TimestampToNanoseconds((*chunks)[1].time());
  const std::string until =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E9SZ", absl::FromUnixNanos(late_ns - 1), absl::UTCTimeZone());
  CliResult early = agent.Cli({"logs", "--until", until, c->id()});
  ASSERT_EQ(early.exit_code, 0) << early.err;
  EXPECT_EQ(early.out, "early\n");
  CliResult both = agent.Cli({"logs", "--since", until, c->id()});
  EXPECT_EQ(both.out, "late\n");
  CliResult bad = agent.Cli({"logs", "--until", "someday", c->id()});
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_THAT(bad.err, HasSubstr("--until"));
}

// docker inspect of mixed kinds: a container, an image, a network and a volume in one array, in the
// order asked; --type narrows the lookup.
TEST(Cli, InspectMixedKinds) {
  AgentHarness agent;
  agent.Start();
  auto config = Busybox({"sleep", "1000"});
  config.set_name("box");
  ASSERT_TRUE(agent.Create(config).ok());
  ASSERT_TRUE(agent.CreateNetwork("net1", "10.77.0.0/24").ok());
  ASSERT_EQ(agent.Cli({"volume", "create", "--label", "k=v", "vol1"}).exit_code, 0);
  CliResult all = agent.Cli({"inspect", "net1", "busybox", "box", "vol1"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  auto doc = nlohmann::json::parse(all.out, nullptr, false);
  ASSERT_TRUE(!doc.is_discarded() && doc.is_array() && doc.size() == 4) << all.out;
  EXPECT_EQ(doc[0].value("subnet", ""), "10.77.0.0/24");
  EXPECT_TRUE(doc[1].contains("names") && absl::StrContains(doc[1]["names"].dump(), "busybox")) << doc[1].dump();
  EXPECT_EQ(doc[2].value("name", ""), "box");
  EXPECT_EQ(doc[2].value("state", ""), "CREATED");
  EXPECT_EQ(doc[3].value("driver", ""), "local");
  EXPECT_EQ(doc[3]["labels"].value("k", ""), "v");
  EXPECT_EQ(agent.Cli({"inspect", "--type", "volume", "vol1"}).exit_code, 0);
  CliResult mountpoint = agent.Cli({"inspect", "-f", "{{.Mountpoint}} {{.Labels.k}}", "vol1"});
  EXPECT_EQ(mountpoint.out, doc[3].value("mountpoint", "?") + " v\n") << mountpoint.err;
  CliResult listed = agent.Cli({"volume", "ls", "--format", "table {{.Name}}\t{{.Driver}}"});
  EXPECT_EQ(listed.out, "VOLUME NAME   DRIVER\nvol1          local\n") << listed.err;
  EXPECT_EQ(agent.Cli({"inspect", "--type", "volume", "box"}).exit_code, 125);

  CliResult typed = agent.Cli({"inspect", "--type", "network", "box"});
  EXPECT_EQ(typed.exit_code, 125);
  CliResult missing = agent.Cli({"inspect", "box", "nothing-here"});
  EXPECT_EQ(missing.exit_code, 125);
  EXPECT_THAT(missing.err, HasSubstr("\"nothing-here\""));
  auto partial = nlohmann::json::parse(missing.out, nullptr, false);
  ASSERT_TRUE(!partial.is_discarded() && partial.is_array() && partial.size() == 1) << missing.out;
  ASSERT_TRUE(agent.RemoveNetwork("net1").ok());
}

// run -a: only the streams asked for reach the terminal; the container's log keeps both.
TEST(Cli, RunAttachesOnlyTheStreamsAsked) {
  AgentHarness agent;
  agent.Start();
  CliResult out = agent.Cli({"run", "--name", "a1", "--network", "none", "-a", "stdout", "busybox", "sh", "-c",
                             "echo to-out; echo to-err >&2; exit 3"});
  EXPECT_EQ(out.exit_code, 3);
  EXPECT_EQ(out.out, "to-out\n");
  EXPECT_EQ(out.err, "");
  auto chunks = agent.LogChunks([] {
    v1::LogsRequest r;
    r.set_id("a1");
    return r;
  }());
  ASSERT_TRUE(chunks.ok()) << chunks.status();
  ASSERT_EQ(chunks->size(), 2u);  // not shown is not lost: the log has both streams
  EXPECT_EQ((*chunks)[0].stream() == v1::STDERR ? (*chunks)[0].data() : (*chunks)[1].data(), "to-err\n");
  CliResult err = agent.Cli({"run", "--rm", "--network", "none", "-a", "STDERR", "busybox", "sh", "-c",
                             "echo to-out; echo to-err >&2"});
  EXPECT_EQ(err.exit_code, 0);
  EXPECT_EQ(err.out, "");
  EXPECT_EQ(err.err, "to-err\n");
  CliResult both = agent.Cli({"run", "-d", "-a", "stdout", "busybox", "true"});
  EXPECT_EQ(both.exit_code, 125);
  EXPECT_THAT(both.err, HasSubstr("-a and -d"));
  CliResult bad = agent.Cli({"run", "-a", "stdmiddle", "busybox", "true"});
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_THAT(bad.err, HasSubstr("\"stdmiddle\""));
}

// The completion script, run by a real bash: subcommands and flags from the CLI's own
// definitions, and names of containers, networks and volumes asked from the agent.
TEST(Cli, BashCompletionOffersCommandsFlagsAndTheAgentsNames) {
  AgentHarness agent;
  agent.Start();
  auto config = Busybox({"true"});
  config.set_name("compl-box");
  ASSERT_TRUE(agent.Create(config).ok());
  ASSERT_EQ(agent.Cli({"volume", "create", "compl-vol"}).exit_code, 0);
  CliResult script = agent.Cli({"completion", "bash"});
  ASSERT_EQ(script.exit_code, 0) << script.err;
  const std::string script_path = agent.dir() + "/berth.bash";
  std::ofstream(script_path) << script.out;
  const std::string bin_dir = std::filesystem::path(BERTH_CLI_PATH).parent_path().string();
  auto complete = [&](const std::string& words, int cword) {
    const std::string program = "export PATH=" + bin_dir + ":$PATH BERTH_HOST=unix://" + agent.socket() +
                                "; source " + script_path + "; COMP_WORDS=(" + words + "); COMP_CWORD=" +
                                std::to_string(cword) + "; _berth; printf '%s\\n' \"${COMPREPLY[@]}\"";
    CliResult r = agent.RunInHost({"/bin/bash", "-c", program});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  };
  EXPECT_EQ(complete("berth vol", 1), "volume\n");
  EXPECT_EQ(complete("berth volume r", 2), "rm\nremove\n");
  EXPECT_THAT(complete("berth run --det", 2), HasSubstr("--detach\n"));
  EXPECT_EQ(complete("berth rm compl", 2), "compl-box\n");
  EXPECT_EQ(complete("berth volume rm comp", 3), "compl-vol\n");
  EXPECT_EQ(complete("berth network inspect br", 3), "bridge\n");
  EXPECT_EQ(complete("berth __com", 1), "\n");  // the hidden helper is not offered (no words)
  CliResult zsh = agent.Cli({"completion", "zsh"});
  EXPECT_EQ(zsh.exit_code, 0);
  EXPECT_THAT(zsh.out, HasSubstr("bashcompinit"));
  EXPECT_EQ(agent.Cli({"completion", "fish"}).exit_code, 125);
}

// --format: docker-style templates on inspect, ps, images and network ls, each value checked
// against what the agent itself reports over the API.
TEST(Cli, FormatTemplates) {
  AgentHarness agent;
  agent.Start();
  CliResult run = agent.Cli({"run", "-d", "--name", "fmt", "--label", "app=web", "--label", "tier=front",
                             "busybox", "sleep", "1000"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  ASSERT_TRUE(IsIdLine(run.out)) << run.out;
  const std::string id = run.out.substr(0, 64);
  absl::StatusOr<v1::Container> c = agent.Inspect(id);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->state(), v1::RUNNING);

  // inspect -f: docker's shape, and the proto's own field names beside it.
  CliResult status = agent.Cli({"inspect", "-f", "{{.State.Status}}", "fmt"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(status.out, "running\n");
  CliResult facts = agent.Cli({"inspect", "--format", "{{.State.Pid}} {{.Id}} {{.Name}} {{.state}} {{.Path}}", "fmt"});
  EXPECT_EQ(facts.exit_code, 0) << facts.err;
  ASSERT_GE(c->command_size(), 1);
  EXPECT_EQ(facts.out, absl::StrCat(c->pid(), " ", id, " /fmt RUNNING ", c->command(0), "\n"));
  CliResult labels = agent.Cli({"inspect", "-f", "{{json .Config.Labels}}", "fmt"});
  ASSERT_EQ(labels.exit_code, 0) << labels.err;
  auto labels_json = nlohmann::json::parse(labels.out, nullptr, false);
  ASSERT_TRUE(labels_json.is_object()) << labels.out;
  nlohmann::json expected_labels = nlohmann::json::object();
  for (const auto& [k, v] : c->labels()) expected_labels[k] = v;
  EXPECT_EQ(labels_json, expected_labels);
  EXPECT_EQ(labels_json.value("app", ""), "web");
  CliResult ranged = agent.Cli({"inspect", "-f", "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", "fmt"});
  EXPECT_EQ(ranged.out, "app=web;tier=front;\n") << ranged.err;

  // ps --format: rows with docker's field names, the table's values.
  CliResult names = agent.Cli({"ps", "--format", "{{.Names}}"});
  EXPECT_EQ(names.exit_code, 0) << names.err;
  EXPECT_EQ(names.out, c->name() + "\n");
  CliResult row = agent.Cli({"ps", "--format", "{{.ID}} {{.State}} {{index .LabelsMap \"tier\"}} {{.Labels}}"});
  EXPECT_EQ(row.out, id.substr(0, 12) + " running front app=web,tier=front\n") << row.err;
  CliResult table = agent.Cli({"ps", "--format", "table {{.ID}}\\t{{.Names}}\\t{{.Image}}"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  std::vector<std::string> rows = absl::StrSplit(table.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(rows.size(), 2u) << table.out;
  EXPECT_THAT(rows[0], ::testing::MatchesRegex("CONTAINER ID +NAMES +IMAGE"));
  EXPECT_THAT(rows[1], ::testing::MatchesRegex(id.substr(0, 12) + " +fmt +" + c->image()));
  // `table` alone is the default table, and --format json is -o json.
  EXPECT_EQ(agent.Cli({"ps", "--format", "table"}).out.substr(0, 12), "CONTAINER ID");
  auto listed = nlohmann::json::parse(agent.Cli({"ps", "--format", "json"}).out, nullptr, false);
  ASSERT_TRUE(listed.is_array() && listed.size() == 1) << listed;
  EXPECT_EQ(listed[0].value("id", ""), id);

  // images --format, against the agent's own list.
  CliResult images = agent.Cli({"images", "--format", "{{.Repository}}:{{.Tag}}"});
  ASSERT_EQ(images.exit_code, 0) << images.err;
  auto image_stub = v1::Images::NewStub(agent.channel());
  v1::ListImagesResponse image_list;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(image_stub->List(&ctx, v1::ListImagesRequest(), &image_list).ok());
  }
  std::set<std::string> want_images;
  for (const v1::Image& image : image_list.images()) {
    for (const std::string& name : image.names()) want_images.insert(name);
  }
  std::vector<std::string> image_lines = absl::StrSplit(images.out, '\n', absl::SkipEmpty());
  EXPECT_EQ(std::set<std::string>(image_lines.begin(), image_lines.end()), want_images) << images.out;
  EXPECT_TRUE(want_images.count("busybox:latest")) << images.out;

  // network ls --format, against the agent's networks, by name.
  ASSERT_TRUE(agent.CreateNetwork("fmtnet", "10.78.0.0/24").ok());
  absl::StatusOr<std::vector<v1::Network>> networks = agent.ListNetworks();
  ASSERT_TRUE(networks.ok()) << networks.status();
  std::string want_networks;
  std::vector<std::string> network_names;
  for (const v1::Network& n : *networks) network_names.push_back(n.name() + " " + n.id().substr(0, 12));
  std::sort(network_names.begin(), network_names.end());
  for (const std::string& n : network_names) want_networks += n + "\n";
  CliResult network_ls = agent.Cli({"network", "ls", "--format", "{{.Name}} {{.ID}}"});
  EXPECT_EQ(network_ls.exit_code, 0) << network_ls.err;
  EXPECT_EQ(network_ls.out, want_networks);
  EXPECT_THAT(agent.Cli({"network", "ls", "--format", "{{.Name}}"}).out, HasSubstr("fmtnet\n"));

  // An unknown field fails (125), naming the field and what there is; so does bad syntax.
  CliResult unknown = agent.Cli({"inspect", "-f", "{{.State.Nope}}", "fmt"});
  EXPECT_EQ(unknown.exit_code, 125);
  EXPECT_THAT(unknown.err, HasSubstr("template: 1:3: no field \"Nope\" in \".State\""));
  EXPECT_THAT(unknown.err, HasSubstr("\"Pid\""));
  EXPECT_EQ(unknown.out, "");
  CliResult ps_unknown = agent.Cli({"ps", "--format", "{{.Name}}"});
  EXPECT_EQ(ps_unknown.exit_code, 125);
  EXPECT_THAT(ps_unknown.err, HasSubstr("did you mean \"Names\"?"));
  CliResult bad = agent.Cli({"images", "--format", "{{.Repository"});
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_THAT(bad.err, HasSubstr("unclosed action"));
  ASSERT_TRUE(agent.RemoveNetwork("fmtnet").ok());
}

TEST(Cli, LogsPrintsOutput) {
  AgentHarness agent;
  agent.Start();
  CliResult run = agent.Cli({"run", "-d", "--name", "talker", "busybox", "sh", "-c", "echo line1; echo line2 >&2; echo line3"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  auto w = agent.Wait("talker", 30);
  ASSERT_TRUE(w.ok()) << w.status();
  CliResult logs = agent.Cli({"logs", "talker"});
  EXPECT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_EQ(logs.out, "line1\nline3\n");
  EXPECT_EQ(logs.err, "line2\n");
  // Lines of one stream keep their order; --tail counts from the end.
  CliResult counter = agent.Cli({"run", "--name", "counter", "busybox", "sh", "-c", "echo a; echo b; echo c"});
  ASSERT_EQ(counter.exit_code, 0) << counter.err;
  CliResult tail = agent.Cli({"logs", "-n", "2", "counter"});
  EXPECT_EQ(tail.exit_code, 0) << tail.err;
  EXPECT_EQ(tail.out, "b\nc\n");
  CliResult missing = agent.Cli({"logs", "nosuch"});
  EXPECT_EQ(missing.exit_code, 125);
  EXPECT_THAT(missing.err, HasSubstr("nosuch"));
}

TEST(Cli, AgentErrorExits125WithMessage) {
  AgentHarness agent;
  agent.Start();
  CliResult r = agent.Cli({"start", "nosuch"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_THAT(r.err, StartsWith("Error:"));
  EXPECT_THAT(r.err, HasSubstr("nosuch"));
  EXPECT_TRUE(r.out.empty()) << r.out;

  CliResult bad = agent.Cli({"run", "--name", "-bad", "busybox", "true"});
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_THAT(bad.err, HasSubstr("Error:"));
  EXPECT_THAT(bad.err, HasSubstr("-bad"));
  EXPECT_TRUE(ListAll(agent).empty());

  // No agent at all is the CLI's failure too.
  agent.Kill(SIGKILL);
  CliResult down = agent.Cli({"ps"}, "", 30);
  EXPECT_EQ(down.exit_code, 125);
  EXPECT_THAT(down.err, HasSubstr("Error:"));
  // run and exec try the socket without gRPC first; a dead socket still gets gRPC's wording.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"run", "--rm", "busybox", "true"}, std::vector<std::string>{"exec", "web", "true"}}) {
    CliResult r = agent.Cli(args, "", 30);
    EXPECT_EQ(r.exit_code, 125) << args[0] << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("cannot connect to the Berth agent at unix://" + agent.socket() +
                                 " (is berthd running?)"))
        << args[0];
  }
}

// A shell script that starts `command` in the background, waits until `ready` succeeds, prints
// the number of threads of that command's process, runs `go` (which lets it finish) and prints
// "exit N" with its exit status.
std::string ThreadCountScript(const std::string& command, const std::string& ready, const std::string& go) {
  return absl::StrCat(command, " & pid=$!\n", "until ", ready, "; do sleep 0.05; done\n",
                      "ls /proc/$pid/task | wc -l\n", go, "\n", "wait $pid; echo \"exit $?\"\n");
}

// run and exec without -i or -t read the container's output over the unix socket without
// starting gRPC's core (cli/unix_grpc_call.h), which runs threads of its own: the CLI has its
// main thread and the signal router's, nothing more, while the container's command runs.
TEST(Cli, RunAndExecWithoutStdinStartNoGrpcThreads) {
  AgentHarness agent;
  agent.Start();
  CliResult web = agent.Cli({"run", "-d", "--name", "web", "busybox", "sleep", "1000"});
  ASSERT_EQ(web.exit_code, 0) << web.err;
  const std::string cli = absl::StrCat(BERTH_CLI_PATH, " --host unix://", agent.socket());
  // Each command waits in its container for the test's go; meanwhile its CLI's threads are
  // counted.
  CliResult exec = RunProgram(
      {"/bin/sh", "-c",
       ThreadCountScript(cli + " exec web sh -c 'touch /tmp/exec; until test -e /tmp/go-exec; do sleep 0.05; done; exit 7'",
                         cli + " exec web test -e /tmp/exec", cli + " exec web touch /tmp/go-exec")},
      "", 60);
  EXPECT_EQ(exec.out, "2\nexit 7\n") << exec.err;
  // run: its container is ready once an exec into it works.
  CliResult run = RunProgram(
      {"/bin/sh", "-c",
       ThreadCountScript(cli + " run --rm --name marker busybox sh -c 'until test -e /go; do sleep 0.05; done; exit 5'",
                         cli + " exec marker true 2>/dev/null", cli + " exec marker touch /go")},
      "", 60);
  EXPECT_EQ(run.out, "2\nexit 5\n") << run.err;
}

TEST(Cli, RunInteractiveCopiesStdin) {
  AgentHarness agent;
  agent.Start();
  CliResult r = agent.Cli({"run", "-i", "--rm", "busybox", "cat"}, "hi\n");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hi\n");
  EXPECT_TRUE(WaitUntil([&] { return ListAll(agent).empty(); }, kBound));
}

TEST(Cli, RunTtyInteractiveShellOnPty) {
  AgentHarness agent;
  agent.Start();
  PtySession session(CliArgv(agent, {"run", "-it", "--name", "shell", "busybox", "sh"}));
  ExpectShellSession(session);
  auto c = agent.Inspect("shell");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->state(), v1::EXITED);
  EXPECT_EQ(c->exit_code(), 0);
}

// ctrl-p ctrl-q leaves an -it session with the container still running; berth attach comes
// back to it (the same shell: what was typed before is still its state) and, after a detach
// with custom keys, an exit ends the attach with the container's code.
TEST(Cli, DetachKeysAndAttach) {
  AgentHarness agent;
  agent.Start();
  {
    PtySession run(CliArgv(agent, {"run", "-it", "--name", "shell", "busybox", "sh"}));
    ASSERT_TRUE(run.ok());
    ASSERT_TRUE(run.ReadUntil("# ")) << run.output();
    run.Type("X=kept\n");
    run.Type("\x10\x11");
    EXPECT_EQ(run.Finish(), 0) << run.output();
    EXPECT_THAT(run.output(), HasSubstr("Detached"));
  }
  auto c = agent.Inspect("shell");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->state(), v1::RUNNING) << "a detach leaves the container running";
  {
    PtySession attach(CliArgv(agent, {"attach", "--detach-keys", "ctrl-a,d", "shell"}));
    ASSERT_TRUE(attach.ok());
    attach.Type("echo value=$X\n");
    ASSERT_TRUE(attach.ReadUntil("value=kept")) << attach.output();
    // ctrl-a d: the keys this attach was given.
    attach.Type("\x01" "d");
    EXPECT_EQ(attach.Finish(), 0) << attach.output();
  }
  EXPECT_EQ(agent.Inspect("shell")->state(), v1::RUNNING);
  {
    PtySession attach(CliArgv(agent, {"attach", "shell"}));
    ASSERT_TRUE(attach.ok());
    attach.Type("exit 7\n");
    EXPECT_EQ(attach.Finish(), 7) << attach.output();
  }
  EXPECT_EQ(agent.Inspect("shell")->state(), v1::EXITED);
  CliResult stopped = agent.Cli({"attach", "shell"});
  EXPECT_EQ(stopped.exit_code, 125);
  EXPECT_THAT(stopped.err, HasSubstr("not running"));
}

TEST(Cli, RunTtyNamesTheContainersOwnTerminal) {
  AgentHarness agent;
  agent.Start();
  PtySession session(CliArgv(agent, {"run", "-t", "--rm", "busybox", "tty"}));
  ASSERT_TRUE(session.ok());
  EXPECT_EQ(session.Finish(), 0) << "output: " << session.output();
  EXPECT_THAT(session.output(), HasSubstr("/dev/pts/0"));
  EXPECT_THAT(session.output(), Not(HasSubstr("not a tty")));
}

TEST(Cli, ExecTtyInteractiveShellOnPty) {
  AgentHarness agent;
  agent.Start();
  CliResult run = agent.Cli({"run", "-d", "--name", "web", "busybox", "sleep", "1000"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  PtySession session(CliArgv(agent, {"exec", "-it", "web", "sh"}));
  ExpectShellSession(session);
  auto c = agent.Inspect("web");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->state(), v1::RUNNING);
}

// top lists exactly the processes in the container's cgroup, with their commands.
TEST(Cli, TopListsTheContainersProcesses) {
  AgentHarness agent;
  agent.Start();
  CliResult run = agent.Cli({"run", "-d", "--name", "busy", "busybox", "sh", "-c", "sleep 1001 & sleep 1002"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::string id = std::string(absl::StripAsciiWhitespace(run.out));
  std::string procs_file = agent.CgroupDir(id, "pids") + "/cgroup.procs";
  ASSERT_TRUE(WaitUntil([&] { return absl::StrContains(agent.Cli({"top", "busy"}).out, "sleep 1001"); }, kBound));
  CliResult top = agent.Cli({"top", "busy"});
  ASSERT_EQ(top.exit_code, 0) << top.err;
  EXPECT_THAT(top.out, StartsWith("UID "));
  // busybox sh execs its last command: init is `sleep 1002`, the parent of `sleep 1001`.
  EXPECT_THAT(top.out, HasSubstr("sleep 1001\n"));
  EXPECT_THAT(top.out, HasSubstr("sleep 1002\n"));
  // The pids are the cgroup's, as the node numbers them.
  std::vector<std::string> lines = absl::StrSplit(absl::StripTrailingAsciiWhitespace(top.out), '\n');
  std::set<std::string> shown;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> cells = absl::StrSplit(lines[i], ' ', absl::SkipEmpty());
    ASSERT_GE(cells.size(), 7u) << lines[i];
    shown.insert(cells[1]);
  }
  std::vector<std::string> in_cgroup = absl::StrSplit(absl::StripTrailingAsciiWhitespace(ReadText(procs_file)), '\n');
  EXPECT_EQ(shown, std::set<std::string>(in_cgroup.begin(), in_cgroup.end()));

  CliResult missing = agent.Cli({"top", "nosuch"});
  EXPECT_EQ(missing.exit_code, 125);
  ASSERT_EQ(agent.Cli({"rm", "-f", "busy"}).exit_code, 0);
}

// --env-file and --label-file reach the container and its record; -e and --label override.
TEST(Cli, EnvAndLabelFilesReachTheContainer) {
  AgentHarness agent;
  agent.Start();
  char dir_template[] = "/tmp/berth-cli-env-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  {
    std::ofstream(dir + "/app.env") << "# settings\nGREETING=hello from a file\nLEVEL=file\n";
    std::ofstream(dir + "/labels") << "tier=web\n";
  }
  CliResult r = agent.Cli({"run", "--name", "envy", "--env-file", dir + "/app.env", "-e", "LEVEL=flag", "--label-file",
                           dir + "/labels", "busybox", "sh", "-c", "echo \"$GREETING/$LEVEL\""});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello from a file/flag\n");
  auto c = agent.Inspect("envy");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->config().labels().at("tier"), "web");
  CliResult missing = agent.Cli({"run", "--rm", "--env-file", dir + "/nope", "busybox", "true"});
  EXPECT_EQ(missing.exit_code, 125);
  EXPECT_THAT(missing.err, HasSubstr(dir + "/nope"));
  std::filesystem::remove_all(dir);
}

// container prune removes the exited containers and only those.
TEST(Cli, ContainerPruneRemovesOnlyExitedContainers) {
  AgentHarness agent;
  agent.Start();
  ASSERT_EQ(agent.Cli({"run", "--name", "done1", "busybox", "true"}).exit_code, 0);
  ASSERT_EQ(agent.Cli({"run", "--name", "done2", "busybox", "sh", "-c", "exit 3"}).exit_code, 3);
  ASSERT_EQ(agent.Cli({"run", "-d", "--name", "alive", "busybox", "sleep", "1000"}).exit_code, 0);
  ASSERT_EQ(agent.Cli({"create", "--name", "fresh", "busybox", "true"}).exit_code, 0);
  CliResult declined = agent.Cli({"container", "prune"}, "n\n");
  EXPECT_EQ(declined.exit_code, 0) << declined.err;
  EXPECT_EQ(ListAll(agent).size(), 4u);
  CliResult pruned = agent.Cli({"container", "prune", "-f"});
  EXPECT_EQ(pruned.exit_code, 0) << pruned.err;
  EXPECT_THAT(pruned.out, StartsWith("Deleted Containers:\n"));
  std::vector<std::string> names;
  for (const v1::Container& c : ListAll(agent)) names.push_back(c.name());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"alive", "fresh"}));
  ASSERT_EQ(agent.Cli({"rm", "-f", "alive", "fresh"}).exit_code, 0);
}

TEST(Cli, VersionShowsApiVersion) {
  AgentHarness agent;
  agent.Start();
  CliResult r = agent.Cli({"version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("berth.v1"));
  EXPECT_THAT(r.out, HasSubstr("Server:"));
  EXPECT_THAT(r.out, HasSubstr("Cgroup driver:"));
}

}  // namespace
}  // namespace berth::testing
