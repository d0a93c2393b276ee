// The CNI side of runtime/network without a network: configuration lists as the spec
// writes them, and the runner against stand-in plugins (shell scripts that log what they
// were given and answer like plugins do): the environment, stdin, chaining through
// prevResult, runtimeConfig by capability, the result cache, DEL in reverse, errors.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/file_util.h"
#include "runtime/network/cni_config.h"
#include "runtime/network/cni_runner.h"

namespace berth::net::cni {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class CniTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-cni-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(::mkdir((dir_ + "/bin").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((dir_ + "/conf").c_str(), 0755), 0);
  }
  void TearDown() override { (void)std::system(("rm -rf " + dir_).c_str()); }

  void Write(const std::string& path, const std::string& text, int mode = 0644) {
    std::ofstream(path) << text;
    ::chmod(path.c_str(), mode);
  }
  // A plugin that appends "NAME COMMAND IFNAME NETNS ARGS" and its stdin to log, then
  // answers ADD with a result naming itself (and the address it is given).
  void Plugin(const std::string& name, const std::string& address) {
    Write(dir_ + "/bin/" + name,
          absl::StrCat("#!/bin/sh\n", "echo \"", name,
                       " $CNI_COMMAND $CNI_IFNAME $CNI_NETNS $CNI_ARGS $CNI_CONTAINERID\" >> ", dir_, "/log\n",
                       "cat >> ", dir_, "/log\necho >> ", dir_, "/log\n",
                       "[ \"$CNI_COMMAND\" = ADD ] && echo '{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"",
                       address, "\"}],\"by\":\"", name, "\"}'\nexit 0\n"),
          0755);
  }
  std::string Log() {
    auto text = ReadFile(dir_ + "/log");
    return text.ok() ? *text : "";
  }

  std::string dir_;
};

TEST_F(CniTest, ParsesListsAndSinglePluginFiles) {
  auto list = ParseNetworkList(R"({"cniVersion":"1.0.0","name":"n","plugins":[{"type":"bridge"},{"type":"portmap"}]})",
                               false);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->name, "n");
  EXPECT_EQ(list->cni_version, "1.0.0");
  ASSERT_EQ(list->plugins.size(), 2u);
  EXPECT_EQ(list->plugins[1]["type"], "portmap");
  auto single = ParseNetworkList(R"({"cniVersion":"0.4.0","name":"s","type":"bridge","bridge":"b0"})", true);
  ASSERT_TRUE(single.ok());
  ASSERT_EQ(single->plugins.size(), 1u);
  EXPECT_EQ(single->plugins[0]["bridge"], "b0");
  EXPECT_EQ(single->raw["plugins"][0]["type"], "bridge");
  EXPECT_FALSE(ParseNetworkList(R"({"name":"n","plugins":[{"type":"x"}]})", false).ok());  // no version
  EXPECT_FALSE(ParseNetworkList(R"({"cniVersion":"1.0.0","name":"n","plugins":[]})", false).ok());
  EXPECT_FALSE(ParseNetworkList(R"({"cniVersion":"1.0.0","name":"n","plugins":[{"bridge":"x"}]})", false).ok());
  EXPECT_FALSE(ParseNetworkList("not json", false).ok());
}

TEST_F(CniTest, TheFirstUsableFileInLexicalOrderWins) {
  auto none = LoadFirstNetworkList(dir_ + "/conf");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  Write(dir_ + "/conf/05-broken.conflist", "{");
  Write(dir_ + "/conf/10-b.conflist", R"({"cniVersion":"1.0.0","name":"b","plugins":[{"type":"x"}]})");
  Write(dir_ + "/conf/20-a.conf", R"({"cniVersion":"1.0.0","name":"a","type":"x"})");
  Write(dir_ + "/conf/00-ignored.txt", R"({"cniVersion":"1.0.0","name":"t","type":"x"})");
  auto first = LoadFirstNetworkList(dir_ + "/conf");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->name, "b");
  EXPECT_EQ((*first)->source, dir_ + "/conf/10-b.conflist");
}

TEST_F(CniTest, AddChainsDelReversesAndTheCacheOutlivesTheConfiguration) {
  Plugin("first", "10.1.0.5/24");
  Plugin("second", "10.1.0.6/24");
  auto list = ParseNetworkList(R"({"cniVersion":"1.0.0","name":"net","plugins":[
      {"type":"first"},
      {"type":"second","capabilities":{"portMappings":true,"bandwidth":true}}]})",
                               false);
  ASSERT_TRUE(list.ok());
  Runner runner({dir_ + "/nothing", dir_ + "/bin"}, dir_ + "/cache");
  Attachment a;
  a.container_id = "pod1";
  a.netns_path = "/var/run/netns/pod1";
  a.args = {{"K8S_POD_NAME", "web"}};
  a.capabilities = {{"portMappings", {{{"hostPort", 80}, {"containerPort", 8080}}}}, {"ipRanges", "x"}};
  auto result = runner.Add(*list, a);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ((*result)["by"], "second");
  EXPECT_THAT(ResultAddresses(*result), ElementsAre("10.1.0.6"));
  std::string log = Log();
  EXPECT_THAT(log, HasSubstr("first ADD eth0 /var/run/netns/pod1 K8S_POD_NAME=web pod1"));
  EXPECT_THAT(log, HasSubstr("second ADD eth0"));
  // The second plugin got the first's result and the capability it declared, only that one.
  EXPECT_THAT(log, HasSubstr(R"("prevResult":{"by":"first")"));
  EXPECT_THAT(log, HasSubstr(R"("runtimeConfig":{"portMappings":[{"containerPort":8080,"hostPort":80}]})"));
  EXPECT_THAT(log, ::testing::Not(HasSubstr("ipRanges")));
  EXPECT_THAT(log, HasSubstr(R"("name":"net")"));
  ASSERT_TRUE(runner.CachedResult(a).has_value());

  // DEL with no configuration at hand: the cached list and result, last plugin first.
  ::unlink((dir_ + "/log").c_str());
  ASSERT_TRUE(runner.Check(a).ok());
  ::unlink((dir_ + "/log").c_str());
  ASSERT_TRUE(runner.Del(a, nullptr).ok());
  log = Log();
  ASSERT_LT(log.find("second DEL"), log.find("first DEL")) << log;
  EXPECT_THAT(log, HasSubstr(R"("prevResult":{"by":"second")"));
  EXPECT_FALSE(runner.CachedResult(a).has_value());
  // Again: nothing cached, nothing to do.
  ::unlink((dir_ + "/log").c_str());
  ASSERT_TRUE(runner.Del(a, nullptr).ok());
  EXPECT_EQ(Log(), "");
}

TEST_F(CniTest, AFailingPluginUndoesTheChainAndSaysWhy) {
  Plugin("first", "10.1.0.5/24");
  Write(dir_ + "/bin/failing",
        "#!/bin/sh\ncat > /dev/null\necho '{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"no addresses left\","
        "\"details\":\"range full\"}'\nexit 1\n",
        0755);
  auto list = ParseNetworkList(
      R"({"cniVersion":"1.0.0","name":"net","plugins":[{"type":"first"},{"type":"failing"}]})", false);
  ASSERT_TRUE(list.ok());
  Runner runner({dir_ + "/bin"}, dir_ + "/cache");
  Attachment a;
  a.container_id = "pod2";
  auto result = runner.Add(*list, a);
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(absl::IsUnavailable(result.status()));
  EXPECT_THAT(result.status().message(), HasSubstr("\"failing\" ADD failed"));
  EXPECT_THAT(result.status().message(), HasSubstr("no addresses left (range full)"));
  EXPECT_THAT(Log(), HasSubstr("first DEL"));
  EXPECT_FALSE(runner.CachedResult(a).has_value());

  auto missing = ParseNetworkList(R"({"cniVersion":"1.0.0","name":"m","plugins":[{"type":"absent"}]})", false);
  auto st = runner.Add(*missing, a).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_THAT(st.message(), HasSubstr("\"absent\" is not in"));
  auto sneaky = ParseNetworkList(R"({"cniVersion":"1.0.0","name":"m","plugins":[{"type":"../bin/first"}]})", false);
  EXPECT_TRUE(absl::IsInvalidArgument(runner.Add(*sneaky, a).status()));
}

}  // namespace
}  // namespace berth::net::cni
