// What a process inside a real busybox container sees: its own pid, uts, ipc, net, mount and
// cgroup namespaces, a root filesystem that does not reach the host's, read-only /sys,
// masked /proc files, the configured network mode, mounts, user, env, working dir and
// Docker's default capability set. Every check reads from inside the container.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/file_util.h"
#include "tests/integration/support/agent_harness.h"

namespace berth::testing {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

// Every test runs twice: containers without a user namespace, and with --userns=auto as
// the agent's default (root in the container an unprivileged id on the node).
class Isolation : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(agent_.Start({"--default-userns", GetParam()})); }

  // Runs `config` to its exit; fails the test if any call fails.
  CliResult MustRunToExit(v1::ContainerConfig config) {
    auto r = agent_.RunToExit(std::move(config));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CliResult{};
  }

  // A directory of the test's own under /tmp, removed at the end.
  std::string HostTempDir() {
    char tmpl[] = "/tmp/berth-isolation-XXXXXX";
    std::string dir = ::mkdtemp(tmpl);
    ::chmod(dir.c_str(), 0777);  // reachable by a container root that is an unprivileged id
    host_dirs_.push_back(dir);
    return dir;
  }

  void TearDown() override {
    for (const auto& d : host_dirs_) (void)RemoveTree(d);
  }

  AgentHarness agent_;
  std::vector<std::string> host_dirs_;
};

// Interface names in a /proc/net/dev text ("  eth0: 123 ...").
std::set<std::string> InterfaceNames(const std::string& net_dev) {
  std::set<std::string> names;
  for (absl::string_view line : absl::StrSplit(net_dev, '\n', absl::SkipEmpty())) {
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;  // the two header lines have '|' only
    names.insert(std::string(absl::StripAsciiWhitespace(line.substr(0, colon))));
  }
  return names;
}

TEST_P(Isolation, UsersProcessIsPid1) {
  CliResult r = MustRunToExit(Busybox({"sh", "-c", "echo $$"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1\n");
}

TEST_P(Isolation, OnlyTheContainersProcessesAreVisible) {
  // A new pid namespace with its own /proc: the shell globs it without forking and finds
  // itself alone.
  CliResult r = MustRunToExit(Busybox({"sh", "-c", "echo /proc/[0-9]*"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "/proc/1\n");
}

TEST_P(Isolation, HostnameComesFromTheConfig) {
  auto config = Busybox({"hostname"});
  config.set_hostname("berth-iso-host");
  CliResult r = MustRunToExit(config);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "berth-iso-host\n");

  // Without one, the hostname is the short id (as Docker does).
  auto c = agent_.Run(Busybox({"hostname"}));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(agent_.Wait(c->id()).ok());
  auto logs = agent_.Logs(c->id());
  ASSERT_TRUE(logs.ok()) << logs.status();
  EXPECT_EQ(*logs, c->id().substr(0, 12) + "\n");
}

TEST_P(Isolation, CgroupNamespaceHidesTheHostPath) {
  CliResult r = MustRunToExit(Busybox({"cat", "/proc/self/cgroup"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_FALSE(r.out.empty());
  for (absl::string_view line : absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
    EXPECT_TRUE(absl::EndsWith(line, ":/")) << "cgroup path visible inside the container: " << line;
  }
}

TEST_P(Isolation, NamespacesDifferFromTheHosts) {
  const std::vector<std::string> kinds = {"ipc", "uts", "net", "mnt", "pid", "cgroup"};
  std::string script;
  for (const auto& k : kinds) absl::StrAppend(&script, "readlink /proc/self/ns/", k, "; ");
  CliResult r = MustRunToExit(Busybox({"sh", "-c", script}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> inside = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(inside.size(), kinds.size()) << r.out;
  for (size_t i = 0; i < kinds.size(); ++i) {
    char buf[128] = {};
    std::string host_link = "/proc/self/ns/" + kinds[i];
    ssize_t n = ::readlink(host_link.c_str(), buf, sizeof(buf) - 1);
    ASSERT_GT(n, 0) << host_link;
    std::string host(buf, static_cast<size_t>(n));
    EXPECT_THAT(inside[i], HasSubstr(kinds[i] + ":[")) << inside[i];
    EXPECT_NE(inside[i], host) << "the container shares the test's " << kinds[i] << " namespace";
  }
}

TEST_P(Isolation, HostFilesystemIsNotReachable) {
  std::string host_dir = HostTempDir();
  std::string marker = host_dir + "/host-only-marker";
  ASSERT_TRUE(WriteFileAtomic(marker, "secret\n").ok());
  std::string script = absl::StrCat("if [ -e ", marker, " ]; then echo visible; else echo absent; fi; ",
                                    "ls /tmp; cat /proc/self/mountinfo");
  CliResult r = MustRunToExit(Busybox({"sh", "-c", script}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::StartsWith("absent\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("berth-isolation-")));
  EXPECT_THAT(r.out, Not(HasSubstr(" /work"))) << "a host path shows in the container's mountinfo";
  // The root is the container's own overlay.
  EXPECT_THAT(r.out, ContainsRegex(" / / [^\n]* - overlay "));
}

TEST_P(Isolation, SysIsReadOnly) {
  CliResult r = MustRunToExit(Busybox({"sh", "-c", "touch /sys/x && echo wrote; grep ' /sys ' /proc/self/mounts"}));
  EXPECT_THAT(r.out, Not(HasSubstr("wrote")));
  EXPECT_THAT(r.err, HasSubstr("Read-only file system"));
  EXPECT_THAT(r.out, ContainsRegex("sysfs /sys sysfs ro[,\\s]"));
}

// /dev's standard nodes are binds of the node's own device files (/dev is nodev). They work,
// but a container root must not change the node's files through them: without a user
// namespace it owns them, and a `chmod 600 /dev/null` would break every other user of the
// node. The node's files are put back if the container did change them.
TEST_P(Isolation, DeviceNodesWorkButTheNodesOwnFilesCannotBeChanged) {
  const std::vector<std::string> nodes = {"/dev/null", "/dev/zero", "/dev/full"};
  std::vector<struct stat> before(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) ASSERT_EQ(::stat(nodes[i].c_str(), &before[i]), 0) << nodes[i];

  CliResult r = MustRunToExit(Busybox(
      {"sh", "-c",
       "echo x > /dev/null && echo null-written; head -c 5 /dev/zero | wc -c; "
       "chmod 600 /dev/null && echo chmod-done; chown 1:1 /dev/zero && echo chown-done; "
       "touch /dev/full && echo touch-done; true"}));

  for (size_t i = 0; i < nodes.size(); ++i) {
    struct stat after;
    ASSERT_EQ(::stat(nodes[i].c_str(), &after), 0) << nodes[i];
    const bool changed = after.st_mode != before[i].st_mode || after.st_uid != before[i].st_uid ||
                         after.st_gid != before[i].st_gid ||
                         after.st_mtim.tv_sec != before[i].st_mtim.tv_sec ||
                         after.st_mtim.tv_nsec != before[i].st_mtim.tv_nsec;
    EXPECT_FALSE(changed) << "the container changed the node's own " << nodes[i];
    if (changed) {
      (void)::chmod(nodes[i].c_str(), before[i].st_mode & 07777);
      (void)::chown(nodes[i].c_str(), before[i].st_uid, before[i].st_gid);
      const struct timespec times[2] = {before[i].st_atim, before[i].st_mtim};
      (void)::utimensat(AT_FDCWD, nodes[i].c_str(), times, 0);
    }
  }
  EXPECT_THAT(r.out, HasSubstr("null-written"));
  EXPECT_THAT(r.out, ContainsRegex("(^|\n) *5\n"));  // /dev/zero read
  EXPECT_THAT(r.out, Not(HasSubstr("chmod-done")));
  EXPECT_THAT(r.out, Not(HasSubstr("chown-done")));
  EXPECT_THAT(r.out, Not(HasSubstr("touch-done")));
  EXPECT_THAT(r.err, HasSubstr("Read-only file system"));
}

TEST_P(Isolation, ProcKcoreIsMasked) {
  CliResult r = MustRunToExit(Busybox({"sh", "-c", "cat /proc/kcore | wc -c; cat /proc/sys/kernel/hostname"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty()) << r.out;
  EXPECT_EQ(absl::StripAsciiWhitespace(lines[0]), "0") << "/proc/kcore is readable: " << r.out;
  // /proc/sys is read-only: the hostname cannot be set through it.
  CliResult w = MustRunToExit(Busybox({"sh", "-c", "echo evil > /proc/sys/kernel/hostname"}));
  EXPECT_NE(w.exit_code, 0);
}

TEST_P(Isolation, NetworkNoneHasOnlyLoopback) {
  auto config = Busybox({"cat", "/proc/net/dev"});
  config.set_network("none");
  CliResult r = MustRunToExit(config);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(InterfaceNames(r.out), std::set<std::string>{"lo"}) << r.out;

  // The agent's default is the bridge: loopback and eth0.
  CliResult d = MustRunToExit(Busybox({"cat", "/proc/net/dev"}));
  EXPECT_EQ(InterfaceNames(d.out), (std::set<std::string>{"eth0", "lo"})) << d.out;
}

TEST_P(Isolation, NetworkHostSharesTheAgentsNamespace) {
  // "host" is the node's namespace, which for a harness agent is its test host.
  std::string host_net_dev;
  ASSERT_TRUE(agent_
                  .RunInHostNetns([&] {
                    host_net_dev = ReadText("/proc/thread-self/net/dev");
                    return absl::OkStatus();
                  })
                  .ok());
  std::set<std::string> host = InterfaceNames(host_net_dev);
  ASSERT_FALSE(host.empty());
  auto config = Busybox({"sh", "-c", "readlink /proc/self/ns/net; cat /proc/net/dev"});
  config.set_network("host");
  CliResult r = MustRunToExit(config);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  size_t first_newline = r.out.find('\n');
  ASSERT_NE(first_newline, std::string::npos) << r.out;
  EXPECT_EQ(InterfaceNames(r.out.substr(first_newline + 1)), host) << r.out;
  char buf[128] = {};
  std::string test_host = absl::StrCat("/proc/self/fd/", agent_.netns_fd());
  ASSERT_GT(::readlink(test_host.c_str(), buf, sizeof(buf) - 1), 0);
  EXPECT_EQ(r.out.substr(0, first_newline), std::string(buf)) << "not the agent's network namespace";
  char own[128] = {};
  ASSERT_GT(::readlink("/proc/self/ns/net", own, sizeof(own) - 1), 0);
  EXPECT_NE(std::string(buf), std::string(own)) << "the harness's agent runs in the machine's own namespace";
}

TEST_P(Isolation, ReadOnlyBindMountIsVisibleButNotWritable) {
  std::string host_dir = HostTempDir();
  ASSERT_TRUE(WriteFileAtomic(host_dir + "/hello.txt", "from the host\n").ok());
  auto config = Busybox({"sh", "-c", "cat /data/hello.txt; echo change > /data/new.txt && echo wrote"});
  v1::Mount* m = config.add_mounts();
  m->set_source(host_dir);
  m->set_destination("/data");
  m->set_read_only(true);
  CliResult r = MustRunToExit(config);
  EXPECT_EQ(r.out, "from the host\n");
  EXPECT_THAT(r.err, HasSubstr("Read-only file system"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(::access((host_dir + "/new.txt").c_str(), F_OK), 0) << "a read-only mount was written";
}

TEST_P(Isolation, WritableBindMountWritesReachTheHost) {
  std::string host_dir = HostTempDir();
  auto config = Busybox({"sh", "-c", "echo from-container > /data/out.txt"});
  v1::Mount* m = config.add_mounts();
  m->set_source(host_dir);
  m->set_destination("/data");
  CliResult r = MustRunToExit(config);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadText(host_dir + "/out.txt"), "from-container\n");
}

TEST_P(Isolation, WritesLandInTheUpperDirNotTheImage) {
  const std::string image = agent_.BusyboxLayerDir();
  const std::string image_passwd = ReadText(image + "/etc/passwd");
  ASSERT_FALSE(image_passwd.empty()) << "no " << image << "/etc/passwd";
  auto c = agent_.Run(Busybox({"sh", "-c", "echo fresh > /marker.txt && echo extra:x:9:9::/:/bin/sh >> /etc/passwd && rm /bin/ls"}));
  ASSERT_TRUE(c.ok()) << c.status();
  auto wait = agent_.Wait(c->id());
  ASSERT_TRUE(wait.ok()) << wait.status();
  EXPECT_EQ(wait->exit_code(), 0) << agent_.Logs(c->id()).value_or("");

  const std::string upper = agent_.root() + "/containers/" + c->id() + "/upper";
  EXPECT_EQ(ReadText(upper + "/marker.txt"), "fresh\n");
  EXPECT_THAT(ReadText(upper + "/etc/passwd"), HasSubstr("extra:x:9:9"));
  struct stat st;
  ASSERT_EQ(::lstat((upper + "/bin/ls").c_str(), &st), 0) << "no whiteout for the removed /bin/ls";
  EXPECT_TRUE(S_ISCHR(st.st_mode)) << "an overlay whiteout is a 0/0 character device";

  EXPECT_NE(::access((image + "/marker.txt").c_str(), F_OK), 0) << "the write reached the image";
  EXPECT_EQ(ReadText(image + "/etc/passwd"), image_passwd);
  EXPECT_EQ(::lstat((image + "/bin/ls").c_str(), &st), 0) << "the removal reached the image";

  // A second container starts from the untouched image.
  CliResult r = MustRunToExit(Busybox({"sh", "-c", "ls /marker.txt; grep -c extra /etc/passwd; ls /bin/ls"}));
  EXPECT_THAT(r.out, Not(HasSubstr("/marker.txt")));
  EXPECT_THAT(r.out, HasSubstr("0\n/bin/ls\n"));
}

TEST_P(Isolation, UserFromTheConfigIsApplied) {
  auto config = Busybox({"id"});
  config.set_user("65534:65534");
  CliResult r = MustRunToExit(config);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("uid=65534"));
  EXPECT_THAT(r.out, HasSubstr("gid=65534"));

  // The user can reach the image's files: the container's / is traversable by anyone.
  auto reach = Busybox({"sh", "-c", "ls -ld / | cut -c1-10; cat /etc/hostname >/dev/null; grep -c nobody /etc/passwd"});
  reach.set_user("65534:65534");
  CliResult rr = MustRunToExit(reach);
  EXPECT_EQ(rr.exit_code, 0) << rr.err;
  EXPECT_EQ(rr.out, "drwxr-xr-x\n1\n") << rr.err;

  auto by_name = Busybox({"id", "-u"});
  by_name.set_user("nobody");
  CliResult n = MustRunToExit(by_name);
  EXPECT_EQ(n.out, "65534\n");

  // An unprivileged user has no effective capabilities.
  auto caps = Busybox({"grep", "CapEff", "/proc/self/status"});
  caps.set_user("65534:65534");
  CliResult c = MustRunToExit(caps);
  EXPECT_EQ(c.out, "CapEff:\t0000000000000000\n");
}

TEST_P(Isolation, EnvAndWorkingDirFromTheConfig) {
  auto config = Busybox({"sh", "-c", "echo \"$FOO|$BAR\"; pwd; echo $PATH"});
  config.add_env("FOO=bar");
  config.add_env("BAR=with spaces=and equals");
  config.set_working_dir("/var/tmp");
  CliResult r = MustRunToExit(config);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "bar|with spaces=and equals\n/var/tmp\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");

  // A working dir missing from the image is created, as Docker does.
  auto made = Busybox({"pwd"});
  made.set_working_dir("/srv/app");
  CliResult m = MustRunToExit(made);
  EXPECT_EQ(m.exit_code, 0) << m.err;
  EXPECT_EQ(m.out, "/srv/app\n");
}

TEST_P(Isolation, CapabilitiesAreTheDefaultEleven) {
  CliResult r = MustRunToExit(Busybox({"grep", "-E", "^Cap(Eff|Prm|Bnd|Amb)", "/proc/self/status"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // Podman's eleven: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
  // NET_BIND_SERVICE SYS_CHROOT SETFCAP.
  EXPECT_THAT(r.out, HasSubstr("CapEff:\t00000000800405fb\n"));
  EXPECT_THAT(r.out, HasSubstr("CapPrm:\t00000000800405fb\n"));
  EXPECT_THAT(r.out, HasSubstr("CapBnd:\t00000000800405fb\n"));
  EXPECT_THAT(r.out, HasSubstr("CapAmb:\t0000000000000000\n"));
  // Without CAP_SYS_ADMIN, mounting fails.
  CliResult m = MustRunToExit(Busybox({"mount", "-t", "tmpfs", "none", "/tmp"}));
  EXPECT_NE(m.exit_code, 0);
}

INSTANTIATE_TEST_SUITE_P(Userns, Isolation, ::testing::Values("host", "auto"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace berth::testing
