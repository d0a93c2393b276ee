// What the image store does with content, through Images.Import/Export/Remove/Tag/Prune and
// System.DiskUsage (no registry): an OCI layout and a `docker save` archive come in; an export
// imported again keeps its digests; whiteouts and opaque dirs hide lower files in containers;
// the config's Entrypoint/Cmd/Env/User/WorkingDir/Labels apply and the API overrides them;
// containers of one image share its layer dirs; remove and prune free the space; an image in
// use needs force; layers that try to write outside their dir are confined to it, and those
// that link to something outside are refused with nothing kept.
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/file_util.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/image_support.h"
#include "tests/integration/support/oci_builder.h"

namespace berth::testing {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

class ImagesContentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(agent_.Start());
    absl::StatusOr<Image> busybox = ExportedBusybox(agent_);
    ASSERT_TRUE(busybox.ok()) << busybox.status();
    busybox_ = *std::move(busybox);
  }

  // Imports one image as `name` from an OCI layout; fails the test otherwise.
  v1::Image ImportAs(const Image& image, const std::string& name) {
    auto imported = ImportImages(agent_, LayoutTar({&image}, {name}));
    EXPECT_TRUE(imported.ok()) << imported.status();
    if (!imported.ok() || imported->size() != 1) {
      ADD_FAILURE() << "import of " << name << " gave " << (imported.ok() ? imported->size() : 0) << " images";
      return v1::Image();
    }
    return (*imported)[0];
  }

  std::string LayerDirOf(const v1::Image& image, size_t index) {
    // The layer dirs a container of it gets, lowest first.
    auto c = agent_.Create(FromImage(image.id(), {"true"}));
    EXPECT_TRUE(c.ok()) << c.status();
    if (!c.ok()) return "";
    std::vector<std::string> lower = OverlayLowerDirs(agent_.root(), c->id());
    EXPECT_TRUE(agent_.Remove(c->id()).ok());
    if (index >= lower.size()) return "";
    return lower[lower.size() - 1 - index];
  }

  AgentHarness agent_;
  Image busybox_;
};

TEST_F(ImagesContentTest, ImportsAnOciLayout) {
  const Image image = DerivedImage(busybox_, {File("etc/motd", "from an OCI layout\n")});
  auto imported = ImportImages(agent_, LayoutTar({&image}, {"t/oci:v1"}));
  ASSERT_TRUE(imported.ok()) << imported.status();
  ASSERT_EQ(imported->size(), 1u);
  const v1::Image& got = (*imported)[0];
  EXPECT_EQ(got.id(), image.config_digest());
  EXPECT_EQ(got.manifest_digest(), image.manifest_digest());
  EXPECT_THAT(got.names(), ElementsAre("t/oci:v1"));
  EXPECT_EQ(got.size(), static_cast<int64_t>(image.config_bytes.size() + image.layers[0].blob.size() +
                                              image.layers[1].blob.size()));
  auto run = agent_.RunToExit(FromImage("t/oci:v1", {"cat", "/etc/motd"}));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->out, "from an OCI layout\n");

  // The same layout gzip-compressed; and one without a name, found by its id.
  const Image other = DerivedImage(busybox_, {File("etc/motd", "compressed\n")});
  auto gz = ImportImages(agent_, Gzip(LayoutTar({&other}, {"t/oci:gz"})));
  ASSERT_TRUE(gz.ok()) << gz.status();
  ASSERT_EQ(gz->size(), 1u);
  EXPECT_EQ((*gz)[0].id(), other.config_digest());
  const Image unnamed = DerivedImage(busybox_, {File("etc/motd", "unnamed\n")});
  auto anonymous = ImportImages(agent_, LayoutTar({&unnamed}, {""}));
  ASSERT_TRUE(anonymous.ok()) << anonymous.status();
  ASSERT_EQ(anonymous->size(), 1u);
  EXPECT_EQ((*anonymous)[0].id(), unnamed.config_digest());
  EXPECT_THAT((*anonymous)[0].names(), IsEmpty());
  auto by_id = InspectImage(agent_, DigestHex(unnamed.config_digest()).substr(0, 12));
  ASSERT_TRUE(by_id.ok()) << by_id.status();
  EXPECT_EQ(by_id->id(), unnamed.config_digest());

  // A layout whose blob does not match its name is refused, and names nothing.
  const Image tampered = DerivedImage(busybox_, {File("etc/motd", "tampered\n")});
  std::string layout = LayoutTar({&tampered}, {"t/oci:tampered"});
  auto files = ReadTarFiles(layout);
  ASSERT_TRUE(files.ok());
  std::vector<TarItem> items;
  for (auto [path, data] : *files) {
    if (path == "blobs/sha256/" + DigestHex(tampered.layers[1].digest())) data[data.size() / 2] ^= 0x55;
    items.push_back(File(path, data));
  }
  auto refused = ImportImages(agent_, MakeTar(items));
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(InspectImage(agent_, "t/oci:tampered").status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(HasBlob(agent_.root(), tampered.layers[1].digest()));

  // Not an image archive at all.
  auto junk = ImportImages(agent_, MakeTar({File("hello.txt", "hi\n")}));
  EXPECT_EQ(junk.status().code(), absl::StatusCode::kInvalidArgument) << junk.status();
  auto nothing = ImportImages(agent_, "");
  EXPECT_EQ(nothing.status().code(), absl::StatusCode::kInvalidArgument) << nothing.status();
}

TEST_F(ImagesContentTest, ImportsALayoutOfAMultiPlatformIndex) {
#if defined(__aarch64__)
  const std::string native = "arm64", other = "amd64";
#else
  const std::string native = "amd64", other = "arm64";
#endif
  Image mine = DerivedImage(busybox_, {File("platform", native + "\n")});
  mine.config["architecture"] = native;
  mine.Seal();
  Image foreign;
  foreign.config = {{"architecture", other}, {"os", "linux"}, {"config", {{"Cmd", {"/nothing"}}}}};
  foreign.layers.push_back(MakeLayer({File("platform", other + "\n")}));
  foreign.Seal();
  auto imported =
      ImportImages(agent_, LayoutTarWithIndex({{&foreign, "linux", other}, {&mine, "linux", native}}, "t/multi:v1"));
  ASSERT_TRUE(imported.ok()) << imported.status();
  ASSERT_EQ(imported->size(), 1u);
  EXPECT_EQ((*imported)[0].id(), mine.config_digest());
  EXPECT_EQ((*imported)[0].architecture(), native);
  auto run = agent_.RunToExit(FromImage("t/multi:v1", {"cat", "/platform"}));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->out, native + "\n");
}

TEST_F(ImagesContentTest, LayerContentKeepsLinksOwnersAndModes) {
  TarItem owned = File("data/owned", "owned\n", 0640);
  owned.uid = 1234;
  owned.gid = 4321;
  TarItem sticky = Dir("data/shared", 01777);
  const Image image = DerivedImage(
      busybox_,
      {Dir("data"), File("data/original", "linked\n"), Hardlink("data/hard", "data/original"),
       Symlink("data/soft-abs", "/data/original"), Symlink("data/soft-rel", "original"), owned, sticky,
       File("data/exec", "#!/bin/sh\necho ran\n", 0755)},
      [](nlohmann::json& c) { c["config"]["WorkingDir"] = "/not/in/the/image"; });
  ImportAs(image, "t/content:v1");
  auto run = agent_.RunToExit(FromImage(
      "t/content:v1",
      {"sh", "-c",
       "pwd; cat /data/hard /data/soft-abs /data/soft-rel; "
       "stat -c '%h %u:%g %a' /data/original /data/owned; stat -c %a /data/shared; /data/exec"}));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 0) << run->err;
  EXPECT_EQ(run->out, "/not/in/the/image\nlinked\nlinked\nlinked\n2 0:0 644\n1 1234:4321 640\n1777\nran\n");
}

TEST_F(ImagesContentTest, ALostLayerDirIsUnpackedAgain) {
  const Image image = DerivedImage(busybox_, {File("again.txt", "unpacked again\n")});
  const v1::Image imported = ImportAs(image, "t/lost:v1");
  const std::string dir = LayerDirOf(imported, 1);
  ASSERT_FALSE(dir.empty());
  // As a crash between an unpack and its rename, or a user's rm -rf, would leave it.
  agent_.Kill(SIGKILL);
  std::filesystem::remove_all(dir);
  agent_.Start();
  auto run = agent_.RunToExit(FromImage("t/lost:v1", {"cat", "/again.txt"}));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->out, "unpacked again\n");
  EXPECT_TRUE(std::filesystem::exists(dir + "/again.txt"));
}

TEST_F(ImagesContentTest, ImportsADockerSaveArchive) {
  const Image image = DerivedImage(busybox_, {File("etc/motd", "from docker save\n")}, [](nlohmann::json& c) {
    c["config"]["Cmd"] = {"cat", "/etc/motd"};
  });
  auto imported = ImportImages(agent_, DockerArchiveTar(image, {"t/docker:v1", "t/docker:also"}));
  ASSERT_TRUE(imported.ok()) << imported.status();
  ASSERT_EQ(imported->size(), 1u);
  const v1::Image& got = (*imported)[0];
  EXPECT_EQ(got.id(), image.config_digest());
  EXPECT_THAT(got.names(), UnorderedElementsAre("t/docker:v1", "t/docker:also"));
  // Layers travel uncompressed in a docker archive: the blobs are the tars themselves.
  EXPECT_THAT(got.diff_ids(), ElementsAre(image.layers[0].diff_id(), image.layers[1].diff_id()));
  EXPECT_THAT(got.layers(), ElementsAre(image.layers[0].diff_id(), image.layers[1].diff_id()));
  auto run = agent_.RunToExit(FromImage("t/docker:also"));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->out, "from docker save\n");

  // A config that does not match its layers is refused.
  Image lying = image;
  lying.config["rootfs"]["diff_ids"][1] = Sha256Digest("something else");
  lying.config_bytes = lying.config.dump();
  auto refused = ImportImages(agent_, DockerArchiveTar(lying, {"t/docker:lying"}));
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(InspectImage(agent_, "t/docker:lying").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ImagesContentTest, ExportThenImportKeepsTheDigests) {
  const Image image = DerivedImage(busybox_, {File("round.txt", "trip\n")});
  const v1::Image first = ImportAs(image, "t/round:v1");
  ASSERT_FALSE(first.id().empty());

  auto exported = ExportImages(agent_, {"t/round:v1"});
  ASSERT_TRUE(exported.ok()) << exported.status();
  auto files = ReadTarFiles(*exported);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_TRUE(files->count("oci-layout"));
  EXPECT_TRUE(files->count("index.json"));
  EXPECT_TRUE(files->count("blobs/sha256/" + DigestHex(image.manifest_digest())));
  for (const Layer& l : image.layers) EXPECT_TRUE(files->count("blobs/sha256/" + DigestHex(l.digest())));
  // Every blob's bytes match its name.
  for (const auto& [path, data] : *files) {
    if (absl::StartsWith(path, "blobs/sha256/")) EXPECT_EQ(DigestHex(Sha256Digest(data)), path.substr(13)) << path;
  }

  auto removed = RemoveImage(agent_, "t/round:v1");
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_FALSE(HasBlob(agent_.root(), image.manifest_digest()));
  auto again = ImportImages(agent_, *exported);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].id(), first.id());
  EXPECT_EQ((*again)[0].manifest_digest(), first.manifest_digest());
  EXPECT_THAT((*again)[0].names(), ElementsAre("t/round:v1"));

  // Two images in one archive, both come back.
  auto both = ExportImages(agent_, {"busybox", "t/round:v1"});
  ASSERT_TRUE(both.ok()) << both.status();
  ASSERT_TRUE(RemoveImage(agent_, "t/round:v1").ok());
  auto two = ImportImages(agent_, *both);
  ASSERT_TRUE(two.ok()) << two.status();
  ASSERT_EQ(two->size(), 2u);
  std::set<std::string> ids = {(*two)[0].id(), (*two)[1].id()};
  EXPECT_EQ(ids, (std::set<std::string>{first.id(), busybox_.config_digest()}));

  EXPECT_EQ(ExportImages(agent_, {"t/none:v1"}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ExportImages(agent_, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ImagesContentTest, WhiteoutsAndOpaqueDirsHideLowerFiles) {
  Image image = busybox_.With(MakeLayer({Dir("data"), File("data/a", "a\n"), File("data/b", "b\n"), Dir("data/sub"),
                                         File("data/sub/deep", "deep\n"), File("keep.txt", "keep\n"),
                                         File("gone.txt", "gone\n"), Dir("olddir"), File("olddir/x", "x\n")}));
  image = image.With(MakeLayer({Dir("data"), File("data/.wh..wh..opq", ""), File("data/c", "c\n"),
                                File(".wh.gone.txt", ""), Dir("etc"), File("etc/.wh.group", ""),
                                File(".wh.olddir", "")}));
  ImportAs(image, "t/whiteout:v1");
  auto run = agent_.RunToExit(FromImage(
      "t/whiteout:v1",
      {"sh", "-c",
       "ls -A /data; for f in /gone.txt /etc/group /olddir /keep.txt /etc/passwd /data/sub; do "
       "if [ -e $f ]; then echo \"$f present\"; else echo \"$f absent\"; fi; done"}));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 0) << run->err;
  EXPECT_EQ(run->out,
            "c\n/gone.txt absent\n/etc/group absent\n/olddir absent\n/keep.txt present\n/etc/passwd present\n"
            "/data/sub absent\n");

  // On disk the top layer holds overlay whiteouts (0/0 character devices), never ".wh." names.
  auto inspected = InspectImage(agent_, "t/whiteout:v1");
  ASSERT_TRUE(inspected.ok());
  const std::string top = LayerDirOf(*inspected, 2);
  ASSERT_FALSE(top.empty());
  struct stat st;
  ASSERT_EQ(::lstat((top + "/etc/group").c_str(), &st), 0) << top;
  EXPECT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) << "etc/group in the top layer is no whiteout";
  for (const auto& entry : std::filesystem::recursive_directory_iterator(top)) {
    EXPECT_FALSE(absl::StartsWith(entry.path().filename().string(), ".wh.")) << entry.path();
  }
}

TEST_F(ImagesContentTest, ConfigTakesEffectAndTheApiOverridesIt) {
  const Image image = DerivedImage(
      busybox_, {Dir("work", 0777), File("work/here", "")}, [](nlohmann::json& c) {
        c["config"]["Entrypoint"] = {"/bin/sh", "-c"};
        c["config"]["Cmd"] = {"echo \"$FOO|$(id -u):$(id -g)|$(pwd)|$BAR\""};
        c["config"]["Env"] = {"PATH=/bin:/usr/bin", "FOO=from-image", "BAR=bar"};
        c["config"]["User"] = "1234:5678";
        c["config"]["WorkingDir"] = "/work";
        c["config"]["Labels"] = {{"org.test.kind", "config"}, {"org.test.shared", "image"}};
      });
  ImportAs(image, "t/config:v1");

  auto inspected = InspectImage(agent_, "t/config:v1");
  ASSERT_TRUE(inspected.ok()) << inspected.status();
  EXPECT_THAT(inspected->entrypoint(), ElementsAre("/bin/sh", "-c"));
  EXPECT_THAT(inspected->cmd(), ElementsAre("echo \"$FOO|$(id -u):$(id -g)|$(pwd)|$BAR\""));
  EXPECT_THAT(inspected->env(), ElementsAre("PATH=/bin:/usr/bin", "FOO=from-image", "BAR=bar"));
  EXPECT_EQ(inspected->user(), "1234:5678");
  EXPECT_EQ(inspected->working_dir(), "/work");
  EXPECT_EQ(inspected->labels().at("org.test.kind"), "config");

  // As the image says.
  auto plain = agent_.RunToExit(FromImage("t/config:v1"));
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->out, "from-image|1234:5678|/work|bar\n") << plain->err;

  // The API overrides env, user, working dir and cmd (the entrypoint stays).
  v1::ContainerConfig over = FromImage("t/config:v1", {"echo \"$FOO|$(id -u):$(id -g)|$(pwd)|$BAR\" cmd"});
  over.add_env("FOO=from-api");
  over.set_user("0:0");
  over.set_working_dir("/tmp");
  (*over.mutable_labels())["org.test.shared"] = "container";
  auto overridden = agent_.Run(over);
  ASSERT_TRUE(overridden.ok()) << overridden.status();
  auto waited = agent_.Wait(overridden->id());
  ASSERT_TRUE(waited.ok());
  EXPECT_EQ(agent_.Logs(overridden->id()).value_or(""), "from-api|0:0|/tmp|bar cmd\n");
  // Labels: the image's, then the container's over them.
  auto c = agent_.Inspect(overridden->id());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->labels().at("org.test.kind"), "config");
  EXPECT_EQ(c->labels().at("org.test.shared"), "container");
  EXPECT_EQ(c->image_id(), image.config_digest());

  // --entrypoint replaces the image's and drops its cmd; "" clears it.
  v1::ContainerConfig ep = FromImage("t/config:v1", {"x", "y"});
  ep.add_entrypoint("/bin/echo");
  auto echoed = agent_.RunToExit(ep);
  ASSERT_TRUE(echoed.ok()) << echoed.status();
  EXPECT_EQ(echoed->out, "x y\n");
  v1::ContainerConfig cleared = FromImage("t/config:v1", {"/bin/echo", "z"});
  cleared.add_entrypoint("");
  auto z = agent_.RunToExit(cleared);
  ASSERT_TRUE(z.ok()) << z.status();
  EXPECT_EQ(z->out, "z\n");

  // A user by name is looked up in the image's own /etc/passwd (busybox: www-data is 33:33).
  const Image named = DerivedImage(busybox_, {File("marker", "")}, [](nlohmann::json& c) {
    c["config"]["User"] = "www-data";
    c["config"]["Cmd"] = {"sh", "-c", "echo $(id -u):$(id -g)"};
  });
  ImportAs(named, "t/config:named");
  auto www = agent_.RunToExit(FromImage("t/config:named"));
  ASSERT_TRUE(www.ok()) << www.status();
  EXPECT_EQ(www->out, "33:33\n") << www->err;
}

TEST_F(ImagesContentTest, ContainersOfOneImageShareItsLayerDirs) {
  const Image image = DerivedImage(busybox_, {File("shared.bin", RandomBytes(2 << 20))});
  const v1::Image imported = ImportAs(image, "t/shared:v1");
  const std::set<std::string> layers = LayerDirs(agent_.root());

  auto a = agent_.Create(FromImage("t/shared:v1", {"sleep", "60"}));
  auto b = agent_.Create(FromImage("t/shared:v1", {"sleep", "60"}));
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << " " << b.status();
  const std::vector<std::string> lower_a = OverlayLowerDirs(agent_.root(), a->id());
  const std::vector<std::string> lower_b = OverlayLowerDirs(agent_.root(), b->id());
  ASSERT_EQ(lower_a.size(), 2u);
  EXPECT_EQ(lower_a, lower_b);
  for (const std::string& dir : lower_a) {
    EXPECT_TRUE(absl::StartsWith(dir, agent_.root() + "/images/layers/")) << dir;
    EXPECT_TRUE(std::filesystem::is_directory(dir)) << dir;
  }
  EXPECT_TRUE(std::filesystem::exists(lower_a[0] + "/shared.bin"));  // topmost first
  EXPECT_TRUE(std::filesystem::exists(lower_a[1] + "/bin/busybox"));
  // No copy: the layer dirs are the same set, and no container dir holds the layer's files.
  EXPECT_EQ(LayerDirs(agent_.root()), layers);
  for (const auto& id : {a->id(), b->id()}) {
    const std::string dir = agent_.root() + "/containers/" + id;
    EXPECT_LT(DirectorySize(dir), 1 << 20) << dir;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
      EXPECT_NE(entry.path().filename(), "shared.bin") << entry.path();
    }
  }
  ASSERT_TRUE(agent_.StartContainer(a->id()).ok());
  ASSERT_TRUE(agent_.StartContainer(b->id()).ok());
  for (const auto& id : {a->id(), b->id()}) {
    auto size = agent_.Exec(id, {"sh", "-c", "wc -c < /shared.bin"});
    ASSERT_TRUE(size.ok()) << size.status();
    EXPECT_EQ(size->out, absl::StrCat(2 << 20, "\n"));
  }
  // A write in one container is not seen by the other, nor by the layer.
  ASSERT_TRUE(agent_.Exec(a->id(), {"sh", "-c", "echo changed > /shared.bin"}).ok());
  auto other = agent_.Exec(b->id(), {"sh", "-c", "wc -c < /shared.bin"});
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->out, absl::StrCat(2 << 20, "\n"));
  EXPECT_EQ(std::filesystem::file_size(lower_a[0] + "/shared.bin"), static_cast<uintmax_t>(2 << 20));

  auto usage = DiskUsage(agent_);
  ASSERT_TRUE(usage.ok()) << usage.status();
  EXPECT_EQ(usage->containers(), 2);
  EXPECT_EQ(usage->layers(), static_cast<int>(layers.size()));
  auto listed = InspectImage(agent_, "t/shared:v1");
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->containers(), 2);
  (void)imported;
}

TEST_F(ImagesContentTest, RemoveFreesTheContentNoOtherImageNeeds) {
  const Image image = DerivedImage(busybox_, {File("payload.bin", RandomBytes(1 << 20))});
  const v1::Image imported = ImportAs(image, "t/rm:v1");
  const std::string own_layer = LayerDirOf(imported, 1);
  const std::string busybox_layer = LayerDirOf(imported, 0);
  ASSERT_TRUE(std::filesystem::exists(own_layer));
  auto usage_before = DiskUsage(agent_);
  ASSERT_TRUE(usage_before.ok());
  EXPECT_EQ(usage_before->images(), 2);

  // A second tag: removing one name keeps the content.
  auto tagged = TagImage(agent_, "t/rm:v1", "t/rm:v2");
  ASSERT_TRUE(tagged.ok()) << tagged.status();
  EXPECT_THAT(tagged->names(), UnorderedElementsAre("t/rm:v1", "t/rm:v2"));
  auto untag = RemoveImage(agent_, "t/rm:v2");
  ASSERT_TRUE(untag.ok()) << untag.status();
  EXPECT_THAT(untag->untagged(), ElementsAre("t/rm:v2"));
  EXPECT_THAT(untag->deleted(), IsEmpty());
  EXPECT_TRUE(HasBlob(agent_.root(), image.layers[1].digest()));

  // The last name: the image's own blobs and layer dir go, busybox's stay.
  auto removed = RemoveImage(agent_, "t/rm:v1");
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_THAT(removed->untagged(), ElementsAre("t/rm:v1"));
  EXPECT_THAT(removed->deleted(), ElementsAre(image.config_digest()));
  for (const std::string& digest : {image.layers[1].digest(), image.config_digest(), image.manifest_digest()}) {
    EXPECT_FALSE(HasBlob(agent_.root(), digest)) << digest;
  }
  EXPECT_FALSE(std::filesystem::exists(own_layer)) << own_layer;
  EXPECT_TRUE(std::filesystem::exists(busybox_layer)) << busybox_layer;
  EXPECT_TRUE(HasBlob(agent_.root(), busybox_.layers[0].digest()));
  EXPECT_EQ(InspectImage(agent_, "t/rm:v1").status().code(), absl::StatusCode::kNotFound);
  auto usage_after = DiskUsage(agent_);
  ASSERT_TRUE(usage_after.ok());
  EXPECT_EQ(usage_after->images(), 1);
  EXPECT_LT(usage_after->images_size(), usage_before->images_size() - (1 << 20) + 4096);
  EXPECT_LT(usage_after->layers_size(), usage_before->layers_size() - (1 << 20) + 4096);
  auto run = agent_.RunToExit(Busybox({"true"}));
  ASSERT_TRUE(run.ok()) << run.status();

  // By id prefix: every name of it at once.
  const v1::Image again = ImportAs(image, "t/rm:a");
  ASSERT_TRUE(TagImage(agent_, "t/rm:a", "t/rm:b").ok());
  auto by_id = RemoveImage(agent_, DigestHex(again.id()).substr(0, 12));
  ASSERT_TRUE(by_id.ok()) << by_id.status();
  EXPECT_THAT(by_id->untagged(), UnorderedElementsAre("t/rm:a", "t/rm:b"));
  EXPECT_THAT(by_id->deleted(), ElementsAre(image.config_digest()));
  EXPECT_FALSE(HasBlob(agent_.root(), image.layers[1].digest()));

  EXPECT_EQ(RemoveImage(agent_, "t/rm:never").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(TagImage(agent_, "t/rm:never", "t/x:y").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(TagImage(agent_, "busybox", "Bad Name").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ImagesContentTest, AnImageInUseNeedsForce) {
  const Image image = DerivedImage(busybox_, {File("in-use.txt", "still here\n")});
  const v1::Image imported = ImportAs(image, "t/used:v1");
  auto c = agent_.Run(FromImage("t/used:v1", {"sleep", "60"}));
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string own_layer = LayerDirOf(imported, 1);

  auto refused = RemoveImage(agent_, "t/used:v1");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("container"));
  EXPECT_TRUE(InspectImage(agent_, "t/used:v1").ok());
  auto by_id = RemoveImage(agent_, imported.id());
  EXPECT_EQ(by_id.status().code(), absl::StatusCode::kFailedPrecondition) << by_id.status();

  // Forced: the name goes, the container keeps running on the layers.
  auto forced = RemoveImage(agent_, "t/used:v1", /*force=*/true);
  ASSERT_TRUE(forced.ok()) << forced.status();
  EXPECT_THAT(forced->untagged(), ElementsAre("t/used:v1"));
  EXPECT_EQ(InspectImage(agent_, "t/used:v1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(std::filesystem::exists(own_layer));
  auto exec = agent_.Exec(c->id(), {"cat", "/in-use.txt"});
  ASSERT_TRUE(exec.ok()) << exec.status();
  EXPECT_EQ(exec->out, "still here\n");
  // A prune keeps what the container uses.
  auto pruned = PruneImages(agent_);
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_THAT(pruned->deleted(), Not(Contains(image.config_digest())));
  EXPECT_TRUE(std::filesystem::exists(own_layer));
  // Nothing left that a prune would free: the kept image's content is not reclaimable.
  auto usage = DiskUsage(agent_);
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(usage->reclaimable_size(), 0) << "system df counts the content of an image a container uses";
  auto second = PruneImages(agent_);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->reclaimed_bytes(), 0);
  // The kept content survives an agent restart: the image still runs by id while the
  // container exists. Once it is gone, a prune frees the layers.
  agent_.Restart();
  auto by_id_run = agent_.RunToExit(FromImage(imported.id(), {"cat", "/in-use.txt"}));
  ASSERT_TRUE(by_id_run.ok()) << by_id_run.status();
  EXPECT_EQ(by_id_run->out, "still here\n");
  auto listed = ListImages(agent_);
  ASSERT_TRUE(listed.ok());
  // Still listed, without a name (Docker's <none>), while a container keeps it.
  int unnamed = 0;
  for (const auto& i : *listed) {
    if (i.id() == imported.id()) {
      ++unnamed;
      EXPECT_TRUE(i.names().empty()) << i.DebugString();
    }
  }
  EXPECT_EQ(unnamed, 1) << "the forced-out image is not listed as <none>";
  EXPECT_THAT(agent_.Cli({"images"}).out, HasSubstr("<none>"));
  auto containers = agent_.List();
  ASSERT_TRUE(containers.ok());
  for (const auto& each : *containers) ASSERT_TRUE(agent_.Remove(each.id()).ok());
  // Unused now: a prune of dangling images only takes it and leaves the named ones.
  auto freed = PruneImages(agent_, /*dangling_only=*/true);
  ASSERT_TRUE(freed.ok()) << freed.status();
  EXPECT_THAT(freed->deleted(), Contains(image.config_digest()));
  EXPECT_EQ(freed->deleted_size(), 1) << "a named image went with the dangling ones";
  EXPECT_TRUE(InspectImage(agent_, "busybox").ok());
  EXPECT_FALSE(std::filesystem::exists(own_layer)) << own_layer;
  EXPECT_FALSE(HasBlob(agent_.root(), image.layers[1].digest()));
}

TEST_F(ImagesContentTest, MovingANameKeepsTheOldImageForItsContainers) {
  // t/move:v1 names image A, a container runs on it, then the name moves to image B (a new
  // import under the same name; a pull of a tag that changed in the registry does the same).
  const Image a = DerivedImage(busybox_, {File("a.txt", "image a\n")});
  const Image b = DerivedImage(busybox_, {File("b.txt", "image b\n")});
  const v1::Image imported_a = ImportAs(a, "t/move:v1");
  const std::string a_layer = LayerDirOf(imported_a, 1);
  auto c = agent_.Run(FromImage("t/move:v1", {"sleep", "60"}));
  ASSERT_TRUE(c.ok()) << c.status();
  ImportAs(b, "t/move:v1");
  auto now = InspectImage(agent_, "t/move:v1");
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->id(), b.config_digest());
  EXPECT_EQ(now->containers(), 0);  // the container runs on A, not on B
  // A is dangling: listed without a name (<none>), still there by id.
  auto listed = ListImages(agent_);
  ASSERT_TRUE(listed.ok());
  for (const auto& i : *listed) {
    if (i.id() == a.config_digest()) EXPECT_TRUE(i.names().empty()) << i.DebugString();
  }

  // Whatever collects garbage next (a prune, the removal of another image) must keep A.
  auto pruned = PruneImages(agent_);
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_THAT(pruned->deleted(), Not(Contains(a.config_digest())));
  EXPECT_TRUE(std::filesystem::exists(a_layer)) << "the layer of a running container's image was deleted";
  EXPECT_TRUE(HasBlob(agent_.root(), a.layers[1].digest()));
  auto exec = agent_.Exec(c->id(), {"cat", "/a.txt"});
  ASSERT_TRUE(exec.ok()) << exec.status();
  EXPECT_EQ(exec->out, "image a\n") << exec->err;
  auto by_id = InspectImage(agent_, a.config_digest());
  EXPECT_TRUE(by_id.ok()) << "the image of a running container cannot be found by id: " << by_id.status();
  EXPECT_THAT(pruned->deleted(), Contains(b.config_digest()));  // B: no container

  // Once the container is gone, A goes with the next prune.
  ASSERT_TRUE(agent_.Remove(c->id()).ok());
  auto later = PruneImages(agent_);
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_THAT(later->deleted(), Contains(a.config_digest()));
  EXPECT_FALSE(std::filesystem::exists(a_layer));
}

TEST_F(ImagesContentTest, PruneRemovesEveryImageNoContainerUses) {
  const Image used = DerivedImage(busybox_, {File("used.bin", RandomBytes(512 << 10))});
  const Image unused = DerivedImage(busybox_, {File("unused.bin", RandomBytes(1 << 20))});
  const v1::Image used_image = ImportAs(used, "t/prune:used");
  const v1::Image unused_image = ImportAs(unused, "t/prune:unused");
  const std::string unused_layer = LayerDirOf(unused_image, 1);
  const std::string used_layer = LayerDirOf(used_image, 1);
  auto c = agent_.Create(FromImage("t/prune:used", {"true"}));
  ASSERT_TRUE(c.ok()) << c.status();

  auto usage = DiskUsage(agent_);
  ASSERT_TRUE(usage.ok());
  EXPECT_EQ(usage->images(), 3);
  EXPECT_GT(usage->reclaimable_size(), 1 << 20);

  auto pruned = PruneImages(agent_);
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_THAT(pruned->deleted(), Contains(unused.config_digest()));
  EXPECT_THAT(pruned->deleted(), Contains(busybox_.config_digest()));  // no container uses it
  EXPECT_THAT(pruned->deleted(), Not(Contains(used.config_digest())));
  EXPECT_GT(pruned->reclaimed_bytes(), 2 * (1 << 20));  // the blob and the unpacked file
  EXPECT_FALSE(std::filesystem::exists(unused_layer));
  EXPECT_FALSE(HasBlob(agent_.root(), unused.layers[1].digest()));
  EXPECT_TRUE(std::filesystem::exists(used_layer));
  EXPECT_TRUE(HasBlob(agent_.root(), busybox_.layers[0].digest()));  // a layer of the used image
  auto images = ListImages(agent_);
  ASSERT_TRUE(images.ok());
  ASSERT_EQ(images->size(), 1u);
  EXPECT_EQ((*images)[0].id(), used.config_digest());
  auto after = DiskUsage(agent_);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->images(), 1);
  EXPECT_EQ(after->reclaimable_size(), 0);

  // Once the container is gone, everything goes.
  ASSERT_TRUE(agent_.Remove(c->id()).ok());
  auto all = PruneImages(agent_);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(all->deleted(), ElementsAre(used.config_digest()));
  EXPECT_THAT(LayerDirs(agent_.root()), IsEmpty());
  EXPECT_THAT(ContentBlobs(agent_.root()), IsEmpty());
  // A restarted agent brings its default image back.
  agent_.Restart();
  EXPECT_TRUE(InspectImage(agent_, "busybox").ok());
}

// Entry names above the layer root or absolute, and symlinks on an entry's path wherever
// they point, are taken inside the layer (as containerd does): the import succeeds, what the
// layer writes lands inside its own dir, and nothing appears beside it or on the host.
TEST_F(ImagesContentTest, LayersWritingOutsideTheirDirAreConfinedToIt) {
  const std::string outside = agent_.dir() + "/outside";
  ASSERT_TRUE(std::filesystem::create_directory(outside));
  struct Case {
    std::string name;
    std::vector<TarItem> items;
    std::string lands_at;        // below the layer dir
    std::string must_not_exist;  // where the escape would land
  };
  const std::string layers_dir = agent_.root() + "/images/layers";
  const std::string absolute = "escape-absolute-" + std::to_string(::getpid());
  const std::vector<Case> cases = {
      {"dot-dot entry", {File("../escape-dotdot", "x")}, "escape-dotdot", layers_dir + "/escape-dotdot"},
      {"dot-dot inside a path", {Dir("a"), File("a/../../escape-inner", "x")}, "escape-inner",
       layers_dir + "/escape-inner"},
      {"absolute path", {File("/" + absolute, "x")}, absolute, "/" + absolute},
      {"through an absolute symlink", {Symlink("out", outside), File("out/pwned-abs", "x")},
       outside.substr(1) + "/pwned-abs", outside + "/pwned-abs"},
      {"through a relative symlink",
       {Symlink("rel", "../../../../../../../../../../.." + outside), File("rel/pwned-rel", "x")},
       outside.substr(1) + "/pwned-rel", outside + "/pwned-rel"},
      // From <root>/images/layers/<tmp>/d, five levels up is the harness's dir.
      {"through a symlinked dir below", {Dir("d"), Symlink("d/up", "../../../../.."), File("d/up/escape-up", "x")},
       "escape-up", agent_.dir() + "/escape-up"},
      {"symlink to / then etc/passwd", {Symlink("evil", "/"), File("evil/etc/passwd", "x")}, "etc/passwd", ""},
      {"symlink up then etc/passwd", {Symlink("evil", "../../.."), File("evil/etc/passwd", "x")}, "etc/passwd",
       ""},
      {"whiteout reaching up", {Dir("w"), File("w/../.wh.escape", "")}, "escape", ""},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(c.name);
    const std::set<std::string> layers_before = LayerDirs(agent_.root());
    const Image image = DerivedImage(busybox_, c.items);
    const v1::Image imported = ImportAs(image, "t/confined:" + std::to_string(i));
    ASSERT_EQ(imported.id(), image.config_digest());
    std::vector<std::string> added;
    for (const std::string& layer : LayerDirs(agent_.root())) {
      if (layers_before.count(layer) == 0) added.push_back(layer);
    }
    ASSERT_EQ(added.size(), 1u);
    const std::string landed = layers_dir + "/" + added[0] + "/" + c.lands_at;
    EXPECT_TRUE(std::filesystem::exists(std::filesystem::symlink_status(landed))) << landed;
    if (std::filesystem::is_regular_file(std::filesystem::symlink_status(landed))) {
      EXPECT_EQ(ReadText(landed), "x");
    }
    if (!c.must_not_exist.empty()) {
      EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(c.must_not_exist))) << c.must_not_exist;
      std::error_code ec;
      std::filesystem::remove(c.must_not_exist, ec);
    }
    EXPECT_TRUE(std::filesystem::is_empty(outside)) << outside;
  }
  // The host's own file is untouched; a container of the image sees the layer's.
  EXPECT_THAT(ReadText("/etc/passwd"), HasSubstr("root:"));
  auto run = agent_.RunToExit(FromImage("t/confined:6", {"cat", "/etc/passwd"}));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->out, "x");
}

// What still cannot be written is refused, with nothing kept: a hard link to anything but an
// earlier file of the layer (a name that pointed outside is rooted at the layer, where there
// is no such file), and a symlink naming the layer root.
TEST_F(ImagesContentTest, LayersLinkingOutsideTheirDirAreRefused) {
  const std::string outside = agent_.dir() + "/outside";
  ASSERT_TRUE(std::filesystem::create_directory(outside));
  ASSERT_TRUE(WriteFileAtomic(outside + "/victim", "untouched\n").ok());
  struct Case {
    std::string name;
    std::vector<TarItem> items;
  };
  const std::vector<Case> cases = {
      {"hard link to a file outside", {Hardlink("passwd-link", "../../../../../../../../../etc/passwd")}},
      {"hard link to an absolute path", {Hardlink("victim-link", outside + "/victim")}},
      {"hard link through a symlink", {Symlink("out", outside), Hardlink("victim-link", "out/victim")}},
      {"symlink as the layer root", {Symlink("./", outside)}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::set<std::string> layers_before = LayerDirs(agent_.root());
    const std::string refs_before = RefsJson(agent_.root());
    const Image image = DerivedImage(busybox_, c.items);
    auto imported = ImportImages(agent_, LayoutTar({&image}, {"t/evil:v1"}));
    EXPECT_EQ(imported.status().code(), absl::StatusCode::kInvalidArgument) << imported.status();
    EXPECT_EQ(LayerDirs(agent_.root()), layers_before);
    EXPECT_THAT(HiddenLayerDirs(agent_.root()), IsEmpty());
    EXPECT_EQ(RefsJson(agent_.root()), refs_before);
    EXPECT_EQ(InspectImage(agent_, "t/evil:v1").status().code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(ListDirectory(outside), ElementsAre("victim"));
    EXPECT_EQ(ReadText(outside + "/victim"), "untouched\n");
    EXPECT_EQ(std::filesystem::hard_link_count(outside + "/victim"), 1u);
  }
  EXPECT_THAT(ReadText("/etc/passwd"), HasSubstr("root:"));

  // The same refusal for a `docker save` archive, which names its image before unpacking.
  const Image evil = DerivedImage(busybox_, {Hardlink("escape-docker", "../../../../etc/passwd")});
  const std::string refs_before = RefsJson(agent_.root());
  auto imported = ImportImages(agent_, DockerArchiveTar(evil, {"t/evil:docker"}));
  EXPECT_EQ(imported.status().code(), absl::StatusCode::kInvalidArgument) << imported.status();
  EXPECT_THAT(HiddenLayerDirs(agent_.root()), IsEmpty());
  EXPECT_EQ(RefsJson(agent_.root()), refs_before) << "a refused docker archive left its name behind";
  EXPECT_EQ(InspectImage(agent_, "t/evil:docker").status().code(), absl::StatusCode::kNotFound);
  auto list = ListImages(agent_);
  ASSERT_TRUE(list.ok()) << list.status();
  for (const auto& image : *list) EXPECT_THAT(image.names(), Not(Contains("t/evil:docker")));
}

// An image Remove racing a Create never takes what the new container needs: either the
// remove comes first and the create finds no image, or the container holds the image (the
// create pins it until its record counts as a use) and the remove is refused. A container
// that was created runs on intact layers.
TEST_F(ImagesContentTest, RemoveRacingCreateNeverTakesTheNewContainersLayers) {
  for (int i = 0; i < 12; ++i) {
    const std::string name = "t/race:" + std::to_string(i);
    const std::string motd = "race " + std::to_string(i) + "\n";
    const Image image = DerivedImage(busybox_, {File("etc/motd", motd)});
    ASSERT_TRUE(ImportImages(agent_, LayoutTar({&image}, {name})).ok());
    absl::StatusOr<v1::Container> created = absl::UnknownError("not run");
    std::thread creator([&] { created = agent_.Create(FromImage(name, {"cat", "/etc/motd"})); });
    if (i % 2 == 1) std::this_thread::sleep_for(std::chrono::milliseconds(i));
    absl::StatusOr<v1::RemoveImageResponse> removed = RemoveImage(agent_, name);
    creator.join();
    ASSERT_NE(created.ok(), removed.ok()) << "round " << i << ": create " << created.status() << ", remove "
                                          << removed.status();
    if (!created.ok()) {
      EXPECT_EQ(created.status().code(), absl::StatusCode::kNotFound) << created.status();
      continue;
    }
    EXPECT_EQ(removed.status().code(), absl::StatusCode::kFailedPrecondition) << removed.status();
    ASSERT_TRUE(agent_.StartContainer(created->id()).ok());
    auto waited = agent_.Wait(created->id());
    ASSERT_TRUE(waited.ok()) << waited.status();
    EXPECT_EQ(waited->exit_code(), 0);
    auto logs = agent_.Logs(created->id());
    ASSERT_TRUE(logs.ok()) << logs.status();
    EXPECT_EQ(*logs, motd);
    ASSERT_TRUE(agent_.Remove(created->id()).ok());
    ASSERT_TRUE(RemoveImage(agent_, name).ok());
  }
}

}  // namespace
}  // namespace berth::testing
