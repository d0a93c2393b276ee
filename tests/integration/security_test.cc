// What a default container cannot do, and what --privileged (the one explicit way out) lets
// it do: an escape matrix run from inside real containers by berth-probe, one raw syscall per
// probe, each asserting the exact errno. Also the default capability set, no_new_privs
// against a setuid binary, devices (the device cgroup read back, --device), fd hygiene, the
// working directory check, the sealed monitor binary, and the knobs --read-only, --tmpfs,
// --ulimit, --sysctl, --shm-size and --init, each read back from inside the container.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/base/file_util.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/image_support.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;

// A config that runs berth-probe (bind-mounted read-only at /probe) with `args`.
v1::ContainerConfig Probe(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/probe"};
  argv.insert(argv.end(), args.begin(), args.end());
  v1::ContainerConfig c = Busybox(argv);
  v1::Mount* m = c.add_mounts();
  m->set_source(BERTH_PROBE_PATH);
  m->set_destination("/probe");
  m->set_read_only(true);
  return c;
}

std::map<std::string, std::string> ParseProbes(const std::string& out) {
  std::map<std::string, std::string> results;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos) continue;
    results[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
  }
  return results;
}

class Security : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(agent_.Start()); }

  CliResult MustRun(v1::ContainerConfig config) {
    auto r = agent_.RunToExit(std::move(config));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CliResult{};
  }

  std::map<std::string, std::string> RunProbes(v1::ContainerConfig config) {
    CliResult r = MustRun(std::move(config));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return ParseProbes(r.out);
  }

  AgentHarness agent_;
};

// Every probe of the matrix, with the result a default container must get.
const std::map<std::string, std::string> kDefaultMatrix = {
    {"mount", "EPERM"},            // seccomp (and no CAP_SYS_ADMIN)
    {"unshare_user", "EPERM"},     // seccomp: namespace flags
    {"unshare_mount", "EPERM"},
    {"clone3_newuser", "ENOSYS"},  // clone3 is ENOSYS so glibc falls back to clone
    {"setns", "EPERM"},
    {"keyctl", "EPERM"},
    {"bpf", "EPERM"},
    {"perf_event_open", "EPERM"},
    {"io_uring_setup", "EPERM"},
    {"userfaultfd", "EPERM"},
    {"name_to_handle_at", "EPERM"},
    {"open_by_handle_at", "EPERM"},  // the "shocker" attack
    {"ptrace", "EPERM"},
    {"mknod_block", "EPERM"},        // no CAP_MKNOD
    {"read_block", "absent"},
    {"raw_socket", "EPERM"},         // no CAP_NET_RAW
    {"sysrq_trigger", "EROFS"},      // read-only /proc paths
    {"core_pattern", "EROFS"},
    {"sys_kernel", "EROFS"},         // /sys read-only
    {"cgroup_mount", "EPERM"},       // no way to a v1 release_agent
    {"kcore", "empty"},              // masked
    {"reboot", "EPERM"},
    {"swapon", "EPERM"},
    {"clock_settime", "EPERM"},
    {"init_module", "EPERM"},
    {"vsock", "EPERM"},
    {"personality", "EPERM"},
    {"icmp_echo", "ok"},  // ping without CAP_NET_RAW
};

bool OnNode(const char* path) { return ::access(path, F_OK) == 0; }

// The matrix on this node: files the kernel does not have (no CONFIG_PROC_KCORE, no
// CONFIG_MAGIC_SYSRQ, say) cannot be reached by anyone.
std::map<std::string, std::string> DefaultMatrixHere() {
  std::map<std::string, std::string> m = kDefaultMatrix;
  if (!OnNode("/proc/kcore")) m["kcore"] = "ENOENT";
  if (!OnNode("/proc/sysrq-trigger")) m["sysrq_trigger"] = "ENOENT";
  return m;
}

TEST_F(Security, DefaultContainerRefusesEveryEscape) {
  std::map<std::string, std::string> got = RunProbes(Probe({"all"}));
  EXPECT_EQ(got, DefaultMatrixHere());
}

// The same probes pass with --privileged, so the matrix can fail: each of them measures the
// protection, not a broken probe. (Where success would change the node, the probe asks in a
// way the kernel itself refuses past the filter: EINVAL/ENOENT instead of EPERM.)
TEST_F(Security, PrivilegedLetsTheProbesThrough) {
  v1::ContainerConfig config = Probe({"all"});
  config.mutable_security()->set_privileged(true);
  std::map<std::string, std::string> got = RunProbes(config);
  const std::map<std::string, std::string> expected = {
      {"mount", "ok"},
      {"unshare_user", "ok"},
      {"unshare_mount", "ok"},
      {"clone3_newuser", "ok"},
      {"setns", "ok"},
      {"keyctl", "ok"},
      {"bpf", "ok"},
      {"perf_event_open", "ok"},
      {"io_uring_setup", "ok"},
      {"userfaultfd", "ok"},
      {"name_to_handle_at", "ok"},
      {"open_by_handle_at", "ok"},
      {"ptrace", "ok"},
      {"mknod_block", "ok"},
      {"read_block", "ok"},
      {"raw_socket", "ok"},
      {"sysrq_trigger", "ok"},
      {"core_pattern", "ok"},
      {"sys_kernel", "ok"},
      {"cgroup_mount", "ok"},
      {"kcore", "read"},
      {"reboot", "EINVAL"},
      {"swapon", "ENOENT"},
      {"clock_settime", "EINVAL"},
      {"init_module", "ENOEXEC"},
      {"vsock", "EAFNOSUPPORT"},
      {"personality", "ok"},
      {"icmp_echo", "ok"},
  };
  ASSERT_EQ(got.size(), expected.size()) << "probes: " << got.size();
  for (auto [name, result] : expected) {
    if (name == "kcore" && !OnNode("/proc/kcore")) result = "ENOENT";
    if (name == "sysrq_trigger" && !OnNode("/proc/sysrq-trigger")) result = "ENOENT";
    if (name == "init_module" || name == "vsock" || name == "name_to_handle_at" || name == "open_by_handle_at") {
      // Anything but the filter's EPERM: the call reached the kernel's own checks.
      EXPECT_NE(got[name], "EPERM") << name;
    } else {
      EXPECT_EQ(got[name], result) << name;
    }
  }
}

// One capability added opens exactly its conditional syscalls (Docker's rule), nothing else.
TEST_F(Security, AddedCapabilitiesOpenTheirSyscalls) {
  v1::ContainerConfig config = Probe({"ptrace", "mount", "clock_settime", "raw_socket", "mknod_block", "read_block"});
  for (const char* cap : {"SYS_PTRACE", "cap_sys_time", "CAP_NET_RAW", "MKNOD"}) {
    config.mutable_security()->add_cap_add(cap);
  }
  std::map<std::string, std::string> got = RunProbes(config);
  EXPECT_EQ(got["ptrace"], "ok");
  EXPECT_EQ(got["clock_settime"], "EINVAL");  // through the filter and the capability check
  EXPECT_EQ(got["raw_socket"], "ok");
  EXPECT_EQ(got["mount"], "EPERM");           // CAP_SYS_ADMIN was not added
  // A node may be made, but not used: the root is nodev and the device cgroup denies it.
  EXPECT_EQ(got["mknod_block"], "ok");
  EXPECT_THAT(got["read_block"], ::testing::AnyOf("EACCES", "EPERM"));
}

TEST_F(Security, UnknownCapabilityIsInvalidArgument) {
  v1::ContainerConfig config = Busybox({"true"});
  config.mutable_security()->add_cap_add("CAP_TELEPORT");
  auto c = agent_.Create(config);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("security.cap_add[0]"));
  EXPECT_THAT(c.status().message(), HasSubstr("CAP_TELEPORT"));
  auto list = agent_.List();
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
}

uint64_t CapMask(const std::string& status, const std::string& key) {
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::ConsumePrefix(&line, key)) continue;
    uint64_t mask = 0;
    absl::SimpleHexAtoi(absl::StripAsciiWhitespace(line), &mask);
    return mask;
  }
  return ~uint64_t{0};
}

// Podman's eleven, consistent in every set; none for a non-root user (bounding only).
TEST_F(Security, CapabilitySetsAreTheDefaultElevenAndConsistent) {
  // CHOWN 0, DAC_OVERRIDE 1, FOWNER 3, FSETID 4, KILL 5, SETGID 6, SETUID 7, SETPCAP 8,
  // NET_BIND_SERVICE 10, SYS_CHROOT 18, SETFCAP 31.
  const uint64_t kEleven = (1ull << 0) | (1ull << 1) | (1ull << 3) | (1ull << 4) | (1ull << 5) | (1ull << 6) |
                           (1ull << 7) | (1ull << 8) | (1ull << 10) | (1ull << 18) | (1ull << 31);
  CliResult root = MustRun(Busybox({"cat", "/proc/self/status"}));
  EXPECT_EQ(CapMask(root.out, "CapBnd:"), kEleven);
  EXPECT_EQ(CapMask(root.out, "CapEff:"), kEleven);
  EXPECT_EQ(CapMask(root.out, "CapPrm:"), kEleven);
  EXPECT_EQ(CapMask(root.out, "CapInh:"), 0u);
  EXPECT_EQ(CapMask(root.out, "CapAmb:"), 0u);
  EXPECT_THAT(root.out, ::testing::ContainsRegex("NoNewPrivs:\\s+1"));

  v1::ContainerConfig user = Busybox({"cat", "/proc/self/status"});
  user.set_user("1000:1000");
  CliResult u = MustRun(user);
  EXPECT_EQ(CapMask(u.out, "CapBnd:"), kEleven);
  EXPECT_EQ(CapMask(u.out, "CapEff:"), 0u);
  EXPECT_EQ(CapMask(u.out, "CapPrm:"), 0u);

  v1::ContainerConfig dropped = Busybox({"cat", "/proc/self/status"});
  dropped.mutable_security()->add_cap_drop("ALL");
  dropped.mutable_security()->add_cap_add("net_bind_service");
  CliResult d = MustRun(dropped);
  EXPECT_EQ(CapMask(d.out, "CapEff:"), 1ull << 10);
  EXPECT_EQ(CapMask(d.out, "CapBnd:"), 1ull << 10);
}

// ping needs no CAP_NET_RAW: net.ipv4.ping_group_range is opened in the container's netns,
// for every group (the probe's ICMP datagram socket gets its echo reply; busybox's own ping
// only knows raw sockets).
TEST_F(Security, PingWorksWithoutNetRaw) {
  v1::ContainerConfig config = Probe({"icmp_echo", "raw_socket"});
  config.set_user("1000:1000");
  std::map<std::string, std::string> got = RunProbes(config);
  EXPECT_EQ(got["icmp_echo"], "ok");
  EXPECT_EQ(got["raw_socket"], "EPERM");
  CliResult range = MustRun(Busybox({"cat", "/proc/sys/net/ipv4/ping_group_range"}));
  EXPECT_EQ(range.out, "0\t2147483647\n");
}

// A setuid-root binary in the image gains nothing under no_new_privs, and does once it is
// turned off, which shows the probe can tell.
TEST_F(Security, SetuidBinaryGainsNothing) {
  auto base = ExportedBusybox(agent_);
  ASSERT_TRUE(base.ok()) << base.status();
  auto probe = ReadFile(BERTH_PROBE_PATH);
  ASSERT_TRUE(probe.ok());
  Image image = DerivedImage(*base, {File("suid-probe", *probe, 04755)});
  ASSERT_TRUE(ImportImages(agent_, LayoutTar({&image}, {"local/suid:1"})).ok());

  v1::ContainerConfig config = Busybox({"/suid-probe", "euid"});
  config.set_image("local/suid:1");
  config.set_user("1000:1000");
  CliResult nnp = MustRun(config);
  EXPECT_EQ(nnp.out, "euid=1000\n") << nnp.err;

  config.mutable_security()->set_no_new_privileges(false);
  CliResult gains = MustRun(config);
  EXPECT_EQ(gains.out, "euid=0\n") << gains.err;
}

// The device cgroup, read back from the v1 devices controller: deny by default, then the
// default nodes; --privileged allows everything.
TEST_F(Security, DeviceCgroupDeniesByDefault) {
  if (agent_.CgroupDriverName() != "v1") GTEST_SKIP() << "the v2 device filter is a BPF program (unit-tested)";
  v1::ContainerConfig config = Busybox({"sleep", "30"});
  auto c = agent_.Run(config);
  ASSERT_TRUE(c.ok()) << c.status();
  std::string list = ReadText(agent_.CgroupDir(c->id(), "devices") + "/devices.list");
  std::set<std::string> rules;
  for (absl::string_view line : absl::StrSplit(list, '\n', absl::SkipEmpty())) rules.emplace(line);
  EXPECT_EQ(rules, (std::set<std::string>{"c *:* m", "b *:* m", "c 136:* rwm", "c 1:3 rwm", "c 1:5 rwm",
                                          "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm",
                                          "c 5:2 rwm"}));
  ASSERT_TRUE(agent_.Remove(c->id()).ok());

  config.mutable_security()->set_privileged(true);
  auto p = agent_.Run(config);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(ReadText(agent_.CgroupDir(p->id(), "devices") + "/devices.list"), "a *:* rwm\n");
  ASSERT_TRUE(agent_.Remove(p->id()).ok());
}

// --device adds one node with the asked permissions; the rest stays denied.
TEST_F(Security, DeviceFlagAddsOneNode) {
  v1::ContainerConfig config = Busybox({"sh", "-c",
                                        "ls -l /dev/lc; (exec 3</dev/lc) && echo read-ok; "
                                        "(exec 3<>/dev/lc) && echo write-ok; ls /dev/loop-control"});
  v1::DeviceMapping* d = config.mutable_security()->add_devices();
  d->set_host_path("/dev/loop-control");
  d->set_container_path("/dev/lc");
  d->set_permissions("r");
  CliResult r = MustRun(config);
  EXPECT_THAT(r.out, HasSubstr("10, 237"));
  EXPECT_THAT(r.out, HasSubstr("read-ok"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("write-ok")));
  EXPECT_THAT(r.err, HasSubstr("Operation not permitted"));  // the cgroup allows r only
  EXPECT_THAT(r.err, HasSubstr("/dev/loop-control"));        // no node under its own name

  v1::ContainerConfig bad = Busybox({"true"});
  bad.mutable_security()->add_devices()->set_host_path("/etc/passwd");
  auto c = agent_.Create(bad);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("security.devices[0].host_path"));
}

// /dev holds only the default nodes, and only as binds of the node's own (the /dev tmpfs
// and the root are nodev).
TEST_F(Security, DevHoldsOnlyTheDefaultNodes) {
  CliResult r = MustRun(Busybox({"sh", "-c", "ls /dev; awk '$5 == \"/\" || $5 == \"/dev\" {print $5, $6}' /proc/self/mountinfo"}));
  std::set<std::string> names;
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  for (const std::string& line : lines) {
    if (line.find(' ') == std::string::npos) names.insert(line);
  }
  // (/dev/console only with a terminal.)
  EXPECT_EQ(names, (std::set<std::string>{"fd", "full", "mqueue", "null", "ptmx", "pts", "random", "shm",
                                          "stderr", "stdin", "stdout", "tty", "urandom", "zero"}))
      << r.out;
  int nodev = 0;
  for (const std::string& line : lines) {
    if (line.find(' ') != std::string::npos && absl::StrContains(line, "nodev")) ++nodev;
  }
  EXPECT_EQ(nodev, 2) << r.out;  // "/" and "/dev"
}

// The container's init and exec'd processes see fds 0-2 only.
TEST_F(Security, OnlyStdioFdsReachTheContainer) {
  v1::ContainerConfig config = Probe({"fds"});
  CliResult init = MustRun(config);
  EXPECT_EQ(init.out, "fds=0,1,2\n");

  v1::ContainerConfig sleeper = Probe({});
  sleeper.clear_command();
  sleeper.add_command("sleep");
  sleeper.add_command("30");
  auto c = agent_.Run(sleeper);
  ASSERT_TRUE(c.ok()) << c.status();
  auto e = agent_.Exec(c->id(), {"/probe", "fds"});
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->out, "fds=0,1,2\n");
  ASSERT_TRUE(agent_.Remove(c->id()).ok());
}

// A working directory through /proc/self/fd/N can never put the process outside its root
// (the CVE-2024-21626 class): every such start fails or stays inside.
TEST_F(Security, WorkingDirectoryStaysInsideTheRoot) {
  for (int fd = 3; fd < 12; ++fd) {
    v1::ContainerConfig config = Busybox({"sh", "-c", "pwd; ls -d /../../.."});
    config.set_working_dir(absl::StrCat("/proc/self/fd/", fd));
    auto c = agent_.Create(config);
    if (!c.ok()) continue;  // refused up front
    auto started = agent_.StartContainer(c->id());
    if (started.ok()) {
      auto wait = agent_.Wait(c->id());
      ASSERT_TRUE(wait.ok());
      auto logs = agent_.Logs(c->id());
      ASSERT_TRUE(logs.ok());
      EXPECT_THAT(*logs, ::testing::Not(HasSubstr("unreachable"))) << fd;
      EXPECT_THAT(*logs, ::testing::Not(HasSubstr(agent_.root()))) << fd;
    } else {
      EXPECT_THAT(started.status().message(), ::testing::AnyOf(HasSubstr("cwd"), HasSubstr("chdir"))) << fd;
    }
    ASSERT_TRUE(agent_.Remove(c->id()).ok());
  }
}

// The monitor next to each container runs from a sealed copy: nothing can write the binary
// through /proc/<pid>/exe (the CVE-2019-5736 class).
TEST_F(Security, MonitorRunsFromASealedCopy) {
  auto c = agent_.Run(Busybox({"sleep", "30"}));
  ASSERT_TRUE(c.ok());
  std::vector<pid_t> shims = ProcessesMentioning(c->id());
  ASSERT_FALSE(shims.empty());
  for (pid_t pid : shims) {
    std::string exe = absl::StrCat("/proc/", pid, "/exe");
    char target[256] = {};
    ASSERT_GT(::readlink(exe.c_str(), target, sizeof(target) - 1), 0);
    if (!absl::StrContains(target, "berth-shim")) continue;
    EXPECT_THAT(target, HasSubstr("memfd:")) << pid;
    int fd = ::open(exe.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    int seals = ::fcntl(fd, F_GET_SEALS);
    ::close(fd);
    EXPECT_TRUE(seals & F_SEAL_WRITE) << pid;
    EXPECT_LT(::open(exe.c_str(), O_WRONLY | O_CLOEXEC), 0);
  }
  ASSERT_TRUE(agent_.Remove(c->id()).ok());
}

TEST_F(Security, SeccompProfilesCustomUnconfinedAndMalformed) {
  // A custom profile: everything allowed but mkdir, which fails with EPERM.
  v1::ContainerConfig custom = Busybox({"mkdir", "/made"});
  custom.mutable_security()->set_seccomp_profile(
      R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]})");
  CliResult r = MustRun(custom);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("Operation not permitted"));

  v1::ContainerConfig unconfined = Busybox({"grep", "Seccomp:", "/proc/self/status"});
  unconfined.mutable_security()->set_seccomp_profile("unconfined");
  EXPECT_THAT(MustRun(unconfined).out, ::testing::ContainsRegex("Seccomp:\\s+0"));
  EXPECT_THAT(MustRun(Busybox({"grep", "Seccomp:", "/proc/self/status"})).out, ::testing::ContainsRegex("Seccomp:\\s+2"));

  v1::ContainerConfig bad = Busybox({"true"});
  bad.mutable_security()->set_seccomp_profile(R"({"defaultAction": "SCMP_ACT_MAYBE"})");
  auto c = agent_.Create(bad);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("security.seccomp_profile.defaultAction"));
}

// The agent puts the compiled profile beside config.json; the monitor takes it only for the
// config.json it was written with. Edited while the container was stopped (its one rule taken
// out), config.json's own profile is the one the next start gets.
TEST_F(Security, AProfileEditedInTheBundleWinsOverTheCompiledOne) {
  v1::ContainerConfig custom = Busybox({"mkdir", "/made"});
  custom.mutable_security()->set_seccomp_profile(
      R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]})");
  auto c = agent_.Run(custom);
  ASSERT_TRUE(c.ok()) << c.status();
  auto exited = agent_.Wait(c->id());
  ASSERT_TRUE(exited.ok()) << exited.status();
  EXPECT_NE(exited->exit_code(), 0);
  EXPECT_THAT(agent_.Logs(c->id()).value_or(""), HasSubstr("Operation not permitted"));

  const std::string bundle = absl::StrCat(agent_.root(), "/containers/", c->id(), "/bundle");
  ASSERT_TRUE(std::filesystem::exists(bundle + "/seccomp.bpf"));
  nlohmann::json config;
  std::ifstream(bundle + "/config.json") >> config;
  ASSERT_EQ(config["linux"]["seccomp"]["syscalls"].size(), 1u);
  config["linux"]["seccomp"]["syscalls"] = nlohmann::json::array();
  std::ofstream(bundle + "/config.json", std::ios::trunc) << config.dump(2);

  ASSERT_TRUE(agent_.StartContainer(c->id()).ok());
  exited = agent_.Wait(c->id());
  ASSERT_TRUE(exited.ok()) << exited.status();
  EXPECT_EQ(exited->exit_code(), 0) << agent_.Logs(c->id()).value_or("");
  ASSERT_TRUE(agent_.Remove(c->id()).ok());
}

// Every exec'd process gets the container's filter too.
TEST_F(Security, ExecGetsTheSameFilter) {
  auto c = agent_.Run(Busybox({"sleep", "30"}));
  ASSERT_TRUE(c.ok());
  auto e = agent_.Exec(c->id(), {"grep", "-E", "Seccomp:|NoNewPrivs:", "/proc/self/status"});
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_THAT(e->out, ::testing::ContainsRegex("NoNewPrivs:\\s+1"));
  EXPECT_THAT(e->out, ::testing::ContainsRegex("Seccomp:\\s+2"));
  auto unshare = agent_.Exec(c->id(), {"unshare", "-m", "true"});
  ASSERT_TRUE(unshare.ok()) << unshare.status();
  EXPECT_NE(unshare->exit_code, 0);
  EXPECT_THAT(unshare->err, HasSubstr("Operation not permitted"));
  ASSERT_TRUE(agent_.Remove(c->id()).ok());
}

TEST_F(Security, InspectShowsWhatTheContainerGot) {
  v1::ContainerConfig config = Busybox({"true"});
  config.mutable_security()->add_cap_add("NET_ADMIN");
  config.mutable_security()->set_read_only_rootfs(true);
  auto c = agent_.Create(config);
  ASSERT_TRUE(c.ok()) << c.status();
  const v1::EffectiveSecurity& s = c->security();
  EXPECT_FALSE(s.privileged());
  EXPECT_EQ(s.seccomp(), "default");
  EXPECT_GT(s.seccomp_rules(), 10);
  EXPECT_TRUE(s.no_new_privileges());
  EXPECT_EQ(s.capabilities_size(), 12);
  EXPECT_THAT(std::vector<std::string>(s.capabilities().begin(), s.capabilities().end()),
              ::testing::Contains("CAP_NET_ADMIN"));
  EXPECT_EQ(s.userns(), "host");
  EXPECT_TRUE(s.read_only_rootfs());
  EXPECT_THAT(std::vector<std::string>(s.masked_paths().begin(), s.masked_paths().end()),
              ::testing::Contains("/proc/kcore"));
  EXPECT_EQ(s.device_rules(0), "deny a *:* rwm");
  ASSERT_TRUE(agent_.Remove(c->id()).ok());

  config.mutable_security()->set_privileged(true);
  auto p = agent_.Create(config);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->security().privileged());
  EXPECT_EQ(p->security().seccomp(), "unconfined");
  EXPECT_EQ(p->security().masked_paths_size(), 0);
  EXPECT_FALSE(p->security().no_new_privileges());
  ASSERT_TRUE(agent_.Remove(p->id()).ok());
}

TEST_F(Security, ReadOnlyRootTmpfsUlimitSysctlShmSize) {
  v1::ContainerConfig config = Busybox({"sh", "-c",
                                        "touch /x 2>&1; touch /run/ok && echo run-ok; grep ' /run ' /proc/mounts; "
                                        "ulimit -n; cat /proc/sys/kernel/shmmax /proc/sys/net/ipv4/ip_default_ttl; "
                                        "df -k /dev/shm | tail -1"});
  config.mutable_security()->set_read_only_rootfs(true);
  v1::TmpfsMount* t = config.add_tmpfs();
  t->set_destination("/run");
  t->add_options("size=1048576");
  t->add_options("mode=1770");
  v1::Ulimit* u = config.add_ulimits();
  u->set_name("nofile");
  u->set_soft(321);
  u->set_hard(654);
  (*config.mutable_sysctls())["kernel.shmmax"] = "1234567";
  (*config.mutable_sysctls())["net.ipv4.ip_default_ttl"] = "42";
  config.set_shm_size_bytes(8 << 20);
  CliResult r = MustRun(config);
  EXPECT_THAT(r.out, HasSubstr("Read-only file system"));
  EXPECT_THAT(r.out, HasSubstr("run-ok"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("tmpfs /run tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k,mode=1770"));
  EXPECT_THAT(r.out, HasSubstr("\n321\n"));
  EXPECT_THAT(r.out, HasSubstr("1234567\n42\n"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("shm +8192 "));

  v1::ContainerConfig bad = Busybox({"true"});
  (*bad.mutable_sysctls())["kernel.panic"] = "1";
  auto c = agent_.Create(bad);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("kernel.panic"));
  EXPECT_THAT(c.status().message(), HasSubstr("not a namespaced"));

  v1::ContainerConfig host_net = Busybox({"true"});
  host_net.set_network("host");
  (*host_net.mutable_sysctls())["net.ipv4.ip_default_ttl"] = "9";
  auto h = agent_.Create(host_net);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
}

// --init: Berth's reaper is PID 1, the command its child, zombies reaped, exit code passed on.
TEST_F(Security, InitReapsAndPassesTheExitCode) {
  v1::ContainerConfig config =
      Busybox({"sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; (sleep 0.1 &); sleep 0.3; "
                           "grep -h '^State' /proc/[0-9]*/status | grep -c Z; exit 7"});
  config.set_init(true);
  CliResult r = MustRun(config);
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_THAT(r.out, HasSubstr("/dev/init -- sh -c"));
  EXPECT_THAT(r.out, ::testing::EndsWith("\n0\n"));
}

// Programs of the node, dynamically linked against its glibc, run under the default profile:
// glibc's clone3 -> clone fall-back (threads, posix_spawn) works, as do busybox's calls.
TEST_F(Security, GlibcFallbacksWorkUnderTheDefaultProfile) {
  v1::ContainerConfig config = Busybox({"sh", "-c", "/dynprobe; /usr/bin/env true && echo node-env-ok"});
  for (auto [source, destination] : std::initializer_list<std::pair<const char*, const char*>>{
           {BERTH_DYNPROBE_PATH, "/dynprobe"}, {"/usr", "/usr"}, {"/usr/lib", "/lib"}, {"/usr/lib64", "/lib64"}}) {
    v1::Mount* m = config.add_mounts();
    m->set_source(source);
    m->set_destination(destination);
    m->set_read_only(true);
  }
  CliResult r = MustRun(config);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "thread=ok\nspawn=ok\nfaccessat=ok\nclose_range=ok\nnode-env-ok\n") << r.err;
}

}  // namespace
}  // namespace berth::testing
