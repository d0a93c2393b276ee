// Podman drives berth-runtime (`podman --runtime`), as it drives crun or runc: run to exit,
// run detached, exec with and without a terminal, stop and rm. Podman is a third-party
// caller of the runc command line (through conmon), so this finds what our own tests cannot.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/file_util.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/cgroup_parent.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;

std::string Which(const std::string& program) {
  for (absl::string_view dir : absl::StrSplit("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ':')) {
    std::string path = absl::StrCat(dir, "/", program);
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

class Podman : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    podman_ = Which("podman");
    if (podman_.empty() || Which("conmon").empty()) {
      GTEST_SKIP() << "podman and conmon are not installed (deploy/install-deps.sh installs them)";
    }
    char tmpl[] = "/tmp/berth-podman-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    // Podman's cgroupfs parent must be absolute: one below our own cgroup.
    cgroup_parent_ = std::make_unique<ForeignCgroupParent>(absl::StrCat("berth-podman-", ::getpid()));
    ASSERT_TRUE(MakeRootfsTar());
    CliResult imported = Pm({"import", dir_ + "/busybox.tar", "localhost/berth-busybox"});
    ASSERT_EQ(imported.exit_code, 0) << imported.err;
  }

  void TearDown() override {
    if (dir_.empty()) return;
    Pm({"rm", "--all", "--force", "--time", "1"});
    Pm({"rmi", "--all", "--force"});
    EXPECT_TRUE(cgroup_parent_->Remove());
    EXPECT_TRUE(RemoveTree(dir_).ok());
  }

  bool MakeRootfsTar() {
    const std::string rootfs = dir_ + "/rootfs";
    if (!MakeDirs(rootfs + "/bin").ok()) return false;
    for (const char* d : {"proc", "sys", "dev", "tmp", "etc"}) MakeDirs(rootfs + "/" + d).IgnoreError();
    {
      std::ifstream in("/bin/busybox", std::ios::binary);
      std::ofstream out(rootfs + "/bin/busybox", std::ios::binary);
      out << in.rdbuf();
    }
    ::chmod((rootfs + "/bin/busybox").c_str(), 0755);
    for (const char* applet : {"sh", "echo", "sleep", "tty", "hostname", "cat"}) {
      ::symlink("busybox", (rootfs + "/bin/" + applet).c_str());
    }
    CliResult tar = RunProgram({"/bin/tar", "-C", rootfs, "-cf", dir_ + "/busybox.tar", "."}, "", 60);
    return tar.exit_code == 0;
  }

  CliResult Pm(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {podman_,           "--root",          dir_ + "/root",  "--runroot",
                                     dir_ + "/run",     "--storage-driver", "vfs",          "--cgroup-manager",
                                     "cgroupfs",        "--events-backend", "file",         "--runtime",
                                     BERTH_RUNTIME_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(argv, "", 120);
  }

  // `podman run` flags every container here gets: no network (nothing leaves the node),
  // limits this host allows without CAP_SYS_RESOURCE, and our cgroup parent.
  std::vector<std::string> Run(std::vector<std::string> args) {
    std::vector<std::string> out = {"run",       "--network", "none", "--ulimit", "nofile=1024:1024",
                                    "--ulimit",  "nproc=32768:32768", "--cgroup-parent", cgroup_parent_->path()};
    out.insert(out.end(), args.begin(), args.end());
    return out;
  }

  std::string podman_, dir_;
  std::unique_ptr<ForeignCgroupParent> cgroup_parent_;
};

TEST_F(Podman, RunsContainersThroughBerthRuntime) {
  CliResult hi = Pm(Run({"--rm", "localhost/berth-busybox", "sh", "-c", "echo hi; hostname; exit 0"}));
  ASSERT_EQ(hi.exit_code, 0) << hi.err;
  EXPECT_THAT(hi.out, HasSubstr("hi\n"));
  CliResult code = Pm(Run({"--rm", "localhost/berth-busybox", "sh", "-c", "exit 7"}));
  EXPECT_EQ(code.exit_code, 7) << code.err;

  CliResult started = Pm(Run({"-d", "localhost/berth-busybox", "sleep", "1000"}));
  ASSERT_EQ(started.exit_code, 0) << started.err;
  std::string id(absl::StripAsciiWhitespace(started.out));
  CliResult pid_text = Pm({"inspect", "--format", "{{.State.Pid}}", id});
  ASSERT_EQ(pid_text.exit_code, 0) << pid_text.err;
  std::string pid(absl::StripAsciiWhitespace(pid_text.out));
  // A real process, in a pid namespace of its own, in the cgroup below our parent.
  EXPECT_THAT(ReadText("/proc/" + pid + "/cmdline"), HasSubstr("sleep"));
  char mine[64] = {}, theirs[64] = {};
  ASSERT_GT(::readlink("/proc/self/ns/pid", mine, sizeof(mine) - 1), 0);
  ASSERT_GT(::readlink(("/proc/" + pid + "/ns/pid").c_str(), theirs, sizeof(theirs) - 1), 0);
  EXPECT_STRNE(mine, theirs);
  EXPECT_THAT(ReadText("/proc/" + pid + "/cgroup"), HasSubstr(cgroup_parent_->path() + "/libpod-" + id));

  CliResult exec = Pm({"exec", id, "sh", "-c", "echo from-exec; exit 3"});
  EXPECT_EQ(exec.exit_code, 3) << exec.err;
  EXPECT_EQ(exec.out, "from-exec\n");
  for (int i = 0; i < 3; ++i) {  // the exit code of a short process is never lost
    CliResult tty = Pm({"exec", "-t", id, "sh", "-c", "tty; exit 4"});
    EXPECT_EQ(tty.exit_code, 4) << tty.err;
    EXPECT_THAT(tty.out, HasSubstr("/dev/pts/"));
  }

  CliResult stopped = Pm({"stop", "--time", "1", id});
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  CliResult status = Pm({"inspect", "--format", "{{.State.Status}}", id});
  EXPECT_EQ(absl::StripAsciiWhitespace(status.out), "exited");
  EXPECT_TRUE(Eventually([&] { return ::access(("/proc/" + pid).c_str(), F_OK) != 0; }));
  CliResult removed = Pm({"rm", id});
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_TRUE(ProcessesMentioning(id).empty());
}

}  // namespace
}  // namespace berth::testing
