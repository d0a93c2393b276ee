// runtime/container against the real kernel: busybox containers built in a temp dir under
// /tmp, in their own namespaces and cgroups. Needs root (skipped otherwise). The pure parts
// (mount options, exit codes) run everywhere.
#include <fcntl.h>
#include <malloc.h>
#include <pty.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/fd_passing.h"
#include "runtime/base/file_util.h"
#include "runtime/base/unique_fd.h"
#include "runtime/cgroup/cgroup_driver.h"
#include "runtime/container/container.h"
#include "runtime/container/mount_options.h"
#include "runtime/seccomp/seccomp_filter.h"
#include "runtime/spec/spec.h"

namespace berth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MountOptionsTest, SplitsFlagsPropagationAndData) {
  container_internal::MountOptions o = container_internal::ParseMountOptions(
      {"rbind", "ro", "nosuid", "rprivate", "mode=755", "size=64k", "rw", "nodev"});
  EXPECT_TRUE(o.bind);
  EXPECT_TRUE(o.recursive);
  EXPECT_EQ(o.flags, static_cast<unsigned long>(MS_NOSUID | MS_NODEV));  // "rw" cleared "ro"
  EXPECT_EQ(o.propagation, static_cast<unsigned long>(MS_PRIVATE | MS_REC));
  EXPECT_EQ(o.data, "mode=755,size=64k");
  EXPECT_EQ(*container_internal::ParsePropagation(""),
            static_cast<unsigned long>(MS_PRIVATE | MS_REC));
  EXPECT_FALSE(container_internal::ParsePropagation("sideways").ok());
}

TEST(ExitCodeTest, SignalsBecome128PlusN) {
  EXPECT_EQ(ExitCodeFromWaitStatus(W_EXITCODE(3, 0)), 3);
  EXPECT_EQ(ExitCodeFromWaitStatus(SIGKILL), 128 + SIGKILL);
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

struct Pipe {
  UniqueFd read, write;
  static Pipe Make() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
  }
};

int WaitExit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return ExitCodeFromWaitStatus(status);
}

class ContainerRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    if (::access("/bin/busybox", X_OK) != 0) {
      GTEST_SKIP() << "needs /bin/busybox (apt-get install busybox-static)";
    }
    char tmpl[] = "/tmp/berth-ct-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    absl::StatusOr<std::unique_ptr<CgroupDriver>> driver = DetectCgroupDriver();
    ASSERT_TRUE(driver.ok()) << driver.status();
    cgroups_ = std::move(*driver);
  }

  void TearDown() override {
    for (const std::string& path : cgroups_made_) {
      EXPECT_TRUE(cgroups_->Destroy(path).ok());
    }
    if (dir_.empty()) return;
    // Whatever the containers mounted lived in their own mount namespaces.
    absl::StatusOr<std::string> mountinfo = ReadFile("/proc/self/mountinfo");
    ASSERT_TRUE(mountinfo.ok());
    EXPECT_THAT(*mountinfo, Not(HasSubstr(dir_)));
    for (const std::string& path : cgroups_made_) {
      for (const char* controller : {"memory", "pids", "cpu"}) {
        absl::StatusOr<std::string> d = cgroups_->Directory(path, controller);
        if (d.ok()) {
          EXPECT_NE(::access(d->c_str(), F_OK), 0) << *d << " left behind";
        }
      }
    }
    EXPECT_TRUE(RemoveTree(dir_).ok());
  }

  // A busybox root filesystem at `root`.
  void MakeRootfs(const std::string& root) {
    ASSERT_TRUE(MakeDirs(root + "/bin").ok());
    {
      std::ifstream in("/bin/busybox", std::ios::binary);
      std::ofstream out(root + "/bin/busybox", std::ios::binary);
      out << in.rdbuf();
    }
    ASSERT_EQ(::chmod((root + "/bin/busybox").c_str(), 0755), 0);
    for (const char* applet : {"sh", "echo", "cat", "hostname", "ls", "id", "sleep", "mount",
                               "test", "readlink", "true", "grep"}) {
      ASSERT_EQ(::symlink("busybox", (root + "/bin/" + applet).c_str()), 0) << applet;
    }
  }

  std::string NewCgroupPath() {
    std::string path = absl::StrCat("berth-test-", ::getpid(), "-", next_cgroup_++);
    cgroups_made_.push_back(path);
    return path;
  }

  spec::Spec BaseSpec(const std::string& root, std::vector<std::string> args) {
    spec::Spec s = spec::DefaultSpec();
    s.root.path = root;
    s.process.args = std::move(args);
    s.process.env = {"PATH=/bin", "HOME=/"};
    s.hostname = "berth-test";
    s.linux.cgroups_path = NewCgroupPath();
    return s;
  }

  struct Result {
    absl::Status status;
    std::string output;
    int exit_code = -1;
  };

  // Create, start, collect stdout+stderr until exit.
  Result Run(const spec::Spec& s) {
    Result r;
    Pipe out = Pipe::Make();
    ContainerStdio stdio;
    stdio.stdout_fd = out.write.get();
    stdio.stderr_fd = out.write.get();
    absl::StatusOr<std::unique_ptr<CreatedContainer>> c = CreateContainer(s, stdio, *cgroups_);
    out.write.Reset();
    if (!c.ok()) {
      r.status = c.status();
      return r;
    }
    r.status = (*c)->Start();
    if (!r.status.ok()) return r;
    r.output = ReadAll(out.read.get());
    r.exit_code = WaitExit((*c)->pid());
    return r;
  }

  std::string dir_;
  std::unique_ptr<CgroupDriver> cgroups_;
  std::vector<std::string> cgroups_made_;
  int next_cgroup_ = 0;
};

TEST_F(ContainerRuntimeTest, RunsIsolatedInit) {
  std::string root = dir_ + "/rootfs";
  MakeRootfs(root);
  Result r = Run(
      BaseSpec(root, {"sh", "-c", "echo $$; hostname; cat /proc/self/cgroup; echo --; ls /; id"}));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> lines = absl::StrSplit(r.output, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 4u) << r.output;
  EXPECT_EQ(lines[0], "1");
  EXPECT_EQ(lines[1], "berth-test");
  size_t i = 2;
  for (; i < lines.size() && lines[i] != "--"; ++i) {
    EXPECT_TRUE(absl::EndsWith(lines[i], ":/")) << "cgroup namespace root: " << lines[i];
  }
  std::vector<std::string> listing;
  for (++i; i < lines.size() && !absl::StartsWith(lines[i], "uid="); ++i) {
    listing.push_back(lines[i]);
  }
  EXPECT_THAT(listing, ::testing::UnorderedElementsAre("bin", "dev", "proc", "sys")) << r.output;
  ASSERT_LT(i, lines.size()) << r.output;
  EXPECT_TRUE(absl::StartsWith(lines[i], "uid=0(root) gid=0(root)") ||
              absl::StartsWith(lines[i], "uid=0 gid=0"))
      << lines[i];
}

TEST_F(ContainerRuntimeTest, DevAndMaskedAndReadonlyPaths) {
  std::string root = dir_ + "/rootfs";
  MakeRootfs(root);
  spec::Spec s =
      BaseSpec(root, {"sh", "-c",
                      "ls /dev; readlink /dev/fd; echo x > /dev/null && echo null-ok; "
                      "cat /secret; echo secret=$?; ls /secretdir; echo secretdir=$?; "
                      "echo z > /secretdir/f || echo secretdir-ro; "
                      "echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null || echo sys-ro"});
  ASSERT_TRUE(WriteFileAtomic(root + "/secret", "hidden\n").ok());
  ASSERT_TRUE(MakeDirs(root + "/secretdir").ok());
  ASSERT_TRUE(WriteFileAtomic(root + "/secretdir/inner", "hidden\n").ok());
  s.linux.masked_paths.push_back("/secret");
  s.linux.masked_paths.push_back("/secretdir");
  s.linux.masked_paths.push_back("/not-there");
  s.linux.readonly_paths.push_back("/not-there-either");
  Result r = Run(s);
  ASSERT_TRUE(r.status.ok()) << r.status;
  for (const char* node : {"null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm",
                           "mqueue", "stdin", "stdout", "stderr", "fd"}) {
    EXPECT_THAT(r.output, HasSubstr(absl::StrCat(node, "\n"))) << node;
  }
  EXPECT_THAT(r.output, HasSubstr("/proc/self/fd\n"));
  EXPECT_THAT(r.output, HasSubstr("null-ok\n"));
  EXPECT_THAT(r.output, Not(HasSubstr("hidden")));
  EXPECT_THAT(r.output, HasSubstr("secret=0\n"));     // /dev/null bound over it: empty
  EXPECT_THAT(r.output, HasSubstr("secretdir=0\n"));  // an empty tmpfs over it
  EXPECT_THAT(r.output, HasSubstr("secretdir-ro\n"));
  EXPECT_THAT(r.output, HasSubstr("sys-ro\n"));
}

TEST_F(ContainerRuntimeTest, OverlayRootfsWritesLandInUpper) {
  std::string lower = dir_ + "/lower", upper = dir_ + "/upper", work = dir_ + "/work",
              merged = dir_ + "/merged";
  MakeRootfs(lower);
  for (const std::string& d : {upper, work, merged}) ASSERT_TRUE(MakeDirs(d).ok());
  spec::Spec s = BaseSpec(merged, {"sh", "-c", "echo hello > /newfile && cat /newfile"});
  s.annotations[spec::kAnnotationOverlayLower] = lower;
  s.annotations[spec::kAnnotationOverlayUpper] = upper;
  s.annotations[spec::kAnnotationOverlayWork] = work;
  Result r = Run(s);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "hello\n");
  absl::StatusOr<std::string> in_upper = ReadFile(upper + "/newfile");
  ASSERT_TRUE(in_upper.ok()) << in_upper.status();
  EXPECT_EQ(*in_upper, "hello\n");
  EXPECT_NE(::access((lower + "/newfile").c_str(), F_OK), 0);
  EXPECT_NE(::access((merged + "/newfile").c_str(), F_OK), 0);  // never mounted on the host
  // Mount points made for /proc, /dev, /sys went to the upper layer too.
  EXPECT_NE(::access((lower + "/proc").c_str(), F_OK), 0);
}

TEST_F(ContainerRuntimeTest, MissingExecutableIsNotFoundFromStart) {
  std::string root = dir_ + "/rootfs";
  MakeRootfs(root);
  Result r = Run(BaseSpec(root, {"no-such-binary", "arg"}));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kNotFound) << r.status;
  EXPECT_THAT(r.status.message(), HasSubstr("exec no-such-binary"));
}

TEST_F(ContainerRuntimeTest, AFailureWhileInitSealsItselfIsTheStartsErrorAndLeavesNothing) {
  // Once "ready", init detaches the node's root and drops its privileges while its creator
  // goes on; without no_new_privs the filter is loaded there too. One the kernel refuses
  // (an opcode no BPF has) must come back from Start, not be lost with the create's answer.
  std::string root = dir_ + "/rootfs";
  MakeRootfs(root);
  spec::Spec s = BaseSpec(root, {"true"});
  s.process.no_new_privileges = false;
  seccomp::Program refused;
  refused.instructions.push_back(sock_filter{0xffff, 0, 0, 0});
  Pipe out = Pipe::Make();
  ContainerStdio stdio;
  stdio.stdout_fd = out.write.get();
  stdio.stderr_fd = out.write.get();
  absl::StatusOr<std::unique_ptr<CreatedContainer>> c = CreateContainer(s, stdio, *cgroups_, &refused);
  out.write.Reset();
  ASSERT_TRUE(c.ok()) << c.status();
  const pid_t init = (*c)->pid();
  absl::Status started = (*c)->Start();
  EXPECT_FALSE(started.ok());
  EXPECT_THAT(started.message(), HasSubstr("seccomp")) << started;
  EXPECT_EQ(ReadAll(out.read.get()), "") << "nothing ran";
  c->reset();
  EXPECT_NE(::kill(init, 0), 0) << "init outlived its failed start";
  // TearDown: no cgroup and no mount left.
}

// The creator's own work beside init's set-up starts once init is let go (init then moves
// itself into its cgroup, which it is in by "ready"); a set-up that fails after it is still
// the create's error, and leaves nothing.
TEST_F(ContainerRuntimeTest, WorkBesideInitsSetUpStartsOnceItIsLetGo) {
  std::string root = dir_ + "/rootfs";
  MakeRootfs(root);
  spec::Spec s = BaseSpec(root, {"true"});
  absl::StatusOr<std::string> memory = cgroups_->Directory(s.linux.cgroups_path, "memory");
  ASSERT_TRUE(memory.ok()) << memory.status();
  pid_t cloned = 0;
  int calls = 0;
  CreateOptions options;
  options.on_cloned = [&](pid_t pid) { cloned = pid; };
  options.while_init_sets_up = [&] { ++calls; };
  Pipe out = Pipe::Make();
  ContainerStdio stdio;
  stdio.stdout_fd = out.write.get();
  stdio.stderr_fd = out.write.get();
  absl::StatusOr<std::unique_ptr<CreatedContainer>> c = CreateContainer(s, stdio, *cgroups_, nullptr, options);
  out.write.Reset();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(cloned, (*c)->pid());
  EXPECT_EQ(ReadFile(*memory + "/cgroup.procs").value_or(""), absl::StrCat(cloned, "\n"));
  ASSERT_TRUE((*c)->Start().ok());
  EXPECT_EQ(WaitExit((*c)->pid()), 0);
  c->reset();

  // A mount init itself makes, refused by the kernel after the work above began.
  spec::Spec failing = BaseSpec(root, {"true"});
  failing.mounts.push_back({"/scratch", "tmpfs", "tmpfs", {"size=not-a-size"}});
  calls = 0;
  Pipe out2 = Pipe::Make();
  stdio.stdout_fd = out2.write.get();
  stdio.stderr_fd = out2.write.get();
  c = CreateContainer(failing, stdio, *cgroups_, nullptr, options);
  out2.write.Reset();
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(calls, 1) << c.status();
  EXPECT_THAT(c.status().message(), HasSubstr("/scratch")) << c.status();
  EXPECT_NE(::kill(cloned, 0), 0) << "init outlived its failed create";
  memory = cgroups_->Directory(failing.linux.cgroups_path, "memory");
  ASSERT_TRUE(memory.ok());
  EXPECT_NE(::access(memory->c_str(), F_OK), 0) << "cgroup left after a failed create";
}

TEST_F(ContainerRuntimeTest, MissingBindSourceFailsCreateAndCleansUp) {
  std::string root = dir_ + "/rootfs";
  MakeRootfs(root);
  spec::Spec s = BaseSpec(root, {"true"});
  s.mounts.push_back({"/data", "bind", dir_ + "/does-not-exist", {"rbind", "ro"}});
  Result r = Run(s);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kNotFound) << r.status;
  EXPECT_THAT(r.status.message(), HasSubstr("create container: mount bind"));
  absl::StatusOr<std::string> memory = cgroups_->Directory(s.linux.cgroups_path, "memory");
  ASSERT_TRUE(memory.ok());
  EXPECT_NE(::access(memory->c_str(), F_OK), 0) << "cgroup left after a failed create";
}

TEST_F(ContainerRuntimeTest, ReadOnlyBindMountAndSymlinkDestinationStayInRoot) {
  std::string root = dir_ + "/rootfs";
  MakeRootfs(root);
  std::string data = dir_ + "/data";
  ASSERT_TRUE(MakeDirs(data).ok());
  ASSERT_TRUE(WriteFileAtomic(data + "/f", "content\n").ok());
  // An absolute symlink inside the image that would point at the host's temp dir.
  std::string hostside = dir_ + "/hostside";
  ASSERT_EQ(::symlink(hostside.c_str(), (root + "/escape").c_str()), 0);
  spec::Spec s = BaseSpec(
      root, {"sh", "-c", "cat /data/f; echo y > /data/g || echo data-ro; ls -d /escape/sub"});
  s.mounts.push_back({"/data", "bind", data, {"rbind", "ro"}});
  s.mounts.push_back({"/escape/sub", "tmpfs", "tmpfs", {"nosuid"}});
  Result r = Run(s);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_THAT(r.output, HasSubstr("content\n"));
  EXPECT_THAT(r.output, HasSubstr("data-ro\n"));
  EXPECT_THAT(r.output, HasSubstr("/escape/sub\n"));
  EXPECT_NE(::access(hostside.c_str(), F_OK), 0) << "mount point created outside the rootfs";
  EXPECT_EQ(::access((root + hostside + "/sub").c_str(), F_OK), 0);
}

TEST_F(ContainerRuntimeTest, RlimitsOnlyLowered) {
  std::string root = dir_ + "/rootfs";
  MakeRootfs(root);
  struct rlimit current;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &current), 0);

  spec::Spec lowered = BaseSpec(root, {"sh", "-c", "ulimit -n"});
  lowered.process.rlimits = {{"RLIMIT_NOFILE", 256, 256}};
  Result ok = Run(lowered);
  ASSERT_TRUE(ok.status.ok()) << ok.status;
  EXPECT_EQ(ok.output, "256\n");

  if (current.rlim_max == RLIM_INFINITY) GTEST_SKIP() << "no finite hard limit to exceed";
  spec::Spec raised = BaseSpec(root, {"true"});
  raised.process.rlimits = {{"RLIMIT_NOFILE", current.rlim_max + 1, current.rlim_max + 1}};
  Result r = Run(raised);
  ASSERT_FALSE(r.status.ok());
  if (r.status.code() != absl::StatusCode::kFailedPrecondition) {
    // Only when this process may raise it (CAP_SYS_RESOURCE) can it get further.
    GTEST_SKIP() << "host allows raising rlimits: " << r.status;
  }
  EXPECT_THAT(r.status.message(), HasSubstr("RLIMIT_NOFILE hard"));
  EXPECT_THAT(r.status.message(), HasSubstr("CAP_SYS_RESOURCE"));
}

TEST_F(ContainerRuntimeTest, MemoryLimitInCgroupWhileRunning) {
  std::string root = dir_ + "/rootfs";
  MakeRootfs(root);
  spec::Spec s = BaseSpec(root, {"sleep", "30"});
  s.linux.resources.memory_limit = 64 << 20;
  absl::StatusOr<std::unique_ptr<CreatedContainer>> c = CreateContainer(s, {}, *cgroups_);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE((*c)->Start().ok());
  absl::StatusOr<std::string> memory = cgroups_->Directory(s.linux.cgroups_path, "memory");
  ASSERT_TRUE(memory.ok());
  std::string limit_file = cgroups_->Name() == "v1" ? "/memory.limit_in_bytes" : "/memory.max";
  absl::StatusOr<std::string> limit = ReadFile(*memory + limit_file);
  ASSERT_TRUE(limit.ok()) << limit.status();
  EXPECT_EQ(absl::StripAsciiWhitespace(*limit), "67108864");
  absl::StatusOr<std::vector<pid_t>> procs = cgroups_->Processes(s.linux.cgroups_path);
  ASSERT_TRUE(procs.ok());
  EXPECT_THAT(*procs, ::testing::Contains((*c)->pid()));
  ASSERT_TRUE(cgroups_->Destroy(s.linux.cgroups_path).ok());  // kills sleep
  EXPECT_EQ(WaitExit((*c)->pid()), 128 + SIGKILL);
}

TEST_F(ContainerRuntimeTest, AbandonedContainerIsKilledAndItsCgroupRemoved) {
  std::string root = dir_ + "/rootfs";
  MakeRootfs(root);
  spec::Spec s = BaseSpec(root, {"sleep", "30"});
  pid_t pid;
  {
    absl::StatusOr<std::unique_ptr<CreatedContainer>> c = CreateContainer(s, {}, *cgroups_);
    ASSERT_TRUE(c.ok()) << c.status();
    pid = (*c)->pid();
    EXPECT_EQ(::kill(pid, 0), 0);
  }
  EXPECT_NE(::kill(pid, 0), 0) << "init not reaped";
  absl::StatusOr<std::string> memory = cgroups_->Directory(s.linux.cgroups_path, "memory");
  ASSERT_TRUE(memory.ok());
  EXPECT_NE(::access(memory->c_str(), F_OK), 0);
}

TEST_F(ContainerRuntimeTest, ExecJoinsTheContainer) {
  std::string root = dir_ + "/rootfs";
  MakeRootfs(root);
  spec::Spec s = BaseSpec(root, {"sleep", "30"});
  s.hostname = "exec-target";
  absl::StatusOr<std::unique_ptr<CreatedContainer>> c = CreateContainer(s, {}, *cgroups_);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE((*c)->Start().ok());

  auto exec = [&](std::vector<std::string> args, std::string cwd = "/") {
    Result r;
    Pipe out = Pipe::Make();
    ExecOptions options;
    options.container_pid = (*c)->pid();
    options.cgroups_path = s.linux.cgroups_path;
    options.process = s.process;
    options.process.args = std::move(args);
    options.process.cwd = std::move(cwd);
    options.stdio.stdout_fd = out.write.get();
    options.stdio.stderr_fd = out.write.get();
    absl::StatusOr<pid_t> helper = ExecInContainer(options, *cgroups_);
    out.write.Reset();
    if (!helper.ok()) {
      r.status = helper.status();
      return r;
    }
    r.output = ReadAll(out.read.get());
    r.exit_code = WaitExit(*helper);
    return r;
  };

  Result host = exec({"hostname"});
  ASSERT_TRUE(host.status.ok()) << host.status;
  EXPECT_EQ(host.output, "exec-target\n");
  EXPECT_EQ(host.exit_code, 0);

  Result cmdline = exec({"cat", "/proc/1/cmdline"});
  ASSERT_TRUE(cmdline.status.ok()) << cmdline.status;
  EXPECT_EQ(cmdline.output, std::string("sleep\0"
                                        "30\0",
                                        9));

  Result inside = exec({"sh", "-c", "echo $$ >/dev/null; cat /proc/self/cgroup; ls /; exit 7"});
  ASSERT_TRUE(inside.status.ok()) << inside.status;
  EXPECT_EQ(inside.exit_code, 7);
  EXPECT_THAT(inside.output, HasSubstr("memory:/\n"));
  EXPECT_THAT(inside.output, Not(HasSubstr("usr\n")));

  Result missing = exec({"no-such-binary"});
  EXPECT_EQ(missing.status.code(), absl::StatusCode::kNotFound) << missing.status;
  EXPECT_THAT(missing.status.message(), HasSubstr("exec no-such-binary"));

  Result bad_cwd = exec({"true"}, "/no/such/dir");
  EXPECT_EQ(bad_cwd.status.code(), absl::StatusCode::kNotFound) << bad_cwd.status;
  EXPECT_THAT(bad_cwd.status.message(), HasSubstr("chdir /no/such/dir"));

  // Signalling the pid the caller knows reaches the process.
  {
    ExecOptions options;
    options.container_pid = (*c)->pid();
    options.cgroups_path = s.linux.cgroups_path;
    options.process = s.process;
    options.process.args = {"sleep", "30"};
    absl::StatusOr<pid_t> helper = ExecInContainer(options, *cgroups_);
    ASSERT_TRUE(helper.ok()) << helper.status();
    // The pid is the process itself, our own child, inside the container's pid namespace
    // (two NSpid levels); the joiner that got it there is gone and reaped: our only
    // children are the container's init and the process.
    absl::StatusOr<std::string> status = ReadFile(absl::StrCat("/proc/", *helper, "/status"));
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_THAT(*status, HasSubstr(absl::StrCat("\nPPid:\t", ::getpid(), "\n")));
    EXPECT_THAT(*status, testing::ContainsRegex(absl::StrCat("\nNSpid:\t", *helper, "\t[0-9]+\n")));
    absl::StatusOr<std::string> children =
        ReadFile(absl::StrCat("/proc/self/task/", ::gettid(), "/children"));
    ASSERT_TRUE(children.ok()) << children.status();
    std::vector<std::string> pids = absl::StrSplit(*children, ' ', absl::SkipWhitespace());
    EXPECT_THAT(pids, testing::UnorderedElementsAre(absl::StrCat((*c)->pid()), absl::StrCat(*helper)));
    ASSERT_EQ(::kill(*helper, SIGTERM), 0);
    EXPECT_EQ(WaitExit(*helper), 128 + SIGTERM);
  }

  ASSERT_TRUE(cgroups_->Destroy(s.linux.cgroups_path).ok());
  EXPECT_EQ(WaitExit((*c)->pid()), 128 + SIGKILL);
}

// Without a terminal the process shares our memory until its execve (process_plan.h): our
// heap is as it was, however many processes started or failed to. With a terminal (opened
// inside the container) the process is a fork, and gets its terminal all the same.
TEST_F(ContainerRuntimeTest, ExecsLeaveTheCallersHeapAsItWas) {
  std::string root = dir_ + "/rootfs";
  MakeRootfs(root);
  spec::Spec s = BaseSpec(root, {"sleep", "30"});
  absl::StatusOr<std::unique_ptr<CreatedContainer>> c = CreateContainer(s, {}, *cgroups_);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE((*c)->Start().ok());

  ExecOptions runs;
  runs.container_pid = (*c)->pid();
  runs.cgroups_path = s.linux.cgroups_path;
  runs.process = s.process;
  runs.process.args = {"sh", "-c", "exit 3"};
  ExecOptions missing = runs;
  missing.process.args = {"no-such-binary"};
  auto run = [&](const ExecOptions& options) {
    absl::StatusOr<pid_t> process = ExecInContainer(options, *cgroups_);
    return process.ok() ? WaitExit(*process) : -1;
  };
  for (int i = 0; i < 5; ++i) {  // the heap's own first growth
    run(runs);
    run(missing);
  }
  int codes[40];
  const size_t before = ::mallinfo2().uordblks;
  for (int i = 0; i < 20; ++i) {
    codes[2 * i] = run(runs);
    codes[2 * i + 1] = run(missing);
  }
  const size_t after = ::mallinfo2().uordblks;
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(codes[2 * i], 3);
    EXPECT_EQ(codes[2 * i + 1], -1);
  }
  EXPECT_LE(after, before + 512) << "bytes in use grew from " << before << " to " << after;

  int sockets[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets), 0);
  UniqueFd ours(sockets[0]), theirs(sockets[1]);
  ExecOptions tty = runs;
  tty.process.terminal = true;
  tty.process.args = {"readlink", "/proc/self/fd/0"};
  tty.console_socket_fd = theirs.get();
  absl::StatusOr<pid_t> process = ExecInContainer(tty, *cgroups_);
  ASSERT_TRUE(process.ok()) << process.status();
  absl::StatusOr<UniqueFd> master = TakeSentFd(ours.get());
  ASSERT_TRUE(master.ok()) << master.status();
  EXPECT_EQ(WaitExit(*process), 0);
  EXPECT_THAT(ReadAll(master->get()), HasSubstr("/dev/pts/"));

  ASSERT_TRUE(cgroups_->Destroy(s.linux.cgroups_path).ok());
  EXPECT_EQ(WaitExit((*c)->pid()), 128 + SIGKILL);
}

TEST_F(ContainerRuntimeTest, UserCapabilitiesSignalsAndFds) {
  std::string root = dir_ + "/rootfs";
  MakeRootfs(root);
  spec::Spec s =
      BaseSpec(root, {"sh", "-c",
                      "id; grep -E '^(Cap|NoNewPrivs|SigBlk|SigIgn)' /proc/self/status; "
                      "ls /proc/self/fd | grep -vE '^[0-3]$' | grep . || echo no-extra-fds; "
                      "pwd"});
  s.process.user = {1000, 1000, {10, 20}};
  s.process.capabilities = spec::Capabilities{
      {"CAP_CHOWN", "CAP_KILL"}, {"CAP_KILL"}, {"CAP_KILL"}, {"CAP_KILL"}, {"CAP_KILL"}};
  s.process.no_new_privileges = true;
  s.process.cwd = "/work/dir";  // missing: made like Docker's WORKDIR
  // The shim blocks signals for its signalfd and may ignore some: none of it may leak.
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGCHLD);
  ASSERT_EQ(::sigprocmask(SIG_BLOCK, &block, &old), 0);
  struct sigaction ignore = {}, old_usr1, old_rtmax;
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGUSR1, &ignore, &old_usr1), 0);
  ASSERT_EQ(::sigaction(SIGRTMAX, &ignore, &old_rtmax), 0);  // the top bit of the mask
  Result r = Run(s);
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
  ::sigaction(SIGUSR1, &old_usr1, nullptr);
  ::sigaction(SIGRTMAX, &old_rtmax, nullptr);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("uid=1000 gid=1000 groups=10,20"));
  EXPECT_THAT(r.output, HasSubstr("CapInh:\t0000000000000020\n"));
  EXPECT_THAT(r.output, HasSubstr("CapPrm:\t0000000000000020\n"));
  EXPECT_THAT(r.output, HasSubstr("CapEff:\t0000000000000020\n"));
  EXPECT_THAT(r.output, HasSubstr("CapBnd:\t0000000000000021\n"));
  EXPECT_THAT(r.output, HasSubstr("CapAmb:\t0000000000000020\n"));
  EXPECT_THAT(r.output, HasSubstr("NoNewPrivs:\t1\n"));
  EXPECT_THAT(r.output, HasSubstr("SigBlk:\t0000000000000000\n"));
  EXPECT_THAT(r.output, HasSubstr("SigIgn:\t0000000000000000\n"));
  EXPECT_THAT(r.output, HasSubstr("no-extra-fds\n"));
  EXPECT_THAT(r.output, HasSubstr("/work/dir\n"));
}

TEST_F(ContainerRuntimeTest, JoinsAnotherContainersNamespaces) {
  std::string root = dir_ + "/rootfs";
  MakeRootfs(root);
  spec::Spec sandbox = BaseSpec(root, {"sleep", "30"});
  absl::StatusOr<std::unique_ptr<CreatedContainer>> pod = CreateContainer(sandbox, {}, *cgroups_);
  ASSERT_TRUE(pod.ok()) << pod.status();
  ASSERT_TRUE((*pod)->Start().ok());
  pid_t pod_pid = (*pod)->pid();

  spec::Spec member = BaseSpec(root, {"sh", "-c",
                                      "echo $$; readlink /proc/self/ns/net; "
                                      "readlink /proc/self/ns/ipc; hostname; "
                                      "cat /proc/1/cmdline"});
  member.hostname.clear();
  for (spec::Namespace& ns : member.linux.namespaces) {
    if (ns.type == "network" || ns.type == "ipc" || ns.type == "uts" || ns.type == "pid") {
      const char* proc_name = ns.type == "network" ? "net" : ns.type.c_str();
      ns.path = absl::StrCat("/proc/", pod_pid, "/ns/", proc_name);
    }
  }
  Result r = Run(member);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  auto link = [&](const char* name) {
    char buf[128] = {};
    ::readlink(absl::StrCat("/proc/", pod_pid, "/ns/", name).c_str(), buf, sizeof(buf) - 1);
    return std::string(buf);
  };
  std::vector<std::string> lines = absl::StrSplit(r.output, '\n');
  ASSERT_GE(lines.size(), 5u) << r.output;
  EXPECT_NE(lines[0], "1");  // in the sandbox's pid namespace, whose init is sleep
  EXPECT_EQ(lines[1], link("net"));
  EXPECT_EQ(lines[2], link("ipc"));
  EXPECT_EQ(lines[3], "berth-test");
  EXPECT_EQ(lines[4], std::string("sleep\0"
                                  "30\0",
                                  9));

  // This process's own pid namespace for children was restored.
  char own[64] = {}, for_children[64] = {};
  ::readlink("/proc/self/ns/pid", own, sizeof(own) - 1);
  ::readlink("/proc/self/ns/pid_for_children", for_children, sizeof(for_children) - 1);
  EXPECT_STREQ(own, for_children);

  ASSERT_TRUE(cgroups_->Destroy(sandbox.linux.cgroups_path).ok());
  EXPECT_EQ(WaitExit(pod_pid), 128 + SIGKILL);
}

TEST_F(ContainerRuntimeTest, CgroupMountShowsTheContainersCgroup) {
  std::string root = dir_ + "/rootfs";
  MakeRootfs(root);
  spec::Spec s = BaseSpec(root, {"sh", "-c",
                                 "ls /sys/fs/cgroup; "
                                 "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; "
                                 "mkdir /sys/fs/cgroup/x 2>/dev/null || echo ro"});
  s.mounts.push_back({"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "ro"}});
  s.linux.resources.memory_limit = 32 << 20;
  Result r = Run(s);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  if (cgroups_->Name() == "v1") {
    EXPECT_THAT(r.output, HasSubstr("memory\n"));
    EXPECT_THAT(r.output, HasSubstr("pids\n"));
    EXPECT_THAT(r.output, HasSubstr("33554432\n"));
  }
  EXPECT_THAT(r.output, HasSubstr("ro\n"));
}

TEST_F(ContainerRuntimeTest, HostNetworkSeesHostInterfaces) {
  std::string root = dir_ + "/rootfs";
  MakeRootfs(root);
  spec::Spec s = BaseSpec(root, {"sh", "-c", "readlink /proc/self/ns/net; ls /sys/class/net"});
  std::erase_if(s.linux.namespaces, [](const spec::Namespace& ns) { return ns.type == "network"; });
  Result r = Run(s);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.exit_code, 0) << r.output;
  char host_net[64] = {};
  ::readlink("/proc/self/ns/net", host_net, sizeof(host_net) - 1);
  EXPECT_THAT(r.output, HasSubstr(absl::StrCat(host_net, "\n")));
  EXPECT_THAT(r.output, HasSubstr("lo\n"));
}

TEST_F(ContainerRuntimeTest, TerminalBecomesControllingTty) {
  std::string root = dir_ + "/rootfs";
  MakeRootfs(root);
  int master = -1, slave = -1;
  ASSERT_EQ(::openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
  UniqueFd master_fd(master), slave_fd(slave);
  ::fcntl(master, F_SETFD, FD_CLOEXEC);
  ::fcntl(slave, F_SETFD, FD_CLOEXEC);
  spec::Spec s = BaseSpec(root, {"sh", "-c", "test -t 0 && test -t 1 && echo tty-ok"});
  s.process.terminal = true;
  s.process.console_size = spec::ConsoleSize{40, 100};
  ContainerStdio stdio;
  stdio.terminal = slave;
  absl::StatusOr<std::unique_ptr<CreatedContainer>> c = CreateContainer(s, stdio, *cgroups_);
  ASSERT_TRUE(c.ok()) << c.status();
  slave_fd.Reset();
  ASSERT_TRUE((*c)->Start().ok());
  std::string out = ReadAll(master);  // EIO once the last slave fd is closed
  EXPECT_THAT(out, HasSubstr("tty-ok"));
  EXPECT_EQ(WaitExit((*c)->pid()), 0);
}

}  // namespace
}  // namespace berth
