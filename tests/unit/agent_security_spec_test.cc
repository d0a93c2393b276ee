// The security half of the spec the agent builds: capabilities (Docker's add/drop rules),
// seccomp (default, unconfined, custom, resolved for the capabilities), no_new_privs,
// privileged, devices, user namespace mappings, sysctls, rlimits, tmpfs, /dev/shm, --init,
// and what Inspect reports. Every refusal names the request's field.
#include "agent/security_spec.h"

#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/spec/spec.h"

namespace berth::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

spec::Spec Base(uint32_t uid = 0) {
  spec::Spec s = spec::DefaultSpec();
  s.process.args = {"/bin/sh"};
  s.process.user.uid = uid;
  return s;
}

absl::StatusOr<spec::Spec> Apply(const v1::ContainerConfig& config, SecurityInputs in = {},
                                 v1::EffectiveSecurity* effective = nullptr, uint32_t uid = 0) {
  spec::Spec s = Base(uid);
  v1::EffectiveSecurity ignored;
  absl::Status st = ApplySecurity(config, in, s, effective ? effective : &ignored);
  if (!st.ok()) return st;
  return s;
}

bool HasRule(const spec::Seccomp& sc, const std::string& name) {
  for (const auto& r : sc.syscalls) {
    if (std::find(r.names.begin(), r.names.end(), name) != r.names.end() && r.action == "SCMP_ACT_ALLOW" &&
        r.args.empty()) {
      return true;
    }
  }
  return false;
}

TEST(SecuritySpecTest, DefaultsAreHardened) {
  v1::EffectiveSecurity eff;
  auto s = Apply({}, {}, &eff);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->process.no_new_privileges);
  EXPECT_EQ(s->process.capabilities->bounding, spec::DefaultCapabilities());
  EXPECT_EQ(s->process.capabilities->effective, spec::DefaultCapabilities());
  EXPECT_TRUE(s->process.capabilities->inheritable.empty());
  ASSERT_TRUE(s->linux.seccomp.has_value());
  EXPECT_EQ(s->linux.seccomp->default_action, "SCMP_ACT_ERRNO");
  EXPECT_FALSE(HasRule(*s->linux.seccomp, "mount"));
  EXPECT_EQ(s->linux.sysctl.at("net.ipv4.ping_group_range"), "0 2147483647");
  EXPECT_EQ(eff.seccomp(), "default");
  EXPECT_EQ(eff.userns(), "host");
  EXPECT_EQ(eff.device_rules(0), "deny a *:* rwm");
  EXPECT_FALSE(s->HasNamespace("user"));
}

TEST(SecuritySpecTest, NonRootUsersKeepOnlyTheBoundingSet) {
  auto s = Apply({}, {}, nullptr, /*uid=*/1000);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->process.capabilities->bounding, spec::DefaultCapabilities());
  EXPECT_TRUE(s->process.capabilities->effective.empty());
  EXPECT_TRUE(s->process.capabilities->permitted.empty());
}

TEST(SecuritySpecTest, CapAddAndDropFollowDocker) {
  v1::ContainerConfig c;
  c.mutable_security()->add_cap_add("net_raw");
  c.mutable_security()->add_cap_add("CAP_SYS_ADMIN");
  c.mutable_security()->add_cap_drop("CHOWN");
  auto s = Apply(c);
  ASSERT_TRUE(s.ok()) << s.status();
  const auto& b = s->process.capabilities->bounding;
  EXPECT_THAT(b, Contains("CAP_NET_RAW"));
  EXPECT_THAT(b, Contains("CAP_SYS_ADMIN"));
  EXPECT_THAT(b, Not(Contains("CAP_CHOWN")));
  // CAP_SYS_ADMIN opens mount and plain clone in the resolved profile.
  EXPECT_TRUE(HasRule(*s->linux.seccomp, "mount"));
  EXPECT_TRUE(HasRule(*s->linux.seccomp, "clone"));

  v1::ContainerConfig only;
  only.mutable_security()->add_cap_drop("ALL");
  only.mutable_security()->add_cap_add("KILL");
  EXPECT_EQ(Apply(only)->process.capabilities->bounding, std::vector<std::string>{"CAP_KILL"});

  v1::ContainerConfig bad;
  bad.mutable_security()->add_cap_drop("CAP_CHOWN");
  bad.mutable_security()->add_cap_drop("NOPE");
  auto b2 = Apply(bad);
  EXPECT_EQ(b2.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(b2.status().message(), HasSubstr("security.cap_drop[1]"));
  EXPECT_THAT(b2.status().message(), HasSubstr("\"NOPE\""));
}

TEST(SecuritySpecTest, PrivilegedIsTheWayOut) {
  v1::ContainerConfig c;
  c.mutable_security()->set_privileged(true);
  v1::EffectiveSecurity eff;
  auto s = Apply(c, {}, &eff);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->linux.seccomp.has_value());
  EXPECT_FALSE(s->process.no_new_privileges);
  EXPECT_TRUE(s->linux.masked_paths.empty());
  EXPECT_TRUE(s->linux.readonly_paths.empty());
  EXPECT_THAT(s->process.capabilities->bounding, Contains("CAP_SYS_ADMIN"));
  for (const auto& m : s->mounts) {
    if (m.destination == "/sys") EXPECT_THAT(m.options, Not(Contains("ro")));
    if (m.destination == "/dev") EXPECT_THAT(m.options, Not(Contains("nodev")));
  }
  ASSERT_FALSE(s->linux.resources.devices.empty());
  EXPECT_TRUE(s->linux.resources.devices.back().allow);
  EXPECT_EQ(s->linux.resources.devices.back().type, "a");
  EXPECT_FALSE(s->linux.devices.empty());  // the node's own device nodes
  EXPECT_TRUE(eff.privileged());
  EXPECT_EQ(eff.seccomp(), "unconfined");
}

TEST(SecuritySpecTest, MaskedAndReadonlyPathsReplaceTheDefaultsWhenGiven) {
  v1::ContainerConfig c;
  c.mutable_security()->add_masked_paths("/proc/version");
  c.mutable_security()->add_readonly_paths("/proc/sys");
  v1::EffectiveSecurity eff;
  auto s = Apply(c, {}, &eff);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(s->linux.masked_paths, ElementsAre("/proc/version"));
  EXPECT_THAT(s->linux.readonly_paths, ElementsAre("/proc/sys"));
  EXPECT_THAT(eff.masked_paths(), ElementsAre("/proc/version"));
  // Only one list given: the other keeps its defaults.
  v1::ContainerConfig only_masked;
  only_masked.mutable_security()->add_masked_paths("/proc/kcore");
  auto m = Apply(only_masked);
  ASSERT_TRUE(m.ok());
  EXPECT_THAT(m->linux.readonly_paths, Contains("/proc/sysrq-trigger"));
  // Privileged still has none.
  c.mutable_security()->set_privileged(true);
  auto p = Apply(c);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->linux.masked_paths.empty());
  v1::ContainerConfig bad;
  bad.mutable_security()->add_readonly_paths("proc/sys");
  auto b = Apply(bad);
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(b.status().message(), HasSubstr("security.readonly_paths"));
  bad.mutable_security()->set_readonly_paths(0, "/proc/../etc");
  EXPECT_FALSE(Apply(bad).ok());
}

TEST(SecuritySpecTest, SeccompChoices) {
  v1::ContainerConfig unconfined;
  unconfined.mutable_security()->set_seccomp_profile("unconfined");
  EXPECT_FALSE(Apply(unconfined)->linux.seccomp.has_value());

  v1::ContainerConfig custom;
  custom.mutable_security()->set_seccomp_profile(
      R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
           {"names": ["ptrace"], "action": "SCMP_ACT_ERRNO"},
           {"names": ["mount"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["CAP_SYS_ADMIN"]}}]})");
  v1::EffectiveSecurity eff;
  auto s = Apply(custom, {}, &eff);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->linux.seccomp->syscalls.size(), 1u);  // the mount rule needs a cap it lacks
  EXPECT_EQ(eff.seccomp(), "custom");

  v1::ContainerConfig bad;
  bad.mutable_security()->set_seccomp_profile("{not json");
  auto b = Apply(bad);
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(b.status().message(), HasSubstr("security.seccomp_profile"));
}

TEST(SecuritySpecTest, UserNamespaceMappings) {
  SecurityInputs in;
  in.userns_first_host_id = 300000;
  v1::EffectiveSecurity eff;
  auto s = Apply({}, in, &eff);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->HasNamespace("user"));
  ASSERT_EQ(s->linux.uid_mappings.size(), 1u);
  EXPECT_EQ(s->linux.uid_mappings[0].host_id, 300000u);
  EXPECT_EQ(s->linux.uid_mappings[0].size, 65536u);
  EXPECT_EQ(s->linux.sysctl.at("net.ipv4.ping_group_range"), "0 65535");
  EXPECT_EQ(eff.userns(), "auto");
  EXPECT_EQ(eff.uid_map(0).host_id(), 300000u);
}

TEST(SecuritySpecTest, UsernsModeGivesWayOnlyToADefault) {
  v1::ContainerConfig c;
  EXPECT_EQ(*UsernsMode(c, "host"), "host");
  EXPECT_EQ(*UsernsMode(c, "auto"), "auto");
  c.set_network("host");
  EXPECT_EQ(*UsernsMode(c, "auto"), "host");  // the agent's default gives way
  c.mutable_security()->set_userns("auto");
  EXPECT_EQ(UsernsMode(c, "host").status().code(), absl::StatusCode::kInvalidArgument);
  v1::ContainerConfig p;
  p.mutable_security()->set_privileged(true);
  p.mutable_security()->set_userns("auto");
  EXPECT_EQ(UsernsMode(p, "host").status().code(), absl::StatusCode::kInvalidArgument);
  v1::ContainerConfig odd;
  odd.mutable_security()->set_userns("keep-id");
  EXPECT_THAT(UsernsMode(odd, "host").status().message(), HasSubstr("security.userns"));
}

TEST(SecuritySpecTest, SysctlsAreNamespacedOnly) {
  v1::ContainerConfig ok;
  (*ok.mutable_sysctls())["net.ipv4.ip_forward"] = "1";
  (*ok.mutable_sysctls())["kernel.shmmax"] = "100000";
  (*ok.mutable_sysctls())["fs.mqueue.msg_max"] = "20";
  EXPECT_TRUE(Apply(ok).ok());

  for (const char* key : {"kernel.panic", "vm.swappiness", "kernel.hostname", "fs.file-max"}) {
    v1::ContainerConfig bad;
    (*bad.mutable_sysctls())[key] = "1";
    auto s = Apply(bad);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << key;
    EXPECT_THAT(s.status().message(), HasSubstr(key));
  }
  v1::ContainerConfig host;
  (*host.mutable_sysctls())["net.ipv4.ip_forward"] = "1";
  SecurityInputs in;
  in.private_network = false;
  EXPECT_EQ(Apply(host, in).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(Apply({}, in)->linux.sysctl.count("net.ipv4.ping_group_range"));
}

TEST(SecuritySpecTest, UlimitsTmpfsShmAndReadOnly) {
  v1::ContainerConfig c;
  v1::Ulimit* u = c.add_ulimits();
  u->set_name("nofile");
  u->set_soft(100);
  u->set_hard(200);
  v1::Ulimit* core = c.add_ulimits();
  core->set_name("RLIMIT_CORE");
  core->set_soft(-1);
  v1::TmpfsMount* t = c.add_tmpfs();
  t->set_destination("/run");
  t->add_options("size=65536");
  t->add_options("exec");
  c.set_shm_size_bytes(1 << 20);
  c.mutable_security()->set_read_only_rootfs(true);
  auto s = Apply(c);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->root.readonly);
  ASSERT_EQ(s->process.rlimits.size(), 2u);
  EXPECT_EQ(s->process.rlimits[0], (spec::Rlimit{"RLIMIT_NOFILE", 200, 100}));
  EXPECT_EQ(s->process.rlimits[1].hard, ~uint64_t{0});
  const spec::Mount& run = s->mounts.back();
  EXPECT_EQ(run.destination, "/run");
  EXPECT_THAT(run.options, Contains("size=65536"));
  EXPECT_THAT(run.options, Not(Contains("noexec")));
  for (const auto& m : s->mounts) {
    if (m.destination == "/dev/shm") EXPECT_THAT(m.options, Contains("size=1048576"));
  }

  v1::ContainerConfig bad_limit;
  bad_limit.add_ulimits()->set_name("cookies");
  EXPECT_THAT(Apply(bad_limit).status().message(), HasSubstr("ulimits[0].name"));
  v1::ContainerConfig bad_tmpfs;
  v1::TmpfsMount* bt = bad_tmpfs.add_tmpfs();
  bt->set_destination("/run");
  bt->add_options("dev");
  EXPECT_THAT(Apply(bad_tmpfs).status().message(), HasSubstr("tmpfs[0].options"));
  v1::ContainerConfig root_tmpfs;
  root_tmpfs.add_tmpfs()->set_destination("/");
  EXPECT_THAT(Apply(root_tmpfs).status().message(), HasSubstr("tmpfs[0].destination"));
}

TEST(SecuritySpecTest, DevicesAndInit) {
  v1::ContainerConfig c;
  v1::DeviceMapping* d = c.mutable_security()->add_devices();
  d->set_host_path("/dev/null");
  d->set_container_path("/dev/mynull");
  d->set_permissions("rw");
  v1::EffectiveSecurity eff;
  auto s = Apply(c, {}, &eff);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->linux.devices.size(), 1u);
  EXPECT_EQ(s->linux.devices[0].path, "/dev/mynull");
  EXPECT_EQ(s->linux.devices[0].major, 1);
  EXPECT_EQ(s->linux.devices[0].minor, 3);
  EXPECT_EQ(s->linux.resources.devices.back(), (spec::DeviceRule{true, "c", 1, 3, "rw"}));
  EXPECT_EQ(eff.devices(0), "/dev/null:/dev/mynull:rw");

  v1::ContainerConfig not_a_device;
  not_a_device.mutable_security()->add_devices()->set_host_path("/etc/hostname");
  EXPECT_THAT(Apply(not_a_device).status().message(), HasSubstr("security.devices[0].host_path"));

  v1::ContainerConfig init;
  init.set_init(true);
  SecurityInputs in;
  in.init_path = "/proc/self/exe";  // any regular file stands in for berth-init here
  auto with_init = Apply(init, in);
  ASSERT_TRUE(with_init.ok()) << with_init.status();
  EXPECT_EQ(with_init->process.args, (std::vector<std::string>{"/dev/init", "--", "/bin/sh"}));
  EXPECT_EQ(with_init->mounts.back().destination, "/dev/init");
  in.init_path = "/nonexistent/berth-init";
  EXPECT_EQ(Apply(init, in).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace berth::agent
