// The real `berth` image commands against a real agent and a registry in its test host:
// pull (plain lines in a pipe, redrawn lines on a terminal), images, image ls/inspect/tag/rm/
// export/import/prune, rmi, system df, and run/create --pull missing|always|never.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/pty_session.h"
#include "tests/integration/support/image_support.h"
#include "tests/integration/support/oci_builder.h"
#include "tests/integration/support/registry_support.h"


namespace berth::testing {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

class ImagesCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_ = std::make_unique<TestRegistry>(agent_.netns_fd(), agent_.dir() + "/registry");
    ASSERT_TRUE(registry_->ok()) << registry_->error();
    ASSERT_NO_FATAL_FAILURE(agent_.Start());
    absl::StatusOr<Image> busybox = ExportedBusybox(agent_);
    ASSERT_TRUE(busybox.ok()) << busybox.status();
    busybox_ = *std::move(busybox);
  }
  Image HelloImage(const std::string& text) {
    return DerivedImage(busybox_, {File("hello.txt", text)}, [](nlohmann::json& c) {
      c["config"]["Cmd"] = {"cat", "/hello.txt"};
    });
  }
  std::string Ref(const std::string& repo_tag) const { return absl::StrCat(registry_->host(), "/", repo_tag); }
  std::vector<std::string> CliArgv(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {BERTH_CLI_PATH, "--host", "unix://" + agent_.socket()};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  AgentHarness agent_;
  std::unique_ptr<TestRegistry> registry_;
  Image busybox_;
};

TEST_F(ImagesCliTest, PullPrintsALineOnEachStatusChangeThenTheDigestAndName) {
  const Image image = HelloImage("hello\n");
  ASSERT_TRUE(registry_->PushImage("t/cli", "v1", image).ok());
  CliResult r = agent_.Cli({"pull", Ref("t/cli:v1")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << "escape sequences in a pipe";
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_GE(lines.size(), 3u) << r.out;
  EXPECT_EQ(lines[lines.size() - 2], "Digest: " + image.manifest_digest());
  EXPECT_EQ(lines.back(), Ref("t/cli:v1"));
  const std::regex progress("^([0-9a-f]{12}): (Waiting|Downloading|Already exists|Download complete|Extracting|"
                            "Pull complete) [0-9.]+[kMG]?B/[0-9.]+[kMG]?B$");
  std::map<std::string, std::string> last_status;
  for (size_t i = 0; i + 2 < lines.size(); ++i) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(lines[i], m, progress)) << lines[i];
    EXPECT_NE(last_status[m[1]], m[2].str()) << "repeated status line: " << lines[i];
    last_status[m[1]] = m[2];
  }
  const std::string short_layer = DigestHex(image.layers[1].digest()).substr(0, 12);
  const std::string short_base = DigestHex(image.layers[0].digest()).substr(0, 12);
  EXPECT_EQ(last_status[short_layer], "Pull complete") << r.out;
  EXPECT_THAT(r.out, HasSubstr(short_base + ": Already exists")) << r.out;

  // -q: the name only.
  CliResult quiet = agent_.Cli({"pull", "-q", Ref("t/cli:v1")});
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.out, Ref("t/cli:v1") + "\n");

  // A failure is "Error: ..." and 125.
  CliResult missing = agent_.Cli({"pull", Ref("t/none:v1")});
  EXPECT_EQ(missing.exit_code, 125);
  EXPECT_THAT(missing.err, StartsWith("Error: "));
}

TEST_F(ImagesCliTest, PullOnATerminalRedrawsOneLinePerLayer) {
  const Image image = DerivedImage(busybox_, {File("big.bin", RandomBytes(4 << 20))});
  ASSERT_TRUE(registry_->PushImage("t/tty", "v1", image).ok());
  PtySession pty(CliArgv({"pull", Ref("t/tty:v1")}));
  ASSERT_TRUE(pty.ok());
  const int exit_code = pty.Finish(std::chrono::seconds(60));
  const std::string out = pty.output();
  ASSERT_EQ(exit_code, 0) << out;
  // Lines are redrawn in place: cursor up, clear line, back down.
  EXPECT_THAT(out, HasSubstr("\x1b[2K"));
  EXPECT_TRUE(std::regex_search(out, std::regex("\x1b\\[[0-9]+A"))) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex("\x1b\\[[0-9]+B"))) << out;
  const std::string short_layer = DigestHex(image.layers[1].digest()).substr(0, 12);
  EXPECT_THAT(out, HasSubstr(short_layer + ": Pull complete"));
  EXPECT_THAT(out, HasSubstr("Digest: " + image.manifest_digest() + "\r\n" + Ref("t/tty:v1") + "\r\n"));
  // No line is wider than the terminal.
  for (const std::string& line : std::vector<std::string>(absl::StrSplit(out, absl::ByAnyChar("\r\n")))) {
    std::string visible = std::regex_replace(line, std::regex("\x1b\\[[0-9]*[A-Za-z]"), "");
    EXPECT_LT(visible.size(), 80u) << visible;
  }
}

TEST_F(ImagesCliTest, ImagesTableAndImageSubcommands) {
  const Image image = HelloImage("tagged\n");
  ASSERT_TRUE(registry_->PushImage("t/sub", "v1", image).ok());
  ASSERT_EQ(agent_.Cli({"pull", "-q", Ref("t/sub:v1")}).exit_code, 0);
  const std::string short_id = DigestHex(image.config_digest()).substr(0, 12);

  CliResult table = agent_.Cli({"images"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  std::vector<std::string> rows = Lines(table.out);
  ASSERT_EQ(rows.size(), 3u) << table.out;
  EXPECT_TRUE(std::regex_match(rows[0], std::regex("REPOSITORY +TAG +IMAGE ID +CREATED +SIZE"))) << rows[0];
  EXPECT_TRUE(std::regex_search(table.out, std::regex(registry_->host() + "/t/sub +v1 +" + short_id + " +")))
      << table.out;
  EXPECT_TRUE(std::regex_search(table.out, std::regex("busybox +latest +" +
                                                      DigestHex(busybox_.config_digest()).substr(0, 12))))
      << table.out;
  CliResult quiet = agent_.Cli({"image", "ls", "-q"});
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_THAT(Lines(quiet.out), Contains(short_id));
  EXPECT_EQ(Lines(quiet.out).size(), 2u);

  // tag, inspect
  ASSERT_EQ(agent_.Cli({"image", "tag", Ref("t/sub:v1"), "local/sub:v9"}).exit_code, 0);
  ASSERT_EQ(agent_.Cli({"tag", "local/sub:v9", "local/sub:v10"}).exit_code, 0);
  CliResult inspect = agent_.Cli({"image", "inspect", "local/sub:v9"});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  nlohmann::json j = nlohmann::json::parse(inspect.out, nullptr, false);
  ASSERT_TRUE(j.is_array() && j.size() == 1) << inspect.out;
  EXPECT_EQ(j[0]["id"], image.config_digest());
  EXPECT_THAT(j[0]["names"].get<std::vector<std::string>>(), Contains("local/sub:v10"));
  CliResult bad_inspect = agent_.Cli({"image", "inspect", "local/sub:v9", "no/such:image"});
  EXPECT_EQ(bad_inspect.exit_code, 125);
  EXPECT_THAT(bad_inspect.err, HasSubstr("not found"));

  // rm of one name, rmi of another
  CliResult untag = agent_.Cli({"image", "rm", "local/sub:v9"});
  ASSERT_EQ(untag.exit_code, 0) << untag.err;
  EXPECT_EQ(untag.out, "Untagged: local/sub:v9\n");
  CliResult rmi = agent_.Cli({"rmi", "local/sub:v10"});
  ASSERT_EQ(rmi.exit_code, 0) << rmi.err;
  EXPECT_EQ(rmi.out, "Untagged: local/sub:v10\n");

  // export REF FILE, export -o, import --name
  const std::string file = agent_.dir() + "/sub.tar";
  CliResult exported = agent_.Cli({"image", "export", Ref("t/sub:v1"), file});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  ASSERT_TRUE(std::filesystem::exists(file));
  const std::string file2 = agent_.dir() + "/both.tar";
  CliResult exported2 = agent_.Cli({"image", "export", "busybox", Ref("t/sub:v1"), "-o", file2});
  ASSERT_EQ(exported2.exit_code, 0) << exported2.err;
  auto files = ReadTarFiles(ReadText(file2));
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_TRUE(files->count("blobs/sha256/" + DigestHex(image.manifest_digest())));
  EXPECT_TRUE(files->count("blobs/sha256/" + DigestHex(busybox_.layers[0].digest())));
  CliResult failed_export = agent_.Cli({"image", "export", "no/such:image", agent_.dir() + "/none.tar"});
  EXPECT_EQ(failed_export.exit_code, 125);
  EXPECT_FALSE(std::filesystem::exists(agent_.dir() + "/none.tar"));
  for (const auto& e : std::filesystem::directory_iterator(agent_.dir())) {
    EXPECT_THAT(e.path().filename().string(), Not(HasSubstr(".tmp-"))) << "a temp file of export stayed";
  }

  CliResult removed = agent_.Cli({"image", "rm", Ref("t/sub:v1")});
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_EQ(removed.out, absl::StrCat("Untagged: ", Ref("t/sub:v1"), "\nDeleted: ", image.config_digest(), "\n"));
  CliResult imported = agent_.Cli({"image", "import", file});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_EQ(imported.out, "Loaded image: " + Ref("t/sub:v1") + "\n");
  CliResult named = agent_.Cli({"image", "import", "--name", "renamed/sub:r1", file});
  ASSERT_EQ(named.exit_code, 0) << named.err;
  EXPECT_THAT(named.out, HasSubstr("Loaded image: renamed/sub:r1\n"));
  CliResult from_stdin = agent_.Cli({"image", "import", "-"}, ReadText(file));
  ASSERT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  CliResult run = agent_.Cli({"run", "--rm", "renamed/sub:r1"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "tagged\n");
  CliResult junk = agent_.Cli({"image", "import", "-"}, "not a tar at all");
  EXPECT_EQ(junk.exit_code, 125);
  EXPECT_THAT(junk.err, StartsWith("Error: "));

  // system df, then prune (no container: everything goes)
  CliResult df = agent_.Cli({"system", "df"});
  ASSERT_EQ(df.exit_code, 0) << df.err;
  std::vector<std::string> df_rows = Lines(df.out);
  ASSERT_EQ(df_rows.size(), 5u) << df.out;
  EXPECT_TRUE(std::regex_match(df_rows[0], std::regex("TYPE +TOTAL +SIZE +RECLAIMABLE"))) << df_rows[0];
  EXPECT_TRUE(std::regex_match(df_rows[1], std::regex("Images +2 +[0-9.]+[kMG]?B +[0-9.]+[kMG]?B \\([0-9]+%\\)")))
      << df_rows[1];
  EXPECT_TRUE(std::regex_match(df_rows[2], std::regex("Layers +2 +[0-9.]+[kMG]?B +-"))) << df_rows[2];
  EXPECT_TRUE(std::regex_match(df_rows[3], std::regex("Containers +0 +[0-9.]+[kMG]?B +-"))) << df_rows[3];
  EXPECT_TRUE(std::regex_match(df_rows[4], std::regex("Local Volumes +0 +0B +0B"))) << df_rows[4];

  CliResult declined = agent_.Cli({"image", "prune"}, "n\n");
  ASSERT_EQ(declined.exit_code, 0) << declined.err;
  EXPECT_THAT(declined.out, HasSubstr("[y/N]"));
  EXPECT_EQ(Lines(agent_.Cli({"images", "-q"}).out).size(), 2u);
  // Without -a only unnamed images go: both of these have names.
  CliResult dangling = agent_.Cli({"image", "prune", "-f"});
  ASSERT_EQ(dangling.exit_code, 0) << dangling.err;
  EXPECT_EQ(Lines(agent_.Cli({"images", "-q"}).out).size(), 2u);
  CliResult pruned = agent_.Cli({"image", "prune", "-a", "-f"});
  ASSERT_EQ(pruned.exit_code, 0) << pruned.err;
  EXPECT_THAT(pruned.out, HasSubstr("deleted: " + image.config_digest()));
  EXPECT_TRUE(std::regex_search(pruned.out, std::regex("Total reclaimed space: [0-9.]+[kMG]?B\n$"))) << pruned.out;
  EXPECT_EQ(agent_.Cli({"images", "-q"}).out, "");
}

TEST_F(ImagesCliTest, RunPullsAMissingImageAccordingToPull) {
  const Image v1 = HelloImage("version one\n");
  ASSERT_TRUE(registry_->PushImage("t/run", "latest", v1).ok());
  const std::string ref = Ref("t/run");

  // never: not on the node, not pulled.
  CliResult never = agent_.Cli({"run", "--rm", "--pull", "never", ref});
  EXPECT_EQ(never.exit_code, 125);
  EXPECT_THAT(never.err, HasSubstr("not found"));
  EXPECT_THAT(never.err, Not(HasSubstr("Unable to find")));

  // missing (the default): pulled, progress on stderr, the container's output alone on stdout.
  CliResult missing = agent_.Cli({"run", "--rm", ref});
  ASSERT_EQ(missing.exit_code, 0) << missing.err;
  EXPECT_EQ(missing.out, "version one\n");
  EXPECT_THAT(missing.err, HasSubstr("Unable to find image '" + ref + ":latest' locally"));
  EXPECT_THAT(missing.err, HasSubstr("Digest: " + v1.manifest_digest()));
  // Present now: no pull.
  CliResult again = agent_.Cli({"run", "--rm", ref});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.err, "");

  // always: the registry has a new version under the same tag.
  const Image v2 = HelloImage("version two\n");
  ASSERT_TRUE(registry_->PushImage("t/run", "latest", v2).ok());
  CliResult stale = agent_.Cli({"run", "--rm", ref});
  EXPECT_EQ(stale.out, "version one\n");
  CliResult always = agent_.Cli({"run", "--rm", "--pull", "always", ref});
  ASSERT_EQ(always.exit_code, 0) << always.err;
  EXPECT_EQ(always.out, "version two\n");
  EXPECT_THAT(always.err, HasSubstr("Digest: " + v2.manifest_digest()));

  // create --pull missing: only the id on stdout.
  const Image other = HelloImage("created\n");
  ASSERT_TRUE(registry_->PushImage("t/create", "v1", other).ok());
  CliResult created = agent_.Cli({"create", Ref("t/create:v1")});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_TRUE(std::regex_match(created.out, std::regex("[0-9a-f]{64}\n"))) << created.out;
  EXPECT_THAT(created.err, HasSubstr("Unable to find image"));

  // A missing image that no registry has: the pull's error, once.
  CliResult nowhere = agent_.Cli({"run", "--rm", Ref("t/nowhere:v1")});
  EXPECT_EQ(nowhere.exit_code, 125);
  EXPECT_THAT(nowhere.err, HasSubstr("Unable to find image"));
  EXPECT_THAT(nowhere.err, HasSubstr("Error: "));
  // A bad policy is a usage error.
  CliResult bad = agent_.Cli({"run", "--pull", "sometimes", "busybox", "true"});
  EXPECT_EQ(bad.exit_code, 125);
}

}  // namespace
}  // namespace berth::testing
