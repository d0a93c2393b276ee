// README.md walked line by line: every shell block of the tutorial runs, in order, against a
// fresh agent (started as `make run` starts it: no extra flags), through the real `berth` on
// PATH, one `sh -c` per command line, so the README cannot drift from what works.
//
// The conventions the README follows (its top comment says the same):
// - A fenced block whose info string is sh, shell, bash or empty is a list of commands. A
//   block that cannot run in a test (it builds, needs another machine, a tool that is not
//   installed, the internet, or a person at a terminal) is preceded by
//   `<!-- walkthrough: skip (why) -->`. A block that is neither runs and must pass.
// - A command line ends at its first unquoted ` #`; a `\` at the end continues it. In the
//   comment, `prints TEXT` (up to a `;`) means stdout contains TEXT, `exits N` that it exits with N (else
//   0), and `until ^C` that it keeps running: the walk stops it after a few seconds and
//   fails it if it ended by itself.
//
// Each line runs in a scratch directory, inside the agent's test host network namespace, with
// BERTH_HOST naming the agent and HOME the scratch directory. The walk stops at the first
// failing line (the next ones usually depend on it). Afterwards every container, volume,
// network and image the walk made is removed, whether it passed or not; the harness then
// checks that nothing of the agent is left.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/integration/support/agent_harness.h"

namespace berth::testing {
namespace {

constexpr int kLineTimeoutSeconds = 30;  // a bound for a line that hangs, not a speed check
constexpr int kFollowSeconds = 3;        // how long an `until ^C` line runs before it is stopped

struct CommandLine {
  int readme_line = 0;  // where it starts in README.md
  std::string command;  // continuations joined, comment removed
  std::string comment;
};

struct Block {
  int readme_line = 0;  // the opening fence
  std::string info;
  std::optional<std::string> skip_reason;
  std::vector<CommandLine> commands;
};

// The comment part of a shell line: from the first ` #` (or a leading #) outside quotes.
size_t CommentStart(const std::string& line) {
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote) {
      if (c == quote) quote = 0;
      else if (c == '\\' && quote == '"') ++i;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '\\') {
      ++i;
    } else if (c == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) {
      return i;
    }
  }
  return std::string::npos;
}

bool IsShellInfo(const std::string& info) {
  return info.empty() || info == "sh" || info == "shell" || info == "bash";
}

std::vector<Block> ParseBlocks(const std::string& markdown) {
  static const std::regex kSkip(R"(^<!--\s*walkthrough:\s*skip\s*\((.+)\)\s*-->$)");
  std::vector<std::string> lines = absl::StrSplit(markdown, '\n');
  std::vector<Block> blocks;
  std::optional<std::string> pending_skip;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string line(absl::StripAsciiWhitespace(lines[i]));
    std::smatch m;
    if (std::regex_match(line, m, kSkip)) {
      pending_skip = m[1].str();
      continue;
    }
    if (!absl::StartsWith(line, "```")) {
      if (!line.empty()) pending_skip.reset();  // a marker belongs to the block right after it
      continue;
    }
    Block block;
    block.readme_line = static_cast<int>(i + 1);
    block.info = std::string(absl::StripAsciiWhitespace(line.substr(3)));
    block.skip_reason = pending_skip;
    pending_skip.reset();
    CommandLine current;
    for (++i; i < lines.size() && !absl::StartsWith(absl::StripLeadingAsciiWhitespace(lines[i]), "```"); ++i) {
      std::string text = lines[i];
      if (current.command.empty()) current.readme_line = static_cast<int>(i + 1);
      size_t hash = CommentStart(text);
      std::string comment = hash == std::string::npos ? "" : text.substr(hash + 1);
      std::string code(absl::StripAsciiWhitespace(text.substr(0, hash)));
      if (!comment.empty()) absl::StrAppend(&current.comment, current.comment.empty() ? "" : " ",
                                            absl::StripAsciiWhitespace(comment));
      bool continued = absl::EndsWith(code, "\\");
      if (continued) code = std::string(absl::StripAsciiWhitespace(code.substr(0, code.size() - 1)));
      if (!code.empty()) absl::StrAppend(&current.command, current.command.empty() ? "" : " ", code);
      if (!continued) {
        if (!current.command.empty()) block.commands.push_back(current);
        current = CommandLine{};
      }
    }
    blocks.push_back(std::move(block));
  }
  return blocks;
}

std::string QuoteForSh(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::vector<std::string> Words(const std::string& text) {
  std::vector<std::string> words = absl::StrSplit(text, absl::ByAnyChar(" \n\t"), absl::SkipEmpty());
  return words;
}

class ReadmeWalkthroughTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(agent_.Start());
    work_ = agent_.dir() + "/walk";
    std::filesystem::create_directories(work_ + "/bin");
    std::filesystem::create_directories(work_ + "/home");
    std::filesystem::create_symlink(BERTH_CLI_PATH, work_ + "/bin/berth");
    CliResult images = agent_.Cli({"images", "-q"});
    ASSERT_EQ(images.exit_code, 0) << images.err;
    for (const std::string& id : Words(images.out)) images_before_.insert(id);
  }

  // Everything the walk made goes, whatever state it stopped in.
  void TearDown() override {
    for (const std::string& id : Words(agent_.Cli({"ps", "-a", "-q"}).out)) {
      CliResult rm = agent_.Cli({"rm", "-f", "-v", id});
      EXPECT_EQ(rm.exit_code, 0) << "cleanup: rm " << id << ": " << rm.err;
    }
    for (const std::string& name : Words(agent_.Cli({"volume", "ls", "-q"}).out)) {
      CliResult rm = agent_.Cli({"volume", "rm", "-f", name});
      EXPECT_EQ(rm.exit_code, 0) << "cleanup: volume rm " << name << ": " << rm.err;
    }
    auto networks = agent_.ListNetworks();
    ASSERT_TRUE(networks.ok()) << networks.status();
    for (const v1::Network& network : *networks) {
      if (network.name() == "bridge" || network.name() == "host" || network.name() == "none") continue;
      EXPECT_TRUE(agent_.RemoveNetwork(network.name()).ok()) << "cleanup: network " << network.name();
    }
    for (const std::string& id : Words(agent_.Cli({"images", "-q"}).out)) {
      if (images_before_.count(id)) continue;
      CliResult rm = agent_.Cli({"image", "rm", "-f", id});
      EXPECT_EQ(rm.exit_code, 0) << "cleanup: image rm " << id << ": " << rm.err;
    }
    std::error_code ignored;
    std::filesystem::remove_all(work_, ignored);
  }

  // Runs one README line; returns a description of what went wrong, empty if it did as told.
  std::string RunLine(const CommandLine& line) {
    static const std::regex kExits(R"(\bexits (\d+)\b)");
    static const std::regex kPrints(R"(\bprints ([^;]+))");
    std::smatch m;
    int want_status = std::regex_search(line.comment, m, kExits) ? std::stoi(m[1].str()) : 0;
    std::string want_out = std::regex_search(line.comment, m, kPrints)
                               ? std::string(absl::StripAsciiWhitespace(m[1].str())) : "";
    bool follows = absl::StrContains(line.comment, "until ^C");
    // timeout(1) signals the whole process group (a pipeline, a CLI waiting on a stream).
    int seconds = follows ? kFollowSeconds : kLineTimeoutSeconds;
    std::vector<std::string> argv = {
        "/usr/bin/timeout", "-k", "5", std::to_string(seconds), "/bin/sh", "-c",
        absl::StrCat("cd ", QuoteForSh(work_), " && ", line.command)};
    std::string path = absl::StrCat(work_, "/bin:", std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin");
    CliResult r = RunProgram(argv, "", seconds + 10,
                             {"PATH=" + path, "BERTH_HOST=unix://" + agent_.socket(), "HOME=" + work_ + "/home"},
                             agent_.netns_fd());
    std::string what = absl::StrCat("README.md:", line.readme_line, ": ", line.command, "\nexit ", r.exit_code,
                                    "\nstdout:\n", r.out, "\nstderr:\n", r.err);
    if (follows) {
      if (r.exit_code != 124) return absl::StrCat("ended by itself (until ^C: it should keep running)\n", what);
    } else if (r.exit_code == 124) {
      return absl::StrCat("still running after ", seconds, " s\n", what);
    } else if (r.exit_code != want_status) {
      return absl::StrCat("exit status ", r.exit_code, ", want ", want_status, "\n", what);
    }
    if (!want_out.empty() && !absl::StrContains(r.out, want_out)) {
      return absl::StrCat("stdout lacks \"", want_out, "\"\n", what);
    }
    return "";
  }

  AgentHarness agent_;
  std::string work_;
  std::set<std::string> images_before_;
};

TEST_F(ReadmeWalkthroughTest, EveryTutorialLineWorks) {
  std::ifstream in(BERTH_README_PATH);
  ASSERT_TRUE(in) << "cannot read " << BERTH_README_PATH;
  std::stringstream text;
  text << in.rdbuf();
  std::vector<Block> blocks = ParseBlocks(text.str());

  int ran = 0;
  for (const Block& block : blocks) {
    if (!IsShellInfo(block.info)) continue;
    if (block.skip_reason) continue;
    for (const CommandLine& line : block.commands) {
      std::string failure = RunLine(line);
      ASSERT_TRUE(failure.empty()) << failure;
      ++ran;
    }
  }
  // The walk proves nothing if the README's blocks were all skipped or not found.
  EXPECT_GE(ran, 20) << "too few README lines ran";
}

// The parser on a small README: what runs, what is skipped, comments and continuations.
TEST(ReadmeWalkthroughParse, MarkersCommentsAndContinuations) {
  std::vector<Block> blocks = ParseBlocks(
      "text\n<!-- walkthrough: skip (needs a cluster) -->\n\n```sh\nmake run\n```\n"
      "```sh\nberth run --rm busybox echo hi   # prints hi\n"
      "berth inspect -f '{{.Name}} # not a comment' x \\\n  --y   # exits 3\n```\n"
      "```toml\nkey = 1\n```\n");
  ASSERT_EQ(blocks.size(), 3u);
  EXPECT_EQ(blocks[0].skip_reason.value_or(""), "needs a cluster");
  EXPECT_FALSE(blocks[1].skip_reason.has_value());
  ASSERT_EQ(blocks[1].commands.size(), 2u);
  EXPECT_EQ(blocks[1].commands[0].command, "berth run --rm busybox echo hi");
  EXPECT_EQ(blocks[1].commands[0].comment, "prints hi");
  EXPECT_EQ(blocks[1].commands[1].command, "berth inspect -f '{{.Name}} # not a comment' x --y");
  EXPECT_EQ(blocks[1].commands[1].comment, "exits 3");
  EXPECT_EQ(blocks[1].commands[1].readme_line, 9);
  EXPECT_FALSE(IsShellInfo(blocks[2].info));
}

}  // namespace
}  // namespace berth::testing
