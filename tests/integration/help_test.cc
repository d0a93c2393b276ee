// Help and habits: the manual pages the build generates (one per command CLI11 knows, each
// listing the command's flags, rendered by groff without a warning), `cmake --install` into a
// DESTDIR (programs, pages, completion, the systemd unit under the prefix), and colour, which
// the CLI uses on a terminal only (a pty here) and never with NO_COLOR, TERM=dumb or a pipe.
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/ascii.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/pty_session.h"

namespace berth::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kManDir = BERTH_BUILD_DIR "/man";

// The words of each command path in one case function of the completion script:
//     "network create") echo '-h --help -d --driver' ;;
std::map<std::string, std::vector<std::string>> CaseWords(const std::string& script, const std::string& function) {
  std::map<std::string, std::vector<std::string>> out;
  const size_t begin = script.find(function + "() {");
  const size_t end = script.find("esac", begin);
  if (begin == std::string::npos || end == std::string::npos) return out;
  for (const std::string& line : std::vector<std::string>(absl::StrSplit(script.substr(begin, end - begin), '\n'))) {
    const size_t open = line.find('"');
    const size_t close = line.find("\") echo '");
    if (open == std::string::npos || close == std::string::npos) continue;
    const std::string path = line.substr(open + 1, close - open - 1);
    const size_t words_at = close + 9;
    const std::string words = line.substr(words_at, line.rfind('\'') - words_at);
    out[path] = std::vector<std::string>(absl::StrSplit(words, ' ', absl::SkipEmpty()));
  }
  return out;
}

// An alias's page only sources its command's page (".so man1/berth-network-ls.1", relative to
// the man root): the name of the page that holds the text.
std::string ResolvedPage(const std::string& page_name) {
  const std::string text = ReadText(std::string(kManDir) + "/man1/" + page_name + ".1");
  if (!absl::StartsWith(text, ".so man1/")) return page_name;
  return text.substr(9, text.size() - 9 - 3);  // drop ".so man1/" and ".1\n"
}

// "--no-trunc" as a page shows it: \fB\-\-no\-trunc\fR
std::string RoffFlag(const std::string& flag) { return "\\fB" + absl::StrReplaceAll(flag, {{"-", "\\-"}}) + "\\fR"; }

TEST(ManPages, EveryCommandOfTheCliHasAPageListingItsFlags) {
  // The completion script is generated from the same CLI11 tree: every command path, aliases
  // included, and the flags of each.
  CliResult script = RunProgram({BERTH_CLI_PATH, "completion", "bash"}, "", 30);
  ASSERT_EQ(script.exit_code, 0) << script.err;
  std::map<std::string, std::vector<std::string>> subcommands = CaseWords(script.out, "_berth_subcommands");
  std::map<std::string, std::vector<std::string>> flags = CaseWords(script.out, "_berth_flags");
  std::set<std::string> paths;
  for (const auto& [path, subs] : subcommands) {
    for (const std::string& sub : subs) paths.insert(path.empty() ? sub : path + " " + sub);
  }
  ASSERT_GT(paths.size(), 40u) << script.out;
  ASSERT_TRUE(paths.count("network create") && paths.count("ps") && paths.count("network list"));
  EXPECT_EQ(ResolvedPage("berth-network-list"), "berth-network-ls");
  paths.insert("");
  for (const std::string& path : paths) {
    const std::string alias_name = path.empty() ? "berth" : "berth-" + absl::StrReplaceAll(path, {{" ", "-"}});
    const std::string page_name = ResolvedPage(alias_name);
    const std::string page = ReadText(std::string(kManDir) + "/man1/" + page_name + ".1");
    ASSERT_FALSE(page.empty()) << "no page " << page_name << ".1 for `berth " << path << "`";
    EXPECT_THAT(page, HasSubstr(".SH NAME\n" + absl::StrReplaceAll(page_name, {{"-", "\\-"}}) + " \\- "))
        << page_name;
    EXPECT_THAT(page, HasSubstr(".SH SYNOPSIS\n.B " + absl::StrReplaceAll(page_name, {{"-", " "}}) + "\n"))
        << page_name;
    for (const std::string& flag : flags[path]) {
      EXPECT_THAT(page, HasSubstr(RoffFlag(flag))) << page_name << " does not list " << flag;
    }
  }
  // Nothing hidden gets a page.
  EXPECT_FALSE(fs::exists(std::string(kManDir) + "/man1/berth-__complete.1"));
  EXPECT_FALSE(fs::exists(std::string(kManDir) + "/man1/berth-__man.1"));
}

TEST(ManPages, BerthdPageListsEveryFlagOfItsHelp) {
  CliResult help = RunProgram({BERTHD_PATH, "--help"}, "", 30);
  ASSERT_EQ(help.exit_code, 0) << help.err;
  const std::string page = ReadText(std::string(kManDir) + "/man8/berthd.8");
  ASSERT_THAT(page, HasSubstr(".TH \"BERTHD\" 8"));
  int seen = 0;
  // CLI11's help lists each option on a line of its own: "  -h,--help   Print this ...".
  for (const std::string& line : std::vector<std::string>(absl::StrSplit(help.out, '\n'))) {
    const std::string names(absl::StripLeadingAsciiWhitespace(line));
    if (!absl::StartsWith(names, "-")) continue;
    for (const std::string& name : std::vector<std::string>(absl::StrSplit(names.substr(0, names.find(' ')), ','))) {
      ++seen;
      EXPECT_THAT(page, HasSubstr(RoffFlag(name))) << "berthd.8 does not list " << name;
    }
  }
  EXPECT_GT(seen, 25);
  EXPECT_THAT(page, Not(HasSubstr("generate")));  // the build's own flag stays hidden
  EXPECT_THAT(page, HasSubstr(".SH FILES"));
}

TEST(ManPages, GroffRendersEveryPageWithoutAWarning) {
  int pages = 0;
  for (const char* section : {"man1", "man8"}) {
    for (const fs::directory_entry& e : fs::directory_iterator(std::string(kManDir) + "/" + section)) {
      const std::string relative = std::string(section) + "/" + e.path().filename().string();
      // From the man root, as man(1) does, so that an alias page's .so resolves.
      CliResult r = RunProgram({"/bin/sh", "-c", "cd \"$1\" && groff -man -Tutf8 -ww -z \"$2\"", "sh", kManDir, relative},
                               "", 30);
      EXPECT_EQ(r.exit_code, 0) << relative << ": " << r.err;
      EXPECT_EQ(r.err, "") << relative;
      ++pages;
    }
  }
  EXPECT_GT(pages, 40);
  // And a page reads as a page: the NAME line, the flags with their hyphens.
  CliResult text = RunProgram({"/usr/bin/man", "-l", std::string(kManDir) + "/man1/berth-ps.1"}, "", 30,
                              {"MANWIDTH=200"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("berth-ps - List containers"));
  EXPECT_THAT(text.out, HasSubstr("--no-trunc"));
}

bool Executable(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) == 0111;
}

// `cmake --install` of this very build (nothing is rebuilt) into a fresh DESTDIR.
std::string InstallInto(const std::string& prefix, CliResult& result) {
  char tmpl[] = "/tmp/berth-install-XXXXXX";
  const std::string destdir = ::mkdtemp(tmpl);
  result = RunProgram({"/usr/bin/cmake", "--install", BERTH_BUILD_DIR, "--prefix", prefix}, "", 120,
                      {"DESTDIR=" + destdir});
  return destdir;
}

TEST(Install, PutsProgramsPagesAndUnitUnderThePrefix) {
  CliResult r;
  const std::string destdir = InstallInto("/usr/local", r);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string prefix = destdir + "/usr/local";
  for (const char* program : {"berth", "berthd", "berth-shim", "berth-init", "berth-runtime"}) {
    EXPECT_TRUE(Executable(prefix + "/bin/" + program)) << program;
  }
  for (const char* page : {"man1/berth.1", "man1/berth-run.1", "man1/berth-network-create.1", "man8/berthd.8"}) {
    EXPECT_TRUE(fs::is_regular_file(prefix + "/share/man/" + page)) << page;
  }
  EXPECT_THAT(ReadText(prefix + "/share/bash-completion/completions/berth"), HasSubstr("complete -F _berth berth"));
  const std::string unit = ReadText(prefix + "/lib/systemd/system/berthd.service");
  EXPECT_THAT(unit, HasSubstr("\nExecStart=/usr/local/bin/berthd --config /etc/berth/berthd.toml\n"));
  EXPECT_THAT(unit, HasSubstr("KillMode=process"));
  EXPECT_EQ(ReadText(destdir + "/etc/berth/berthd.toml"), ReadText(BERTH_SOURCE_DIR "/deploy/berthd.toml"));

  // The installed programs run from there: berth, and berthd finds its shim next to itself.
  CliResult version = RunProgram({prefix + "/bin/berth", "--version"}, "", 30);
  EXPECT_EQ(version.exit_code, 0) << version.err;
  EXPECT_THAT(version.out, HasSubstr("berth version " BERTH_VERSION));
  CliResult help = RunProgram({prefix + "/bin/berthd", "--help"}, "", 30);
  EXPECT_EQ(help.exit_code, 0) << help.err;

  // systemd's own check of the unit (syntax, and that ExecStart is an executable). The host
  // has no berthd under /usr/local: the check reads a copy that points into the DESTDIR.
  if (fs::exists("/usr/bin/systemd-analyze")) {
    fs::create_directories(destdir + "/check");
    std::string copy = absl::StrReplaceAll(unit, {{"=/usr/local/bin/berthd", "=" + prefix + "/bin/berthd"}});
    { std::FILE* f = std::fopen((destdir + "/check/berthd.service").c_str(), "w"); std::fputs(copy.c_str(), f); std::fclose(f); }
    CliResult verify = RunProgram({"/usr/bin/systemd-analyze", "verify", "--man=no", destdir + "/check/berthd.service"},
                                  "", 60);
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
    EXPECT_EQ(verify.err, "");
  }
  fs::remove_all(destdir);
}

TEST(Install, AnotherPrefixMovesTheUnitsExecStartAndKeepsAnEditedConfig) {
  CliResult r;
  const std::string destdir = InstallInto("/opt/berth", r);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(ReadText(destdir + "/opt/berth/lib/systemd/system/berthd.service"),
              HasSubstr("\nExecStart=/opt/berth/bin/berthd --config"));
  EXPECT_TRUE(Executable(destdir + "/opt/berth/bin/berthd"));
  // A second install keeps the node's own configuration.
  { std::FILE* f = std::fopen((destdir + "/etc/berth/berthd.toml").c_str(), "w"); std::fputs("root = \"/srv/berth\"\n", f); std::fclose(f); }
  CliResult again = RunProgram({"/usr/bin/cmake", "--install", BERTH_BUILD_DIR, "--prefix", "/opt/berth"}, "", 120,
                               {"DESTDIR=" + destdir});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(ReadText(destdir + "/etc/berth/berthd.toml"), "root = \"/srv/berth\"\n");
  fs::remove_all(destdir);
}

std::vector<std::string> CliArgv(AgentHarness& agent, const std::vector<std::string>& env,
                                 const std::vector<std::string>& args) {
  // env(1) sets the variables for the CLI alone; the pty is its terminal all the same.
  std::vector<std::string> argv = {"/usr/bin/env", "-u", "NO_COLOR"};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.insert(argv.end(), {BERTH_CLI_PATH, "--host", "unix://" + agent.socket()});
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::string OnPty(AgentHarness& agent, const std::vector<std::string>& env, const std::vector<std::string>& args,
                  int* exit_code = nullptr) {
  PtySession s(CliArgv(agent, env, args));
  EXPECT_TRUE(s.ok());
  const int rc = s.Finish();
  if (exit_code != nullptr) *exit_code = rc;
  return s.output();
}

std::string WithoutEscapes(std::string s) {
  for (const std::string esc : {"\033[31m", "\033[32m", "\033[33m", "\033[0m"}) {
    for (size_t at; (at = s.find(esc)) != std::string::npos;) s.erase(at, esc.size());
  }
  return s;
}

TEST(Colour, OnATerminalOnlyAndNeverWithNoColorDumbTermPipesOrFormats) {
  AgentHarness agent;
  agent.Start();
  v1::ContainerConfig up = Busybox({"sleep", "1000"});
  up.set_name("up");
  ASSERT_TRUE(agent.Run(up).ok());
  v1::ContainerConfig failed = Busybox({"sh", "-c", "exit 3"});
  failed.set_name("failed");
  auto f = agent.Run(failed);
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_TRUE(agent.Wait(f->id()).ok());

  const std::string tty = OnPty(agent, {"TERM=xterm"}, {"ps", "-a"});
  EXPECT_THAT(tty, HasSubstr("\033[32mUp ")) << tty;
  EXPECT_THAT(tty, HasSubstr("\033[31mExited (3)")) << tty;
  // Columns are laid out on the visible text: NAMES starts at one offset on every line.
  std::vector<std::string> lines = absl::StrSplit(WithoutEscapes(tty), absl::ByAnyChar("\r\n"), absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << tty;
  const size_t names = lines[0].find("NAMES");
  ASSERT_NE(names, std::string::npos);
  for (size_t i = 1; i < lines.size(); ++i) {
    EXPECT_TRUE(lines[i].substr(names) == "up" || lines[i].substr(names) == "failed") << lines[i];
  }

  int rc = 0;
  const std::string error = OnPty(agent, {"TERM=xterm"}, {"inspect", "nosuch"}, &rc);
  EXPECT_EQ(rc, 125);
  EXPECT_THAT(error, HasSubstr("\033[31mError:\033[0m ")) << error;

  for (const std::vector<std::string>& env : {std::vector<std::string>{"TERM=xterm", "NO_COLOR=1"},
                                              std::vector<std::string>{"TERM=dumb"}}) {
    EXPECT_THAT(OnPty(agent, env, {"ps", "-a"}), Not(HasSubstr("\033["))) << env.back();
    const std::string plain_error = OnPty(agent, env, {"inspect", "nosuch"});
    EXPECT_THAT(plain_error, HasSubstr("Error: ")) << env.back();
    EXPECT_THAT(plain_error, Not(HasSubstr("\033["))) << env.back();
  }
  // NO_COLOR set but empty means nothing.
  EXPECT_THAT(OnPty(agent, {"TERM=xterm", "NO_COLOR="}, {"ps", "-a"}), HasSubstr("\033[32mUp "));
  // --format and JSON are for programs, terminal or not.
  EXPECT_THAT(OnPty(agent, {"TERM=xterm"}, {"ps", "-a", "--format", "{{.Status}}"}), Not(HasSubstr("\033[")));
  EXPECT_THAT(OnPty(agent, {"TERM=xterm"}, {"ps", "-a", "--format", "table {{.Names}}\t{{.Status}}"}),
              Not(HasSubstr("\033[")));
  EXPECT_THAT(OnPty(agent, {"TERM=xterm"}, {"ps", "-a", "-o", "json"}), Not(HasSubstr("\033[")));

  // Through pipes: no colour, whatever TERM says.
  CliResult piped = RunProgram(CliArgv(agent, {"TERM=xterm"}, {"ps", "-a"}), "", 30);
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_THAT(piped.out, HasSubstr("Exited (3)"));
  EXPECT_THAT(piped.out, Not(HasSubstr("\033[")));
  CliResult piped_error = RunProgram(CliArgv(agent, {"TERM=xterm"}, {"inspect", "nosuch"}), "", 30);
  EXPECT_THAT(piped_error.err, HasSubstr("Error: "));
  EXPECT_THAT(piped_error.err, Not(HasSubstr("\033[")));
}

}  // namespace
}  // namespace berth::testing
