// berth CLI: contexts ($HOME/.config/berth): create (validated, normalised, absolute paths),
// ls, use, rm, inspect, BERTH_CONTEXT, file modes and atomic files, against a temp HOME. The TLS
// files are a real certificate and key made with the openssl tool.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/contexts.h"
#include "cli/host_target.h"

namespace berth::cli {
namespace {

using ::testing::HasSubstr;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

mode_t ModeOf(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

class ContextsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/berth-contexts-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    root_ = dir;
    home_ = root_ + "/home";
    ASSERT_EQ(mkdir(home_.c_str(), 0755), 0);
    const char* old = std::getenv("HOME");
    had_home_ = old != nullptr;
    if (had_home_) old_home_ = old;
    setenv("HOME", home_.c_str(), 1);
    // One self-signed certificate is enough here: it is its own CA, and the key belongs to it.
    tls_ = TlsFiles{root_ + "/cert.pem", root_ + "/cert.pem", root_ + "/key.pem"};
    const std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
        "-subj /CN=berth-test -keyout " + tls_.key + " -out " + tls_.cert + " >" + root_ +
        "/openssl.log 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << ReadFile(root_ + "/openssl.log");
    absl::StatusOr<ContextStore> store = ContextStore::ForHome(std::getenv("HOME"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_.emplace(*std::move(store));
  }

  void TearDown() override {
    if (had_home_) {
      setenv("HOME", old_home_.c_str(), 1);
    } else {
      unsetenv("HOME");
    }
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  ContextStore& store() { return *store_; }

  Context Prod() { return Context{"prod", "the prod node", "tcp://10.99.0.1:7443", tls_}; }

  std::string root_;
  std::string home_;
  TlsFiles tls_;
  bool had_home_ = false;
  std::string old_home_;
  std::optional<ContextStore> store_;
};

TEST(ContextStoreForHome, NeedsAnAbsoluteHome) {
  EXPECT_EQ(ContextStore::ForHome("/home/ann")->dir(), "/home/ann/.config/berth");
  EXPECT_EQ(ContextStore::ForHome("/home/ann/")->dir(), "/home/ann/.config/berth");
  EXPECT_EQ(ContextStore::ForHome("/")->dir(), "/.config/berth");
  EXPECT_THAT(std::string(ContextStore::ForHome(nullptr).status().message()),
              HasSubstr("HOME is not set"));
  EXPECT_FALSE(ContextStore::ForHome("").ok());
  EXPECT_THAT(std::string(ContextStore::ForHome("relative").status().message()),
              HasSubstr("not an absolute path"));
}

TEST(ValidateContextName, TheDockerCharacterSet) {
  for (const std::string& good : {std::string("a"), std::string("prod"), std::string("Prod-1"),
                                  std::string("n.example+x_y"), std::string("0"),
                                  std::string(64, 'x')}) {
    EXPECT_TRUE(ValidateContextName(good).ok()) << good;
  }
  for (const std::string& bad : {std::string(""), std::string("-a"), std::string(".a"),
                                 std::string("_a"), std::string("a/b"), std::string("a b"),
                                 std::string(".."), std::string("a\nb"), std::string(65, 'x')}) {
    EXPECT_FALSE(ValidateContextName(bad).ok()) << bad;
  }
}

TEST_F(ContextsTest, AFreshHomeHasOnlyTheDefault) {
  absl::StatusOr<std::vector<Context>> list = store().List();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0], DefaultContext());
  EXPECT_EQ((*list)[0].host, kDefaultHost);
  EXPECT_EQ(*store().Current(), "default");
  EXPECT_EQ(store().Resolve("")->host, kDefaultHost);
  EXPECT_FALSE(std::filesystem::exists(store().dir()));  // reading creates nothing
}

TEST_F(ContextsTest, CreateStoresANormalisedContextPrivately) {
  Context in = Prod();
  in.host = "10.99.0.1:7443/";  // normalised to tcp://10.99.0.1:7443
  absl::StatusOr<Context> created = store().Create(in);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(*created, Prod());
  EXPECT_EQ(*store().Get("prod"), Prod());

  const std::string path = home_ + "/.config/berth/contexts/prod.json";
  EXPECT_EQ(store().ContextPath("prod"), path);
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(ModeOf(home_ + "/.config/berth/contexts"), 0700u);
  EXPECT_EQ(ModeOf(home_ + "/.config/berth"), 0700u);
  EXPECT_EQ(ModeOf(home_ + "/.config"), 0700u);
  // No temp file left beside it.
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(home_ + "/.config/berth/contexts")) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1);
  EXPECT_EQ(*ParseContextJson(ReadFile(path)), Prod());
  EXPECT_THAT(ReadFile(path), HasSubstr("\"host\": \"tcp://10.99.0.1:7443\""));

  // A unix socket context needs no TLS.
  created = store().Create(Context{"local", "", "/run/other.sock", TlsFiles{}});
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->host, "unix:///run/other.sock");
}

TEST_F(ContextsTest, CreateStoresAbsolutePaths) {
  const std::string cwd = std::filesystem::current_path();
  ASSERT_EQ(chdir(root_.c_str()), 0);
  Context in = Prod();
  in.tls = TlsFiles{"cert.pem", "./cert.pem", "sub/../key.pem"};
  ASSERT_EQ(mkdir((root_ + "/sub").c_str(), 0700), 0);
  absl::StatusOr<Context> created = store().Create(in);
  ASSERT_EQ(chdir(cwd.c_str()), 0);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->tls, tls_);
  EXPECT_EQ(store().Get("prod")->tls, tls_);
}

TEST_F(ContextsTest, CreateValidatesLikeTheFlags) {
  auto create_error = [&](Context c) {
    absl::StatusOr<Context> created = store().Create(std::move(c));
    return created.ok() ? std::string("created") : std::string(created.status().message());
  };
  Context c = Prod();
  c.name = "default";
  EXPECT_THAT(create_error(c), HasSubstr("\"default\" is reserved"));
  c.name = "no/slash";
  EXPECT_THAT(create_error(c), HasSubstr("invalid context name \"no/slash\""));
  c.name = std::string(65, 'a');
  EXPECT_THAT(create_error(c), HasSubstr("longer than 64"));

  c = Prod();
  c.tls.key.clear();
  EXPECT_EQ(create_error(c), "context \"prod\": tcp://10.99.0.1:7443 needs mutual TLS (there is "
                             "no plaintext TCP): missing --tlskey (BERTH_TLS_KEY)");
  c = Prod();
  c.host = "unix:///run/x.sock";
  EXPECT_THAT(create_error(c), HasSubstr("is a local socket and TLS files are only for tcp://"));
  c = Prod();
  c.host = "https://x:1";
  EXPECT_THAT(create_error(c), HasSubstr("unsupported scheme"));
  c = Prod();
  c.tls.ca = root_ + "/missing.pem";
  EXPECT_EQ(create_error(c), "context \"prod\": cannot read the TLS CA certificate " + root_ +
                                 "/missing.pem: No such file or directory");
  c = Prod();
  c.tls.key = c.tls.cert;  // a certificate is not a key
  EXPECT_THAT(create_error(c), HasSubstr("holds no PEM private key"));
  // Nothing was stored by the failures.
  EXPECT_EQ(store().List()->size(), 1u);

  ASSERT_EQ(create_error(Prod()), "created");
  EXPECT_EQ(create_error(Prod()), "context \"prod\" already exists (remove it first)");
  EXPECT_TRUE(absl::IsAlreadyExists(store().Create(Prod()).status()));
}

TEST_F(ContextsTest, UseChangesTheCurrentContext) {
  ASSERT_TRUE(store().Create(Prod()).ok());
  EXPECT_TRUE(absl::IsNotFound(store().Use("nope")));
  EXPECT_FALSE(std::filesystem::exists(store().ConfigPath()));

  ASSERT_TRUE(store().Use("prod").ok());
  EXPECT_EQ(*store().Current(), "prod");
  EXPECT_EQ(ModeOf(store().ConfigPath()), 0600u);
  EXPECT_THAT(ReadFile(store().ConfigPath()), HasSubstr("\"currentContext\": \"prod\""));
  EXPECT_EQ(store().Resolve("")->host, "tcp://10.99.0.1:7443");

  // Other keys of config.json are kept.
  WriteFile(store().ConfigPath(), R"({"currentContext": "prod", "detachKeys": "ctrl-x"})");
  ASSERT_TRUE(store().Use("default").ok());
  EXPECT_EQ(*store().Current(), "default");
  EXPECT_THAT(ReadFile(store().ConfigPath()), HasSubstr("\"detachKeys\": \"ctrl-x\""));
  EXPECT_THAT(ReadFile(store().ConfigPath()), ::testing::Not(HasSubstr("currentContext")));
  EXPECT_EQ(store().Resolve("")->name, "default");
}

TEST_F(ContextsTest, ResolvePrefersBerthContextAndNamesWhatIsMissing) {
  ASSERT_TRUE(store().Create(Prod()).ok());
  ASSERT_TRUE(store().Create(Context{"local", "", "/l.sock", TlsFiles{}}).ok());
  ASSERT_TRUE(store().Use("prod").ok());
  EXPECT_EQ(store().Resolve("local")->name, "local");
  EXPECT_EQ(store().Resolve("default")->name, "default");
  EXPECT_EQ(store().Resolve("")->name, "prod");
  absl::StatusOr<Context> missing = store().Resolve("gone");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            "BERTH_CONTEXT names the context \"gone\", which does not exist (see berth context ls)");
  // config.json naming a context that was deleted behind our back.
  ASSERT_EQ(unlink(store().ContextPath("prod").c_str()), 0);
  missing = store().Resolve("");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("the current context \"prod\" (" + store().ConfigPath() +
                        ") does not exist: choose another with `berth context use NAME`"));
  // A broken config.json is named.
  WriteFile(store().ConfigPath(), "{nope");
  EXPECT_THAT(std::string(store().Current().status().message()),
              HasSubstr(store().ConfigPath() + ": not valid JSON"));
}

TEST_F(ContextsTest, RemoveKeepsTheCurrentOneUnlessForced) {
  ASSERT_TRUE(store().Create(Prod()).ok());
  ASSERT_TRUE(store().Create(Context{"local", "", "/l.sock", TlsFiles{}}).ok());
  ASSERT_TRUE(store().Use("prod").ok());
  absl::Status s = store().Remove("prod", /*force=*/false);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("is the current context"));
  EXPECT_TRUE(store().Get("prod").ok());

  EXPECT_TRUE(store().Remove("local", false).ok());
  EXPECT_TRUE(absl::IsNotFound(store().Get("local").status()));
  EXPECT_TRUE(absl::IsNotFound(store().Remove("local", false)));
  EXPECT_FALSE(store().Remove("default", true).ok());
  EXPECT_FALSE(store().Remove("../config", true).ok());

  ASSERT_TRUE(store().Remove("prod", /*force=*/true).ok());
  EXPECT_TRUE(absl::IsNotFound(store().Get("prod").status()));
  EXPECT_EQ(*store().Current(), "default");  // forced removal of the current one resets it
}

TEST_F(ContextsTest, ListIsDefaultThenByName) {
  ASSERT_TRUE(store().Create(Context{"zeta", "", "/z.sock", TlsFiles{}}).ok());
  ASSERT_TRUE(store().Create(Prod()).ok());
  ASSERT_TRUE(store().Create(Context{"alpha", "first", "/a.sock", TlsFiles{}}).ok());
  // Leftovers that are not contexts are skipped.
  WriteFile(store().dir() + "/contexts/prod.json.tmp-abc123", "{");
  WriteFile(store().dir() + "/contexts/notes.txt", "hello");
  absl::StatusOr<std::vector<Context>> list = store().List();
  ASSERT_TRUE(list.ok()) << list.status();
  std::vector<std::string> names;
  for (const Context& c : *list) names.push_back(c.name);
  EXPECT_THAT(names, ::testing::ElementsAre("default", "alpha", "prod", "zeta"));
}

TEST_F(ContextsTest, AContextFileIsCheckedWhenRead) {
  ASSERT_TRUE(store().Create(Prod()).ok());
  const std::string path = store().ContextPath("prod");
  WriteFile(path, R"({"name": "prod", "host": "tcp://x:1", "extra": 1})");
  EXPECT_THAT(std::string(store().Get("prod").status().message()),
              HasSubstr(path + ": context: unknown key \"extra\""));
  WriteFile(path, R"({"name": "other", "host": "tcp://x:1"})");
  EXPECT_THAT(std::string(store().Get("prod").status().message()),
              HasSubstr("holds the context \"other\", not \"prod\""));
  WriteFile(path, R"({"name": "prod"})");
  EXPECT_THAT(std::string(store().Get("prod").status().message()), HasSubstr("\"host\" is missing"));
  WriteFile(path, R"({"name": "prod", "host": "tcp://x:1", "tls": {"ca": "/a", "pin": "x"}})");
  EXPECT_THAT(std::string(store().Get("prod").status().message()),
              HasSubstr("unknown key \"tls.pin\""));
  // Get never leaves the contexts directory.
  EXPECT_FALSE(store().Get("../config").ok());
}

TEST(ContextJson, RoundTrip) {
  const Context prod{"prod", "the \"prod\" node", "tcp://n:7443", TlsFiles{"/a", "/b", "/c"}};
  EXPECT_EQ(*ParseContextJson(ContextToJson(prod)), prod);
  EXPECT_EQ(ContextToJson(prod, -1),
            R"({"name":"prod","description":"the \"prod\" node","host":"tcp://n:7443",)"
            R"("tls":{"ca":"/a","cert":"/b","key":"/c"}})");
  const Context local{"local", "", "unix:///l.sock", TlsFiles{}};
  EXPECT_EQ(ContextToJson(local, -1), R"({"name":"local","description":"","host":"unix:///l.sock"})");
  EXPECT_EQ(*ParseContextJson(ContextToJson(local)), local);
}

TEST(ContextFormat, TableJsonAndInspect) {
  const std::vector<Context> contexts = {
      DefaultContext(), Context{"prod", "line one\nline two", "tcp://n:7443", TlsFiles{"/a", "/b", "/c"}}};
  const auto rows = ContextTableRows(contexts, "prod");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_THAT(rows[0], ::testing::ElementsAre("NAME", "DESCRIPTION", "HOST"));
  EXPECT_THAT(rows[1], ::testing::ElementsAre("default", "The local agent's socket", kDefaultHost));
  EXPECT_THAT(rows[2], ::testing::ElementsAre("prod *", "line one line two", "tcp://n:7443"));
  EXPECT_EQ(ContextTableRows(contexts, "default")[1][0], "default *");

  const std::string json = ContextListJson(contexts, "prod");
  EXPECT_THAT(json, HasSubstr("\"name\": \"prod\""));
  EXPECT_THAT(json, HasSubstr("\"current\": true"));
  EXPECT_THAT(json, HasSubstr("\"current\": false"));
  EXPECT_THAT(json, HasSubstr("\"cert\": \"/b\""));
  EXPECT_EQ(json.back(), '\n');
  const std::string inspect = ContextInspectJson({contexts[1]});
  EXPECT_EQ(inspect.front(), '[');
  EXPECT_THAT(inspect, HasSubstr("\"key\": \"/c\""));
  EXPECT_THAT(inspect, ::testing::Not(HasSubstr("current")));
}

}  // namespace
}  // namespace berth::cli
