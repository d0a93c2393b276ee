// Pulling images from a real registry: Debian's docker-registry, started by each test inside
// its agent's test host namespace on 127.0.0.1 (tests/integration/support/registry_support),
// filled with images built here from the agent's own busybox (exported through the API) plus
// layers made by hand. By tag and by digest, a multi-platform index, through a mirror, with
// Basic auth, over TLS; a corrupt blob refused with nothing stored; an agent killed in the
// middle of a pull leaving nothing partial; two pulls of one image at once.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/file_util.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/image_support.h"
#include "tests/integration/support/oci_builder.h"
#include "tests/integration/support/registry_support.h"

namespace berth::testing {
namespace {

using ::testing::AnyOf;
using ::testing::Contains;
using ::testing::HasSubstr;

// The node's platform as image indexes name it.
std::string NodeArchitecture() {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#else
  return "unknown";
#endif
}
std::string OtherArchitecture() { return NodeArchitecture() == "arm64" ? "amd64" : "arm64"; }

// The statuses a layer went through, in order, repeats folded.
std::vector<std::string> StatusesOf(const std::vector<v1::LayerProgress>& events, const std::string& digest) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    if (e.digest() == digest && (out.empty() || out.back() != e.status())) out.push_back(e.status());
  }
  return out;
}

class ImagesPullTest : public ::testing::Test {
 protected:
  // The registry first (its address may go into the agent's flags), then the agent.
  void StartRegistry(RegistryConfig config = {}) {
    registry_ = std::make_unique<TestRegistry>(agent_.netns_fd(), agent_.dir() + "/registry", std::move(config));
    ASSERT_TRUE(registry_->ok()) << registry_->error();
  }
  // The first start also exports busybox as the base of the test images.
  void StartAgent(const std::vector<std::string>& flags = {}) {
    agent_.Start(flags);
    ASSERT_TRUE(agent_.running());
    if (!busybox_.layers.empty()) return;
    absl::StatusOr<Image> busybox = ExportedBusybox(agent_);
    ASSERT_TRUE(busybox.ok()) << busybox.status();
    busybox_ = *std::move(busybox);
    ASSERT_EQ(busybox_.layers.size(), 1u);
  }
  // Busybox plus /hello.txt with `text`.
  Image HelloImage(const std::string& text) {
    return DerivedImage(busybox_, {File("hello.txt", text)}, [](nlohmann::json& c) {
      c["config"]["Cmd"] = {"cat", "/hello.txt"};
    });
  }
  std::string Ref(const std::string& repo_tag) const { return absl::StrCat(registry_->host(), "/", repo_tag); }

  AgentHarness agent_;
  std::unique_ptr<TestRegistry> registry_;  // declared after agent_: stopped before it
  Image busybox_;
};

TEST_F(ImagesPullTest, PullByTagThenByDigest) {
  ASSERT_NO_FATAL_FAILURE(StartRegistry());
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  const Image image = HelloImage("hello from the registry\n");
  ASSERT_TRUE(registry_->PushImage("t/hello", "v1", image).ok());
  const std::string new_layer = image.layers[1].digest();
  const std::set<std::string> layers_before = LayerDirs(agent_.root());

  PullResult by_tag = PullImage(agent_, Ref("t/hello:v1"));
  ASSERT_TRUE(by_tag.status.ok()) << by_tag.status;
  ASSERT_TRUE(by_tag.got_image);
  EXPECT_EQ(by_tag.image.id(), image.config_digest());
  EXPECT_EQ(by_tag.image.manifest_digest(), image.manifest_digest());
  EXPECT_THAT(by_tag.image.names(), Contains(Ref("t/hello:v1")));
  EXPECT_THAT(by_tag.image.layers(), ::testing::ElementsAre(image.layers[0].digest(), new_layer));
  EXPECT_THAT(by_tag.image.diff_ids(), ::testing::ElementsAre(image.layers[0].diff_id(), image.layers[1].diff_id()));
  EXPECT_EQ(by_tag.image.os(), "linux");
  // Progress: the busybox layer is known already; the new one is fetched, unpacked, done.
  EXPECT_THAT(StatusesOf(by_tag.events, image.layers[0].digest()), Contains("exists"));
  std::vector<std::string> fresh = StatusesOf(by_tag.events, new_layer);
  EXPECT_THAT(fresh, Contains("downloading")) << ::testing::PrintToString(fresh);
  ASSERT_FALSE(fresh.empty());
  EXPECT_EQ(fresh.back(), "done") << ::testing::PrintToString(fresh);
  for (const auto& e : by_tag.events) {
    if (e.digest() == new_layer) {
      EXPECT_EQ(e.total(), static_cast<int64_t>(image.layers[1].blob.size()));
      EXPECT_LE(e.done(), e.total());
    }
  }
  // One new layer dir, the blobs in the content store.
  std::set<std::string> layers_after = LayerDirs(agent_.root());
  EXPECT_EQ(layers_after.size(), layers_before.size() + 1);
  EXPECT_TRUE(HasBlob(agent_.root(), new_layer));
  EXPECT_TRUE(HasBlob(agent_.root(), image.config_digest()));
  EXPECT_TRUE(HasBlob(agent_.root(), image.manifest_digest()));

  // The image runs: its Cmd reads the file of its second layer.
  auto run = agent_.RunToExit(FromImage(Ref("t/hello:v1")));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 0) << run->err;
  EXPECT_EQ(run->out, "hello from the registry\n");

  // By digest: the same image, also named repo@digest; nothing downloaded twice.
  const std::string by_digest_ref = Ref("t/hello@" + image.manifest_digest());
  PullResult by_digest = PullImage(agent_, by_digest_ref);
  ASSERT_TRUE(by_digest.status.ok()) << by_digest.status;
  EXPECT_EQ(by_digest.image.id(), image.config_digest());
  EXPECT_THAT(by_digest.image.names(), Contains(by_digest_ref));
  EXPECT_THAT(by_digest.image.names(), Contains(Ref("t/hello:v1")));
  for (const auto& e : by_digest.events) EXPECT_NE(e.status(), "downloading") << e.digest();
  EXPECT_EQ(LayerDirs(agent_.root()), layers_after);
  auto inspected = InspectImage(agent_, by_digest_ref);
  ASSERT_TRUE(inspected.ok()) << inspected.status();
  EXPECT_EQ(inspected->id(), image.config_digest());

  // A digest the registry does not have.
  const std::string missing = Ref("t/hello@" + Sha256Digest("nothing"));
  PullResult absent = PullImage(agent_, missing);
  EXPECT_EQ(absent.status.code(), absl::StatusCode::kNotFound) << absent.status;

  // Listed under both names.
  auto list = ListImages(agent_);
  ASSERT_TRUE(list.ok()) << list.status();
  bool listed = false;
  for (const auto& i : *list) {
    if (i.id() != image.config_digest()) continue;
    listed = true;
    EXPECT_THAT(i.names(), Contains(Ref("t/hello:v1")));
    EXPECT_THAT(i.names(), Contains(by_digest_ref));
  }
  EXPECT_TRUE(listed);
}

TEST_F(ImagesPullTest, PullOfAnIndexTakesTheNodesPlatform) {
  ASSERT_NO_FATAL_FAILURE(StartRegistry());
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  Image native = HelloImage("native\n");
  native.config["architecture"] = NodeArchitecture();
  native.Seal();
  // The other platform's image: valid documents, a layer that means nothing to this node.
  Image foreign;
  foreign.config = {{"architecture", OtherArchitecture()}, {"os", "linux"}, {"config", {{"Cmd", {"/nothing"}}}}};
  foreign.layers.push_back(MakeLayer({File("foreign.txt", "not for this node\n")}));
  foreign.Seal();
  auto index_digest = registry_->PushIndex(
      "t/multi", "v1", {{&foreign, "linux", OtherArchitecture()}, {&native, "linux", NodeArchitecture()}});
  ASSERT_TRUE(index_digest.ok()) << index_digest.status();

  PullResult pulled = PullImage(agent_, Ref("t/multi:v1"));
  ASSERT_TRUE(pulled.status.ok()) << pulled.status;
  EXPECT_EQ(pulled.image.id(), native.config_digest());
  EXPECT_EQ(pulled.image.architecture(), NodeArchitecture());
  EXPECT_FALSE(HasBlob(agent_.root(), foreign.layers[0].digest())) << "the other platform's layer was fetched";
  auto run = agent_.RunToExit(FromImage(Ref("t/multi:v1")));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->out, "native\n");

  // By the index's digest too.
  PullResult by_digest = PullImage(agent_, Ref("t/multi@" + *index_digest));
  ASSERT_TRUE(by_digest.status.ok()) << by_digest.status;
  EXPECT_EQ(by_digest.image.id(), native.config_digest());

  // An index without this node's platform is refused (and says so).
  auto only_foreign = registry_->PushIndex("t/foreign", "v1", {{&foreign, "linux", OtherArchitecture()}});
  ASSERT_TRUE(only_foreign.ok()) << only_foreign.status();
  PullResult refused = PullImage(agent_, Ref("t/foreign:v1"));
  EXPECT_FALSE(refused.status.ok());
  EXPECT_THAT(refused.status.message(), HasSubstr(NodeArchitecture())) << refused.status;
  EXPECT_EQ(InspectImage(agent_, Ref("t/foreign:v1")).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ImagesPullTest, PullThroughAMirror) {
  ASSERT_NO_FATAL_FAILURE(StartRegistry());
  // registry.example:5000 does not exist; only its mirror answers.
  ASSERT_NO_FATAL_FAILURE(StartAgent({"--registry-mirror", "registry.example:5000=" + registry_->url()}));
  const Image image = HelloImage("via the mirror\n");
  ASSERT_TRUE(registry_->PushImage("team/app", "v2", image).ok());

  PullResult pulled = PullImage(agent_, "registry.example:5000/team/app:v2");
  ASSERT_TRUE(pulled.status.ok()) << pulled.status;
  EXPECT_EQ(pulled.image.id(), image.config_digest());
  EXPECT_THAT(pulled.image.names(), Contains("registry.example:5000/team/app:v2"));
  auto run = agent_.RunToExit(FromImage("registry.example:5000/team/app:v2"));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->out, "via the mirror\n");

  // A registry without a mirror is asked itself: it cannot be reached.
  PullResult unmirrored = PullImage(agent_, "other.example:5000/team/app:v2");
  EXPECT_FALSE(unmirrored.status.ok());
  EXPECT_THAT(unmirrored.status.code(), AnyOf(absl::StatusCode::kUnavailable, absl::StatusCode::kNotFound))
      << unmirrored.status;
}

TEST_F(ImagesPullTest, BasicAuthNeedsTheRightPassword) {
  ASSERT_NO_FATAL_FAILURE(StartRegistry({.user = "puller", .password = "right-pass"}));
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  const Image image = HelloImage("authorised\n");
  ASSERT_TRUE(registry_->PushImage("private/app", "v1", image).ok());
  const std::string ref = Ref("private/app:v1");

  // No credentials.
  PullResult anonymous = PullImage(agent_, ref);
  EXPECT_EQ(anonymous.status.code(), absl::StatusCode::kUnauthenticated) << anonymous.status;
  EXPECT_THAT(anonymous.status.message(), HasSubstr(registry_->host()));
  EXPECT_THAT(anonymous.status.message(), HasSubstr("credentials"));

  auto write_auth = [&](const std::string& name, const std::string& password) {
    const std::string path = agent_.dir() + "/" + name;
    std::ofstream(path) << absl::StrCat(R"({"auths":{")", registry_->host(), R"(":{"auth":")",
                                        absl::Base64Escape("puller:" + password), R"("}}})");
    return path;
  };
  // A wrong password.
  agent_.Kill(SIGTERM);
  ASSERT_NO_FATAL_FAILURE(StartAgent({"--auth-file", write_auth("wrong.json", "wrong-pass")}));
  PullResult wrong = PullImage(agent_, ref);
  EXPECT_THAT(wrong.status.code(), AnyOf(absl::StatusCode::kUnauthenticated, absl::StatusCode::kPermissionDenied))
      << wrong.status;
  EXPECT_THAT(wrong.status.message(), HasSubstr("puller")) << "the message should name the user";
  EXPECT_EQ(InspectImage(agent_, ref).status().code(), absl::StatusCode::kNotFound);

  // The right one.
  agent_.Kill(SIGTERM);
  ASSERT_NO_FATAL_FAILURE(StartAgent({"--auth-file", write_auth("right.json", "right-pass")}));
  PullResult right = PullImage(agent_, ref);
  ASSERT_TRUE(right.status.ok()) << right.status;
  EXPECT_EQ(right.image.id(), image.config_digest());
  auto run = agent_.RunToExit(FromImage(ref));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->out, "authorised\n");
}

TEST_F(ImagesPullTest, TlsRegistryOnLoopbackNeedsNoConfig) {
  ASSERT_NO_FATAL_FAILURE(StartRegistry({.tls = true}));
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  const Image image = HelloImage("over tls\n");
  ASSERT_TRUE(registry_->PushImage("t/tls", "v1", image).ok());
  PullResult pulled = PullImage(agent_, Ref("t/tls:v1"));
  ASSERT_TRUE(pulled.status.ok()) << pulled.status;
  EXPECT_EQ(pulled.image.id(), image.config_digest());
}

TEST_F(ImagesPullTest, PullOfAChangedTagKeepsTheOldImageForItsContainers) {
  ASSERT_NO_FATAL_FAILURE(StartRegistry());
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  const Image old_image = HelloImage("old\n");
  ASSERT_TRUE(registry_->PushImage("t/latest", "latest", old_image).ok());
  ASSERT_TRUE(PullImage(agent_, Ref("t/latest")).status.ok());
  auto c = agent_.Run(FromImage(Ref("t/latest"), {"sleep", "60"}));
  ASSERT_TRUE(c.ok()) << c.status();
  // The tag moves in the registry; a pull (berth pull, run --pull always) follows it.
  const Image new_image = HelloImage("new\n");
  ASSERT_TRUE(registry_->PushImage("t/latest", "latest", new_image).ok());
  PullResult repulled = PullImage(agent_, Ref("t/latest"));
  ASSERT_TRUE(repulled.status.ok()) << repulled.status;
  EXPECT_EQ(repulled.image.id(), new_image.config_digest());

  // Garbage collection (here a prune) must not take the running container's layers.
  auto pruned = PruneImages(agent_);
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_TRUE(HasBlob(agent_.root(), old_image.layers[1].digest())) << "the old image's layer blob was deleted";
  auto exec = agent_.Exec(c->id(), {"cat", "/hello.txt"});
  ASSERT_TRUE(exec.ok()) << exec.status();
  EXPECT_EQ(exec->out, "old\n");
}

TEST_F(ImagesPullTest, CorruptBlobIsRefusedAndNothingIsStored) {
  ASSERT_NO_FATAL_FAILURE(StartRegistry());
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  const Image image = HelloImage(std::string(64 << 10, 'x'));
  ASSERT_TRUE(registry_->PushImage("t/corrupt", "v1", image).ok());
  const std::string layer = image.layers[1].digest();
  // Same length, other bytes: only the digest can tell.
  const std::string path = registry_->BlobDataPath(layer);
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.write("CORRUPTED", 9);
  }
  ASSERT_NE(Sha256Digest(ReadText(path)), layer);
  const std::set<std::string> layers_before = LayerDirs(agent_.root());
  const std::string refs_before = RefsJson(agent_.root());

  PullResult pulled = PullImage(agent_, Ref("t/corrupt:v1"));
  ASSERT_FALSE(pulled.status.ok());
  EXPECT_FALSE(pulled.got_image);
  EXPECT_THAT(pulled.status.code(), AnyOf(absl::StatusCode::kDataLoss, absl::StatusCode::kFailedPrecondition,
                                          absl::StatusCode::kInvalidArgument))
      << pulled.status;
  EXPECT_THAT(pulled.status.message(), HasSubstr(DigestHex(layer).substr(0, 12))) << pulled.status;
  EXPECT_FALSE(HasBlob(agent_.root(), layer)) << "the corrupt blob was stored";
  EXPECT_EQ(LayerDirs(agent_.root()), layers_before);
  EXPECT_TRUE(HiddenLayerDirs(agent_.root()).empty());
  EXPECT_TRUE(IngestFiles(agent_.root()).empty()) << ::testing::PrintToString(IngestFiles(agent_.root()));
  EXPECT_EQ(RefsJson(agent_.root()), refs_before);
  EXPECT_EQ(InspectImage(agent_, Ref("t/corrupt:v1")).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ImagesPullTest, UnknownRepositoryAndUnreachableRegistry) {
  ASSERT_NO_FATAL_FAILURE(StartRegistry());
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  PullResult unknown = PullImage(agent_, Ref("t/never-pushed:v1"));
  EXPECT_EQ(unknown.status.code(), absl::StatusCode::kNotFound) << unknown.status;
  EXPECT_THAT(unknown.status.message(), HasSubstr(registry_->host()));

  const int closed_port = FreePortIn(agent_.netns_fd());
  PullResult unreachable = PullImage(agent_, absl::StrCat("127.0.0.1:", closed_port, "/t/app:v1"));
  EXPECT_EQ(unreachable.status.code(), absl::StatusCode::kUnavailable) << unreachable.status;

  PullResult bad = PullImage(agent_, "UPPER/case");
  EXPECT_EQ(bad.status.code(), absl::StatusCode::kInvalidArgument) << bad.status;
  PullResult empty = PullImage(agent_, "");
  EXPECT_EQ(empty.status.code(), absl::StatusCode::kInvalidArgument) << empty.status;
}

TEST_F(ImagesPullTest, AgentKilledDuringAPullLeavesNothingPartial) {
  ASSERT_NO_FATAL_FAILURE(StartRegistry());
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  // ~30 MB that does not compress, behind a proxy giving 6 MB/s: a pull of several seconds.
  const Image image = DerivedImage(busybox_, {File("big.bin", RandomBytes(30 << 20))});
  ASSERT_TRUE(registry_->PushImage("t/big", "v1", image).ok());
  const std::string big = image.layers[1].digest();
  ThrottledProxy proxy(agent_.netns_fd(), registry_->port(), 6 << 20);
  ASSERT_TRUE(proxy.ok());
  const std::string ref = absl::StrCat(proxy.host(), "/t/big:v1");
  const std::set<std::string> layers_before = LayerDirs(agent_.root());

  std::promise<void> downloading;
  bool signalled = false;
  std::thread puller([&] {
    PullImage(agent_, ref, [&](const v1::LayerProgress& e) {
      if (!signalled && e.digest() == big && e.status() == "downloading" && e.done() > 0) {
        signalled = true;
        downloading.set_value();
      }
    });
  });
  const bool started = downloading.get_future().wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  agent_.Kill(SIGKILL);
  puller.join();
  ASSERT_TRUE(started) << "the big layer never started downloading";

  // What the crash left, before the agent tidies up: a partial download is only in ingest.
  EXPECT_FALSE(HasBlob(agent_.root(), big)) << "a partial blob is in the content store";

  ASSERT_NO_FATAL_FAILURE(StartAgent());
  EXPECT_TRUE(IngestFiles(agent_.root()).empty()) << ::testing::PrintToString(IngestFiles(agent_.root()));
  EXPECT_TRUE(HiddenLayerDirs(agent_.root()).empty()) << ::testing::PrintToString(HiddenLayerDirs(agent_.root()));
  for (const std::string& name : ListDirectory(agent_.root() + "/images")) {
    EXPECT_FALSE(absl::StartsWith(name, ".")) << "left in images/: " << name;
  }
  EXPECT_FALSE(HasBlob(agent_.root(), big));
  EXPECT_EQ(LayerDirs(agent_.root()), layers_before);
  EXPECT_EQ(InspectImage(agent_, ref).status().code(), absl::StatusCode::kNotFound);

  // A new pull completes, and the image runs.
  PullResult again = PullImage(agent_, Ref("t/big:v1"));
  ASSERT_TRUE(again.status.ok()) << again.status;
  EXPECT_EQ(again.image.id(), image.config_digest());
  auto run = agent_.RunToExit(FromImage(Ref("t/big:v1"), {"sh", "-c", "wc -c < /big.bin"}));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->out, absl::StrCat(30 << 20, "\n"));

  // Killed again, this time once the layer is downloaded and being unpacked.
  auto containers = agent_.List();
  ASSERT_TRUE(containers.ok());
  for (const auto& each : *containers) ASSERT_TRUE(agent_.Remove(each.id()).ok());
  auto removed = RemoveImage(agent_, Ref("t/big:v1"));
  ASSERT_TRUE(removed.ok()) << removed.status();
  ASSERT_FALSE(HasBlob(agent_.root(), big));
  std::promise<void> unpacking;
  bool unpack_signalled = false;
  std::thread second([&] {
    PullImage(agent_, Ref("t/big:v1"), [&](const v1::LayerProgress& e) {
      if (!unpack_signalled && e.digest() == big && e.status() == "unpacking") {
        unpack_signalled = true;
        unpacking.set_value();
      }
    });
  });
  const bool reached = unpacking.get_future().wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  agent_.Kill(SIGKILL);
  second.join();
  ASSERT_TRUE(reached) << "the big layer never reached unpacking";
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  EXPECT_TRUE(IngestFiles(agent_.root()).empty());
  EXPECT_TRUE(HiddenLayerDirs(agent_.root()).empty()) << ::testing::PrintToString(HiddenLayerDirs(agent_.root()));
  // The image is absent, or complete and usable.
  auto after = InspectImage(agent_, Ref("t/big:v1"));
  if (after.ok()) {
    auto rerun = agent_.RunToExit(FromImage(Ref("t/big:v1"), {"sh", "-c", "wc -c < /big.bin"}));
    ASSERT_TRUE(rerun.ok()) << rerun.status();
    EXPECT_EQ(rerun->out, absl::StrCat(30 << 20, "\n"));
  } else {
    EXPECT_EQ(after.status().code(), absl::StatusCode::kNotFound) << after.status();
    PullResult third = PullImage(agent_, Ref("t/big:v1"));
    ASSERT_TRUE(third.status.ok()) << third.status;
  }
}

// A client that cancels its Pull stops the download: the agent closes its connection to the
// registry (no byte passes the proxy after), keeps nothing partial, and answers CANCELLED.
TEST_F(ImagesPullTest, CancelledPullStopsDownloading) {
  ASSERT_NO_FATAL_FAILURE(StartRegistry());
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  const Image image = DerivedImage(busybox_, {File("big.bin", RandomBytes(30 << 20))});
  ASSERT_TRUE(registry_->PushImage("t/cancel", "v1", image).ok());
  const std::string big = image.layers[1].digest();
  ThrottledProxy proxy(agent_.netns_fd(), registry_->port(), 4 << 20);
  ASSERT_TRUE(proxy.ok());
  const std::string ref = absl::StrCat(proxy.host(), "/t/cancel:v1");
  const std::set<std::string> layers_before = LayerDirs(agent_.root());

  auto stub = v1::Images::NewStub(agent_.channel());
  grpc::ClientContext ctx;
  v1::PullRequest request;
  request.set_reference(ref);
  auto reader = stub->Pull(&ctx, request);
  v1::PullResponse response;
  bool cancelled = false;
  while (reader->Read(&response)) {
    const v1::LayerProgress& e = response.layer();
    if (!cancelled && e.digest() == big && e.status() == "downloading" && e.done() > (1 << 20)) {
      ctx.TryCancel();
      cancelled = true;
    }
  }
  grpc::Status st = reader->Finish();
  ASSERT_TRUE(cancelled) << "the big layer never started downloading";
  EXPECT_EQ(st.error_code(), grpc::StatusCode::CANCELLED);
  // The agent notices at its next chunk; once the proxy stops sending, it stays stopped.
  uint64_t sent = proxy.bytes_sent();
  EXPECT_TRUE(Eventually(
      [&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        uint64_t now = proxy.bytes_sent();
        bool still = now == sent;
        sent = now;
        return still;
      },
      std::chrono::seconds(10)))
      << "the download goes on after the cancel";
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(proxy.bytes_sent(), sent);
  EXPECT_LT(sent, uint64_t{30} << 20) << "the whole layer came down anyway";
  EXPECT_TRUE(Eventually([&] { return IngestFiles(agent_.root()).empty(); }, std::chrono::seconds(10)))
      << ::testing::PrintToString(IngestFiles(agent_.root()));
  EXPECT_FALSE(HasBlob(agent_.root(), big));
  EXPECT_EQ(LayerDirs(agent_.root()), layers_before);
  EXPECT_EQ(InspectImage(agent_, ref).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ImagesPullTest, TwoPullsOfOneImageAtOnceBothSucceed) {
  ASSERT_NO_FATAL_FAILURE(StartRegistry());
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  const Image image = DerivedImage(busybox_, {File("a.bin", RandomBytes(6 << 20)), File("note", "x\n")});
  ASSERT_TRUE(registry_->PushImage("t/twice", "v1", image).ok());
  // Slow enough for the two to overlap.
  ThrottledProxy proxy(agent_.netns_fd(), registry_->port(), 8 << 20);
  ASSERT_TRUE(proxy.ok());
  const std::string ref = absl::StrCat(proxy.host(), "/t/twice:v1");
  const std::set<std::string> layers_before = LayerDirs(agent_.root());

  PullResult results[2];
  std::thread a([&] { results[0] = PullImage(agent_, ref); });
  std::thread b([&] { results[1] = PullImage(agent_, ref); });
  a.join();
  b.join();
  for (const PullResult& r : results) {
    ASSERT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(r.image.id(), image.config_digest());
  }
  EXPECT_EQ(LayerDirs(agent_.root()).size(), layers_before.size() + 1);
  EXPECT_TRUE(HiddenLayerDirs(agent_.root()).empty());
  EXPECT_TRUE(IngestFiles(agent_.root()).empty());
  auto run = agent_.RunToExit(FromImage(ref, {"cat", "/note"}));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->out, "x\n");
}

}  // namespace
}  // namespace berth::testing
