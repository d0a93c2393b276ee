// berth CLI: argv of run/create/exec -> flags -> ContainerConfig / ProcessSpec.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/container_flags.h"
#include "cli/mount_flags.h"
#include "cli/env_file.h"
#include "cli/file_util.h"
#include "cli/flag_definitions.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars](const std::string& key) -> std::optional<std::string> {
    auto it = vars.find(key);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// Parses `berth run ARGS...` as the real CLI declares it. Throws CLI::ParseError on bad usage.
ContainerFlags ParseRun(std::vector<std::string> args, bool is_run = true) {
  CLI::App app{"test", "berth"};
  ContainerFlags flags;
  CLI::App* cmd = app.add_subcommand(is_run ? "run" : "create");
  DefineContainerFlags(cmd, flags, is_run);
  args.insert(args.begin(), is_run ? "run" : "create");
  std::reverse(args.begin(), args.end());  // CLI11 takes the arguments reversed
  app.parse(args);
  return flags;
}

ExecFlags ParseExec(std::vector<std::string> args) {
  CLI::App app{"test", "berth"};
  ExecFlags flags;
  DefineExecFlags(app.add_subcommand("exec"), flags);
  args.insert(args.begin(), "exec");
  std::reverse(args.begin(), args.end());
  app.parse(args);
  return flags;
}

v1::ContainerConfig Config(const std::vector<std::string>& args,
                           std::map<std::string, std::string> env = {}) {
  absl::StatusOr<v1::ContainerConfig> config =
      BuildContainerConfig(ParseRun(args), FakeEnv(std::move(env)), "/home/me/project");
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : v1::ContainerConfig();
}

std::vector<std::string> Strings(const google::protobuf::RepeatedPtrField<std::string>& r) {
  return {r.begin(), r.end()};
}

TEST(RunFlags, CommandStartsAtTheFirstPositional) {
  ContainerFlags f = ParseRun({"busybox", "sh", "-c", "ls -l"});
  EXPECT_EQ(f.image, "busybox");
  EXPECT_EQ(f.command, (std::vector<std::string>{"sh", "-c", "ls -l"}));
}

TEST(RunFlags, FlagsAfterTheImageBelongToTheContainer) {
  ContainerFlags f = ParseRun({"--name", "web", "busybox", "ps", "--name", "x", "-e", "A=1",
                               "--help", "--", "run"});
  EXPECT_EQ(f.name, "web");
  EXPECT_TRUE(f.env.empty());
  EXPECT_EQ(f.command,
            (std::vector<std::string>{"ps", "--name", "x", "-e", "A=1", "--help", "--", "run"}));
}

TEST(RunFlags, CombinedShortFlagsAndRepeatables) {
  ContainerFlags f = ParseRun({"-dit", "--rm", "-e", "A=1", "-e", "B", "--env=C=3", "-v",
                               "/a:/b", "-v", "c:/d:ro", "--label", "k=v", "-l", "x", "alpine"});
  EXPECT_TRUE(f.detach);
  EXPECT_TRUE(f.interactive);
  EXPECT_TRUE(f.tty);
  EXPECT_TRUE(f.auto_remove);
  EXPECT_EQ(f.env, (std::vector<std::string>{"A=1", "B", "C=3"}));
  EXPECT_EQ(f.volumes, (std::vector<std::string>{"/a:/b", "c:/d:ro"}));
  EXPECT_EQ(f.labels, (std::vector<std::string>{"k=v", "x"}));
  EXPECT_EQ(f.image, "alpine");
  EXPECT_TRUE(f.command.empty());
}

TEST(RunFlags, RepeatableTakesOneValueEach) {
  // `-e A busybox`: busybox is the image, not a second variable.
  ContainerFlags f = ParseRun({"-e", "A", "busybox", "true"});
  EXPECT_EQ(f.env, (std::vector<std::string>{"A"}));
  EXPECT_EQ(f.image, "busybox");
  EXPECT_EQ(f.command, (std::vector<std::string>{"true"}));
}

TEST(RunFlags, MinusHIsHostnameAndEntrypointMayBeEmpty) {
  ContainerFlags f = ParseRun({"-h", "box", "--entrypoint", "", "busybox"});
  EXPECT_EQ(f.hostname, "box");
  ASSERT_TRUE(f.entrypoint.has_value());
  EXPECT_EQ(*f.entrypoint, "");
  EXPECT_FALSE(ParseRun({"busybox"}).entrypoint.has_value());
}

TEST(RunFlags, DetachIsRunOnly) {
  EXPECT_THROW(ParseRun({"-d", "busybox"}, /*is_run=*/false), CLI::ParseError);
  EXPECT_THROW(ParseRun({}), CLI::ParseError);  // no image
}

TEST(BuildContainerConfig, EverythingLandsInItsField) {
  v1::ContainerConfig c = Config(
      {"--name", "web", "--rm", "-i", "-t", "-e", "A=1", "-e", "HOME", "-e", "UNSET", "-w",
       "/srv", "-u", "1000:1000", "--hostname", "box", "--memory", "64m", "--cpus", "0.5",
       "--cpu-shares", "512", "--pids-limit", "100", "--network", "host", "-v", "data:/data:ro",
       "-v", "/etc/hosts:/etc/hosts", "--label", "app=web", "--label", "tier", "--group-add",
       "10", "--group-add", "20", "--entrypoint", "/bin/sh", "busybox", "-c", "echo hi"},
      {{"HOME", "/root"}});
  EXPECT_EQ(c.name(), "web");
  EXPECT_EQ(c.image(), "busybox");
  EXPECT_EQ(Strings(c.entrypoint()), (std::vector<std::string>{"/bin/sh"}));
  EXPECT_EQ(Strings(c.command()), (std::vector<std::string>{"-c", "echo hi"}));
  EXPECT_EQ(Strings(c.env()), (std::vector<std::string>{"A=1", "HOME=/root"}));
  EXPECT_EQ(c.working_dir(), "/srv");
  EXPECT_EQ(c.user(), "1000:1000");
  EXPECT_EQ(c.hostname(), "box");
  EXPECT_EQ(c.labels().at("app"), "web");
  EXPECT_EQ(c.labels().at("tier"), "");
  EXPECT_EQ(c.resources().memory_limit_bytes(), 64LL << 20);
  EXPECT_EQ(c.resources().cpu_millis(), 500);
  EXPECT_EQ(c.resources().cpu_shares(), 512);
  EXPECT_EQ(c.resources().pids_limit(), 100);
  ASSERT_EQ(c.mounts_size(), 2);
  EXPECT_EQ(c.mounts(0).type(), v1::MOUNT_TYPE_VOLUME);  // a bare name is a volume, as in docker
  EXPECT_EQ(c.mounts(0).source(), "data");
  EXPECT_EQ(c.mounts(0).destination(), "/data");
  EXPECT_TRUE(c.mounts(0).read_only());
  EXPECT_EQ(c.mounts(1).source(), "/etc/hosts");
  EXPECT_FALSE(c.mounts(1).read_only());
  EXPECT_EQ(c.network(), "host");
  EXPECT_TRUE(c.tty());
  EXPECT_TRUE(c.open_stdin());
  EXPECT_TRUE(c.auto_remove());
  EXPECT_EQ(c.additional_gids_size(), 2);
  EXPECT_EQ(c.additional_gids(1), 20u);
}

TEST(BuildContainerConfig, DefaultsAreUnset) {
  v1::ContainerConfig c = Config({"busybox"});
  EXPECT_EQ(c.entrypoint_size(), 0);
  EXPECT_EQ(c.command_size(), 0);
  EXPECT_EQ(c.resources().memory_limit_bytes(), 0);
  EXPECT_EQ(c.resources().cpu_millis(), 0);
  EXPECT_EQ(c.network(), "");  // the agent's default (bridge)
  EXPECT_EQ(c.ports_size(), 0);
  EXPECT_EQ(c.extra_hosts_size(), 0);
  EXPECT_EQ(c.dns_size(), 0);
  EXPECT_EQ(c.dns_search_size(), 0);
  EXPECT_FALSE(c.tty());
  EXPECT_FALSE(c.open_stdin());
  EXPECT_FALSE(c.auto_remove());
}

TEST(BuildContainerConfig, EmptyEntrypointClearsTheImages) {
  v1::ContainerConfig c = Config({"--entrypoint", "", "busybox"});
  EXPECT_EQ(Strings(c.entrypoint()), (std::vector<std::string>{""}));
}

TEST(BuildContainerConfig, NegativePidsLimitIsUnlimitedAndNetworkNone) {
  v1::ContainerConfig c = Config({"--pids-limit", "-1", "--net", "none", "busybox"});
  EXPECT_EQ(c.resources().pids_limit(), 0);
  EXPECT_EQ(c.network(), "none");
}

TEST(BuildContainerConfig, RejectsBadValues) {
  auto build = [](std::vector<std::string> args) {
    return BuildContainerConfig(ParseRun(std::move(args)), FakeEnv({}), "/cwd");
  };
  EXPECT_FALSE(build({"--memory", "lots", "busybox"}).ok());
  EXPECT_FALSE(build({"--cpus", "0.0001", "busybox"}).ok());
  EXPECT_FALSE(build({"--cpu-shares", "-5", "busybox"}).ok());
  EXPECT_FALSE(build({"--network", "container:", "busybox"}).ok());
  EXPECT_FALSE(build({"-p", "80", "busybox"}).ok());
  EXPECT_FALSE(build({"-p", "70000:80", "busybox"}).ok());
  EXPECT_FALSE(build({"-p", "8080:80", "-p", "8080:81", "busybox"}).ok());
  EXPECT_FALSE(build({"--add-host", "db", "busybox"}).ok());
  EXPECT_FALSE(build({"--add-host", "db:notanip", "busybox"}).ok());
  EXPECT_FALSE(build({"--dns", "dns.example", "busybox"}).ok());
  EXPECT_FALSE(build({"--dns-search", "a b", "busybox"}).ok());
  EXPECT_FALSE(build({"-v", "a", "busybox"}).ok());
  EXPECT_FALSE(build({"-e", "=x", "busybox"}).ok());
  EXPECT_FALSE(build({"--label", "=v", "busybox"}).ok());
}

TEST(BuildContainerConfig, NetworkIsPassedThrough) {
  for (const char* network : {"bridge", "none", "host", "container:web", "backend", "3f2a9c"}) {
    EXPECT_EQ(Config({"--network", network, "busybox"}).network(), network);
  }
  EXPECT_EQ(Config({"--net=backend", "busybox"}).network(), "backend");
  EXPECT_EQ(Config({"--network", "default", "busybox"}).network(), "");
}

TEST(BuildContainerConfig, SharedNamespacesArePassedThrough) {
  v1::ContainerConfig c = Config({"--ipc", "container:pod", "--pid=host", "--uts", "container:pod", "busybox"});
  EXPECT_EQ(c.ipc(), "container:pod");
  EXPECT_EQ(c.pid(), "host");
  EXPECT_EQ(c.uts(), "container:pod");
  v1::ContainerConfig plain = Config({"busybox"});
  EXPECT_EQ(plain.ipc(), "");
  EXPECT_EQ(plain.pid(), "");
  EXPECT_EQ(plain.uts(), "");
}

TEST(BuildContainerConfig, PublishAddHostAndDns) {
  v1::ContainerConfig c = Config({"-p", "8080:80", "--publish", "127.0.0.1:5353:53/udp",
                                  "--publish=9000:9000/TCP", "--add-host", "db:10.0.0.5", "--add-host",
                                  "v6:fd00::1", "--dns", "1.1.1.1", "--dns", "2001:4860:4860::8888",
                                  "--dns-search", "example.com", "--dns-search", "corp", "--dns-option",
                                  "ndots:2", "--dns-option", "edns0", "busybox", "-p", "1:1"});
  ASSERT_EQ(c.ports_size(), 3);
  EXPECT_EQ(c.ports(0).protocol(), "tcp");
  EXPECT_EQ(c.ports(0).host_ip(), "");
  EXPECT_EQ(c.ports(0).host_port(), 8080u);
  EXPECT_EQ(c.ports(0).container_port(), 80u);
  EXPECT_EQ(c.ports(1).protocol(), "udp");
  EXPECT_EQ(c.ports(1).host_ip(), "127.0.0.1");
  EXPECT_EQ(c.ports(1).host_port(), 5353u);
  EXPECT_EQ(c.ports(1).container_port(), 53u);
  EXPECT_EQ(c.ports(2).protocol(), "tcp");
  EXPECT_EQ(Strings(c.extra_hosts()), (std::vector<std::string>{"db:10.0.0.5", "v6:fd00::1"}));
  EXPECT_EQ(Strings(c.dns()), (std::vector<std::string>{"1.1.1.1", "2001:4860:4860::8888"}));
  EXPECT_EQ(Strings(c.dns_search()), (std::vector<std::string>{"example.com", "corp"}));
  EXPECT_EQ(Strings(c.dns_options()), (std::vector<std::string>{"ndots:2", "edns0"}));
  // "-p 1:1" after the image belongs to the container's command.
  EXPECT_EQ(Strings(c.command()), (std::vector<std::string>{"-p", "1:1"}));
}

TEST(BuildContainerConfig, CgroupParentIsPassedOnForTheAgentToCheck) {
  EXPECT_EQ(Config({"--cgroup-parent", "/team/a", "busybox"}).cgroup_parent(), "/team/a");
  EXPECT_EQ(Config({"busybox"}).cgroup_parent(), "");
}

TEST(RunFlags, PublishTakesOneValueEach) {
  ContainerFlags f = ParseRun({"-p", "80:80", "busybox"});
  EXPECT_EQ(f.publish, (std::vector<std::string>{"80:80"}));
  EXPECT_EQ(f.image, "busybox");
  f = ParseRun({"--dns", "1.1.1.1", "--dns-search", "x", "--add-host", "a:1.2.3.4", "busybox"});
  EXPECT_EQ(f.dns, (std::vector<std::string>{"1.1.1.1"}));
  EXPECT_EQ(f.dns_search, (std::vector<std::string>{"x"}));
  EXPECT_EQ(f.add_hosts, (std::vector<std::string>{"a:1.2.3.4"}));
  EXPECT_EQ(f.image, "busybox");
}

TEST(ParseVolume, Forms) {
  v1::Mount m = *ParseVolume("/src/:/dst/", "/cwd");
  EXPECT_EQ(m.type(), v1::MOUNT_TYPE_BIND);
  EXPECT_EQ(m.source(), "/src");
  EXPECT_EQ(m.destination(), "/dst");
  EXPECT_FALSE(m.read_only());
  m = *ParseVolume("./a/../b:/x:rw", "/cwd");
  EXPECT_EQ(m.source(), "/cwd/b");
  EXPECT_FALSE(m.read_only());
  m = *ParseVolume("/:/host", "/cwd");
  EXPECT_EQ(m.source(), "/");
}

TEST(ParseVolume, NamesAVolumeLikeDocker) {
  v1::Mount m = *ParseVolume("data:/x:ro", "/cwd/");
  EXPECT_EQ(m.type(), v1::MOUNT_TYPE_VOLUME);
  EXPECT_EQ(m.source(), "data");
  EXPECT_TRUE(m.read_only());
  m = *ParseVolume("/anon/", "");
  EXPECT_EQ(m.type(), v1::MOUNT_TYPE_VOLUME);
  EXPECT_EQ(m.source(), "");
  EXPECT_EQ(m.destination(), "/anon");
  m = *ParseVolume("cache:/c:nocopy", "");
  EXPECT_TRUE(m.no_copy());
}

TEST(ParseVolume, Rejects) {
  for (const char* bad : {"", "a", ":/b", "/a:", "/a:b", "/a:/b:rx", "/a:/b:ro:z", "/a:/b:", "/a:/b:nocopy",
                          "v:/b:idmap", "~/x:/y"}) {
    EXPECT_FALSE(ParseVolume(bad, "/cwd").ok()) << bad;
  }
  EXPECT_FALSE(ParseVolume("./rel:/x", "").ok());  // no cwd to resolve against
}

TEST(ParseMount, DockerKeys) {
  v1::Mount m = *ParseMount("type=bind,source=/src,target=/dst,readonly,bind-propagation=rshared", "/cwd");
  EXPECT_EQ(m.type(), v1::MOUNT_TYPE_BIND);
  EXPECT_EQ(m.source(), "/src");
  EXPECT_EQ(m.destination(), "/dst");
  EXPECT_TRUE(m.read_only());
  EXPECT_EQ(m.propagation(), "rshared");
  m = *ParseMount("src=data,dst=/data,volume-nocopy", "");
  EXPECT_EQ(m.type(), v1::MOUNT_TYPE_VOLUME);
  EXPECT_EQ(m.source(), "data");
  EXPECT_TRUE(m.no_copy());
  EXPECT_FALSE(m.read_only());
  m = *ParseMount("type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770,ro=false", "");
  EXPECT_EQ(m.type(), v1::MOUNT_TYPE_TMPFS);
  EXPECT_EQ(m.tmpfs_size_bytes(), 64 << 20);
  EXPECT_EQ(m.tmpfs_mode(), 01770u);
  EXPECT_FALSE(m.read_only());
  m = *ParseMount("type=volume,destination=/anon", "");
  EXPECT_EQ(m.source(), "");
}

TEST(ParseMount, Rejects) {
  for (const char* bad : {"type=bind,dst=/x", "type=nfs,dst=/x", "src=v", "dst=rel", "type=tmpfs,src=a,dst=/t",
                          "type=tmpfs,dst=/t,tmpfs-mode=99", "type=volume,dst=/v,bind-propagation=shared",
                          "type=bind,src=/a,dst=/b,tmpfs-size=1m", "dst=/x,colour=blue", "dst=/x,ro=maybe"}) {
    EXPECT_FALSE(ParseMount(bad, "/cwd").ok()) << bad;
  }
}

TEST(ResolveEnv, CopiesFromTheEnvironmentLikeDocker) {
  auto env = FakeEnv({{"PATH", "/bin"}, {"EMPTY", ""}});
  EXPECT_EQ(*ResolveEnv({"A=1", "PATH", "EMPTY", "MISSING", "B=", "C=x=y"}, env),
            (std::vector<std::string>{"A=1", "PATH=/bin", "EMPTY=", "B=", "C=x=y"}));
  EXPECT_FALSE(ResolveEnv({""}, env).ok());
  EXPECT_FALSE(ResolveEnv({"=1"}, env).ok());
}

TEST(ExecFlags, ParseAndBuild) {
  ExecFlags f = ParseExec({"-it", "-e", "TERM", "-e", "X=1", "-w", "/tmp", "-u", "nobody", "web",
                           "sh", "-c", "echo $X"});
  EXPECT_EQ(f.id, "web");
  absl::StatusOr<v1::ProcessSpec> spec = BuildProcessSpec(f, FakeEnv({{"TERM", "xterm"}}));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(Strings(spec->args()), (std::vector<std::string>{"sh", "-c", "echo $X"}));
  EXPECT_EQ(Strings(spec->env()), (std::vector<std::string>{"TERM=xterm", "X=1"}));
  EXPECT_EQ(spec->working_dir(), "/tmp");
  EXPECT_EQ(spec->user(), "nobody");
  EXPECT_TRUE(spec->tty());
  EXPECT_TRUE(spec->stdin());
}

TEST(ExecFlags, DetachedExecTakesNoStdinAndCommandIsRequired) {
  ExecFlags f = ParseExec({"-d", "-i", "web", "sleep", "10"});
  EXPECT_FALSE(BuildProcessSpec(f, FakeEnv({}))->stdin());
  EXPECT_THROW(ParseExec({"web"}), CLI::ParseError);
}

}  // namespace
}  // namespace berth::cli

namespace berth::cli {
namespace {

v1::ContainerConfig ConfigOf(const std::vector<std::string>& args) {
  absl::StatusOr<v1::ContainerConfig> config = BuildContainerConfig(ParseRun(args), FakeEnv({}), "/work");
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : v1::ContainerConfig{};
}

TEST(SecurityFlags, EveryFlagLandsInItsField) {
  v1::ContainerConfig c = ConfigOf(
      {"--cap-add", "NET_ADMIN", "--cap-drop", "ALL", "--privileged", "--userns", "auto", "--read-only",
       "--device", "/dev/fuse:/dev/f:rw", "--tmpfs", "/run:size=64m,mode=1777", "--ulimit", "nofile=1024:2048",
       "--sysctl", "net.ipv4.ip_forward=1", "--shm-size", "128m", "--init", "--security-opt",
       "seccomp=unconfined", "--security-opt", "no-new-privileges=false", "-v", "/a:/b:ro,idmap", "busybox"});
  const v1::SecurityOptions& s = c.security();
  EXPECT_EQ(s.cap_add(0), "NET_ADMIN");
  EXPECT_EQ(s.cap_drop(0), "ALL");
  EXPECT_TRUE(s.privileged());
  EXPECT_EQ(s.userns(), "auto");
  EXPECT_TRUE(s.read_only_rootfs());
  EXPECT_EQ(s.seccomp_profile(), "unconfined");
  ASSERT_TRUE(s.has_no_new_privileges());
  EXPECT_FALSE(s.no_new_privileges());
  ASSERT_EQ(s.devices_size(), 1);
  EXPECT_EQ(s.devices(0).host_path(), "/dev/fuse");
  EXPECT_EQ(s.devices(0).container_path(), "/dev/f");
  EXPECT_EQ(s.devices(0).permissions(), "rw");
  ASSERT_EQ(c.tmpfs_size(), 1);
  EXPECT_EQ(c.tmpfs(0).destination(), "/run");
  EXPECT_EQ(c.tmpfs(0).options(0), "size=67108864");
  EXPECT_EQ(c.tmpfs(0).options(1), "mode=1777");
  ASSERT_EQ(c.ulimits_size(), 1);
  EXPECT_EQ(c.ulimits(0).soft(), 1024);
  EXPECT_EQ(c.ulimits(0).hard(), 2048);
  EXPECT_EQ(c.sysctls().at("net.ipv4.ip_forward"), "1");
  EXPECT_EQ(c.shm_size_bytes(), 128 << 20);
  EXPECT_TRUE(c.init());
  ASSERT_EQ(c.mounts_size(), 1);
  EXPECT_TRUE(c.mounts(0).read_only());
  EXPECT_TRUE(c.mounts(0).idmap());
}

TEST(SecurityFlags, DefaultsAskForNothing) {
  v1::ContainerConfig c = ConfigOf({"busybox"});
  EXPECT_FALSE(c.security().has_no_new_privileges());
  EXPECT_TRUE(c.security().seccomp_profile().empty());
  EXPECT_FALSE(c.security().privileged());
  EXPECT_EQ(c.shm_size_bytes(), 0);
}

TEST(SecurityFlags, SeccompFileIsReadOnTheClient) {
  v1::ContainerConfig config;
  SecurityFlags flags;
  flags.security_opts = {"seccomp=/p.json"};
  absl::Status st = ApplySecurityFlags(flags, config, [](const std::string& path) -> absl::StatusOr<std::string> {
    if (path == "/p.json") return std::string("{\"defaultAction\":\"SCMP_ACT_ALLOW\"}");
    return absl::NotFoundError("no");
  });
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(config.security().seccomp_profile(), "{\"defaultAction\":\"SCMP_ACT_ALLOW\"}");
  flags.security_opts = {"seccomp=/missing.json"};
  EXPECT_FALSE(ApplySecurityFlags(flags, config, [](const std::string&) -> absl::StatusOr<std::string> {
                 return absl::NotFoundError("cannot read /missing.json");
               }).ok());
}

TEST(SecurityFlags, BadValuesNameTheFlag) {
  for (const auto& [flag, value] : std::vector<std::pair<std::string, std::string>>{
           {"--device", "relative/dev"}, {"--device", "/dev/a:/dev/b:rwx"}, {"--tmpfs", "run"},
           {"--ulimit", "nofile"}, {"--ulimit", "nofile=lots"}, {"--sysctl", "novalue"},
           {"--shm-size", "huge"}, {"--security-opt", "apparmor=unconfined"}, {"--security-opt", "label=disable"},
           {"--security-opt", "no-new-privileges=maybe"}}) {
    absl::StatusOr<v1::ContainerConfig> config =
        BuildContainerConfig(ParseRun({flag, value, "busybox"}), FakeEnv({}), "/work");
    ASSERT_FALSE(config.ok()) << flag << " " << value;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << flag;
    EXPECT_NE(config.status().message().find(flag), std::string::npos) << config.status();
  }
}

TEST(SecurityFlags, DeviceForms) {
  EXPECT_EQ(ParseDevice("/dev/fuse")->container_path(), "");
  EXPECT_EQ(ParseDevice("/dev/fuse:r")->permissions(), "r");
  EXPECT_EQ(ParseDevice("/dev/fuse:/dev/x")->container_path(), "/dev/x");
  EXPECT_EQ(ParseUlimit("core=-1")->hard(), -1);
}

}  // namespace
}  // namespace berth::cli

namespace berth::cli {
namespace {

// docker's env-file rules: blank and '#' lines skipped, leading whitespace dropped, values as
// written, a bare name from the caller's environment; -e overrides what a file sets.
TEST(EnvFiles, ParsedAsDockerDoesAndOverriddenByFlags) {
  auto parsed = ParseEnvFile("# comment\n\n  A=1\nB= spaced value \nC=\"quoted\"\r\nBARE\n", "env file x");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, (std::vector<std::string>{"A=1", "B= spaced value ", "C=\"quoted\"", "BARE"}));
  auto bad = ParseEnvFile("OK=1\nMY VAR=2\n", "env file x");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("env file x line 2"), absl::string_view::npos) << bad.status();
  EXPECT_FALSE(ParseEnvFile("=value\n", "env file x").ok());

  char dir_template[] = "/tmp/berth-envfile-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const std::string env_path = dir + "/app.env", label_path = dir + "/labels";
  ASSERT_TRUE(WriteFileAtomically(env_path, "A=from-file\nB=from-file\nHOME_KEY\n", false).ok());
  ASSERT_TRUE(WriteFileAtomically(label_path, "tier=web\nowner=file\n", false).ok());
  v1::ContainerConfig c = Config({"--env-file", env_path, "-e", "B=from-flag", "--label-file", label_path, "--label",
                                  "owner=flag", "busybox"},
                                 {{"HOME_KEY", "from-shell"}});
  EXPECT_EQ(Strings(c.env()), (std::vector<std::string>{"A=from-file", "B=from-file", "HOME_KEY=from-shell", "B=from-flag"}));
  EXPECT_EQ(c.labels().at("tier"), "web");
  EXPECT_EQ(c.labels().at("owner"), "flag");
  auto missing = BuildContainerConfig(ParseRun({"--env-file", dir + "/nope", "busybox"}), FakeEnv({}), "/");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();

  absl::StatusOr<v1::ProcessSpec> exec =
      BuildProcessSpec(ParseExec({"--env-file", env_path, "web", "env"}), FakeEnv({}));
  ASSERT_TRUE(exec.ok()) << exec.status();
  EXPECT_EQ(Strings(exec->env()), (std::vector<std::string>{"A=from-file", "B=from-file"}));
  ::unlink(env_path.c_str());
  ::unlink(label_path.c_str());
  ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace berth::cli
