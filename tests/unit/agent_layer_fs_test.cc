// agent/layer_fs (reading files from an image's layer stack) and ResolveUser over it, with
// layer dirs built in a temp dir. Whiteouts (mknod) and opaque dirs (trusted.* xattrs) need
// root; those tests skip without it.
#include "agent/layer_fs.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/user_lookup.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/file_util.h"

namespace berth::agent {
namespace {

using ::testing::HasSubstr;

class LayerFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-layerfs-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    for (int i = 0; i < 3; ++i) {
      layers_.push_back(absl::StrCat(dir_, "/l", i));  // l0 is the topmost
      ASSERT_TRUE(MakeDirs(layers_.back()).ok());
    }
  }
  void TearDown() override { (void)RemoveTree(dir_); }

  static bool Root() { return ::geteuid() == 0; }

  std::string At(int layer, const std::string& rel) const { return layers_[layer] + "/" + rel; }
  void Parent(const std::string& path) {
    ASSERT_TRUE(MakeDirs(path.substr(0, path.find_last_of('/'))).ok());
  }
  void File(int layer, const std::string& rel, const std::string& content) {
    Parent(At(layer, rel));
    ASSERT_TRUE(WriteFileAtomic(At(layer, rel), content, 0644, Durability::kProcessCrashSafe).ok());
  }
  void Dir(int layer, const std::string& rel) { ASSERT_TRUE(MakeDirs(At(layer, rel)).ok()); }
  void Link(int layer, const std::string& rel, const std::string& target) {
    Parent(At(layer, rel));
    ASSERT_EQ(::symlink(target.c_str(), At(layer, rel).c_str()), 0) << rel;
  }
  void Whiteout(int layer, const std::string& rel) {
    Parent(At(layer, rel));
    ASSERT_EQ(::mknod(At(layer, rel).c_str(), S_IFCHR | 0, makedev(0, 0)), 0) << rel;
  }
  void Opaque(int layer, const std::string& rel) {
    Dir(layer, rel);
    ASSERT_EQ(::setxattr(At(layer, rel).c_str(), "trusted.overlay.opaque", "y", 1, 0), 0) << rel;
  }

  std::string Read(const std::string& path, size_t max = 1 << 20) {
    auto got = ReadFileInLayers(layers_, path, max);
    return got.ok() ? *got : "ERROR " + got.status().ToString();
  }
  absl::Status ReadError(const std::string& path, size_t max = 1 << 20) {
    auto got = ReadFileInLayers(layers_, path, max);
    return got.ok() ? absl::OkStatus() : got.status();
  }
  std::string Real(const std::string& path) {
    auto stack = LayerStack::Open(layers_);
    if (!stack.ok()) return "ERROR " + stack.status().ToString();
    auto got = stack->RealPath(path);
    return got.ok() ? *got : "ERROR " + got.status().ToString();
  }

  std::string dir_;
  std::vector<std::string> layers_;
};

TEST_F(LayerFsTest, TopmostCopyWinsAndDirectoriesMerge) {
  File(2, "etc/passwd", "low\n");
  File(2, "etc/group", "group-low\n");
  File(1, "etc/passwd", "mid\n");
  File(0, "etc/hostname", "top\n");
  EXPECT_EQ(Read("/etc/passwd"), "mid\n");
  EXPECT_EQ(Read("etc/passwd"), "mid\n");
  EXPECT_EQ(Read("/etc/group"), "group-low\n");
  EXPECT_EQ(Read("/etc/hostname"), "top\n");
  EXPECT_EQ(Read("//etc/./passwd"), "mid\n");
  EXPECT_EQ(Read("/../../etc/../etc/group"), "group-low\n");  // ".." stops at the root
  EXPECT_EQ(ReadError("/etc/shadow").code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ReadError("/etc/shadow").message(), HasSubstr("/etc/shadow"));
  EXPECT_EQ(ReadError("/nope/passwd").code(), absl::StatusCode::kNotFound);

  auto stack = LayerStack::Open(layers_);
  ASSERT_TRUE(stack.ok()) << stack.status();
  auto st = stack->Stat("/etc");
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_TRUE(S_ISDIR(st->st_mode));
  auto f = stack->Stat("/etc/passwd");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->st_size, 4);

  // One layer (a plain rootfs).
  auto one = ReadFileInLayers({layers_[2]}, "/etc/passwd", 100);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, "low\n");
}

TEST_F(LayerFsTest, LayerProblemsAreTheAgentsNotTheImages) {
  EXPECT_EQ(ReadFileInLayers({}, "/etc/passwd", 100).status().code(), absl::StatusCode::kInvalidArgument);
  auto missing = ReadFileInLayers({dir_ + "/no-such-layer"}, "/etc/passwd", 100);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(missing.status().message(), HasSubstr("no-such-layer"));
}

TEST_F(LayerFsTest, WhiteoutHidesLowerFilesAndDirectories) {
  if (!Root()) GTEST_SKIP() << "mknod of a whiteout needs root";
  File(2, "etc/passwd", "low\n");
  File(2, "etc/group", "group-low\n");
  File(2, "opt/app/conf", "conf\n");
  Whiteout(1, "etc/passwd");
  Whiteout(0, "opt");
  EXPECT_EQ(ReadError("/etc/passwd").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Read("/etc/group"), "group-low\n");
  EXPECT_EQ(ReadError("/opt/app/conf").code(), absl::StatusCode::kNotFound);
  // Re-created above the whiteout: the new copy shows.
  File(0, "etc/passwd", "new\n");
  EXPECT_EQ(Read("/etc/passwd"), "new\n");
}

TEST_F(LayerFsTest, OpaqueDirectoryHidesTheLayersBelowIt) {
  if (!Root()) GTEST_SKIP() << "trusted.overlay.opaque needs root";
  File(2, "etc/passwd", "low\n");
  File(2, "etc/group", "group-low\n");
  File(2, "etc/shadow", "shadow-low\n");
  Opaque(1, "etc");
  File(1, "etc/group", "group-mid\n");
  File(0, "etc/hostname", "top\n");
  EXPECT_EQ(ReadError("/etc/passwd").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Read("/etc/group"), "group-mid\n");
  EXPECT_EQ(Read("/etc/hostname"), "top\n");  // layers above the opaque dir still merge

  Opaque(0, "etc");
  EXPECT_EQ(ReadError("/etc/group").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Read("/etc/hostname"), "top\n");
}

TEST_F(LayerFsTest, NonDirectoryAboveADirectoryHidesIt) {
  File(1, "etc/passwd", "low\n");
  File(0, "etc", "a file now\n");
  auto err = ReadError("/etc/passwd");
  EXPECT_EQ(err.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(err.message(), HasSubstr("not a directory"));
  EXPECT_EQ(Read("/etc"), "a file now\n");
}

TEST_F(LayerFsTest, SymlinkChainsResolveAcrossLayers) {
  Link(0, "etc", "usr/etc");                      // top layer: /etc -> usr/etc
  File(2, "usr/etc/passwd.real", "chained\n");    // bottom layer
  Link(1, "usr/etc/passwd", "passwd.real");       // middle layer: relative
  Link(1, "usr/etc/group", "/usr/lib/group");     // absolute: from the image's root
  File(2, "usr/lib/group", "groups\n");
  EXPECT_EQ(Read("/etc/passwd"), "chained\n");
  EXPECT_EQ(Read("/etc/group"), "groups\n");
  EXPECT_EQ(Real("/etc/passwd"), "/usr/etc/passwd.real");
  EXPECT_EQ(Real("/etc/group"), "/usr/lib/group");
  // ".." after a symlink is the parent of where the link led, as in the kernel.
  File(2, "usr/bin/tool", "tool\n");
  EXPECT_EQ(Real("/etc/../bin/tool"), "/usr/bin/tool");
  EXPECT_EQ(Read("/etc/../bin/tool"), "tool\n");
  // Errors name the path as asked, and where it led.
  auto err = ReadError("/etc", 100);
  EXPECT_EQ(err.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(err.message(), HasSubstr("/etc (/usr/etc)"));
  EXPECT_THAT(err.message(), HasSubstr("directory"));
}

TEST_F(LayerFsTest, HostileEtcToSlashStaysInsideTheStack) {
  ASSERT_EQ(::access("/etc/passwd", R_OK), 0) << "the node's /etc/passwd is the bait";
  Link(0, "etc", "/");
  auto err = ReadError("/etc/passwd");
  EXPECT_EQ(err.code(), absl::StatusCode::kNotFound) << err;
  // What the link really reaches is the stack's own root.
  File(1, "passwd", "stack-marker:x:7:7::/:/bin/sh\n");
  EXPECT_EQ(Read("/etc/passwd"), "stack-marker:x:7:7::/:/bin/sh\n");
  EXPECT_EQ(Real("/etc/passwd"), "/passwd");
}

TEST_F(LayerFsTest, HostileAbsoluteLinkToANodePathStaysInsideTheStack) {
  // A node path that exists (the lower layer's own file), reached by an absolute link.
  File(2, "secret", "node content\n");
  Dir(0, "etc");
  Link(0, "etc/passwd", At(2, "secret"));
  auto err = ReadError("/etc/passwd");
  EXPECT_EQ(err.code(), absl::StatusCode::kNotFound) << err;
}

TEST_F(LayerFsTest, HostileLinkToDevZeroIsNotRead) {
  Dir(0, "etc");
  Link(0, "etc/passwd", "/dev/zero");
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(ReadError("/etc/passwd").code(), absl::StatusCode::kNotFound);
  if (Root()) {
    // The image ships a /dev/zero of its own: a device is never opened.
    Dir(1, "dev");
    ASSERT_EQ(::mknod(At(1, "dev/zero").c_str(), S_IFCHR | 0666, makedev(1, 5)), 0);
    auto err = ReadError("/etc/passwd");
    EXPECT_EQ(err.code(), absl::StatusCode::kFailedPrecondition) << err;
    EXPECT_THAT(err.message(), HasSubstr("character device"));
    EXPECT_THAT(err.message(), HasSubstr("/etc/passwd (/dev/zero)"));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(LayerFsTest, HostileDotDotLinkIsClampedAtTheRoot) {
  ASSERT_EQ(::access("/etc/shadow", F_OK), 0) << "the node's /etc/shadow is the bait";
  Dir(0, "etc");
  Link(0, "etc/passwd", "../../../../etc/shadow");
  EXPECT_EQ(ReadError("/etc/passwd").code(), absl::StatusCode::kNotFound);
  File(1, "etc/shadow", "stack shadow\n");
  EXPECT_EQ(Read("/etc/passwd"), "stack shadow\n");
  EXPECT_EQ(Real("/etc/passwd"), "/etc/shadow");
}

TEST_F(LayerFsTest, HostileFifoFailsAtOnce) {
  Dir(0, "etc");
  ASSERT_EQ(::mkfifo(At(0, "etc/passwd").c_str(), 0644), 0);
  Link(0, "etc/group", "passwd");
  auto start = std::chrono::steady_clock::now();
  auto err = ReadError("/etc/passwd");
  EXPECT_EQ(err.code(), absl::StatusCode::kFailedPrecondition) << err;
  EXPECT_THAT(err.message(), HasSubstr("/etc/passwd"));
  EXPECT_THAT(err.message(), HasSubstr("FIFO"));
  auto via_link = ReadError("/etc/group");
  EXPECT_EQ(via_link.code(), absl::StatusCode::kFailedPrecondition) << via_link;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(LayerFsTest, HostileHugeSparseFileIsRefusedByItsSize) {
  Dir(1, "etc");
  {
    int fd = ::open(At(1, "etc/passwd").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 100 << 20), 0);  // 100 MiB of holes
    ::close(fd);
  }
  auto start = std::chrono::steady_clock::now();
  auto err = ReadError("/etc/passwd", 4 << 20);
  EXPECT_EQ(err.code(), absl::StatusCode::kResourceExhausted) << err;
  EXPECT_THAT(err.message(), HasSubstr("104857600 bytes"));
  EXPECT_THAT(err.message(), HasSubstr("cap of 4194304 bytes"));
  EXPECT_THAT(err.message(), HasSubstr("/etc/passwd"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(LayerFsTest, CapIsInclusive) {
  File(0, "f", "0123456789");
  EXPECT_EQ(Read("/f", 10), "0123456789");
  EXPECT_EQ(ReadError("/f", 9).code(), absl::StatusCode::kResourceExhausted);
  File(0, "empty", "");
  EXPECT_EQ(Read("/empty", 0), "");
}

TEST_F(LayerFsTest, HostileSymlinkLoopsEnd) {
  Dir(0, "etc");
  Link(0, "etc/passwd", "passwd");  // itself
  Link(0, "a", "b");
  Link(1, "b", "/a");               // a loop across layers
  for (const char* path : {"/etc/passwd", "/a", "/b/x"}) {
    auto err = ReadError(path);
    EXPECT_EQ(err.code(), absl::StatusCode::kInvalidArgument) << path << ": " << err;
    EXPECT_THAT(err.message(), HasSubstr("too many levels of symbolic links")) << path;
  }
  // /etc -> /etc: the node's /etc is not where it leads.
  Link(2, "x/etc", "/x/etc");
  EXPECT_EQ(ReadError("/x/etc/passwd").code(), absl::StatusCode::kInvalidArgument);
  // 40 links are fine, 41 are not.
  for (int i = 0; i < 40; ++i) Link(2, absl::StrCat("chain/l", i), absl::StrCat("l", i + 1));
  File(2, "chain/l40", "end\n");
  EXPECT_EQ(Read("/chain/l0"), "end\n");
  Link(1, "chain/start", "l0");
  EXPECT_EQ(ReadError("/chain/start").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadError("/dangling-is-missing").code(), absl::StatusCode::kNotFound);
  Link(0, "dangling", "nowhere");
  EXPECT_EQ(ReadError("/dangling").code(), absl::StatusCode::kNotFound);
}

// ResolveUser over the same views: hostile images give an error or what the image itself
// holds, never the node's users.
TEST_F(LayerFsTest, ResolveUserFollowsTheImageAcrossLayers) {
  Link(0, "etc", "usr/etc");
  File(1, "usr/etc/passwd", "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n");
  File(2, "usr/etc/group", "root:x:0:\napp:x:1001:\nstaff:x:50:app\n");
  auto u = ResolveUser(layers_, "app");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->gid, 1001u);
  EXPECT_EQ(u->additional_gids, (std::vector<uint32_t>{50}));
  auto g = ResolveUser(layers_, "1000:staff");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->gid, 50u);
}

TEST_F(LayerFsTest, ResolveUserNeverReadsTheNodesFiles) {
  // The node knows "root"; an image whose /etc leads to "/" does not.
  ASSERT_EQ(::access("/etc/passwd", R_OK), 0);
  Link(0, "etc", "/");
  auto root = ResolveUser(layers_, "root");
  EXPECT_EQ(root.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(root.status().message(), HasSubstr("not found in the image"));
  auto numeric = ResolveUser(layers_, "1");  // no passwd in the image: uid 1, gid 0
  ASSERT_TRUE(numeric.ok()) << numeric.status();
  EXPECT_EQ(numeric->gid, 0u);
}

TEST_F(LayerFsTest, ResolveUserOnHostileFilesFailsPromptly) {
  Dir(0, "etc");
  ASSERT_EQ(::mkfifo(At(0, "etc/passwd").c_str(), 0644), 0);
  auto start = std::chrono::steady_clock::now();
  auto fifo = ResolveUser(layers_, "1000");
  EXPECT_FALSE(fifo.ok());
  EXPECT_THAT(fifo.status().message(), HasSubstr("/etc/passwd"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  // Running as the image's default user (empty) needs no lookup at all.
  EXPECT_TRUE(ResolveUser(layers_, "").ok());

  ASSERT_EQ(::unlink(At(0, "etc/passwd").c_str()), 0);
  Link(0, "etc/passwd", "/dev/zero");
  Link(0, "etc/group", "../../../../etc/gshadow");
  auto zero = ResolveUser(layers_, "root");
  EXPECT_EQ(zero.status().code(), absl::StatusCode::kInvalidArgument);  // no such user in the image
  auto group = ResolveUser(layers_, "0:root");  // the node's group "root" is not the image's
  EXPECT_EQ(group.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(group.status().message(), HasSubstr("group \"root\" not found"));

  ASSERT_EQ(::unlink(At(0, "etc/passwd").c_str()), 0);
  {
    int fd = ::open(At(0, "etc/passwd").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 100 << 20), 0);
    ::close(fd);
  }
  auto huge = ResolveUser(layers_, "root");
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(huge.status().message(), HasSubstr("cap of"));
}

}  // namespace
}  // namespace berth::agent
