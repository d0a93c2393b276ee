// ImageStore without an agent: the default image built and imported, export → import keeping
// digests, tags, removal with and without users, garbage collection of blobs and layers.
#include "agent/image/image_store.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/image/archive.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/file_util.h"

namespace berth::image {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "needs Debian's busybox-static";
    char tmpl[] = "/tmp/berth-imagestore-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    store_ = std::make_unique<ImageStore>(dir_ + "/images", RegistryOptions{});
    ASSERT_TRUE(store_->Init().ok());
    ASSERT_TRUE(store_->EnsureBusybox("/bin/busybox").ok());
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) (void)RemoveTree(dir_);
  }
  std::vector<std::string> LayerDirs() {
    std::vector<std::string> out;
    for (const auto& n : ListDirectory(dir_ + "/images/layers")) out.push_back(n);
    return out;
  }

  std::string dir_;
  std::unique_ptr<ImageStore> store_;
};

TEST_F(ImageStoreTest, DefaultImageIsARealOciImageWithOneUnpackedLayer) {
  auto image = store_->Get("busybox");
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->name, "docker.io/library/busybox:latest");
  EXPECT_EQ(image->config.config.cmd, std::vector<std::string>{"sh"});
  ASSERT_EQ(image->layers.size(), 1u);
  struct stat st;
  EXPECT_EQ(::stat((image->layers[0] + "/bin/busybox").c_str(), &st), 0);
  EXPECT_TRUE(store_->content().Has(image->manifest_digest));
  // By id and id prefix too; the same binary gives the same digests.
  EXPECT_EQ(store_->Get(image->id)->manifest_digest, image->manifest_digest);
  EXPECT_EQ(store_->Get(image->id.substr(7, 12))->manifest_digest, image->manifest_digest);
  ImageStore again(dir_ + "/other", RegistryOptions{});
  ASSERT_TRUE(again.Init().ok());
  ASSERT_TRUE(again.EnsureBusybox("/bin/busybox").ok());
  EXPECT_EQ(again.Get("busybox")->manifest_digest, image->manifest_digest);
  EXPECT_EQ(store_->Get("nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ImageStoreTest, ExportThenImportKeepsTheDigest) {
  auto image = store_->Get("busybox");
  ASSERT_TRUE(image.ok());
  const std::string tar = dir_ + "/busybox.tar";
  ASSERT_TRUE(store_->Export({"busybox"}, tar).ok());
  ImageStore fresh(dir_ + "/fresh", RegistryOptions{});
  ASSERT_TRUE(fresh.Init().ok());
  auto imported = fresh.Import(tar);
  ASSERT_TRUE(imported.ok()) << imported.status();
  ASSERT_EQ(imported->size(), 1u);
  EXPECT_EQ((*imported)[0].manifest_digest, image->manifest_digest);
  EXPECT_EQ((*imported)[0].id, image->id);
  EXPECT_EQ(fresh.Get("busybox:latest")->id, image->id);
}

TEST_F(ImageStoreTest, TagsShareContentAndRemovalFreesItOnlyWhenUnused) {
  auto tagged = store_->Tag("busybox", "example.com/team/tool:v1");
  ASSERT_TRUE(tagged.ok()) << tagged.status();
  EXPECT_EQ(tagged->names.size(), 2u);
  EXPECT_EQ(LayerDirs().size(), 1u);
  const std::string id = tagged->id;

  // In use by a container: the last name cannot go without force.
  auto in_use = [&] { return std::set<std::string>{id}; };
  auto untag = store_->Remove("example.com/team/tool:v1", false, in_use);
  ASSERT_TRUE(untag.ok()) << untag.status();  // another name remains: just untagged
  EXPECT_THAT(untag->untagged, Contains("example.com/team/tool:v1"));
  EXPECT_EQ(store_->Remove("busybox", false, in_use).status().code(), absl::StatusCode::kFailedPrecondition);
  // Forced: the name goes, the content stays for the container.
  auto forced = store_->Remove("busybox", true, in_use);
  ASSERT_TRUE(forced.ok()) << forced.status();
  EXPECT_THAT(forced->deleted, IsEmpty());
  EXPECT_EQ(LayerDirs().size(), 1u);
  // Listed without a name (<none>) while the container keeps it.
  const std::vector<Image> listed = store_->List();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id, id);
  EXPECT_THAT(listed[0].names, IsEmpty());
  // Once no container uses it, prune frees blobs and layers.
  int64_t reclaimed = 0;
  auto pruned = store_->Prune([] { return std::set<std::string>{}; }, &reclaimed);
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_THAT(pruned->deleted, Contains(id));
  EXPECT_GT(reclaimed, 0);
  EXPECT_THAT(LayerDirs(), IsEmpty());
  EXPECT_THAT(store_->content().List(), IsEmpty());
}

// An OCI layout archive in `work` of one image `name` whose only layer holds `layer`: valid
// digests everywhere, whatever the content. Archive entry names start with `prefix` ("" or
// "/"); `extra` entries are added to the archive.
std::string WriteLayout(const std::string& work, const std::vector<TarEntry>& layer,
                        const std::string& name, const std::string& prefix = "",
                        const std::vector<TarEntry>& extra = {}) {
  EXPECT_TRUE(MakeDirs(work).ok());
  EXPECT_TRUE(WriteTar(work + "/layer.tar", layer).ok());
  auto layer_bytes = ReadFile(work + "/layer.tar");
  EXPECT_TRUE(layer_bytes.ok());
  std::string layer_digest = Sha256Of(*layer_bytes);
  std::string config = R"({"architecture":"amd64","os":"linux","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":[")" +
                       layer_digest + R"("]}})";
  std::string config_digest = Sha256Of(config);
  std::string manifest = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                         config_digest + R"(","size":)" + std::to_string(config.size()) +
                         R"(},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" + layer_digest +
                         R"(","size":)" + std::to_string(layer_bytes->size()) + "}]}";
  std::string manifest_digest = Sha256Of(manifest);
  std::string index = R"({"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
                      manifest_digest + R"(","size":)" + std::to_string(manifest.size()) +
                      R"(,"annotations":{"org.opencontainers.image.ref.name":")" + name + R"("}}]})";
  using Kind = TarEntry::Kind;
  std::vector<TarEntry> entries = {
      {prefix + "oci-layout", Kind::kFile, "", R"({"imageLayoutVersion":"1.0.0"})"},
      {prefix + "index.json", Kind::kFile, "", index},
      {prefix + "blobs/sha256/" + DigestHex(layer_digest), Kind::kFile, work + "/layer.tar"},
      {prefix + "blobs/sha256/" + DigestHex(config_digest), Kind::kFile, "", config},
      {prefix + "blobs/sha256/" + DigestHex(manifest_digest), Kind::kFile, "", manifest}};
  entries.insert(entries.end(), extra.begin(), extra.end());
  EXPECT_TRUE(WriteTar(work + "/image.tar", entries).ok());
  return work + "/image.tar";
}

// Layer entries naming paths above the layer root or absolute paths are rooted at the layer
// (as containerd does): the files land inside the unpacked layer, nothing beside it.
TEST_F(ImageStoreTest, ImportOfALayerNamingPathsAboveItsRootKeepsThemInside) {
  using Kind = TarEntry::Kind;
  const std::string tar =
      WriteLayout(dir_ + "/evil", {{"../escape", Kind::kFile, "", "gotcha\n"},
                                   {"/abs-escape", Kind::kFile, "", "absolute\n"},
                                   {"../../etc/x", Kind::kFile, "", "etc\n"}},
                  "evil:latest");
  auto imported = store_->Import(tar);
  ASSERT_TRUE(imported.ok()) << imported.status();
  auto image = store_->Get("evil");
  ASSERT_TRUE(image.ok()) << image.status();
  ASSERT_EQ(image->layers.size(), 1u);
  const std::string layer = image->layers[0];
  EXPECT_EQ(ReadFile(layer + "/escape").value_or(""), "gotcha\n");
  EXPECT_EQ(ReadFile(layer + "/abs-escape").value_or(""), "absolute\n");
  EXPECT_EQ(ReadFile(layer + "/etc/x").value_or(""), "etc\n");
  struct stat st;
  EXPECT_NE(::stat((dir_ + "/images/escape").c_str(), &st), 0);
  EXPECT_NE(::stat((dir_ + "/images/layers/escape").c_str(), &st), 0);
  EXPECT_NE(::stat("/abs-escape", &st), 0);
}

// The image archive itself: names with a leading "/" are taken below the work directory;
// one whose ".." climbs above it is refused, and the import leaves nothing.
TEST_F(ImageStoreTest, ImageArchiveNamesAreRootedAndDotDotAboveTheRootIsRefused) {
  using Kind = TarEntry::Kind;
  const std::string slashed = WriteLayout(
      dir_ + "/slashed", {{"etc/motd", Kind::kFile, "", "hi\n"}}, "slashed:latest", "/");
  auto imported = store_->Import(slashed);
  ASSERT_TRUE(imported.ok()) << imported.status();
  ASSERT_TRUE(store_->Get("slashed").ok());
  EXPECT_EQ(ReadFile(store_->Get("slashed")->layers[0] + "/etc/motd").value_or(""), "hi\n");

  const std::string evil =
      WriteLayout(dir_ + "/evil", {{"etc/motd", Kind::kFile, "", "hi\n"}}, "evil:latest", "",
                  {{"blobs/../../escape", Kind::kFile, "", "gotcha\n"}});
  const auto layers_before = LayerDirs();
  auto refused = store_->Import(evil);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("blobs/../../escape"));
  EXPECT_EQ(LayerDirs(), layers_before);
  EXPECT_EQ(store_->Get("evil").status().code(), absl::StatusCode::kNotFound);
  struct stat st;
  EXPECT_NE(::stat((dir_ + "/images/escape").c_str(), &st), 0);
  EXPECT_NE(::stat((dir_ + "/escape").c_str(), &st), 0);
}

TEST_F(ImageStoreTest, ArchivesThatAreNeitherLayoutNorDockerSaveAreInvalid) {
  ASSERT_TRUE(WriteTar(dir_ + "/junk.tar", {{"hello.txt", TarEntry::Kind::kFile, "", "hi"}}).ok());
  EXPECT_EQ(store_->Import(dir_ + "/junk.tar").status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/notatar", "definitely not a tar").ok());
  EXPECT_FALSE(store_->Import(dir_ + "/notatar").ok());
}

}  // namespace
}  // namespace berth::image
