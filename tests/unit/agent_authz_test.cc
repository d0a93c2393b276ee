// Who may call what: every method the agent serves is in the authorization table (a new RPC
// without an entry would be refused for everyone, or worse, slip through a default), roles
// from identities and uids, what operators may not put in a container, the [authz] config
// table, and the audit log's lines and rotation.
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <google/protobuf/descriptor.h>
#include <nlohmann/json.hpp>

#include "agent/audit_log.h"
#include "agent/authz.h"
#include "agent/config.h"
#include "absl/strings/match.h"
#include "berth/v1/containers.grpc.pb.h"
#include "berth/v1/events.grpc.pb.h"
#include "berth/v1/images.grpc.pb.h"
#include "berth/v1/networks.grpc.pb.h"
#include "berth/v1/volumes.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "runtime/base/file_util.h"

namespace berth::agent {
namespace {

using ::testing::HasSubstr;

TEST(AuthzTable, EveryServedMethodHasARule) {
  // Naming a message of each file links its descriptors into the generated pool.
  ASSERT_NE(v1::ContainerConfig::descriptor(), nullptr);
  ASSERT_NE(v1::PullRequest::descriptor(), nullptr);
  ASSERT_NE(v1::Network::descriptor(), nullptr);
  ASSERT_NE(v1::Event::descriptor(), nullptr);
  ASSERT_NE(v1::Volume::descriptor(), nullptr);
  ASSERT_NE(grpc::health::v1::HealthCheckRequest::descriptor(), nullptr);
  const char* services[] = {v1::Containers::service_full_name(), v1::System::service_full_name(),
                            v1::Images::service_full_name(), v1::Networks::service_full_name(),
                            v1::Events::service_full_name(), v1::Volumes::service_full_name(),
                            grpc::health::v1::Health::service_full_name()};
  size_t served = 0;
  for (const char* name : services) {
    const google::protobuf::ServiceDescriptor* svc =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    ASSERT_NE(svc, nullptr) << name;
    for (int i = 0; i < svc->method_count(); ++i) {
      const std::string full = "/" + svc->full_name() + "/" + svc->method(i)->name();
      EXPECT_EQ(MethodTable().count(full), 1u) << full << " has no entry in MethodTable()";
      ++served;
    }
  }
  // And no stale entries: everything in the table is served (reflection is gRPC's own).
  EXPECT_EQ(MethodTable().size(), served + 1);
  EXPECT_EQ(MethodTable().count("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"), 1u);
}

TEST(AuthzTable, MutatingCallsNeedOperatorAndAreAudited) {
  for (const auto& [method, rule] : MethodTable()) {
    const bool reads = absl::EndsWith(method, "/List") || absl::EndsWith(method, "/Inspect") ||
                       absl::EndsWith(method, "/Version") || absl::EndsWith(method, "/DiskUsage") ||
                       absl::EndsWith(method, "/Logs") || absl::EndsWith(method, "/Wait") ||
                       absl::EndsWith(method, "/Top") || absl::EndsWith(method, "/Subscribe") ||
                       absl::EndsWith(method, "/Stats") || absl::EndsWith(method, "/StatsStream") ||
                       absl::StartsWith(method, "/grpc.");
    EXPECT_EQ(rule.needs, reads ? Role::kViewer : Role::kOperator) << method;
    EXPECT_EQ(rule.audited, !reads) << method;
  }
  // Exec and attach run things in containers: operators, audited.
  EXPECT_TRUE(MethodTable().at("/berth.v1.Containers/Exec").audited);
  EXPECT_TRUE(MethodTable().at("/berth.v1.Containers/Attach").audited);
  EXPECT_TRUE(MethodTable().at("/berth.v1.Containers/Run").audited);
  EXPECT_EQ(MethodTable().at("/berth.v1.Containers/Run").needs, Role::kOperator);
}

AuthzConfig Config() {
  AuthzConfig c;
  c.admin = {"spiffe://berth/admin"};
  c.operators = {"spiffe://berth/ci"};
  c.viewers = {"dashboards"};
  c.uids = {{1000, "operator"}, {1001, "viewer"}};
  c.bind_mount_roots = {"/srv/data"};
  return c;
}

TEST(Authorizer, RolesFromIdentitiesAndUids) {
  Authorizer a(Config());
  EXPECT_EQ(a.RoleOfIdentity("spiffe://berth/admin"), Role::kAdmin);
  EXPECT_EQ(a.RoleOfIdentity("spiffe://berth/ci"), Role::kOperator);
  EXPECT_EQ(a.RoleOfIdentity("dashboards"), Role::kViewer);
  EXPECT_EQ(a.RoleOfIdentity("spiffe://berth/Admin"), Role::kNone);  // exact match only
  EXPECT_EQ(a.RoleOfIdentity(""), Role::kNone);
  EXPECT_EQ(a.RoleOfUid(0), Role::kAdmin);
  EXPECT_EQ(a.RoleOfUid(1000), Role::kOperator);
  EXPECT_EQ(a.RoleOfUid(1001), Role::kViewer);
  EXPECT_EQ(a.RoleOfUid(1002), Role::kNone);
}

TEST(Authorizer, CheckMethodNamesWhoWhatAndTheRoleNeeded) {
  Authorizer a(Config());
  CallerIdentity viewer{"dashboards", Role::kViewer, "ipv4:10.0.0.5:4000"};
  EXPECT_TRUE(a.CheckMethod(viewer, "/berth.v1.Containers/List").ok());
  absl::Status st = a.CheckMethod(viewer, "/berth.v1.Containers/Exec");
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(st.message(), HasSubstr("\"dashboards\""));
  EXPECT_THAT(st.message(), HasSubstr("/berth.v1.Containers/Exec"));
  EXPECT_THAT(st.message(), HasSubstr("operator"));

  CallerIdentity nobody{"spiffe://elsewhere/x", Role::kNone, ""};
  st = a.CheckMethod(nobody, "/berth.v1.System/Version");
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(st.message(), HasSubstr("no role"));

  CallerIdentity admin{"spiffe://berth/admin", Role::kAdmin, ""};
  EXPECT_TRUE(a.CheckMethod(admin, "/berth.v1.Networks/Remove").ok());
  st = a.CheckMethod(admin, "/berth.v1.Secret/Backdoor");
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied) << "an unknown method is refused even for admins";

  // A long identity is quoted and capped in the message.
  CallerIdentity long_name{std::string(5000, 'x'), Role::kNone, ""};
  EXPECT_LT(a.CheckMethod(long_name, "/berth.v1.System/Version").message().size(), 1000u);
}

v1::ContainerConfig Plain() {
  v1::ContainerConfig c;
  c.set_image("busybox");
  return c;
}

TEST(Authorizer, OperatorsGetTheDefaultsOnly) {
  Authorizer a(Config());
  CallerIdentity op{"spiffe://berth/ci", Role::kOperator, ""};
  CallerIdentity admin{"spiffe://berth/admin", Role::kAdmin, ""};
  auto refused = [&](const v1::ContainerConfig& c, const std::string& why) {
    absl::Status st = a.CheckContainerConfig(op, c);
    EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied) << why;
    EXPECT_THAT(st.message(), HasSubstr("admin")) << why;
    EXPECT_TRUE(a.CheckContainerConfig(admin, c).ok()) << why << ": admins may";
  };
  EXPECT_TRUE(a.CheckContainerConfig(op, Plain()).ok());

  v1::ContainerConfig c = Plain();
  c.mutable_security()->set_privileged(true);
  refused(c, "privileged");
  // Run makes containers too: its refusal names it.
  EXPECT_THAT(a.CheckContainerConfig(op, c, "/berth.v1.Containers/Run").message(),
              HasSubstr("may not call /berth.v1.Containers/Run: --privileged"));
  c = Plain();
  c.set_network("host");
  refused(c, "host network");
  c = Plain();
  c.set_ipc("host");
  refused(c, "host ipc");
  c = Plain();
  c.set_pid("host");
  refused(c, "host pid");
  c = Plain();
  c.set_uts("host");
  refused(c, "host uts");
  c = Plain();
  c.mutable_security()->add_masked_paths("/nothing");
  refused(c, "masked paths of its own");
  c = Plain();
  c.mutable_security()->add_readonly_paths("/nothing");
  refused(c, "read-only paths of its own");
  c = Plain();
  c.mutable_log()->set_path("/etc/cron.d/x");
  refused(c, "log path on the node");
  c = Plain();
  c.set_pid("container:other");
  EXPECT_TRUE(a.CheckContainerConfig(op, c).ok()) << "another container's namespaces expose nothing of the node";
  c = Plain();
  c.mutable_security()->add_devices()->set_host_path("/dev/sda");
  refused(c, "device");
  c = Plain();
  c.mutable_security()->set_seccomp_profile("unconfined");
  refused(c, "unconfined");
  c = Plain();
  c.mutable_security()->set_seccomp_profile(R"({"defaultAction":"SCMP_ACT_ALLOW"})");
  refused(c, "custom profile");
  c = Plain();
  c.mutable_security()->set_no_new_privileges(false);
  refused(c, "no_new_privs off");
  for (const char* cap : {"SYS_ADMIN", "cap_sys_ptrace", "ALL", "NET_ADMIN"}) {
    c = Plain();
    c.mutable_security()->add_cap_add(cap);
    refused(c, cap);
  }
  for (const char* cap : {"CHOWN", "cap_net_bind_service", "KILL"}) {
    c = Plain();
    c.mutable_security()->add_cap_add(cap);
    EXPECT_TRUE(a.CheckContainerConfig(op, c).ok()) << cap << " is a default capability";
  }
  c = Plain();
  c.mutable_security()->add_cap_drop("ALL");
  c.mutable_security()->set_read_only_rootfs(true);
  c.mutable_security()->set_no_new_privileges(true);
  EXPECT_TRUE(a.CheckContainerConfig(op, c).ok()) << "tightening is always allowed";
}

TEST(Authorizer, OperatorBindsStayBelowTheRoots) {
  char tmpl[] = "/tmp/berth-authz-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  ASSERT_TRUE(MakeDirs(dir + "/root/data", 0755).ok());
  ASSERT_EQ(::symlink("/etc", (dir + "/root/out").c_str()), 0);
  AuthzConfig config = Config();
  config.bind_mount_roots = {dir + "/root/"};
  Authorizer a(config);
  CallerIdentity op{"spiffe://berth/ci", Role::kOperator, ""};
  auto with_source = [](const std::string& source) {
    v1::ContainerConfig c = Plain();
    c.add_mounts()->set_source(source);
    c.mutable_mounts(0)->set_destination("/mnt");
    return c;
  };
  EXPECT_TRUE(a.CheckContainerConfig(op, with_source(dir + "/root/data")).ok());
  EXPECT_TRUE(a.CheckContainerConfig(op, with_source(dir + "/root")).ok());
  EXPECT_TRUE(a.CheckContainerConfig(op, with_source(dir + "/root/not-yet")).ok());
  for (const std::string& bad : {dir + "/root/out", dir + "/root/../", dir + "/root-other", std::string("/"),
                                 dir + "/root/data/../../x"}) {
    absl::Status st = a.CheckContainerConfig(op, with_source(bad));
    EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied) << bad;
    EXPECT_THAT(st.message(), HasSubstr("bind_mount_roots")) << bad;
  }
  // No roots configured: operators bind nothing.
  Authorizer none(Config());
  EXPECT_FALSE(none.CheckContainerConfig(op, with_source(dir + "/root/data")).ok());
  ASSERT_EQ(std::system(("rm -rf " + dir).c_str()), 0);
}

std::string WriteTemp(const std::string& text) {
  char path[] = "/tmp/berthd-authz-XXXXXX";
  int fd = ::mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ::close(fd);
  return path;
}

absl::StatusOr<AgentConfig> Load(const std::string& text) {
  std::string path = WriteTemp(text);
  auto c = LoadConfigFile(path, AgentConfig{});
  std::remove(path.c_str());
  if (!c.ok()) return c.status();
  if (absl::Status st = ValidateConfig(*c); !st.ok()) return st;
  return c;
}

TEST(AuthzConfigFile, ParsesTheTable) {
  auto c = Load(
      "socket_group = \"berth\"\n"
      "listen = [\"tcp://10.0.0.5:7443\"]\n"
      "tls_cert = \"/etc/berth/tls/node.pem\"\n"
      "tls_key = \"/etc/berth/tls/node-key.pem\"\n"
      "tls_client_ca = \"/etc/berth/tls/ca.pem\"\n"
      "max_calls_per_identity = 16\n"
      "[authz]\n"
      "admin = [\"spiffe://berth/admin\"]\n"
      "operator = [\"spiffe://berth/ci\", \"build\"]\n"
      "viewer = [\"dashboards\"]\n"
      "uids = {1000 = \"operator\", 1001 = \"viewer\"}\n"
      "bind_mount_roots = [\"/srv\"]\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->socket_group, "berth");
  EXPECT_THAT(c->listen, ::testing::ElementsAre("tcp://10.0.0.5:7443"));
  EXPECT_EQ(c->max_calls_per_identity, 16);
  EXPECT_THAT(c->authz.operators, ::testing::ElementsAre("spiffe://berth/ci", "build"));
  EXPECT_EQ(c->authz.uids.at(1000), "operator");
  EXPECT_EQ(c->authz.uids.at(1001), "viewer");
  EXPECT_THAT(c->authz.bind_mount_roots, ::testing::ElementsAre("/srv"));
}

TEST(AuthzConfigFile, RefusesWhatItCannotEnforce) {
  struct Case {
    const char* text;
    const char* says;
  } cases[] = {
      {"listen = [\"tcp://0.0.0.0:7443\"]\n", "mutual TLS"},
      {"listen = [\"http://0.0.0.0:7443\"]\n", "tcp://ADDR:PORT"},
      {"[authz]\nuids = {1000 = \"root\"}\n", "roles are admin, operator and viewer"},
      {"[authz]\nuids = {alice = \"viewer\"}\n", "uids"},
      {"[authz]\nbind_mount_roots = [\"srv\"]\n", "absolute"},
      {"[authz]\nadmins = [\"x\"]\n", "admins"},
      {"authz = 3\n", "table"},
      {"max_calls_per_identity = 0\n", "max_calls_per_identity"},
      {"audit_files = 0\n", "audit_files"},
  };
  for (const Case& c : cases) {
    auto loaded = Load(c.text);
    ASSERT_FALSE(loaded.ok()) << c.text;
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(loaded.status().message(), HasSubstr(c.says)) << c.text;
  }
}

TEST(AuditLog, OneJsonLinePerRecordAndRotationBySize) {
  char tmpl[] = "/tmp/berth-audit-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  AuditLog log(dir + "/audit.log", 4096, 2);
  ASSERT_TRUE(log.Open().ok());
  for (int i = 0; i < 100; ++i) {
    AuditRecord r;
    r.time_ns = 1'700'000'000'000'000'000 + i;
    r.identity = "spiffe://berth/admin";
    r.role = "admin";
    r.peer = "ipv4:10.0.0.5:4000";
    r.method = "/berth.v1.Containers/Create";
    r.target = std::string(1000, 'c');  // capped in the line
    r.code = i % 2 ? "OK" : "PERMISSION_DENIED";
    r.message = "quote \" newline \n and invalid utf-8 \xff";
    log.Write(r);
  }
  struct stat st;
  EXPECT_EQ(::stat((dir + "/audit.log.3").c_str(), &st), -1) << "keeps audit_files old files only";
  int lines = 0;
  for (const char* name : {"/audit.log", "/audit.log.1", "/audit.log.2"}) {
    ASSERT_EQ(::stat((dir + name).c_str(), &st), 0) << name;
    EXPECT_LE(st.st_size, 4096) << name;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << name;
    std::ifstream in(dir + name);
    for (std::string line; std::getline(in, line);) {
      nlohmann::json j = nlohmann::json::parse(line);  // throws, failing the test, if not JSON
      EXPECT_EQ(j["method"], "/berth.v1.Containers/Create");
      EXPECT_LE(j["target"].get<std::string>().size(), 200u);
      EXPECT_TRUE(j.contains("time"));
      ++lines;
    }
  }
  EXPECT_GT(lines, 0);
  EXPECT_LT(lines, 100);  // the oldest fell off
  ASSERT_EQ(std::system(("rm -rf " + dir).c_str()), 0);
}

}  // namespace
}  // namespace berth::agent
