// Unit tests for runtime/spec: parsing, validation, serialisation round trips, defaults, lookups
// and bundle loading.
#include "runtime/spec/spec.h"

#include <sched.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::spec {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Close to what `runc spec` and Docker write, plus resources, mappings and fields Berth ignores.
constexpr char kRealisticConfig[] = R"json({
  "ociVersion": "1.0.2-dev",
  "process": {
    "terminal": true,
    "consoleSize": {"height": 24, "width": 80},
    "user": {"uid": 1000, "gid": 1000, "additionalGids": [5, 20]},
    "args": ["sh", "-c", "echo hello"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
    "cwd": "/srv",
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL"],
      "inheritable": [],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "ambient": ["CAP_NET_BIND_SERVICE"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 512}],
    "noNewPrivileges": true,
    "apparmorProfile": "",
    "oomScoreAdj": 100
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "web-1",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro"]}
  ],
  "linux": {
    "namespaces": [
      {"type": "pid"}, {"type": "network", "path": "/var/run/netns/web"}, {"type": "ipc"},
      {"type": "uts"}, {"type": "mount"}, {"type": "user"}, {"type": "cgroup"}
    ],
    "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "resources": {
      "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 10,
                   "minor": -1, "access": "rw"}],
      "memory": {"limit": 536870912, "swap": 536870912},
      "cpu": {"shares": 512, "quota": 50000, "period": 100000},
      "pids": {"limit": 100}
    },
    "cgroupsPath": "/berth/web-1",
    "maskedPaths": ["/proc/kcore", "/sys/firmware"],
    "readonlyPaths": ["/proc/sys"],
    "rootfsPropagation": "rslave",
    "sysctl": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "68719476736"},
    "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438,
                 "uid": 0, "gid": 0}],
    "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                "architectures": ["SCMP_ARCH_X86_64"], "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                             {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                              "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                             {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}
  },
  "annotations": {"org.example.key": "value"},
  "hooks": {"prestart": []}
})json";

// A small spec that validates; each validation test breaks one thing.
Spec ValidSpec() {
  Spec spec = DefaultSpec();
  spec.process.args = {"/bin/true"};
  return spec;
}

absl::Status Validate(const std::function<void(Spec&)>& mutate) {
  Spec spec = ValidSpec();
  mutate(spec);
  return ValidateSpec(spec);
}

// Parses `json`, expecting INVALID_ARGUMENT whose message contains `field`.
void ExpectParseError(const std::string& json, const std::string& field) {
  absl::StatusOr<Spec> spec = ParseSpec(json);
  ASSERT_FALSE(spec.ok()) << "parsed: " << json;
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument) << spec.status();
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr(field)) << spec.status();
}

// ---------------------------------------------------------------------------------------------
// Parsing.

TEST(ParseSpecTest, ParsesRealisticConfig) {
  absl::StatusOr<Spec> parsed = ParseSpec(kRealisticConfig);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const Spec& s = *parsed;

  EXPECT_EQ(s.oci_version, "1.0.2-dev");
  EXPECT_TRUE(s.process.terminal);
  ASSERT_TRUE(s.process.console_size.has_value());
  EXPECT_EQ(s.process.console_size->height, 24u);
  EXPECT_EQ(s.process.console_size->width, 80u);
  EXPECT_EQ(s.process.user.uid, 1000u);
  EXPECT_EQ(s.process.user.gid, 1000u);
  EXPECT_THAT(s.process.user.additional_gids, ElementsAre(5u, 20u));
  EXPECT_THAT(s.process.args, ElementsAre("sh", "-c", "echo hello"));
  EXPECT_EQ(s.process.env.size(), 2u);
  EXPECT_EQ(s.process.cwd, "/srv");
  ASSERT_TRUE(s.process.capabilities.has_value());
  EXPECT_THAT(s.process.capabilities->bounding,
              ElementsAre("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"));
  EXPECT_THAT(s.process.capabilities->effective, ElementsAre("CAP_AUDIT_WRITE", "CAP_KILL"));
  EXPECT_TRUE(s.process.capabilities->inheritable.empty());
  EXPECT_THAT(s.process.capabilities->ambient, ElementsAre("CAP_NET_BIND_SERVICE"));
  ASSERT_EQ(s.process.rlimits.size(), 1u);
  EXPECT_EQ(s.process.rlimits[0].type, "RLIMIT_NOFILE");
  EXPECT_EQ(s.process.rlimits[0].hard, 1024u);
  EXPECT_EQ(s.process.rlimits[0].soft, 512u);
  EXPECT_TRUE(s.process.no_new_privileges);

  EXPECT_EQ(s.root.path, "rootfs");
  EXPECT_TRUE(s.root.readonly);
  EXPECT_EQ(s.hostname, "web-1");

  ASSERT_EQ(s.mounts.size(), 3u);
  EXPECT_EQ(s.mounts[0].destination, "/proc");
  EXPECT_TRUE(s.mounts[0].options.empty());
  EXPECT_EQ(s.mounts[2].type, "bind");
  EXPECT_EQ(s.mounts[2].source, "/srv/data");
  EXPECT_THAT(s.mounts[2].options, ElementsAre("rbind", "ro"));

  ASSERT_EQ(s.linux.namespaces.size(), 7u);
  EXPECT_TRUE(s.HasNamespace("user"));
  ASSERT_NE(s.FindNamespace("network"), nullptr);
  EXPECT_EQ(s.FindNamespace("network")->path, "/var/run/netns/web");
  EXPECT_EQ(s.FindNamespace("time"), nullptr);
  ASSERT_EQ(s.linux.uid_mappings.size(), 1u);
  EXPECT_EQ(s.linux.uid_mappings[0].container_id, 0u);
  EXPECT_EQ(s.linux.uid_mappings[0].host_id, 100000u);
  EXPECT_EQ(s.linux.uid_mappings[0].size, 65536u);
  ASSERT_EQ(s.linux.gid_mappings.size(), 1u);
  EXPECT_EQ(s.linux.resources.memory_limit, 536870912);
  EXPECT_EQ(s.linux.resources.memory_swap, 536870912);
  EXPECT_EQ(s.linux.resources.cpu_shares, 512u);
  EXPECT_EQ(s.linux.resources.cpu_quota, 50000);
  EXPECT_EQ(s.linux.resources.cpu_period, 100000u);
  EXPECT_EQ(s.linux.resources.pids_limit, 100);
  EXPECT_EQ(s.linux.cgroups_path, "/berth/web-1");
  EXPECT_THAT(s.linux.masked_paths, ElementsAre("/proc/kcore", "/sys/firmware"));
  EXPECT_THAT(s.linux.readonly_paths, ElementsAre("/proc/sys"));
  EXPECT_EQ(s.linux.rootfs_propagation, "rslave");
  EXPECT_EQ(s.linux.sysctl.at("net.ipv4.ip_forward"), "1");
  EXPECT_EQ(s.annotations.at("org.example.key"), "value");
  EXPECT_EQ(s.process.oom_score_adj, 100);
  ASSERT_EQ(s.linux.resources.devices.size(), 2u);
  EXPECT_FALSE(s.linux.resources.devices[0].allow);
  EXPECT_EQ(s.linux.resources.devices[0].type, "a");
  EXPECT_EQ(s.linux.resources.devices[1].major, 10);
  EXPECT_FALSE(s.linux.resources.devices[1].minor.has_value());  // -1: any
  ASSERT_EQ(s.linux.devices.size(), 1u);
  EXPECT_EQ(s.linux.devices[0].path, "/dev/fuse");
  EXPECT_EQ(s.linux.devices[0].minor, 229);
  EXPECT_EQ(s.linux.devices[0].file_mode, 0666u);
  ASSERT_TRUE(s.linux.seccomp.has_value());
  EXPECT_EQ(s.linux.seccomp->default_errno_ret, 1u);
  ASSERT_EQ(s.linux.seccomp->syscalls.size(), 3u);
  EXPECT_EQ(s.linux.seccomp->syscalls[1].args[0].op, "SCMP_CMP_EQ");
  EXPECT_EQ(s.linux.seccomp->syscalls[2].errno_ret, 38u);

  EXPECT_TRUE(ValidateSpec(s).ok()) << ValidateSpec(s);
}

// Known parts of the OCI spec that Berth does not implement are refused, naming the field;
// asking for nothing (empty values) is fine.
TEST(ParseSpecTest, RefusesUnsupportedFieldsByName) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"process": {"apparmorProfile": "docker-default"}})", "process.apparmorProfile"},
      {R"({"process": {"scheduler": {"policy": "SCHED_FIFO"}}})", "process.scheduler"},
      {R"({"linux": {"intelRdt": {"closID": "x"}}})", "linux.intelRdt"},
      {R"({"linux": {"timeOffsets": {"monotonic": {"secs": 1}}}})", "linux.timeOffsets"},
      {R"({"linux": {"resources": {"blockIO": {"weight": 10}}}})", "linux.resources.blockIO"},
      {R"({"linux": {"resources": {"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}}})",
       "linux.resources.hugepageLimits"},
      {R"({"linux": {"resources": {"network": {"classID": 1}}}})", "linux.resources.network"},
      {R"({"linux": {"resources": {"rdma": {"mlx5_1": {"hcaHandles": 3}}}}})",
       "linux.resources.rdma"},
      {R"({"linux": {"resources": {"unified": {"memory.high": "1G"}}}})",
       "linux.resources.unified"},
      {R"({"linux": {"resources": {"cpu": {"idle": 1}}}})", "linux.resources.cpu.idle"},
      {R"({"linux": {"resources": {"cpu": {"burst": 1000}}}})", "linux.resources.cpu.burst"},
      {R"({"linux": {"resources": {"memory": {"useHierarchy": true}}}})",
       "linux.resources.memory.useHierarchy"},
      {R"({"linux": {"resources": {"memory": {"checkBeforeUpdate": true}}}})",
       "linux.resources.memory.checkBeforeUpdate"},
      {R"({"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x"}}})",
       "linux.seccomp.listenerPath"},
      {R"({"windows": {"layerFolders": ["C:/x"]}})", "windows"},
  };
  for (const auto& [json, field] : cases) {
    absl::StatusOr<Spec> s = ParseSpec(json);
    ASSERT_FALSE(s.ok()) << json;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << json;
    EXPECT_THAT(s.status().message(), HasSubstr(field)) << json;
    EXPECT_THAT(s.status().message(), HasSubstr("not supported")) << json;
  }
  absl::StatusOr<Spec> empty = ParseSpec(
      R"({"hooks": {"prestart": []}, "process": {"apparmorProfile": "", "selinuxLabel": ""},
          "linux": {"resources": {"blockIO": {}}, "mountLabel": ""}})");
  EXPECT_TRUE(empty.ok()) << empty.status();
}

// SELinux labels are kept (CreateContainer decides, from the node, whether they can stand).
TEST(ParseSpecTest, SelinuxLabelsAreKept) {
  absl::StatusOr<Spec> s = ParseSpec(
      R"({"process": {"selinuxLabel": "system_u:system_r:container_t:s0"}, "linux": {"mountLabel": "m"}})");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->process.selinux_label, "system_u:system_r:container_t:s0");
  EXPECT_EQ(s->linux.mount_label, "m");
}

TEST(ParseSpecTest, HooksParseAndRoundTrip) {
  absl::StatusOr<Spec> s = ParseSpec(R"({"hooks": {
      "createRuntime": [{"path": "/bin/hook", "args": ["hook", "a"], "env": ["K=V"], "timeout": 5}],
      "poststop": [{"path": "/bin/true"}]}})");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->hooks.create_runtime.size(), 1u);
  EXPECT_EQ(s->hooks.create_runtime[0].args, (std::vector<std::string>{"hook", "a"}));
  EXPECT_EQ(s->hooks.create_runtime[0].timeout, 5);
  ASSERT_EQ(s->hooks.poststop.size(), 1u);
  Spec spec = ValidSpec();
  spec.hooks = s->hooks;
  absl::StatusOr<Spec> back = ParseSpec(SerializeSpec(spec));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->hooks, spec.hooks);

  absl::StatusOr<Spec> relative = ParseSpec(R"({"hooks": {"poststart": [{"path": "hook"}]}})");
  ASSERT_FALSE(relative.ok());
  EXPECT_THAT(relative.status().message(), HasSubstr("hooks.poststart[0].path"));
  absl::StatusOr<Spec> zero = ParseSpec(R"({"hooks": {"poststop": [{"path": "/h", "timeout": 0}]}})");
  ASSERT_FALSE(zero.ok());
  EXPECT_THAT(zero.status().message(), HasSubstr("hooks.poststop[0].timeout"));
}

TEST(ParseSpecTest, SeccompProblemsNameTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"defaultAction": "SCMP_ACT_NOPE"})", "sc.defaultAction"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]})",
       "sc.syscalls[0].action"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]})",
       "sc.syscalls[0].names"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
          "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]})",
       "sc.syscalls[0].args[0].index"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
          "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_SIMILAR"}]}]})",
       "sc.syscalls[0].args[0].op"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]})", "sc.architectures[0]"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
          "errnoRet": 1}]})",
       "sc.syscalls[0].action"},
  };
  for (const auto& [json, field] : cases) {
    absl::Status st;
    absl::StatusOr<Seccomp> parsed = ParseSeccomp(json, "sc");
    st = parsed.ok() ? ValidateSeccomp(*parsed, "sc") : parsed.status();
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << json;
    EXPECT_THAT(st.message(), HasSubstr(field)) << json << " -> " << st;
  }
  absl::StatusOr<Seccomp> round = ParseSeccomp(
      R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
          "args": [{"index": 1, "value": 7, "valueTwo": 3, "op": "SCMP_CMP_MASKED_EQ"}]}]})",
      "sc");
  ASSERT_TRUE(round.ok()) << round.status();
  absl::StatusOr<Seccomp> again = ParseSeccomp(SerializeSeccomp(*round), "sc");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *round);
}

TEST(ValidateDevicesTest, DevicesAndRules) {
  Spec spec = ValidSpec();
  spec.linux.devices = {{"/dev/fuse", "x", 10, 229}};
  EXPECT_THAT(ValidateSpec(spec).message(), HasSubstr("linux.devices[0].type"));
  spec.linux.devices = {{"dev/fuse", "c", 10, 229}};
  EXPECT_THAT(ValidateSpec(spec).message(), HasSubstr("linux.devices[0].path"));
  spec.linux.devices = {{"/dev/fuse", "c", 10, 229}};
  spec.linux.resources.devices = {{true, "c", 10, 229, "rwx"}};
  spec.linux.cgroups_path = "/x";
  EXPECT_THAT(ValidateSpec(spec).message(), HasSubstr("linux.resources.devices[0].access"));
  spec.linux.resources.devices = {{true, "c", 10, 229, "rw"}};
  EXPECT_TRUE(ValidateSpec(spec).ok()) << ValidateSpec(spec);
}

TEST(ParseSpecTest, MinimalConfigGetsDefaults) {
  absl::StatusOr<Spec> s = ParseSpec(R"({"ociVersion": "1.0.0"})");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->process.cwd, "/");
  EXPECT_FALSE(s->process.terminal);
  EXPECT_FALSE(s->process.capabilities.has_value());
  EXPECT_FALSE(s->process.console_size.has_value());
  EXPECT_FALSE(s->linux.resources.memory_limit.has_value());
  EXPECT_TRUE(s->mounts.empty());
}

TEST(ParseSpecTest, NullMeansUnset) {
  absl::StatusOr<Spec> s =
      ParseSpec(R"({"ociVersion": "1.0.0", "hostname": null, "linux": {"resources": null}})");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->hostname.empty());
}

TEST(ParseSpecTest, UnlimitedReadsAsUnset) {
  absl::StatusOr<Spec> s = ParseSpec(
      R"({"linux": {"resources": {"memory": {"limit": -1}, "cpu": {"quota": -1}, "pids": {"limit": -1}}}})");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->linux.resources.memory_limit.has_value());
  EXPECT_FALSE(s->linux.resources.cpu_quota.has_value());
  EXPECT_EQ(s->linux.resources.pids_limit, -1);
}

// The memory and cpu fields beyond limit/shares/quota/period: parsed, valid, and written
// back as they came.
TEST(ParseSpecTest, ParsesAndRoundTripsEveryMemoryAndCpuResource) {
  absl::StatusOr<Spec> s = ParseSpec(R"({"ociVersion": "1.0.2", "process": {"args": ["sh"]},
      "root": {"path": "rootfs"},
      "linux": {"namespaces": [{"type": "mount"}], "cgroupsPath": "/x", "resources": {
        "memory": {"limit": 134217728, "reservation": 67108864, "swap": 268435456,
                   "kernel": 33554432, "kernelTCP": 16777216, "swappiness": 0,
                   "disableOOMKiller": true},
        "cpu": {"shares": 512, "realtimeRuntime": 950000, "realtimePeriod": 1000000,
                "cpus": "0-3,7", "mems": "0"}}}})");
  ASSERT_TRUE(s.ok()) << s.status();
  const LinuxResources& r = s->linux.resources;
  EXPECT_EQ(r.memory_limit, 134217728);
  EXPECT_EQ(r.memory_reservation, 67108864);
  EXPECT_EQ(r.memory_swap, 268435456);
  EXPECT_EQ(r.memory_kernel, 33554432);
  EXPECT_EQ(r.memory_kernel_tcp, 16777216);
  EXPECT_EQ(r.memory_swappiness, 0u);  // 0 is a real swappiness
  EXPECT_EQ(r.memory_disable_oom_killer, true);
  EXPECT_EQ(r.cpu_realtime_runtime, 950000);
  EXPECT_EQ(r.cpu_realtime_period, 1000000u);
  EXPECT_EQ(r.cpu_cpus, "0-3,7");
  EXPECT_EQ(r.cpu_mems, "0");
  EXPECT_TRUE(ValidateSpec(*s).ok()) << ValidateSpec(*s);

  const std::string text = SerializeSpec(*s);
  for (const char* key : {"\"reservation\": 67108864", "\"swap\": 268435456",
                          "\"kernel\": 33554432", "\"kernelTCP\": 16777216",
                          "\"swappiness\": 0", "\"disableOOMKiller\": true",
                          "\"realtimeRuntime\": 950000", "\"realtimePeriod\": 1000000",
                          "\"cpus\": \"0-3,7\"", "\"mems\": \"0\""}) {
    EXPECT_THAT(text, HasSubstr(key));
  }
  absl::StatusOr<Spec> again = ParseSpec(text);
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << text;
  EXPECT_EQ(*again, *s) << text;

  // A resources object holding only the new fields still round-trips.
  Spec only = ValidSpec();
  only.linux.resources.memory_disable_oom_killer = false;
  only.linux.resources.memory_swap = -1;
  only.linux.resources.cpu_realtime_runtime = -1;
  only.linux.resources.cpu_mems = "0-1";
  again = ParseSpec(SerializeSpec(only));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, only);
}

// -1 ("unlimited") and 0 ("not set", as OCI tools write it) read as unset where the kernel
// default is exactly that; -1 swap (unlimited) and -1 realtime runtime stay.
TEST(ParseSpecTest, UnlimitedAndZeroResourcesReadAsUnset) {
  absl::StatusOr<Spec> s = ParseSpec(R"({"linux": {"resources": {
      "memory": {"reservation": -1, "kernel": 0, "kernelTCP": -1, "swap": -1},
      "cpu": {"realtimeRuntime": 0, "realtimePeriod": 0, "cpus": "", "mems": ""}}}})");
  ASSERT_TRUE(s.ok()) << s.status();
  const LinuxResources& r = s->linux.resources;
  EXPECT_FALSE(r.memory_reservation.has_value());
  EXPECT_FALSE(r.memory_kernel.has_value());
  EXPECT_FALSE(r.memory_kernel_tcp.has_value());
  EXPECT_EQ(r.memory_swap, -1);
  EXPECT_FALSE(r.cpu_realtime_runtime.has_value());
  EXPECT_FALSE(r.cpu_realtime_period.has_value());
  s = ParseSpec(R"({"linux": {"resources": {"cpu": {"realtimeRuntime": -1}}}})");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->linux.resources.cpu_realtime_runtime, -1);
}

TEST(ParseSpecTest, RlimitInfinityFitsUint64) {
  absl::StatusOr<Spec> s = ParseSpec(
      R"({"process": {"args": ["x"], "rlimits": [{"type": "RLIMIT_CORE", "hard": 18446744073709551615, "soft": 0}]}})");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->process.rlimits[0].hard, RLIM_INFINITY);
}

TEST(ParseSpecTest, InvalidJson) {
  ExpectParseError("{\"ociVersion\": ", "config.json: invalid JSON");
  ExpectParseError("", "config.json: invalid JSON");
  ExpectParseError("[1, 2]", "config.json: must be an object");
}

TEST(ParseSpecTest, WrongTypesNameTheField) {
  ExpectParseError(R"({"ociVersion": 1})", "ociVersion: must be a string");
  ExpectParseError(R"({"process": []})", "process: must be an object");
  ExpectParseError(R"({"process": {"args": "sh"}})",
                   "process.args: must be a non-empty array of strings");
  ExpectParseError(R"({"process": {"args": []}})",
                   "process.args: must be a non-empty array of strings");
  ExpectParseError(R"({"process": {"args": ["sh", 3]}})", "process.args[1]: must be a string");
  ExpectParseError(R"({"process": {"terminal": "yes"}})", "process.terminal: must be a boolean");
  ExpectParseError(R"({"process": {"user": {"uid": -1}}})", "process.user.uid: -1 is out of range");
  ExpectParseError(R"({"process": {"user": {"uid": 4294967296}}})", "process.user.uid");
  ExpectParseError(R"({"process": {"user": {"gid": 1.5}}})", "process.user.gid: must be an integer");
  ExpectParseError(R"({"process": {"user": {"additionalGids": ["5"]}}})",
                   "process.user.additionalGids[0]: must be an integer");
  ExpectParseError(R"({"process": {"consoleSize": {"height": "24"}}})",
                   "process.consoleSize.height");
  ExpectParseError(R"({"process": {"capabilities": {"bounding": "CAP_KILL"}}})",
                   "process.capabilities.bounding: must be an array");
  ExpectParseError(R"({"process": {"rlimits": [{"type": "RLIMIT_NOFILE", "hard": -5}]}})",
                   "process.rlimits[0].hard");
  ExpectParseError(R"({"root": {"path": 7}})", "root.path: must be a string");
  ExpectParseError(R"({"mounts": {"destination": "/x"}})", "mounts: must be an array");
  ExpectParseError(R"({"mounts": [{"destination": "/x", "options": "ro"}]})",
                   "mounts[0].options: must be an array");
  ExpectParseError(R"({"linux": {"namespaces": [{"type": 1}]}})", "linux.namespaces[0].type");
  ExpectParseError(R"({"linux": {"uidMappings": [{"containerID": 0, "hostID": "1", "size": 1}]}})",
                   "linux.uidMappings[0].hostID");
  ExpectParseError(R"({"linux": {"resources": {"memory": {"limit": "1g"}}}})",
                   "linux.resources.memory.limit: must be an integer");
  ExpectParseError(R"({"linux": {"resources": {"cpu": {"shares": -2}}}})",
                   "linux.resources.cpu.shares");
  ExpectParseError(R"({"linux": {"resources": {"pids": 5}}})",
                   "linux.resources.pids: must be an object");
  ExpectParseError(R"({"linux": {"resources": {"memory": {"swappiness": -1}}}})",
                   "linux.resources.memory.swappiness: -1 is out of range");
  ExpectParseError(R"({"linux": {"resources": {"memory": {"disableOOMKiller": 1}}}})",
                   "linux.resources.memory.disableOOMKiller: must be a boolean");
  ExpectParseError(R"({"linux": {"resources": {"memory": {"reservation": "64m"}}}})",
                   "linux.resources.memory.reservation: must be an integer");
  ExpectParseError(R"({"linux": {"resources": {"memory": {"swap": 1.5}}}})",
                   "linux.resources.memory.swap: must be an integer");
  ExpectParseError(R"({"linux": {"resources": {"memory": {"kernel": "1"}}}})",
                   "linux.resources.memory.kernel: must be an integer");
  ExpectParseError(R"({"linux": {"resources": {"memory": {"kernelTCP": true}}}})",
                   "linux.resources.memory.kernelTCP: must be an integer");
  ExpectParseError(R"({"linux": {"resources": {"cpu": {"realtimePeriod": -5}}}})",
                   "linux.resources.cpu.realtimePeriod: -5 is out of range");
  ExpectParseError(R"({"linux": {"resources": {"cpu": {"realtimeRuntime": "x"}}}})",
                   "linux.resources.cpu.realtimeRuntime: must be an integer");
  ExpectParseError(R"({"linux": {"resources": {"cpu": {"cpus": 3}}}})",
                   "linux.resources.cpu.cpus: must be a string");
  ExpectParseError(R"({"linux": {"resources": {"cpu": {"mems": ["0"]}}}})",
                   "linux.resources.cpu.mems: must be a string");
  ExpectParseError(R"({"linux": {"sysctl": {"net.ipv4.ip_forward": 1}}})",
                   "linux.sysctl.net.ipv4.ip_forward: must be a string");
  ExpectParseError(R"({"annotations": {"a": true}})", "annotations.a: must be a string");
}

// ---------------------------------------------------------------------------------------------
// Validation: every rule gives INVALID_ARGUMENT naming the field (and the bad value).

struct ValidationCase {
  const char* name;
  std::function<void(Spec&)> mutate;
  const char* field;  // must appear in the message
  const char* value;  // must appear in the message too ("" to skip)
};

class ValidateSpecTest : public ::testing::TestWithParam<ValidationCase> {};

TEST_P(ValidateSpecTest, RejectsWithFieldInMessage) {
  const ValidationCase& c = GetParam();
  absl::Status st = Validate(c.mutate);
  ASSERT_FALSE(st.ok()) << c.name << " validated";
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr(c.field)) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr(c.value)) << st;
}

Namespace Ns(const char* type, const char* path = "") { return Namespace{type, path}; }

INSTANTIATE_TEST_SUITE_P(
    Rules, ValidateSpecTest,
    ::testing::Values(
        ValidationCase{"EmptyArgs", [](Spec& s) { s.process.args.clear(); }, "process.args", ""},
        ValidationCase{"EmptyArgv0", [](Spec& s) { s.process.args = {""}; }, "process.args[0]",
                       ""},
        ValidationCase{"RelativeCwd", [](Spec& s) { s.process.cwd = "srv"; }, "process.cwd",
                       "\"srv\""},
        ValidationCase{"EmptyCwd", [](Spec& s) { s.process.cwd = ""; }, "process.cwd", ""},
        ValidationCase{"EnvWithoutEquals",
                       [](Spec& s) { s.process.env.push_back("NOVALUE"); }, "process.env[1]",
                       "\"NOVALUE\""},
        ValidationCase{"EnvEmptyKey", [](Spec& s) { s.process.env = {"=x"}; }, "process.env[0]",
                       "\"=x\""},
        ValidationCase{"UnknownBoundingCap",
                       [](Spec& s) { s.process.capabilities->bounding.push_back("CAP_FLY"); },
                       "process.capabilities.bounding[11]", "\"CAP_FLY\""},
        ValidationCase{"UnknownAmbientCap",
                       [](Spec& s) { s.process.capabilities->ambient = {"chown"}; },
                       "process.capabilities.ambient[0]", "\"chown\""},
        ValidationCase{"UnknownRlimit",
                       [](Spec& s) { s.process.rlimits = {{"RLIMIT_FOO", 1, 1}}; },
                       "process.rlimits[0].type", "\"RLIMIT_FOO\""},
        ValidationCase{"DuplicateRlimit",
                       [](Spec& s) {
                         s.process.rlimits = {{"RLIMIT_NOFILE", 10, 10}, {"RLIMIT_NOFILE", 5, 5}};
                       },
                       "process.rlimits[1].type", "duplicate"},
        ValidationCase{"SoftAboveHard",
                       [](Spec& s) { s.process.rlimits = {{"RLIMIT_NOFILE", 100, 200}}; },
                       "process.rlimits[0]", "200"},
        ValidationCase{"NoOciVersion", [](Spec& s) { s.oci_version.clear(); }, "ociVersion", ""},
        ValidationCase{"OciVersion2", [](Spec& s) { s.oci_version = "2.0.0"; }, "ociVersion",
                       "\"2.0.0\""},
        ValidationCase{"EmptyRootPath", [](Spec& s) { s.root.path.clear(); }, "root.path", ""},
        ValidationCase{"RelativeMount",
                       [](Spec& s) { s.mounts.push_back({"data", "bind", "/srv", {"rbind"}}); },
                       "mounts[6].destination", "\"data\""},
        ValidationCase{"DotDotMount",
                       [](Spec& s) { s.mounts.push_back({"/data/../etc", "bind", "/srv", {}}); },
                       "mounts[6].destination", "\"/data/../etc\""},
        ValidationCase{"UnknownNamespace",
                       [](Spec& s) { s.linux.namespaces.push_back(Ns("time")); },
                       "linux.namespaces[6].type", "\"time\""},
        ValidationCase{"DuplicateNamespace",
                       [](Spec& s) { s.linux.namespaces.push_back(Ns("pid")); },
                       "linux.namespaces[6].type", "\"pid\""},
        ValidationCase{"RelativeNamespacePath",
                       [](Spec& s) { s.linux.namespaces[1].path = "netns/x"; },
                       "linux.namespaces[1].path", "\"netns/x\""},
        ValidationCase{"MemoryBelowMinimum",
                       [](Spec& s) { s.linux.resources.memory_limit = 4 << 20; },
                       "linux.resources.memory.limit", "4194304"},
        ValidationCase{"MemoryZero", [](Spec& s) { s.linux.resources.memory_limit = 0; },
                       "linux.resources.memory.limit", "6 MiB"},
        ValidationCase{"CpuQuotaZero", [](Spec& s) { s.linux.resources.cpu_quota = 0; },
                       "linux.resources.cpu.quota", "0"},
        ValidationCase{"CpuQuotaBelowKernelMinimum",
                       [](Spec& s) { s.linux.resources.cpu_quota = 500; },
                       "linux.resources.cpu.quota", "500"},
        ValidationCase{"CpuPeriodTooSmall", [](Spec& s) { s.linux.resources.cpu_period = 999; },
                       "linux.resources.cpu.period", "999"},
        ValidationCase{"CpuPeriodTooLarge",
                       [](Spec& s) { s.linux.resources.cpu_period = 1000001; },
                       "linux.resources.cpu.period", "1000001"},
        ValidationCase{"CpuSharesTooSmall", [](Spec& s) { s.linux.resources.cpu_shares = 1; },
                       "linux.resources.cpu.shares", "1"},
        ValidationCase{"CpuSharesTooLarge",
                       [](Spec& s) { s.linux.resources.cpu_shares = 262145; },
                       "linux.resources.cpu.shares", "262145"},
        ValidationCase{"PidsNegative", [](Spec& s) { s.linux.resources.pids_limit = -2; },
                       "linux.resources.pids.limit", "-2"},
        ValidationCase{"ReservationZero",
                       [](Spec& s) { s.linux.resources.memory_reservation = 0; },
                       "linux.resources.memory.reservation", "0"},
        ValidationCase{"SwapBelowLimit",
                       [](Spec& s) {
                         s.linux.resources.memory_limit = 64 << 20;
                         s.linux.resources.memory_swap = 32 << 20;
                       },
                       "linux.resources.memory.swap", "33554432"},
        ValidationCase{"SwapWithoutLimit",
                       [](Spec& s) { s.linux.resources.memory_swap = int64_t{1} << 30; },
                       "linux.resources.memory.swap", "needs memory.limit"},
        ValidationCase{"KernelNegative", [](Spec& s) { s.linux.resources.memory_kernel = -5; },
                       "linux.resources.memory.kernel", "-5"},
        ValidationCase{"KernelTcpZero",
                       [](Spec& s) { s.linux.resources.memory_kernel_tcp = 0; },
                       "linux.resources.memory.kernelTCP", "0"},
        ValidationCase{"SwappinessTooLarge",
                       [](Spec& s) { s.linux.resources.memory_swappiness = 101; },
                       "linux.resources.memory.swappiness", "101"},
        ValidationCase{"RealtimePeriodZero",
                       [](Spec& s) { s.linux.resources.cpu_realtime_period = 0; },
                       "linux.resources.cpu.realtimePeriod", "0"},
        ValidationCase{"RealtimeRuntimeAbovePeriod",
                       [](Spec& s) {
                         s.linux.resources.cpu_realtime_period = 10000;
                         s.linux.resources.cpu_realtime_runtime = 20000;
                       },
                       "linux.resources.cpu.realtimeRuntime", "20000"},
        ValidationCase{"RealtimeRuntimeAboveDefaultPeriod",
                       [](Spec& s) { s.linux.resources.cpu_realtime_runtime = 1000001; },
                       "linux.resources.cpu.realtimeRuntime", "1000000"},
        ValidationCase{"RealtimeRuntimeNegative",
                       [](Spec& s) { s.linux.resources.cpu_realtime_runtime = -2; },
                       "linux.resources.cpu.realtimeRuntime", "-2"},
        ValidationCase{"CpusNotAList", [](Spec& s) { s.linux.resources.cpu_cpus = "0-"; },
                       "linux.resources.cpu.cpus", "\"0-\""},
        ValidationCase{"CpusBackwardsRange", [](Spec& s) { s.linux.resources.cpu_cpus = "3-1"; },
                       "linux.resources.cpu.cpus", "\"3-1\""},
        ValidationCase{"CpusWords", [](Spec& s) { s.linux.resources.cpu_cpus = "all"; },
                       "linux.resources.cpu.cpus", "\"all\""},
        ValidationCase{"MemsEmptyItem", [](Spec& s) { s.linux.resources.cpu_mems = "0,,1"; },
                       "linux.resources.cpu.mems", "\"0,,1\""},
        ValidationCase{"HostnameWithoutUts",
                       [](Spec& s) {
                         s.hostname = "box";
                         std::erase_if(s.linux.namespaces,
                                       [](const Namespace& n) { return n.type == "uts"; });
                       },
                       "hostname", "\"box\""},
        ValidationCase{"HostnameBadChars", [](Spec& s) { s.hostname = "my_box!"; }, "hostname",
                       "\"my_box!\""},
        ValidationCase{"HostnameTooLong", [](Spec& s) { s.hostname = std::string(65, 'a'); },
                       "hostname", "64"},
        ValidationCase{"HostnameLeadingHyphen", [](Spec& s) { s.hostname = "-box"; }, "hostname",
                       "\"-box\""},
        ValidationCase{"CgroupsPathDotDot",
                       [](Spec& s) { s.linux.cgroups_path = "/berth/../../escape"; },
                       "linux.cgroupsPath", "\"/berth/../../escape\""},
        ValidationCase{"CgroupsPathSystemdDotDot",
                       [](Spec& s) { s.linux.cgroups_path = "system.slice:berth:.."; },
                       "linux.cgroupsPath", ".."},
        ValidationCase{"UidMappingsWithoutUserNs",
                       [](Spec& s) { s.linux.uid_mappings = {{0, 1000, 1}}; },
                       "linux.uidMappings", "user"},
        ValidationCase{"GidMappingsWithoutUserNs",
                       [](Spec& s) { s.linux.gid_mappings = {{0, 1000, 1}}; },
                       "linux.gidMappings", "user"},
        ValidationCase{"NewUserNsWithoutMappings",
                       [](Spec& s) { s.linux.namespaces.push_back(Ns("user")); },
                       "linux.uidMappings", "mapping"},
        ValidationCase{"ZeroSizeMapping",
                       [](Spec& s) {
                         s.linux.namespaces.push_back(Ns("user"));
                         s.linux.uid_mappings = {{0, 1000, 0}};
                         s.linux.gid_mappings = {{0, 1000, 1}};
                       },
                       "linux.uidMappings[0].size", ""},
        ValidationCase{"OverflowingMapping",
                       [](Spec& s) {
                         s.linux.namespaces.push_back(Ns("user"));
                         s.linux.uid_mappings = {{0, 1000, 1}};
                         s.linux.gid_mappings = {{0, 4294967295u, 2}};
                       },
                       "linux.gidMappings[0]", "4294967295"},
        ValidationCase{"RelativeMaskedPath",
                       [](Spec& s) { s.linux.masked_paths.push_back("proc/kcore"); },
                       "linux.maskedPaths[12]", "\"proc/kcore\""},
        ValidationCase{"ReadonlyPathDotDot",
                       [](Spec& s) { s.linux.readonly_paths.push_back("/proc/../etc"); },
                       "linux.readonlyPaths[5]", "\"/proc/../etc\""},
        ValidationCase{"MaskedPathsWithoutMountNs",
                       [](Spec& s) {
                         std::erase_if(s.linux.namespaces,
                                       [](const Namespace& n) { return n.type == "mount"; });
                       },
                       "linux.maskedPaths", "mount"},
        ValidationCase{"UnknownPropagation",
                       [](Spec& s) { s.linux.rootfs_propagation = "sideways"; },
                       "linux.rootfsPropagation", "\"sideways\""},
        ValidationCase{"HostSysctl",
                       [](Spec& s) { s.linux.sysctl["vm.swappiness"] = "0"; },
                       "linux.sysctl.vm.swappiness", "host"},
        ValidationCase{"NetSysctlWithoutNetNs",
                       [](Spec& s) {
                         s.linux.sysctl["net.ipv4.ip_forward"] = "1";
                         std::erase_if(s.linux.namespaces,
                                       [](const Namespace& n) { return n.type == "network"; });
                       },
                       "linux.sysctl.net.ipv4.ip_forward", "network"}),
    [](const ::testing::TestParamInfo<ValidationCase>& info) { return info.param.name; });

TEST(ValidateSpecAcceptTest, AcceptsBoundaryValues) {
  EXPECT_TRUE(Validate([](Spec& s) {
                s.linux.resources.memory_limit = 6 << 20;
                s.linux.resources.cpu_quota = 1000;
                s.linux.resources.cpu_period = 1000;
                s.linux.resources.cpu_shares = 2;
                s.linux.resources.pids_limit = -1;
              }).ok());
  EXPECT_TRUE(Validate([](Spec& s) {
                s.linux.resources.cpu_period = 1000000;
                s.linux.resources.cpu_shares = 262144;
                s.linux.resources.pids_limit = 1;
              }).ok());
  EXPECT_TRUE(Validate([](Spec& s) {
                s.linux.resources.memory_limit = 64 << 20;
                s.linux.resources.memory_swap = 64 << 20;  // no swap
                s.linux.resources.memory_reservation = 1;
                s.linux.resources.memory_kernel = 1;
                s.linux.resources.memory_kernel_tcp = 1;
                s.linux.resources.memory_swappiness = 0;
                s.linux.resources.memory_disable_oom_killer = false;
                s.linux.resources.cpu_realtime_runtime = 1000000;  // = the default period
                s.linux.resources.cpu_cpus = "0";
                s.linux.resources.cpu_mems = "0-1,3";
              }).ok());
  EXPECT_TRUE(Validate([](Spec& s) {
                s.linux.resources.memory_swap = -1;  // unlimited, needs no limit
                s.linux.resources.memory_swappiness = 100;
                s.linux.resources.cpu_realtime_period = 1;
                s.linux.resources.cpu_realtime_runtime = -1;
                s.linux.resources.cpu_cpus = "1-1,2-9,10";
              }).ok());
  // 64 bytes in all (HOST_NAME_MAX), each label within RFC 1123's 63.
  EXPECT_TRUE(Validate([](Spec& s) { s.hostname = std::string(31, 'a') + "." + std::string(32, 'b'); })
                  .ok());
  EXPECT_TRUE(Validate([](Spec& s) { s.hostname = "a1.example-host.org"; }).ok());
  EXPECT_TRUE(Validate([](Spec& s) { s.linux.cgroups_path = "system.slice:berth:abc..def"; })
                  .ok());
  EXPECT_TRUE(Validate([](Spec& s) { s.process.env.push_back("EMPTY="); }).ok());
  EXPECT_TRUE(Validate([](Spec& s) {
                s.process.rlimits = {{"RLIMIT_NOFILE", 1024, 1024}, {"RLIMIT_CORE", 0, 0}};
              }).ok());
  EXPECT_TRUE(Validate([](Spec& s) {
                s.linux.namespaces.push_back(Ns("user"));
                s.linux.uid_mappings = {{0, 100000, 65536}};
                s.linux.gid_mappings = {{0, 100000, 65536}};
                s.linux.sysctl["net.ipv4.ping_group_range"] = "0 2147483647";
                s.linux.sysctl["kernel/shmmax"] = "1000000";
              }).ok());
  // Joining an existing user namespace brings its mappings with it.
  EXPECT_TRUE(Validate([](Spec& s) { s.linux.namespaces.push_back(Ns("user", "/proc/1/ns/user")); })
                  .ok());
}

// ---------------------------------------------------------------------------------------------
// Serialisation.

TEST(SerializeSpecTest, RoundTripsRealisticConfig) {
  absl::StatusOr<Spec> parsed = ParseSpec(kRealisticConfig);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const std::string text = SerializeSpec(*parsed);
  absl::StatusOr<Spec> again = ParseSpec(text);
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << text;
  EXPECT_EQ(*again, *parsed) << text;
  EXPECT_EQ(SerializeSpec(*again), text);
}

TEST(SerializeSpecTest, RoundTripsDefaultSpec) {
  Spec spec = ValidSpec();
  spec.hostname = "box";
  spec.linux.resources.memory_limit = int64_t{1} << 30;
  spec.linux.resources.pids_limit = 0;  // set-but-zero survives
  spec.process.console_size = ConsoleSize{0, 0};
  spec.process.capabilities->ambient.clear();
  spec.annotations[kAnnotationOverlayLower] = "/a:/b";
  absl::StatusOr<Spec> again = ParseSpec(SerializeSpec(spec));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, spec);
}

TEST(SerializeSpecTest, RoundTripsEmptySpec) {
  Spec spec;
  absl::StatusOr<Spec> again = ParseSpec(SerializeSpec(spec));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, spec);
  // Empty capability sets stay "present but empty", distinct from absent.
  spec.process.capabilities = Capabilities{};
  again = ParseSpec(SerializeSpec(spec));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, spec);
}

TEST(SerializeSpecTest, OmitsUnsetOptionalFields) {
  Spec spec;
  spec.oci_version = "1.0.2";
  spec.process.args = {"sh"};
  spec.root.path = "rootfs";
  const std::string text = SerializeSpec(spec);
  for (const char* absent : {"hostname", "mounts", "annotations", "capabilities", "consoleSize",
                             "rlimits", "resources", "uidMappings", "cgroupsPath", "sysctl",
                             "memory", "noNewPrivileges", "readonly", "additionalGids"}) {
    EXPECT_THAT(text, ::testing::Not(HasSubstr(std::string("\"") + absent + "\""))) << absent;
  }
  EXPECT_THAT(text, HasSubstr("\"ociVersion\": \"1.0.2\""));

  spec.linux.resources.cpu_quota = 50000;
  const std::string with_cpu = SerializeSpec(spec);
  EXPECT_THAT(with_cpu, HasSubstr("\"quota\": 50000"));
  EXPECT_THAT(with_cpu, ::testing::Not(HasSubstr("\"period\"")));
  EXPECT_THAT(with_cpu, ::testing::Not(HasSubstr("\"memory\"")));
}

// ---------------------------------------------------------------------------------------------
// Defaults.

TEST(DefaultSpecTest, ValidatesOnceArgsAreSet) {
  Spec spec = DefaultSpec();
  EXPECT_EQ(ValidateSpec(spec).code(), absl::StatusCode::kInvalidArgument);
  spec.process.args = {"/bin/sh"};
  EXPECT_TRUE(ValidateSpec(spec).ok()) << ValidateSpec(spec);
}

TEST(DefaultSpecTest, IsHardenedDockerLike) {
  const Spec spec = DefaultSpec();
  EXPECT_EQ(spec.oci_version, "1.0.2");
  EXPECT_EQ(spec.process.cwd, "/");
  EXPECT_TRUE(spec.process.no_new_privileges);
  EXPECT_THAT(spec.process.env, ElementsAre(HasSubstr("PATH=/usr/local/sbin:")));
  for (const char* ns : {"pid", "network", "ipc", "uts", "mount", "cgroup"}) {
    ASSERT_NE(spec.FindNamespace(ns), nullptr) << ns;
    EXPECT_TRUE(spec.FindNamespace(ns)->path.empty());
  }
  EXPECT_FALSE(spec.HasNamespace("user"));

  ASSERT_EQ(spec.mounts.size(), 6u);
  EXPECT_EQ(spec.mounts[0].destination, "/proc");
  EXPECT_EQ(spec.mounts[0].type, "proc");
  EXPECT_THAT(spec.mounts[2].options, ElementsAre("nosuid", "noexec", "newinstance",
                                                  "ptmxmode=0666", "mode=0620", "gid=5"));
  EXPECT_EQ(spec.mounts[3].destination, "/dev/shm");
  EXPECT_EQ(spec.mounts[5].destination, "/sys");
  EXPECT_THAT(spec.mounts[5].options, ::testing::Contains("ro"));

  ASSERT_TRUE(spec.process.capabilities.has_value());
  const Capabilities& caps = *spec.process.capabilities;
  // Podman's eleven: no NET_RAW, MKNOD or AUDIT_WRITE.
  EXPECT_EQ(caps.bounding.size(), 11u);
  EXPECT_EQ(caps.bounding, DefaultCapabilities());
  for (const char* absent : {"CAP_NET_RAW", "CAP_MKNOD", "CAP_AUDIT_WRITE"}) {
    EXPECT_THAT(caps.bounding, ::testing::Not(::testing::Contains(absent)));
  }
  EXPECT_EQ(caps.effective, caps.bounding);
  EXPECT_EQ(caps.permitted, caps.bounding);
  EXPECT_TRUE(caps.inheritable.empty());
  EXPECT_TRUE(caps.ambient.empty());
  EXPECT_THAT(caps.bounding, ::testing::Contains("CAP_NET_BIND_SERVICE"));
  EXPECT_THAT(caps.bounding, ::testing::Not(::testing::Contains("CAP_SYS_ADMIN")));

  EXPECT_THAT(spec.linux.masked_paths, ::testing::Contains("/proc/kcore"));
  EXPECT_EQ(spec.linux.masked_paths.size(), 12u);
  EXPECT_THAT(spec.mounts[1].options, ::testing::Contains("nodev"));  // /dev
  EXPECT_THAT(spec.linux.readonly_paths, ::testing::Contains("/proc/sysrq-trigger"));
  EXPECT_EQ(spec.linux.readonly_paths.size(), 5u);
  EXPECT_EQ(spec.linux.rootfs_propagation, "private");
}

// ---------------------------------------------------------------------------------------------
// Lookups.

TEST(LookupTest, Rlimits) {
  EXPECT_EQ(*RlimitResource("RLIMIT_NOFILE"), RLIMIT_NOFILE);
  EXPECT_EQ(*RlimitResource("RLIMIT_AS"), RLIMIT_AS);
  EXPECT_EQ(*RlimitResource("RLIMIT_RTTIME"), RLIMIT_RTTIME);
  EXPECT_EQ(RlimitResource("RLIMIT_nofile").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RlimitResource("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LookupTest, Capabilities) {
  EXPECT_EQ(*CapabilityNumber("CAP_CHOWN"), 0);
  EXPECT_EQ(*CapabilityNumber("CAP_SYS_ADMIN"), 21);
  EXPECT_EQ(*CapabilityNumber("CAP_CHECKPOINT_RESTORE"), 40);
  EXPECT_EQ(CapabilityNumber("SYS_ADMIN").status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<std::string> all = AllCapabilityNames();
  ASSERT_EQ(all.size(), 41u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(*CapabilityNumber(all[i]), static_cast<int>(i));
}

TEST(LookupTest, Namespaces) {
  EXPECT_EQ(*NamespaceCloneFlag("pid"), CLONE_NEWPID);
  EXPECT_EQ(*NamespaceCloneFlag("network"), CLONE_NEWNET);
  EXPECT_EQ(*NamespaceCloneFlag("mount"), CLONE_NEWNS);
  EXPECT_EQ(*NamespaceCloneFlag("ipc"), CLONE_NEWIPC);
  EXPECT_EQ(*NamespaceCloneFlag("uts"), CLONE_NEWUTS);
  EXPECT_EQ(*NamespaceCloneFlag("user"), CLONE_NEWUSER);
  EXPECT_EQ(*NamespaceCloneFlag("cgroup"), CLONE_NEWCGROUP);
  EXPECT_EQ(NamespaceCloneFlag("net").status().code(), absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// Bundles.

class LoadBundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-spec-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void WriteConfig(const std::string& text) {
    std::ofstream(dir_ + "/config.json") << text;
  }
  std::string dir_;
};

TEST_F(LoadBundleTest, ResolvesRelativeRoot) {
  Spec spec = ValidSpec();
  spec.root.path = "rootfs";
  WriteConfig(SerializeSpec(spec));
  absl::StatusOr<Spec> loaded = LoadBundle(dir_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->root.path, dir_ + "/rootfs");

  spec.root.path = "./nested/rootfs/";
  WriteConfig(SerializeSpec(spec));
  loaded = LoadBundle(dir_ + "/");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->root.path, dir_ + "/nested/rootfs");
}

TEST_F(LoadBundleTest, RelativeBundleDirBecomesAbsolute) {
  Spec spec = ValidSpec();
  WriteConfig(SerializeSpec(spec));
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof(cwd)), nullptr);
  ASSERT_EQ(::chdir("/tmp"), 0);
  absl::StatusOr<Spec> loaded = LoadBundle(std::filesystem::path(dir_).filename().string());
  ASSERT_EQ(::chdir(cwd), 0);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->root.path, dir_ + "/rootfs");
}

TEST_F(LoadBundleTest, KeepsAbsoluteRoot) {
  Spec spec = ValidSpec();
  spec.root.path = "/var/lib/berth/rootfs";
  WriteConfig(SerializeSpec(spec));
  absl::StatusOr<Spec> loaded = LoadBundle(dir_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->root.path, "/var/lib/berth/rootfs");
}

// A monitor that has the program compiled skips linux.seccomp: the rest of config.json reads
// the same, whatever comes after it in "linux" or bears its name elsewhere.
TEST_F(LoadBundleTest, SkippingSeccompKeepsEverythingElse) {
  const std::string text = R"({
    "ociVersion": "1.0.2",
    "process": {"args": ["true"], "cwd": "/", "env": ["seccomp=1"]},
    "root": {"path": "rootfs"},
    "annotations": {"seccomp": "kept", "linux": "kept too"},
    "linux": {
      "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}],
      "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                  "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW",
                                "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]},
      "maskedPaths": ["/proc/kcore"],
      "sysctl": {"kernel.msgmax": "8192"}
    }
  })";
  WriteConfig(text);
  absl::StatusOr<BundleConfig> config = ReadBundleConfig(dir_);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->text, text);
  EXPECT_EQ(config->path, dir_ + "/config.json");

  bool had_seccomp = false;
  absl::StatusOr<Spec> skipped = ParseBundleConfig(*config, SeccompSection::kSkip, &had_seccomp);
  ASSERT_TRUE(skipped.ok()) << skipped.status();
  EXPECT_TRUE(had_seccomp);
  EXPECT_FALSE(skipped->linux.seccomp.has_value());
  EXPECT_EQ(skipped->root.path, dir_ + "/rootfs");
  EXPECT_EQ(skipped->annotations.at("seccomp"), "kept");
  EXPECT_EQ(skipped->linux.sysctl.at("kernel.msgmax"), "8192");

  absl::StatusOr<Spec> full = ParseBundleConfig(*config);
  ASSERT_TRUE(full.ok()) << full.status();
  ASSERT_TRUE(full->linux.seccomp.has_value());
  full->linux.seccomp.reset();
  EXPECT_EQ(SerializeSpec(*skipped), SerializeSpec(*full));
}

TEST_F(LoadBundleTest, SkippingSeccompTellsWhetherThereWasOne) {
  Spec spec = ValidSpec();
  spec.linux.seccomp.reset();
  WriteConfig(SerializeSpec(spec));
  absl::StatusOr<BundleConfig> config = ReadBundleConfig(dir_);
  ASSERT_TRUE(config.ok()) << config.status();
  bool had_seccomp = true;
  absl::StatusOr<Spec> skipped = ParseBundleConfig(*config, SeccompSection::kSkip, &had_seccomp);
  ASSERT_TRUE(skipped.ok()) << skipped.status();
  EXPECT_FALSE(had_seccomp);
  EXPECT_EQ(SerializeSpec(*skipped), SerializeSpec(*LoadBundle(dir_)));

  // Skipped means not read at all: what would be refused is not looked at, and anything but
  // an object is no profile.
  config->text = R"({"ociVersion": "1.0.2", "process": {"args": ["true"], "cwd": "/"}, "root": {"path": "/r"},
                     "linux": {"seccomp": {"defaultAction": 7}, "namespaces": [{"type": "mount"}]}})";
  skipped = ParseBundleConfig(*config, SeccompSection::kSkip, &had_seccomp);
  ASSERT_TRUE(skipped.ok()) << skipped.status();
  EXPECT_TRUE(had_seccomp);
  EXPECT_TRUE(skipped->HasNamespace("mount"));
  EXPECT_EQ(ParseBundleConfig(*config).status().code(), absl::StatusCode::kInvalidArgument);
  config->text = R"({"ociVersion": "1.0.2", "process": {"args": ["true"], "cwd": "/"}, "root": {"path": "/r"},
                     "linux": {"seccomp": [1, {"a": 2}], "namespaces": [{"type": "mount"}]}})";
  skipped = ParseBundleConfig(*config, SeccompSection::kSkip, &had_seccomp);
  ASSERT_TRUE(skipped.ok()) << skipped.status();
  EXPECT_FALSE(had_seccomp);
  EXPECT_TRUE(skipped->HasNamespace("mount"));
}

TEST_F(LoadBundleTest, MissingConfigIsNotFound) {
  absl::StatusOr<Spec> loaded = LoadBundle(dir_);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kNotFound) << loaded.status();
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(dir_));
}

TEST_F(LoadBundleTest, InvalidConfigIsInvalidArgument) {
  WriteConfig("{not json");
  absl::StatusOr<Spec> loaded = LoadBundle(dir_);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument) << loaded.status();
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("config.json"));

  Spec spec = ValidSpec();
  spec.process.cwd = "relative";
  WriteConfig(SerializeSpec(spec));
  loaded = LoadBundle(dir_);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument) << loaded.status();
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("process.cwd"));
}

}  // namespace
}  // namespace berth::spec

namespace berth::spec {
namespace {

// runc's order: deny everything, the spec's rules, then the defaults (so a spec rule cannot
// take away /dev/null and friends, and the last matching rule wins in the device filter).
TEST(DeviceRulesForTest, DenyAllThenTheSpecsRulesThenTheDefaults) {
  LinuxResources resources;
  resources.devices = {{true, "c", 10, 200, "rwm"}, {false, "c", 1, 3, "w"}};
  std::vector<DeviceRule> rules = DeviceRulesFor(resources);
  std::vector<DeviceRule> defaults = DefaultDeviceRules();
  ASSERT_EQ(rules.size(), 3 + defaults.size());
  EXPECT_EQ(rules[0], (DeviceRule{false, "a", std::nullopt, std::nullopt, "rwm"}));
  EXPECT_EQ(rules[1], resources.devices[0]);
  EXPECT_EQ(rules[2], resources.devices[1]);
  EXPECT_EQ(std::vector<DeviceRule>(rules.begin() + 3, rules.end()), defaults);
  EXPECT_EQ(DeviceRulesFor(LinuxResources{}).size(), 1 + defaults.size());
}

}  // namespace
}  // namespace berth::spec
