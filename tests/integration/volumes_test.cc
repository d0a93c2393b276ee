// Volumes on real containers, through the real CLI and read back from the agent and the node:
// data that outlives containers and the agent, a volume in use that cannot be removed,
// anonymous volumes and `rm -v`, the image's files copied into an empty volume (also through
// a multi-layer overlay, never from the node through a symlink), --mount bind/volume/tmpfs
// with Docker's keys, prune, system df, and bad input that leaves nothing behind.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "berth/v1/volumes.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/image_support.h"
#include "tests/integration/support/oci_builder.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class VolumesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(agent_.Start());
    volumes_ = v1::Volumes::NewStub(agent_.channel());
  }

  absl::StatusOr<v1::Volume> InspectVolume(const std::string& name) {
    v1::InspectVolumeRequest req;
    req.set_name(name);
    v1::InspectVolumeResponse resp;
    grpc::ClientContext ctx;
    grpc::Status st = volumes_->Inspect(&ctx, req, &resp);
    if (!st.ok()) return absl::Status(static_cast<absl::StatusCode>(st.error_code()), st.error_message());
    return resp.volume();
  }

  std::set<std::string> VolumeNames() {
    v1::ListVolumesResponse resp;
    grpc::ClientContext ctx;
    EXPECT_TRUE(volumes_->List(&ctx, v1::ListVolumesRequest(), &resp).ok());
    std::set<std::string> names;
    for (const v1::Volume& v : resp.volumes()) names.insert(v.name());
    return names;
  }

  // The CLI's output, failing the test on a non-zero exit.
  std::string Ok(const std::vector<std::string>& args) {
    CliResult r = agent_.Cli(args);
    EXPECT_EQ(r.exit_code, 0) << absl::StrJoin(args, " ") << ": " << r.err;
    return r.out;
  }

  AgentHarness agent_;
  std::unique_ptr<v1::Volumes::Stub> volumes_;
};

TEST_F(VolumesTest, NamedVolumeOutlivesContainersAndTheAgent) {
  EXPECT_EQ(Ok({"volume", "create", "--label", "team=a", "data"}), "data\n");
  Ok({"run", "--rm", "--network", "none", "-v", "data:/data", "busybox", "sh", "-c", "echo kept > /data/f"});
  EXPECT_EQ(Ok({"run", "--rm", "--network", "none", "-v", "data:/data:ro", "busybox", "cat", "/data/f"}), "kept\n");
  CliResult ro = agent_.Cli({"run", "--rm", "--network", "none", "-v", "data:/data:ro", "busybox", "touch", "/data/g"});
  EXPECT_NE(ro.exit_code, 0);

  auto volume = InspectVolume("data");
  ASSERT_TRUE(volume.ok()) << volume.status();
  EXPECT_EQ(volume->driver(), "local");
  EXPECT_EQ(volume->labels().at("team"), "a");
  EXPECT_TRUE(volume->used_by().empty());
  EXPECT_GT(volume->size_bytes(), 0);
  EXPECT_EQ(ReadText(volume->mountpoint() + "/f"), "kept\n");  // on the node, where inspect says
  EXPECT_THAT(Ok({"volume", "ls", "-q"}), HasSubstr("data\n"));
  EXPECT_EQ(Ok({"volume", "ls", "-q", "--filter", "label=team=b"}), "");
  EXPECT_EQ(Ok({"volume", "ls", "-q", "--filter", "dangling=true"}), "data\n");
  // Creating a name that exists returns that volume as it is (Docker's rule).
  EXPECT_EQ(Ok({"volume", "create", "--label", "team=z", "data"}), "data\n");
  auto same = InspectVolume("data");
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->labels().at("team"), "a");

  agent_.Restart();
  volumes_ = v1::Volumes::NewStub(agent_.channel());
  auto again = InspectVolume("data");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->labels().at("team"), "a");
  EXPECT_EQ(Ok({"run", "--rm", "--network", "none", "-v", "data:/data", "busybox", "cat", "/data/f"}), "kept\n");

  auto df = DiskUsage(agent_);
  ASSERT_TRUE(df.ok()) << df.status();
  EXPECT_EQ(df->volumes(), 1);
  EXPECT_GT(df->volumes_size(), 0);
  EXPECT_THAT(Ok({"system", "df"}), HasSubstr("Local Volumes"));
  EXPECT_EQ(Ok({"volume", "rm", "data"}), "data\n");
  EXPECT_EQ(VolumeNames().count("data"), 0u);
}

TEST_F(VolumesTest, AVolumeInUseCannotBeRemovedEvenAfterAnAgentRestart) {
  std::string id = Ok({"create", "--name", "holder", "--network", "none", "-v", "busy:/b", "busybox", "true"});
  id = std::string(absl::StripAsciiWhitespace(id));
  auto c = agent_.Inspect(id);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->config().mounts_size(), 1);
  EXPECT_EQ(c->config().mounts(0).type(), v1::MOUNT_TYPE_VOLUME);
  EXPECT_EQ(c->config().mounts(0).source(), "busy");  // made on first use, as Docker does

  for (int round = 0; round < 2; ++round) {
    v1::RemoveVolumeRequest req;
    req.set_name("busy");
    v1::RemoveVolumeResponse resp;
    grpc::ClientContext ctx;
    grpc::Status st = volumes_->Remove(&ctx, req, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << round;
    EXPECT_THAT(st.error_message(), HasSubstr("holder")) << round;
    CliResult rm = agent_.Cli({"volume", "rm", "busy"});
    EXPECT_EQ(rm.exit_code, 125);
    EXPECT_THAT(rm.err, HasSubstr("in use"));
    auto v = InspectVolume("busy");
    ASSERT_TRUE(v.ok());
    EXPECT_THAT(v->used_by(), ::testing::ElementsAre("holder"));
    if (round == 0) {
      agent_.Restart();
      volumes_ = v1::Volumes::NewStub(agent_.channel());
    }
  }
  EXPECT_EQ(Ok({"volume", "ls", "-q", "--filter", "dangling=false"}), "busy\n");
  // Prune never takes a used volume either, even with --all.
  EXPECT_THAT(Ok({"volume", "prune", "-a", "-f"}), Not(HasSubstr("busy")));
  Ok({"rm", "holder"});
  EXPECT_EQ(VolumeNames().count("busy"), 1u);  // a named volume stays with plain rm, and -v
  EXPECT_EQ(Ok({"volume", "rm", "busy"}), "busy\n");
  CliResult gone = agent_.Cli({"volume", "rm", "busy"});
  EXPECT_EQ(gone.exit_code, 125);
  EXPECT_THAT(gone.err, HasSubstr("no such volume"));
  EXPECT_EQ(agent_.Cli({"volume", "rm", "-f", "busy"}).exit_code, 0);
}

TEST_F(VolumesTest, AnonymousVolumesGoWithRmVAndWithRunRm) {
  const std::set<std::string> before = VolumeNames();
  std::string kept = std::string(absl::StripAsciiWhitespace(
      Ok({"run", "-d", "--network", "none", "-v", "/scratch", "busybox", "sh", "-c", "echo x > /scratch/f; sleep 100"})));
  std::string dropped = std::string(absl::StripAsciiWhitespace(
      Ok({"run", "-d", "--network", "none", "--mount", "type=volume,dst=/s2", "busybox", "sleep", "100"})));
  auto a = agent_.Inspect(kept);
  auto b = agent_.Inspect(dropped);
  ASSERT_TRUE(a.ok() && b.ok());
  const std::string kept_volume = a->config().mounts(0).source();
  const std::string dropped_volume = b->config().mounts(0).source();
  EXPECT_EQ(kept_volume.size(), 64u);
  EXPECT_NE(kept_volume, dropped_volume);
  auto v = InspectVolume(kept_volume);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->anonymous());
  EXPECT_TRUE(Eventually([&] { return ReadText(v->mountpoint() + "/f") == "x\n"; }));

  Ok({"rm", "-f", kept});
  Ok({"rm", "-f", "-v", dropped});
  EXPECT_EQ(VolumeNames().count(kept_volume), 1u);
  EXPECT_EQ(VolumeNames().count(dropped_volume), 0u);
  struct stat st;
  EXPECT_NE(::stat(absl::StrCat(agent_.root(), "/volumes/", dropped_volume).c_str(), &st), 0);

  Ok({"run", "--rm", "--network", "none", "-v", "/tmpdata", "busybox", "true"});
  std::set<std::string> after;
  EXPECT_TRUE(Eventually([&] {  // the agent removes a --rm container just after its exit
    after = VolumeNames();
    after.erase(kept_volume);
    return after == before;
  })) << "run --rm left its anonymous volume: " << absl::StrJoin(after, ", ");

  // Prune without -a takes the unused anonymous one and leaves named ones; a label filter
  // narrows it.
  Ok({"volume", "create", "named"});
  EXPECT_THAT(Ok({"volume", "prune", "-f", "--filter", "label=nobody"}), Not(HasSubstr(kept_volume)));
  std::string pruned = Ok({"volume", "prune", "-f"});
  EXPECT_THAT(pruned, HasSubstr(kept_volume));
  EXPECT_THAT(pruned, Not(HasSubstr("named")));
  EXPECT_EQ(VolumeNames(), std::set<std::string>{"named"});
  EXPECT_THAT(Ok({"volume", "prune", "-a", "-f"}), HasSubstr("named"));
  EXPECT_TRUE(VolumeNames().empty());
}

TEST_F(VolumesTest, FirstMountShowsTheImageContentThroughEveryLayer) {
  absl::StatusOr<Image> busybox = ExportedBusybox(agent_);
  ASSERT_TRUE(busybox.ok()) << busybox.status();
  // Two layers over busybox's: the second changes a file of the first and deletes another,
  // so only the merged view is right. "escape" points at "/etc" (the image's, never the
  // node's); "loop" at itself.
  const Image one = DerivedImage(*busybox, {Dir("srv/app", 0750), File("srv/app/conf", "v1\n"),
                                            File("srv/app/old", "old\n"), Symlink("escape", "/etc")});
  const Image two = DerivedImage(one, {Dir("srv/app", 0750), File("srv/app/conf", "v2\n", 0600), File("srv/app/.wh.old", ""),
                                       Symlink("srv/app/link", "conf")});
  ASSERT_TRUE(ImportImages(agent_, LayoutTar({&two}, {"t/vol:1"})).ok());

  EXPECT_EQ(Ok({"run", "--rm", "--network", "none", "-v", "cfg:/srv/app", "t/vol:1", "sh", "-c",
                "cat /srv/app/conf; ls -a /srv/app | tr '\\n' ' '"}),
            "v2\n. .. conf link ");
  auto v = InspectVolume("cfg");
  ASSERT_TRUE(v.ok());
  struct stat st;
  ASSERT_EQ(::stat((v->mountpoint() + "/conf").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(::stat(v->mountpoint().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);  // the data dir takes the image directory's mode
  EXPECT_EQ(::lstat((v->mountpoint() + "/old").c_str(), &st), -1);

  // Not empty any more: what the container wrote stays, nothing is copied again.
  Ok({"run", "--rm", "--network", "none", "-v", "cfg:/srv/app", "t/vol:1", "sh", "-c", "echo mine > /srv/app/conf"});
  EXPECT_EQ(Ok({"run", "--rm", "--network", "none", "-v", "cfg:/srv/app", "t/vol:1", "cat", "/srv/app/conf"}),
            "mine\n");
  // nocopy, and a path the image does not have, give an empty volume.
  EXPECT_EQ(Ok({"run", "--rm", "--network", "none", "-v", "bare:/srv/app:nocopy", "t/vol:1", "ls", "-A", "/srv/app"}), "");
  EXPECT_EQ(Ok({"run", "--rm", "--network", "none", "-v", "new:/nowhere", "t/vol:1", "ls", "-A", "/nowhere"}), "");
  // The symlink resolves inside the image: the image's /etc is copied, not the node's.
  Ok({"run", "--rm", "--network", "none", "-v", "esc:/escape", "t/vol:1", "true"});
  auto esc = InspectVolume("esc");
  ASSERT_TRUE(esc.ok());
  EXPECT_EQ(::stat((esc->mountpoint() + "/passwd").c_str(), &st), 0);  // busybox image's /etc/passwd
  EXPECT_NE(::stat((esc->mountpoint() + "/debian_version").c_str(), &st), 0);  // the node's /etc has it
  for (const char* name : {"cfg", "bare", "new", "esc"}) Ok({"volume", "rm", name});
}

TEST_F(VolumesTest, MountFlagTakesDockersKeysForBindVolumeAndTmpfs) {
  const std::string src = agent_.dir() + "/bindsrc";
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  std::string out = Ok({"run", "--rm", "--network", "none",
                        "--mount", "type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1770",
                        "--mount", "type=bind,source=" + src + ",target=/shared,bind-propagation=rshared",
                        "--mount", "type=bind,src=" + src + ",dst=/plain,readonly",
                        "--mount", "type=volume,src=mv,dst=/mv",
                        "busybox", "sh", "-c",
                        "grep -E ' /(t|shared|plain|mv) ' /proc/self/mountinfo; touch /plain/x 2>/dev/null || echo ro"});
  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  auto line_of = [&](const std::string& dst) {
    for (const std::string& l : lines) {
      if (absl::StrContains(l, absl::StrCat(" ", dst, " "))) return l;
    }
    return std::string("<missing>");
  };
  EXPECT_THAT(line_of("/t"), HasSubstr("tmpfs"));
  EXPECT_THAT(line_of("/t"), HasSubstr("size=1024k"));
  EXPECT_THAT(line_of("/t"), HasSubstr("mode=1770"));
  EXPECT_THAT(line_of("/shared"), HasSubstr("shared:"));
  EXPECT_THAT(line_of("/plain"), Not(HasSubstr("shared:")));  // rprivate unless asked
  EXPECT_THAT(line_of("/plain"), HasSubstr(" ro,"));
  EXPECT_THAT(line_of("/mv"), Not(HasSubstr("<missing>")));
  EXPECT_EQ(lines.back(), "ro");
  Ok({"volume", "rm", "mv"});

  CliResult bad = agent_.Cli({"run", "--rm", "--mount", "type=volume,dst=/x,bind-propagation=shared", "busybox", "true"});
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_THAT(bad.err, HasSubstr("bind-propagation applies to bind mounts only"));
}

// The kubelet's Bidirectional volumes: a bind with rshared stays in the node's peer group, so
// a mount made inside the container appears on the node and one made on the node appears
// inside the container.
TEST_F(VolumesTest, RsharedBindCarriesMountsBothWays) {
  const std::string shared = agent_.dir() + "/shared";
  const std::string from_node = shared + "/from-node";
  const std::string from_container = shared + "/from-container";
  const std::string marker_dir = agent_.dir() + "/marker";
  for (const std::string& d : {shared, from_node, from_container, marker_dir}) {
    ASSERT_EQ(::mkdir(d.c_str(), 0755), 0) << d;
  }
  ASSERT_EQ(::close(::open((marker_dir + "/node-marker").c_str(), O_CREAT | O_WRONLY, 0644)), 0);
  // The node side: a shared mount of its own, as the kubelet makes of its pods' dirs.
  ASSERT_EQ(::mount(shared.c_str(), shared.c_str(), nullptr, MS_BIND, nullptr), 0);
  absl::Cleanup unmount = [&] {
    agent_.Cli({"rm", "-f", "prop"});
    for (const std::string& m : {from_container, from_node, shared}) ::umount2(m.c_str(), MNT_DETACH);
  };
  ASSERT_EQ(::mount(nullptr, shared.c_str(), nullptr, MS_SHARED, nullptr), 0);

  Ok({"run", "-d", "--name", "prop", "--network", "none", "--privileged", "--mount",
      "type=bind,source=" + shared + ",target=/shared,bind-propagation=rshared", "busybox", "sleep", "1000"});
  ASSERT_EQ(::mount(marker_dir.c_str(), from_node.c_str(), nullptr, MS_BIND, nullptr), 0);
  EXPECT_EQ(Ok({"exec", "prop", "ls", "/shared/from-node"}), "node-marker\n");
  Ok({"exec", "prop", "mount", "-t", "tmpfs", "-o", "size=1m", "inside", "/shared/from-container"});
  EXPECT_THAT(ReadText("/proc/self/mountinfo"), HasSubstr(" " + from_container + " "));

  // Unmounted on the node, it goes from the container too.
  ASSERT_EQ(::umount2(from_container.c_str(), 0), 0);
  EXPECT_THAT(Ok({"exec", "prop", "cat", "/proc/self/mountinfo"}), Not(HasSubstr(" /shared/from-container ")));
}

TEST_F(VolumesTest, BadInputIsRefusedAndLeavesNothing) {
  const std::set<std::string> before = VolumeNames();
  auto create = [&](v1::ContainerConfig config) {
    config.set_network("none");
    return agent_.Create(config);
  };
  v1::ContainerConfig config = Busybox({"true"});
  v1::Mount* m = config.add_mounts();
  m->set_type(v1::MOUNT_TYPE_VOLUME);
  m->set_destination("/ok");
  v1::Mount* bad = config.add_mounts();
  bad->set_type(v1::MOUNT_TYPE_VOLUME);
  bad->set_source("no/slash");
  bad->set_destination("/bad");
  auto refused = create(config);
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("invalid volume name"));

  config.mutable_mounts(1)->set_source("fine");
  config.mutable_mounts(1)->set_destination("/ok/");  // the same mount point twice
  refused = create(config);
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("duplicate mount point"));

  v1::ContainerConfig tmpfs = Busybox({"true"});
  v1::Mount* t = tmpfs.add_mounts();
  t->set_type(v1::MOUNT_TYPE_TMPFS);
  t->set_source("/etc");
  t->set_destination("/t");
  EXPECT_TRUE(absl::IsInvalidArgument(create(tmpfs).status()));

  // A later step failing (no such working dir is fine; an unknown user is not) undoes the
  // anonymous volume the create had made.
  v1::ContainerConfig late = Busybox({"true"});
  late.set_user("nosuchuser");
  v1::Mount* anon = late.add_mounts();
  anon->set_type(v1::MOUNT_TYPE_VOLUME);
  anon->set_destination("/anon");
  EXPECT_FALSE(create(late).ok());

  v1::CreateVolumeRequest req;
  req.set_name("v");
  req.set_driver("nfs");
  v1::CreateVolumeResponse resp;
  grpc::ClientContext ctx;
  grpc::Status st = volumes_->Create(&ctx, req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(st.error_message(), HasSubstr("local"));

  EXPECT_EQ(VolumeNames(), before);
  auto listed = agent_.List();
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
}

}  // namespace
}  // namespace berth::testing
