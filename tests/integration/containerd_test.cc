// containerd runs containers with berth-runtime as its runc (`ctr run --runc-binary`): the
// io.containerd.runc.v2 shim drives our command line as it drives runc's, with --root,
// --log and --log-format json, a pid file, exec, kill and delete.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/file_util.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/cgroup_parent.h"
#include "tests/integration/support/oci_builder.h"

extern char** environ;

namespace berth::testing {
namespace {

using ::testing::HasSubstr;

std::string Find(const std::string& program) {
  for (const char* dir : {"/usr/local/bin", "/usr/bin", "/usr/sbin", "/bin", "/sbin"}) {
    std::string path = absl::StrCat(dir, "/", program);
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

class Containerd : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    containerd_ = Find("containerd");
    ctr_ = Find("ctr");
    if (containerd_.empty() || ctr_.empty() || Find("containerd-shim-runc-v2").empty()) {
      GTEST_SKIP() << "containerd, ctr and containerd-shim-runc-v2 are not installed (Debian package containerd)";
    }
    char tmpl[] = "/tmp/berth-ctd-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    socket_ = dir_ + "/containerd.sock";
    // Its own root, state and socket; no CRI plugin (nothing listens beyond the socket).
    std::string config = absl::StrCat(
        "version = 2\nroot = \"", dir_, "/root\"\nstate = \"", dir_, "/state\"\n",
        "disabled_plugins = [\"io.containerd.grpc.v1.cri\", \"io.containerd.snapshotter.v1.aufs\", "
        "\"io.containerd.snapshotter.v1.btrfs\", \"io.containerd.snapshotter.v1.zfs\", "
        "\"io.containerd.snapshotter.v1.devmapper\"]\n",
        "[grpc]\n  address = \"", socket_, "\"\n[ttrpc]\n  address = \"", socket_, ".ttrpc\"\n",
        "[debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n");
    ASSERT_TRUE(WriteFileAtomic(dir_ + "/config.toml", config).ok());
    std::string log = dir_ + "/containerd.log";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    std::string config_path = dir_ + "/config.toml";
    char* argv[] = {containerd_.data(), const_cast<char*>("--config"), config_path.data(), nullptr};
    ASSERT_EQ(posix_spawn(&daemon_, containerd_.c_str(), &actions, nullptr, argv, environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    ASSERT_TRUE(Eventually([&] { return Ctr({"version"}).exit_code == 0; })) << ReadText(log);

    // A busybox image, built here, imported from an OCI layout.
    std::string busybox = ReadText("/bin/busybox");
    ASSERT_FALSE(busybox.empty()) << "needs /bin/busybox (busybox-static)";
    std::vector<TarItem> items = {Dir("bin"), Dir("proc"), Dir("sys"), Dir("dev"), Dir("tmp"),
                                  File("bin/busybox", busybox, 0755)};
    for (const char* applet : {"sh", "echo", "sleep", "hostname", "cat"}) {
      items.push_back(Symlink(absl::StrCat("bin/", applet), "busybox"));
    }
    Image image;
    image.config = {{"architecture", "amd64"}, {"os", "linux"}, {"config", {{"Cmd", {"sh"}}}}};
    image.layers = {MakeLayer(items)};
    image.Seal();
    ASSERT_TRUE(WriteFileAtomic(dir_ + "/image.tar", LayoutTar({&image}, {"localhost/berth-bb:latest"})).ok());
    CliResult imported = Ctr({"images", "import", "--base-name", "localhost/berth-bb", dir_ + "/image.tar"});
    ASSERT_EQ(imported.exit_code, 0) << imported.err;
    cgroup_base_ = std::make_unique<ForeignCgroupParent>("berth-ctd-" + std::to_string(::getpid()));
  }

  void TearDown() override {
    if (dir_.empty()) return;
    if (daemon_ > 0) {
      for (const std::string& id : {std::string("once"), std::string("long")}) {
        Ctr({"task", "kill", "-s", "SIGKILL", id});
        Ctr({"task", "delete", "--force", id});
        Ctr({"container", "delete", id});
      }
      ::kill(daemon_, SIGTERM);
      int status;
      ::waitpid(daemon_, &status, 0);
    }
    // The containers' own cgroups went with their tasks; the parents are the test's.
    if (cgroup_base_) {
      EXPECT_TRUE(cgroup_base_->Remove());
    }
    // containerd's snapshots are bind/overlay mounts below its root: gone with their tasks.
    EXPECT_THAT(ReadText("/proc/self/mountinfo"), ::testing::Not(HasSubstr(dir_)));
    EXPECT_TRUE(RemoveTree(dir_).ok());
  }

  CliResult Ctr(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {ctr_, "--address", socket_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(argv, "", 120);
  }

  std::vector<std::string> Run(const std::string& id, std::vector<std::string> args) {
    std::vector<std::string> out = {"run", "--runc-binary", BERTH_RUNTIME_PATH, "--cgroup",
                                    cgroup_base_->path() + "/" + id};
    out.insert(out.end(), args.begin(), args.end());
    return out;
  }

  std::string containerd_, ctr_, dir_, socket_;
  std::unique_ptr<ForeignCgroupParent> cgroup_base_;
  pid_t daemon_ = -1;
};

TEST_F(Containerd, RunsToExitExecsKillsAndDeletes) {
  CliResult once = Ctr(Run("once", {"--rm", "localhost/berth-bb:latest", "once", "sh", "-c",
                                    "echo from-containerd; hostname; exit 3"}));
  EXPECT_EQ(once.exit_code, 3) << once.err;
  EXPECT_THAT(once.out, HasSubstr("from-containerd\n"));

  CliResult started = Ctr(Run("long", {"-d", "localhost/berth-bb:latest", "long", "sleep", "1000"}));
  ASSERT_EQ(started.exit_code, 0) << started.err;
  CliResult tasks = Ctr({"task", "ls"});
  EXPECT_THAT(tasks.out, HasSubstr("RUNNING"));
  // The task's pid is a real process in its own pid namespace and the cgroup we named.
  std::string pid;
  for (absl::string_view line : absl::StrSplit(tasks.out, '\n')) {
    std::vector<std::string> cols = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (cols.size() >= 2 && cols[0] == "long") pid = cols[1];
  }
  ASSERT_FALSE(pid.empty()) << tasks.out;
  EXPECT_THAT(ReadText("/proc/" + pid + "/cmdline"), HasSubstr("sleep"));
  EXPECT_THAT(ReadText("/proc/" + pid + "/cgroup"), HasSubstr(cgroup_base_->path() + "/long"));

  CliResult exec = Ctr({"task", "exec", "--exec-id", "e1", "long", "sh", "-c", "echo in-exec; exit 5"});
  EXPECT_EQ(exec.exit_code, 5) << exec.err;
  EXPECT_EQ(exec.out, "in-exec\n");

  EXPECT_EQ(Ctr({"task", "kill", "-s", "SIGKILL", "long"}).exit_code, 0);
  EXPECT_TRUE(Eventually([&] { return Ctr({"task", "ls"}).out.find("STOPPED") != std::string::npos; }));
  CliResult deleted = Ctr({"task", "delete", "long"});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_EQ(Ctr({"container", "delete", "long"}).exit_code, 0);
  EXPECT_EQ(::access(("/proc/" + pid).c_str(), F_OK), -1);
}

}  // namespace
}  // namespace berth::testing
