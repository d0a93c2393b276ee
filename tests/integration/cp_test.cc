// `berth cp` and Containers.CopyTo/CopyFrom on real containers: trees both ways (modes,
// symlinks, a new name for a single entry), created, running and exited containers alike,
// a volume reached through the container's own mounts, tar streams on stdin and stdout,
// symlinks in the container that can never lead out of its root, and hostile archives that
// are refused without a trace.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/oci_builder.h"
#include "runtime/base/file_util.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;

void WriteLocal(const std::string& path, const std::string& text, mode_t mode = 0644) {
  std::ofstream(path) << text;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

class CpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(agent_.Start());
    local_ = agent_.dir() + "/local";
    ASSERT_EQ(::mkdir(local_.c_str(), 0755), 0);
  }

  std::string Ok(const std::vector<std::string>& args, const std::string& input = "") {
    CliResult r = agent_.Cli(args, input);
    EXPECT_EQ(r.exit_code, 0) << absl::StrJoin(args, " ") << ": " << r.err;
    return r.out;
  }
  std::string Sleeper(const std::string& name) {
    return std::string(absl::StripAsciiWhitespace(
        Ok({"run", "-d", "--name", name, "--network", "none", "busybox", "sleep", "300"})));
  }
  std::string InContainer(const std::string& name, const std::string& script) {
    auto r = agent_.Exec(name, {"sh", "-c", script});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->out : "";
  }
  // CopyTo with raw archive bytes, through the API.
  grpc::Status CopyToRaw(const std::string& id, const std::string& path, const std::string& archive) {
    grpc::ClientContext ctx;
    v1::CopyToResponse resp;
    auto writer = agent_.containers().CopyTo(&ctx, &resp);
    v1::CopyToRequest req;
    req.set_id(id);
    req.set_path(path);
    req.set_data(archive);
    writer->Write(req);
    writer->WritesDone();
    return writer->Finish();
  }

  AgentHarness agent_;
  std::string local_;
};

TEST_F(CpTest, TreesGoInAndComeBackWithModesAndSymlinks) {
  Sleeper("box");
  const std::string tree = local_ + "/tree";
  ASSERT_EQ(::mkdir(tree.c_str(), 0750), 0);
  ASSERT_EQ(::mkdir((tree + "/sub").c_str(), 0755), 0);
  WriteLocal(tree + "/secret", "s3cret\n", 0640);
  WriteLocal(tree + "/sub/deep", "deep\n");
  ASSERT_EQ(::symlink("secret", (tree + "/link").c_str()), 0);

  Ok({"cp", tree, "box:/srv"});  // /srv is new: the tree becomes /srv, as with docker cp
  Ok({"cp", tree, "box:/tmp"});   // an existing directory: the tree goes into it
  EXPECT_EQ(InContainer("box", "stat -c '%a %U' /tmp/tree /tmp/tree/secret; readlink /tmp/tree/link; cat /tmp/tree/sub/deep"),
            "750 root\n640 root\nsecret\ndeep\n");
  // A single file to a new name; the contents of a directory with DIR/.
  Ok({"cp", tree + "/secret", "box:/etc/renamed"});
  EXPECT_EQ(InContainer("box", "cat /etc/renamed"), "s3cret\n");
  Ok({"cp", tree + "/.", "box:/tmp"});
  EXPECT_EQ(InContainer("box", "cat /tmp/sub/deep /srv/sub/deep; ls /tmp"), "deep\ndeep\nlink\nsecret\nsub\ntree\n");

  // Out again, under a new name, as it is in the container.
  InContainer("box", "echo changed > /tmp/tree/sub/deep");
  Ok({"cp", "box:/tmp/tree", local_ + "/back"});
  EXPECT_EQ(ReadText(local_ + "/back/sub/deep"), "changed\n");
  struct stat st;
  ASSERT_EQ(::lstat((local_ + "/back/secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  char target[64] = {};
  ASSERT_GT(::readlink((local_ + "/back/link").c_str(), target, sizeof target - 1), 0);
  EXPECT_STREQ(target, "secret");
  Ok({"cp", "box:/etc/hostname", local_});
  EXPECT_EQ(ReadText(local_ + "/hostname"), InContainer("box", "cat /etc/hostname"));
}

TEST_F(CpTest, FilesBelongToTheContainersRootInAUserNamespace) {
  Ok({"run", "-d", "--name", "mapped", "--userns", "auto", "--network", "none", "busybox", "sleep", "300"});
  WriteLocal(local_ + "/owned", "mine\n");
  ASSERT_EQ(::chown((local_ + "/owned").c_str(), 1234, 1234), 0);
  Ok({"cp", local_ + "/owned", "mapped:/root/"});
  Ok({"cp", "-a", local_ + "/owned", "mapped:/tmp/"});
  // Container root (not nobody: the ids were shifted into its range); -a keeps the owner.
  EXPECT_EQ(InContainer("mapped", "stat -c '%u:%g' /root/owned /tmp/owned; echo more >> /root/owned"),
            "0:0\n1234:1234\n");
}

TEST_F(CpTest, StdinAndStdoutCarryTarStreams) {
  Sleeper("box");
  Ok({"cp", "-", "box:/tmp"}, MakeTar({Dir("in"), File("in/f", "from stdin\n", 0600)}));
  EXPECT_EQ(InContainer("box", "cat /tmp/in/f; stat -c %a /tmp/in/f"), "from stdin\n600\n");
  std::string tar = Ok({"cp", "box:/tmp/in", "-"});
  auto files = ReadTarFiles(tar);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(files->at("in/f"), "from stdin\n");
}

TEST_F(CpTest, CreatedAndExitedContainersTooAndVolumesOfRunningOnes) {
  std::string created = std::string(absl::StripAsciiWhitespace(
      Ok({"create", "--name", "later", "--network", "none", "busybox", "cat", "/etc/motd"})));
  WriteLocal(local_ + "/motd", "set before start\n");
  Ok({"cp", local_ + "/motd", "later:/etc/motd"});
  Ok({"start", "later"});
  ASSERT_TRUE(agent_.Wait(created, 30).ok());
  auto logs = agent_.Logs(created);
  ASSERT_TRUE(logs.ok());
  EXPECT_EQ(*logs, "set before start\n");

  // Exited: its writable layer is still there to read and write.
  Ok({"run", "--name", "done", "--network", "none", "busybox", "sh", "-c", "echo left > /root/result"});
  Ok({"cp", "done:/root/result", local_ + "/result"});
  EXPECT_EQ(ReadText(local_ + "/result"), "left\n");
  Ok({"cp", local_ + "/motd", "done:/root/motd"});
  auto back = ReadTarFiles(Ok({"cp", "done:/root/motd", "-"}));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->at("motd"), "set before start\n");

  // A volume mounted in a running container is part of what cp sees.
  Ok({"run", "-d", "--name", "withvol", "--network", "none", "-v", "cpvol:/data", "busybox", "sleep", "300"});
  Ok({"cp", local_ + "/motd", "withvol:/data/"});
  EXPECT_EQ(ReadText(agent_.root() + "/volumes/cpvol/_data/motd"), "set before start\n");
  Ok({"rm", "-f", "withvol"});
  Ok({"volume", "rm", "cpvol"});
}

TEST_F(CpTest, SymlinksInTheContainerNeverLeadOutOfItsRoot) {
  Sleeper("box");
  InContainer("box", "ln -s / /tmp/up; ln -s ../../../../../.. /tmp/dots; ln -s /etc/passwd /tmp/pw");
  const std::string unique = absl::StrCat("berth-cp-planted-", ::getpid());
  WriteLocal(local_ + "/" + unique, "planted\n");
  Ok({"cp", local_ + "/" + unique, "box:/tmp/up/etc/"});
  Ok({"cp", local_ + "/" + unique, "box:/tmp/dots/root/"});
  struct stat st;
  EXPECT_NE(::stat(("/etc/" + unique).c_str(), &st), 0) << "written on the node";
  EXPECT_NE(::stat(("/root/" + unique).c_str(), &st), 0) << "written on the node";
  EXPECT_EQ(InContainer("box", "cat /etc/" + unique + " /root/" + unique), "planted\nplanted\n");
  // Copying over a symlink replaces the link; it does not write through it.
  Ok({"cp", local_ + "/" + unique, "box:/tmp/pw"});
  EXPECT_EQ(InContainer("box", "cat /tmp/pw; test -L /tmp/pw || echo not-a-link; head -c 5 /etc/passwd"),
            "planted\nnot-a-link\nroot:");
  // Out: a symlink comes out as a symlink, not as what it points at.
  auto files = ReadTarFiles(Ok({"cp", "box:/tmp/up", "-"}));
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(files->size(), 0u);  // no regular files: just the link entry
}

TEST_F(CpTest, BadRequestsAreRefusedAndChangeNothing) {
  const std::string id = Sleeper("box");
  CliResult none = agent_.Cli({"cp", local_, "nosuch:/tmp"});
  EXPECT_EQ(none.exit_code, 125);
  EXPECT_THAT(none.err, HasSubstr("no such container"));
  CliResult missing = agent_.Cli({"cp", "box:/no/such/file", local_});
  EXPECT_EQ(missing.exit_code, 125);
  EXPECT_THAT(missing.err, HasSubstr("no such file or directory in the container"));
  EXPECT_EQ(agent_.Cli({"cp", local_, local_ + "/x"}).exit_code, 125);  // no container side

  grpc::Status dotdot = CopyToRaw(id, "/tmp", MakeTar({File("ok", "x"), File("../../escape", "x")}));
  EXPECT_EQ(dotdot.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << dotdot.error_message();
  EXPECT_THAT(dotdot.error_message(), HasSubstr("leaves the destination"));
  grpc::Status junk = CopyToRaw(id, "/tmp", "this is not a tar archive, not even close");
  EXPECT_EQ(junk.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << junk.error_message();
  grpc::Status ambiguous = CopyToRaw(id, "/newname", MakeTar({File("a", "1"), File("b", "2")}));
  EXPECT_EQ(ambiguous.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << ambiguous.error_message();
  // Refused before anything was written: not even the harmless first entry.
  EXPECT_EQ(InContainer("box", "ls /tmp/ok /newname /escape 2>&1 | wc -l"), "3\n");
  // Nothing was spooled and left behind in the agent's scratch dir.
  EXPECT_TRUE(ListDirectory(agent_.root() + "/tmp").empty());
}

}  // namespace
}  // namespace berth::testing
