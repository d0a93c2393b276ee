// The API over TCP with mutual TLS: handshake refusals (no certificate, another CA, expired,
// plaintext), roles (viewer, operator limits, unknown identities), admin working calls over
// TCP, certificate rotation under a live stream, 50 concurrent clients, a client that never
// reads, oversized messages, the audit log, and the Unix socket's uid-based roles. The agent
// listens on 127.0.0.1:7443 of its test host; the test's gRPC clients reach it through a
// relay (tcp_relay.h), so to the agent they are TCP peers presenting certificates.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "runtime/base/file_util.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/tcp_relay.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kPort = 7443;

void Tls(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {BERTH_TLS_TOOL};
  argv.insert(argv.end(), args.begin(), args.end());
  CliResult r = RunProgram(argv, "", 60);
  ASSERT_EQ(r.exit_code, 0) << absl::StrJoin(argv, " ") << "\n" << r.out << r.err;
}

std::string Read(const std::string& path) {
  auto text = ReadFile(path);
  EXPECT_TRUE(text.ok()) << path;
  return text.ok() ? *text : "";
}

int64_t RssKb(pid_t pid) {
  for (absl::string_view line : absl::StrSplit(ReadText(absl::StrCat("/proc/", pid, "/status")), '\n')) {
    if (!absl::ConsumePrefix(&line, "VmRSS:")) continue;
    int64_t kb = 0;
    absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::StripSuffix(absl::StripAsciiWhitespace(line), "kB")), &kb);
    return kb;
  }
  return -1;
}

class RemoteAccess : public ::testing::Test {
 protected:
  void SetUp() override {
    tls_ = agent_.dir() + "/tls";
    other_ = agent_.dir() + "/other-ca";
    ASSERT_NO_FATAL_FAILURE(Tls({"init", tls_}));
    ASSERT_NO_FATAL_FAILURE(Tls({"server", tls_, "agent", "--ip", "127.0.0.1", "--dns", "localhost"}));
    for (const char* who : {"admin", "operator", "viewer", "stranger"}) {
      ASSERT_NO_FATAL_FAILURE(Tls({"client", tls_, who}));
    }
    ASSERT_NO_FATAL_FAILURE(Tls({"client", tls_, "late", "--expired"}));
    ASSERT_NO_FATAL_FAILURE(Tls({"init", other_}));
    ASSERT_NO_FATAL_FAILURE(Tls({"client", other_, "admin"}));  // the right name, the wrong CA
    binds_ = agent_.dir() + "/binds";
    ASSERT_TRUE(MakeDirs(binds_ + "/data", 0755).ok());
    config_ = agent_.dir() + "/berthd.toml";
    ASSERT_NO_FATAL_FAILURE(StartAgent(""));
    auto relay = TcpRelay::Start(agent_.netns_fd(), kPort, agent_.dir() + "/relay.sock");
    ASSERT_TRUE(relay.ok()) << relay.status();
    relay_ = std::move(*relay);
  }
  void TearDown() override { relay_.reset(); }

  // berthd with the roles below (and `extra` config lines) on the Unix socket and TCP+mTLS.
  void StartAgent(const std::string& extra) {
    ASSERT_TRUE(WriteFileAtomic(config_, absl::StrCat(extra,
                                                      "[authz]\n"
                                                      "admin = [\"spiffe://berth/admin\"]\n"
                                                      "operator = [\"spiffe://berth/operator\"]\n"
                                                      "viewer = [\"spiffe://berth/viewer\"]\n"
                                                      "bind_mount_roots = [\"",
                                                      binds_, "\"]\n"))
                    .ok());
    ASSERT_NO_FATAL_FAILURE(agent_.Start({"--config", config_, "--listen", absl::StrCat("tcp://127.0.0.1:", kPort),
                                          "--tls-cert", tls_ + "/agent.pem", "--tls-key", tls_ + "/agent-key.pem",
                                          "--tls-client-ca", tls_ + "/ca.pem"}));
  }

  // A channel over the relay presenting `identity`'s certificate from `ca_dir`.
  std::shared_ptr<grpc::Channel> Channel(const std::string& identity, const std::string& ca_dir = "") {
    const std::string dir = ca_dir.empty() ? tls_ : ca_dir;
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = Read(tls_ + "/ca.pem");
    if (!identity.empty()) {
      o.pem_cert_chain = Read(dir + "/" + identity + ".pem");
      o.pem_private_key = Read(dir + "/" + identity + "-key.pem");
    }
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("127.0.0.1");
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    return grpc::CreateCustomChannel(relay_->target(), grpc::SslCredentials(o), args);
  }

  static absl::Status Version(const std::shared_ptr<grpc::Channel>& ch) {
    auto stub = v1::System::NewStub(ch);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::VersionResponse resp;
    return FromGrpc(stub->Version(&ctx, v1::VersionRequest{}, &resp));
  }

  static absl::StatusOr<v1::Container> Create(const std::shared_ptr<grpc::Channel>& ch,
                                              const v1::ContainerConfig& config) {
    auto stub = v1::Containers::NewStub(ch);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    v1::CreateRequest req;
    *req.mutable_config() = config;
    v1::CreateResponse resp;
    grpc::Status st = stub->Create(&ctx, req, &resp);
    if (!st.ok()) return FromGrpc(st);
    return resp.container();
  }

  std::vector<nlohmann::json> AuditLines() {
    std::vector<nlohmann::json> out;
    for (absl::string_view line : absl::StrSplit(ReadText(agent_.root() + "/audit.log"), '\n', absl::SkipEmpty())) {
      out.push_back(nlohmann::json::parse(line));
    }
    return out;
  }

  AgentHarness agent_;
  std::string tls_, other_, binds_, config_;
  std::unique_ptr<TcpRelay> relay_;
};

TEST_F(RemoteAccess, AdminWorksOverMutualTls) {
  auto ch = Channel("admin");
  EXPECT_TRUE(Version(ch).ok()) << Version(ch);
  auto c = Create(ch, Busybox({"sleep", "60"}));
  ASSERT_TRUE(c.ok()) << c.status();
  auto stub = v1::Containers::NewStub(ch);
  {
    grpc::ClientContext ctx;
    v1::StartRequest req;
    req.set_id(c->id());
    v1::StartResponse resp;
    ASSERT_TRUE(stub->Start(&ctx, req, &resp).ok());
  }
  // An interactive exec with a terminal, over TCP.
  {
    grpc::ClientContext ctx;
    auto stream = stub->Exec(&ctx);
    v1::ExecRequest first;
    first.set_id(c->id());
    first.mutable_start()->add_args("sh");
    first.mutable_start()->set_tty(true);
    first.mutable_start()->set_stdin(true);
    ASSERT_TRUE(stream->Write(first));
    v1::ExecRequest in;
    in.set_stdin("echo over-tls-$((6*7)); exit 3\n");
    ASSERT_TRUE(stream->Write(in));
    stream->WritesDone();  // the agent ends an exec once the client half-closes
    std::string out;
    int exit_code = -1;
    v1::ExecResponse resp;
    while (stream->Read(&resp)) {
      if (resp.has_output()) out += resp.output().data();
      if (resp.msg_case() == v1::ExecResponse::kExitCode) exit_code = resp.exit_code();
    }
    grpc::Status st = stream->Finish();
    EXPECT_TRUE(st.ok()) << st.error_code() << " " << st.error_message();
    EXPECT_THAT(out, HasSubstr("over-tls-42"));
    EXPECT_EQ(exit_code, 3);
  }
  grpc::ClientContext ctx;
  v1::RemoveRequest rm;
  rm.set_id(c->id());
  rm.set_force(true);
  v1::RemoveResponse rm_resp;
  EXPECT_TRUE(stub->Remove(&ctx, rm, &rm_resp).ok());
}

TEST_F(RemoteAccess, HandshakeRefusesWhatIsNotOurs) {
  // No client certificate, another CA's, an expired one: refused before any call is made.
  for (auto [identity, dir] : std::vector<std::pair<std::string, std::string>>{
           {"", ""}, {"admin", other_}, {"late", ""}}) {
    absl::Status st = Version(Channel(identity, dir));
    EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << identity << " " << dir << ": " << st;
  }
  // Plaintext on the TLS port.
  grpc::ChannelArguments args;
  auto plain = grpc::CreateCustomChannel(relay_->target(), grpc::InsecureChannelCredentials(), args);
  EXPECT_EQ(Version(plain).code(), absl::StatusCode::kUnavailable);
  // The refused handshakes made no call, so the audit log has none of them; the agent lives.
  EXPECT_TRUE(Version(Channel("admin")).ok());
}

TEST_F(RemoteAccess, ViewerReadsButCannotCreate) {
  auto viewer = Channel("viewer");
  EXPECT_TRUE(Version(viewer).ok());
  auto c = Create(viewer, Busybox({"true"}));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(c.status().message(), HasSubstr("spiffe://berth/viewer"));
  EXPECT_THAT(c.status().message(), HasSubstr("/berth.v1.Containers/Create"));
  EXPECT_THAT(c.status().message(), HasSubstr("operator"));
  auto list = agent_.List();
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty()) << "a refused Create made a container";
  EXPECT_TRUE(ListDirectory(agent_.root() + "/containers").empty());

  auto stub = v1::Containers::NewStub(viewer);
  grpc::ClientContext ctx;
  v1::ListResponse resp;
  EXPECT_TRUE(stub->List(&ctx, v1::ListRequest{}, &resp).ok());
}

TEST_F(RemoteAccess, OperatorIsLimited) {
  auto op = Channel("operator");
  auto denied = [&](v1::ContainerConfig config, const std::string& what) {
    auto c = Create(op, config);
    ASSERT_FALSE(c.ok()) << what;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kPermissionDenied) << what;
    EXPECT_THAT(c.status().message(), HasSubstr("spiffe://berth/operator")) << what;
  };
  v1::ContainerConfig privileged = Busybox({"true"});
  privileged.mutable_security()->set_privileged(true);
  denied(privileged, "privileged");
  v1::ContainerConfig host = Busybox({"true"});
  host.set_network("host");
  denied(host, "host network");
  v1::ContainerConfig root_bind = Busybox({"true"});
  root_bind.add_mounts()->set_source("/");
  root_bind.mutable_mounts(0)->set_destination("/host");
  denied(root_bind, "bind of /");
  v1::ContainerConfig escape = root_bind;
  escape.mutable_mounts(0)->set_source(binds_ + "/../..");
  denied(escape, "bind escaping the root");
  v1::ContainerConfig sys_admin = Busybox({"true"});
  sys_admin.mutable_security()->add_cap_add("SYS_ADMIN");
  denied(sys_admin, "cap_add SYS_ADMIN");
  v1::ContainerConfig device = Busybox({"true"});
  device.mutable_security()->add_devices()->set_host_path("/dev/null");
  denied(device, "device");
  auto list = agent_.List();
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());

  // What an operator may do.
  v1::ContainerConfig ok = Busybox({"true"});
  ok.add_mounts()->set_source(binds_ + "/data");
  ok.mutable_mounts(0)->set_destination("/data");
  ok.mutable_security()->add_cap_add("CHOWN");  // in the default set already
  auto c = Create(op, ok);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(agent_.Remove(c->id()).ok());
}

TEST_F(RemoteAccess, UnknownIdentityGetsNothing) {
  auto stranger = Channel("stranger");
  absl::Status st = Version(stranger);
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(st.message(), HasSubstr("spiffe://berth/stranger"));
  EXPECT_THAT(st.message(), HasSubstr("no role"));
  auto health = grpc::health::v1::Health::NewStub(stranger);
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckResponse resp;
  EXPECT_EQ(health->Check(&ctx, grpc::health::v1::HealthCheckRequest{}, &resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(RemoteAccess, OversizedMessageIsResourceExhausted) {
  v1::ContainerConfig huge = Busybox({"true"});
  (*huge.mutable_labels())["big"] = std::string(5 << 20, 'x');
  auto c = Create(Channel("admin"), huge);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted) << c.status();
  EXPECT_TRUE(Version(Channel("admin")).ok());
}

TEST_F(RemoteAccess, AuditLinesMatchTheCalls) {
  auto admin = Channel("admin");
  auto c = Create(admin, Busybox({"true"}));
  ASSERT_TRUE(c.ok()) << c.status();
  (void)Create(Channel("viewer"), Busybox({"true"}));  // refused: audited too
  EXPECT_TRUE(Version(admin).ok());                    // a read: not audited
  ASSERT_TRUE(agent_.Remove(c->id()).ok());            // over the Unix socket, as root
  std::vector<nlohmann::json> lines = AuditLines();
  ASSERT_EQ(lines.size(), 3u) << ReadText(agent_.root() + "/audit.log");
  EXPECT_EQ(lines[0]["identity"], "spiffe://berth/admin");
  EXPECT_EQ(lines[0]["role"], "admin");
  EXPECT_EQ(lines[0]["method"], "/berth.v1.Containers/Create");
  EXPECT_EQ(lines[0]["target"], c->id());
  EXPECT_EQ(lines[0]["code"], "OK");
  EXPECT_THAT(lines[0]["peer"].get<std::string>(), HasSubstr("127.0.0.1"));
  EXPECT_EQ(lines[1]["identity"], "spiffe://berth/viewer");
  EXPECT_EQ(lines[1]["code"], "PERMISSION_DENIED");
  EXPECT_EQ(lines[2]["identity"], "uid:0");
  EXPECT_EQ(lines[2]["method"], "/berth.v1.Containers/Remove");
  EXPECT_THAT(lines[2]["peer"].get<std::string>(), HasSubstr("unix:uid=0"));
  for (const auto& l : lines) EXPECT_TRUE(l.contains("time"));
}

// Certificates rotate without a restart: an exec stream in flight goes on, and new
// connections get the new certificate.
TEST_F(RemoteAccess, RotationKeepsStreamsAndServesTheNewCertificate) {
  auto serial = [&] {
    CliResult r = agent_.RunInHost({"/bin/sh", "-c",
                                    absl::StrCat("echo | openssl s_client -connect 127.0.0.1:", kPort, " -cert ", tls_,
                                                 "/admin.pem -key ", tls_, "/admin-key.pem -CAfile ", tls_,
                                                 "/ca.pem 2>/dev/null | openssl x509 -noout -serial")});
    return r.out;
  };
  std::string before = serial();
  ASSERT_THAT(before, HasSubstr("serial="));
  auto admin = Channel("admin");
  auto c = Create(admin, Busybox({"sleep", "60"}));
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(agent_.StartContainer(c->id()).ok());
  auto stub = v1::Containers::NewStub(admin);
  grpc::ClientContext ctx;
  auto stream = stub->Exec(&ctx);
  v1::ExecRequest first;
  first.set_id(c->id());
  for (const char* a : {"sh", "-c", "for i in 1 2 3 4 5 6; do echo tick $i; sleep 0.5; done"}) {
    first.mutable_start()->add_args(a);
  }
  ASSERT_TRUE(stream->Write(first));
  stream->WritesDone();
  v1::ExecResponse resp;
  ASSERT_TRUE(stream->Read(&resp));  // the pid: the stream is up

  ASSERT_NO_FATAL_FAILURE(Tls({"server", tls_, "agent", "--ip", "127.0.0.1", "--dns", "localhost"}));
  ::kill(agent_.pid(), SIGHUP);
  std::string out;
  int exit_code = -1;
  while (stream->Read(&resp)) {
    if (resp.has_output()) out += resp.output().data();
    if (resp.msg_case() == v1::ExecResponse::kExitCode) exit_code = resp.exit_code();
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(exit_code, 0);
  EXPECT_THAT(out, HasSubstr("tick 6"));
  EXPECT_TRUE(Eventually([&] { return serial() != before; }, std::chrono::seconds(10)))
      << "still serving " << before;
  EXPECT_TRUE(Version(Channel("admin")).ok());
  EXPECT_TRUE(agent_.Remove(c->id()).ok());
}

TEST_F(RemoteAccess, FiftyConcurrentClients) {
  std::atomic<int> ok{0};
  std::vector<std::string> errors(50);
  std::vector<std::thread> threads;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&, i] {
      auto ch = Channel(i % 5 == 0 ? "viewer" : "admin");
      absl::Status st = Version(ch);
      if (st.ok() && i % 5 != 0) {
        auto c = Create(ch, Busybox({"true"}));
        st = c.status();
        if (c.ok()) st = agent_.Remove(c->id());
      }
      if (st.ok()) {
        ++ok;
      } else {
        errors[i] = std::string(st.message());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 50) << absl::StrJoin(errors, "\n");
}

// A client that never reads what it asked for: the agent's memory stays bounded. Exec output
// is flow-controlled (the process blocks); an attached client misses output instead, counted,
// while the log keeps every byte.
TEST_F(RemoteAccess, NeverReadingClientsStayBounded) {
  const int64_t idle_kb = RssKb(agent_.pid());
  auto admin = Channel("admin");
  auto sleeper = Create(admin, Busybox({"sleep", "120"}));
  ASSERT_TRUE(sleeper.ok());
  ASSERT_TRUE(agent_.StartContainer(sleeper->id()).ok());
  auto stub = v1::Containers::NewStub(admin);
  grpc::ClientContext exec_ctx;
  auto exec = stub->Exec(&exec_ctx);
  v1::ExecRequest first;
  first.set_id(sleeper->id());
  for (const char* a : {"sh", "-c", "head -c 1073741824 /dev/zero"}) first.mutable_start()->add_args(a);
  ASSERT_TRUE(exec->Write(first));

  // A container writing 64 MiB with a client attached that never reads.
  v1::ContainerConfig writer = Busybox({"sh", "-c", "sleep 1; head -c 67108864 /dev/zero; echo; echo done"});
  writer.mutable_log()->set_max_size_bytes(int64_t{256} << 20);  // one file holds it all
  auto w = Create(admin, writer);
  ASSERT_TRUE(w.ok());
  grpc::ClientContext attach_ctx;
  auto attach = stub->Attach(&attach_ctx);
  v1::AttachRequest a;
  a.set_id(w->id());
  ASSERT_TRUE(attach->Write(a));
  attach->WaitForInitialMetadata();
  ASSERT_TRUE(agent_.StartContainer(w->id()).ok());
  auto wait = agent_.Wait(w->id(), 120);
  ASSERT_TRUE(wait.ok()) << wait.status();
  EXPECT_EQ(wait->exit_code(), 0);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const int64_t busy_kb = RssKb(agent_.pid());
  EXPECT_LE(busy_kb - idle_kb, 16 * 1024) << "idle " << idle_kb << " kB, with the stalled clients " << busy_kb << " kB";
  // The log has all of it.
  struct stat st;
  ASSERT_EQ(::stat((agent_.root() + "/containers/" + w->id() + "/container.log").c_str(), &st), 0);
  EXPECT_GT(st.st_size, 64 << 20);
  // The stalled attach reads on now: it hears how much it missed, and the exit code.
  int64_t dropped = 0;
  int exit_code = -1;
  v1::AttachResponse resp;
  while (attach->Read(&resp)) {
    if (resp.msg_case() == v1::AttachResponse::kDroppedBytes) dropped += resp.dropped_bytes();
    if (resp.msg_case() == v1::AttachResponse::kExitCode) exit_code = resp.exit_code();
  }
  EXPECT_GT(dropped, 0);
  EXPECT_EQ(exit_code, 0);
  exec_ctx.TryCancel();
  EXPECT_TRUE(agent_.Remove(sleeper->id()).ok());
  EXPECT_TRUE(agent_.Remove(w->id()).ok());
}

// The real CLI over TCP + mTLS (run inside the test host, where 127.0.0.1:7443 is the agent):
// flags, the environment, a context; and a failed handshake explained, not a bare UNAVAILABLE.
TEST_F(RemoteAccess, CliOverMutualTls) {
  const std::string host = absl::StrCat("tcp://127.0.0.1:", kPort);
  auto cli = [&](const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv = {BERTH_CLI_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> full_env = {"HOME=" + agent_.dir()};
    full_env.insert(full_env.end(), env.begin(), env.end());
    return RunProgram(argv, "", 60, full_env, agent_.netns_fd());
  };
  auto flags = [&](const std::string& who, const std::string& ca_dir) {
    return std::vector<std::string>{"--host",      host,          "--tlscacert", tls_ + "/ca.pem", "--tlscert",
                                    ca_dir + "/" + who + ".pem", "--tlskey", ca_dir + "/" + who + "-key.pem"};
  };
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  CliResult run = cli(with(flags("admin", tls_), {"run", "--rm", "busybox", "echo", "over", "tls"}));
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "over tls\n");

  CliResult env_ps = cli({"ps", "-a"}, {"BERTH_HOST=" + host, "BERTH_TLS_CACERT=" + tls_ + "/ca.pem",
                                        "BERTH_TLS_CERT=" + tls_ + "/viewer.pem",
                                        "BERTH_TLS_KEY=" + tls_ + "/viewer-key.pem"});
  EXPECT_EQ(env_ps.exit_code, 0) << env_ps.err;
  EXPECT_THAT(env_ps.out, HasSubstr("CONTAINER ID"));

  CliResult created = cli(with({"context", "create", "node"}, flags("viewer", tls_)));
  ASSERT_EQ(created.exit_code, 0) << created.err;
  ASSERT_EQ(cli({"context", "use", "node"}).exit_code, 0);
  CliResult ctx_ps = cli({"ps"});
  EXPECT_EQ(ctx_ps.exit_code, 0) << ctx_ps.err;
  CliResult ctx_run = cli({"run", "--rm", "busybox", "true"});  // the context's identity is a viewer
  EXPECT_NE(ctx_run.exit_code, 0);
  EXPECT_THAT(ctx_run.err, HasSubstr("spiffe://berth/viewer"));
  EXPECT_THAT(ctx_run.err, HasSubstr("operator"));

  // The agent's certificate checked against another CA.
  std::vector<std::string> wrong_ca = flags("admin", tls_);
  wrong_ca[3] = other_ + "/ca.pem";
  CliResult unknown_ca = cli(with(wrong_ca, {"ps"}));
  EXPECT_NE(unknown_ca.exit_code, 0);
  EXPECT_THAT(unknown_ca.err, HasSubstr("not signed by the CA in " + other_ + "/ca.pem")) << unknown_ca.err;
  // A client certificate the agent does not accept (another CA's; an expired one).
  for (const auto& [who, dir] : std::vector<std::pair<std::string, std::string>>{{"admin", other_}, {"late", tls_}}) {
    CliResult refused = cli(with(flags(who, dir), {"ps"}));
    EXPECT_NE(refused.exit_code, 0) << who;
    EXPECT_THAT(refused.err, HasSubstr("client certificate")) << refused.err;
    EXPECT_THAT(refused.err, Not(HasSubstr("UNAVAILABLE"))) << refused.err;
  }
  // Plaintext is never tried: tcp:// without the files is refused before dialling.
  CliResult plain = cli({"--host", host, "ps"});
  EXPECT_NE(plain.exit_code, 0);
  EXPECT_THAT(plain.err, HasSubstr("mutual TLS"));
}

// Calls in flight are limited per identity; a cancelled Wait or Logs (follow) frees its slot
// as soon as the client goes: the handler returns, it does not sit out the container's life.
TEST_F(RemoteAccess, CancelledWaitAndLogsFreeTheirSlots) {
  agent_.Kill(SIGTERM);
  ASSERT_NO_FATAL_FAILURE(StartAgent("max_calls_per_identity = 6\n"));
  auto admin = Channel("admin");
  auto c = Create(admin, Busybox({"sh", "-c", "while true; do echo line; sleep 1; done"}));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(agent_.StartContainer(c->id()).ok());
  auto stub = v1::Containers::NewStub(admin);
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<grpc::StatusCode> codes(6, grpc::StatusCode::OK);
  std::vector<std::thread> calls;
  std::atomic<int> following{0};
  // Three Waits first, then three Logs (follow) on the same connection; once every Logs
  // stream has its first line, all six are in the agent.
  for (int i = 0; i < 6; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    grpc::ClientContext* ctx = contexts.back().get();
    calls.emplace_back([&, i, ctx] {
      if (i < 3) {
        v1::WaitRequest req;
        req.set_id(c->id());
        v1::WaitResponse resp;
        codes[i] = stub->Wait(ctx, req, &resp).error_code();
      } else {
        v1::LogsRequest req;
        req.set_id(c->id());
        req.set_follow(true);
        auto reader = stub->Logs(ctx, req);
        v1::LogsResponse resp;
        bool first = true;
        while (reader->Read(&resp)) {
          if (first) ++following;
          first = false;
        }
        codes[i] = reader->Finish().error_code();
      }
    });
    if (i == 2) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  EXPECT_TRUE(Eventually([&] { return following.load() == 3; })) << following.load() << " Logs streams answered";
  // Six in flight: the seventh call is refused.
  absl::Status refused = Version(admin);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_THAT(refused.message(), HasSubstr("spiffe://berth/admin"));
  // Another identity has slots of its own.
  EXPECT_TRUE(Version(Channel("viewer")).ok());
  for (auto& ctx : contexts) ctx->TryCancel();
  for (auto& t : calls) t.join();
  for (grpc::StatusCode code : codes) EXPECT_EQ(code, grpc::StatusCode::CANCELLED);
  // The slots are free again at once (the container still runs: nobody waited it out).
  absl::Status after;
  EXPECT_TRUE(Eventually(
      [&] {
        after = Version(admin);
        return after.ok();
      },
      std::chrono::seconds(2)))
      << after;
  auto running = agent_.Inspect(c->id());
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(running->state(), v1::RUNNING);
  EXPECT_TRUE(agent_.Remove(c->id()).ok());
}

// The Unix socket: root only (0600) unless a group is given; other uids get the role the
// config maps them to.
TEST_F(RemoteAccess, UnixSocketRolesByUid) {
  struct stat st;
  ASSERT_EQ(::stat(agent_.socket().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  agent_.Kill(SIGTERM);
  ASSERT_TRUE(WriteFileAtomic(config_, "[authz]\nuids = {1000 = \"viewer\"}\n").ok());
  ASSERT_NO_FATAL_FAILURE(agent_.Start({"--config", config_, "--socket-group", "users"}));
  ASSERT_EQ(::stat(agent_.socket().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  auto as_user = [&](uint32_t uid, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/usr/bin/setpriv", absl::StrCat("--reuid=", uid), "--regid=100", "--clear-groups",
                                     BERTH_CLI_PATH, "--host", "unix://" + agent_.socket()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(argv, "", 60);
  };
  ::chmod(agent_.dir().c_str(), 0711);
  CliResult ps = as_user(1000, {"ps"});
  EXPECT_EQ(ps.exit_code, 0) << ps.err;
  CliResult run = as_user(1000, {"run", "--rm", "busybox", "true"});
  EXPECT_NE(run.exit_code, 0);
  EXPECT_THAT(run.err, HasSubstr("uid:1000"));
  EXPECT_THAT(run.err, HasSubstr("operator"));
  CliResult other = as_user(1001, {"ps"});
  EXPECT_NE(other.exit_code, 0);
  EXPECT_THAT(other.err, HasSubstr("uid:1001"));
}

}  // namespace
}  // namespace berth::testing
