#include "runtime/shim/shim_protocol.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/file_util.h"

namespace berth::shim {
namespace {

struct SocketPair {
  UniqueFd a, b;
};

SocketPair MakePair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/shim_protocol_test.XXXXXX";
    EXPECT_NE(::mkdtemp(tmpl), nullptr);
    path_ = tmpl;
  }
  ~TempDir() { (void)RemoveTree(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(ShimProtocol, MessageRoundTrip) {
  SocketPair p = MakePair();
  ASSERT_TRUE(SendMessage(p.a.get(), MsgType::kExec, R"({"stdin":true})").ok());
  ASSERT_TRUE(SendMessage(p.a.get(), MsgType::kOk, "").ok());
  auto m1 = ReceiveMessage(p.b.get());
  ASSERT_TRUE(m1.ok()) << m1.status();
  EXPECT_EQ(m1->type, MsgType::kExec);
  EXPECT_EQ(m1->payload, R"({"stdin":true})");
  EXPECT_TRUE(m1->fds.empty());
  auto m2 = ReceiveMessage(p.b.get());
  ASSERT_TRUE(m2.ok()) << m2.status();
  EXPECT_EQ(m2->type, MsgType::kOk);
  EXPECT_EQ(m2->payload, "");
}

TEST(ShimProtocol, LargestPayloadAndBinaryBytes) {
  SocketPair p = MakePair();
  // The default socket buffer may hold less than 64 KiB + overhead in one packet.
  int size = 4 * 1024 * 1024;
  ::setsockopt(p.a.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
  ::setsockopt(p.b.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  std::string payload(kMaxPayload, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7);
  ASSERT_TRUE(SendMessage(p.a.get(), MsgType::kStdout, payload).ok());
  auto m = ReceiveMessage(p.b.get());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->type, MsgType::kStdout);
  EXPECT_EQ(m->payload, payload);

  EXPECT_EQ(SendMessage(p.a.get(), MsgType::kStdout, std::string(kMaxPayload + 1, 'x')).code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<int> too_many_fds(kMaxFds + 1, 0);  // one more than a launch or an exec may pass
  EXPECT_EQ(SendMessage(p.a.get(), MsgType::kOk, "", too_many_fds).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ShimProtocol, RejectsOversizedPacket) {
  SocketPair p = MakePair();
  int size = 4 * 1024 * 1024;
  ::setsockopt(p.a.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
  ::setsockopt(p.b.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  std::string raw(2 + kMaxPayload, 'x');  // type byte + one byte too many
  ASSERT_EQ(::send(p.a.get(), raw.data(), raw.size(), 0), static_cast<ssize_t>(raw.size()));
  EXPECT_EQ(ReceiveMessage(p.b.get()).status().code(), absl::StatusCode::kInvalidArgument);
  // The stream goes on with the next packet.
  ASSERT_TRUE(SendMessage(p.a.get(), MsgType::kWait, "").ok());
  auto m = ReceiveMessage(p.b.get());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->type, MsgType::kWait);
}

TEST(ShimProtocol, NonBlockingReceiveWithNothingPending) {
  SocketPair p = MakePair();
  ASSERT_EQ(::fcntl(p.b.get(), F_SETFL, O_NONBLOCK), 0);
  EXPECT_EQ(ReceiveMessage(p.b.get()).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(ShimProtocol, PassesFds) {
  SocketPair p = MakePair();
  int pipe1[2], pipe2[2];
  ASSERT_EQ(::pipe2(pipe1, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(pipe2, O_CLOEXEC), 0);
  UniqueFd r1(pipe1[0]), w1(pipe1[1]), r2(pipe2[0]), w2(pipe2[1]);

  ASSERT_TRUE(
      SendMessage(p.a.get(), MsgType::kExecStarted, R"({"pid":42})", {w1.get(), r2.get()}).ok());
  w1.Reset();  // the receiver's copy keeps the pipe open
  auto m = ReceiveMessage(p.b.get());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->type, MsgType::kExecStarted);
  EXPECT_EQ(m->payload, R"({"pid":42})");
  ASSERT_EQ(m->fds.size(), 2u);
  for (const UniqueFd& fd : m->fds) {
    EXPECT_TRUE(::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC) << "received fds must be CLOEXEC";
  }
  // fds arrive in the order sent.
  ASSERT_EQ(::write(m->fds[0].get(), "hi", 2), 2);
  char buf[4] = {};
  ASSERT_EQ(::read(r1.get(), buf, sizeof(buf)), 2);
  EXPECT_STREQ(buf, "hi");
  ASSERT_EQ(::write(w2.get(), "yo", 2), 2);
  std::memset(buf, 0, sizeof(buf));
  ASSERT_EQ(::read(m->fds[1].get(), buf, sizeof(buf)), 2);
  EXPECT_STREQ(buf, "yo");
}

TEST(ShimProtocol, ClosedPeerIsUnavailable) {
  SocketPair p = MakePair();
  p.a.Reset();
  auto m = ReceiveMessage(p.b.get());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(SendMessage(p.b.get(), MsgType::kOk, "").code(), absl::StatusCode::kUnavailable);
}

TEST(ShimProtocol, NonBlockingFullBufferIsResourceExhausted) {
  SocketPair p = MakePair();
  ASSERT_EQ(::fcntl(p.a.get(), F_SETFL, O_NONBLOCK), 0);
  std::string chunk(32 * 1024, 'x');
  absl::Status st;
  for (int i = 0; i < 10000 && st.ok(); ++i) st = SendMessage(p.a.get(), MsgType::kStdout, chunk);
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
}

TEST(ShimProtocol, ErrorRoundTrip) {
  absl::Status in = absl::NotFoundError("exec: \"sh\": no such file");
  absl::Status out = DecodeError(EncodeError(in));
  EXPECT_EQ(out.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(out.message(), in.message());
  EXPECT_EQ(DecodeError(EncodeError(absl::FailedPreconditionError("x"))).code(),
            absl::StatusCode::kFailedPrecondition);
  // An error message never decodes to OK, and garbage is still an error.
  EXPECT_EQ(DecodeError(R"({"code":0,"message":"?"})").code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(DecodeError(R"({"code":99})").code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(DecodeError("not json").code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(DecodeError("").code(), absl::StatusCode::kUnknown);
}

ShimState SampleState() {
  ShimState s;
  s.id = "3f2a9c";
  s.shim_pid = 1234;
  s.shim_start_time = 18446744073709551000ull;  // beyond int64
  s.pid = 5678;
  s.pid_start_time = 987654321;
  s.status = "exited";
  s.exit_code = 137;
  s.oom_killed = true;
  s.created_at_ns = 1700000000000000001;
  s.started_at_ns = 1700000000000000002;
  s.finished_at_ns = 1700000000000000003;
  s.error = "start container: exec: \"nope\": not found";
  return s;
}

void ExpectSameState(const ShimState& a, const ShimState& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.shim_pid, b.shim_pid);
  EXPECT_EQ(a.shim_start_time, b.shim_start_time);
  EXPECT_EQ(a.pid, b.pid);
  EXPECT_EQ(a.pid_start_time, b.pid_start_time);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.exit_code, b.exit_code);
  EXPECT_EQ(a.oom_killed, b.oom_killed);
  EXPECT_EQ(a.created_at_ns, b.created_at_ns);
  EXPECT_EQ(a.started_at_ns, b.started_at_ns);
  EXPECT_EQ(a.finished_at_ns, b.finished_at_ns);
  EXPECT_EQ(a.error, b.error);
}

TEST(ShimState, EncodeDecodeRoundTrip) {
  ShimState s = SampleState();
  auto back = Decode<ShimState>(Encode(s));
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSameState(*back, s);

  ShimState empty;
  auto back_empty = Decode<ShimState>(Encode(empty));
  ASSERT_TRUE(back_empty.ok()) << back_empty.status();
  ExpectSameState(*back_empty, empty);
}

TEST(ShimState, DecodeIsStrictAboutTypesButToleratesMissingFields) {
  auto partial = Decode<ShimState>(R"({"id":"x","status":"created","pid":7})");
  ASSERT_TRUE(partial.ok()) << partial.status();
  EXPECT_EQ(partial->id, "x");
  EXPECT_EQ(partial->pid, 7);
  EXPECT_EQ(partial->exit_code, 0);
  for (const char* bad : {"", "[]", "{", R"({"pid":"7"})", R"({"oom_killed":1})",
                          R"({"pid_start_time":-1})", R"({"status":3})"}) {
    EXPECT_EQ(Decode<ShimState>(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ShimMessages, RequestsAndRepliesRoundTrip) {
  ExecRequest exec;
  exec.process.args = {"sh", "-c", "echo hi"};
  exec.process.env = {"A=1"};
  exec.process.cwd = "/work";
  exec.process.user = {1000, 1000, {10, 20}};
  exec.process.terminal = true;
  exec.process.console_size = spec::ConsoleSize{24, 80};
  exec.process.capabilities = spec::Capabilities{{"CAP_KILL"}, {"CAP_KILL"}, {}, {"CAP_KILL"}, {}};
  exec.process.rlimits = {{"RLIMIT_NOFILE", 1024, 512}};
  exec.stdin = true;
  auto exec_back = Decode<ExecRequest>(Encode(exec));
  ASSERT_TRUE(exec_back.ok()) << exec_back.status();
  EXPECT_EQ(exec_back->process, exec.process);
  EXPECT_TRUE(exec_back->stdin);

  ExitReport exit{137, true, 11, 22, "cgroup busy"};
  auto exit_back = Decode<ExitReport>(Encode(exit));
  ASSERT_TRUE(exit_back.ok()) << exit_back.status();
  EXPECT_EQ(exit_back->exit_code, 137);
  EXPECT_TRUE(exit_back->oom_killed);
  EXPECT_EQ(exit_back->started_at_ns, 11);
  EXPECT_EQ(exit_back->finished_at_ns, 22);
  EXPECT_EQ(exit_back->error, "cgroup busy");
  EXPECT_FALSE(exit_back->cgroup_removed);
  auto removed_back = Decode<ExitReport>(Encode(ExitReport{0, false, 1, 2, "", /*cgroup_removed=*/true}));
  ASSERT_TRUE(removed_back.ok()) << removed_back.status();
  EXPECT_TRUE(removed_back->cgroup_removed);
  // From a shim that predates the field: the agent removes the cgroup itself.
  auto older = Decode<ExitReport>(R"({"exit_code":0})");
  ASSERT_TRUE(older.ok()) << older.status();
  EXPECT_FALSE(older->cgroup_removed);

  auto kill_back = Decode<KillRequest>(Encode(KillRequest{15, true}));
  ASSERT_TRUE(kill_back.ok()) << kill_back.status();
  EXPECT_EQ(kill_back->signal, 15);
  EXPECT_TRUE(kill_back->all);
  EXPECT_EQ(Decode<Started>(Encode(Started{42}))->started_at_ns, 42);
  EXPECT_EQ(Decode<ExecStarted>(Encode(ExecStarted{7}))->pid, 7);
  EXPECT_TRUE(Decode<AttachRequest>(Encode(AttachRequest{true}))->stdin);
  EXPECT_FALSE(Decode<Attached>(Encode(Attached{false}))->stdin);
  EXPECT_EQ(Decode<Dropped>(Encode(Dropped{1u << 20}))->bytes, 1u << 20);
  ResourceLimits limits{64 << 20, 50000, 100000, 512, 20};
  auto limits_back = Decode<ResourceLimits>(Encode(limits));
  ASSERT_TRUE(limits_back.ok()) << limits_back.status();
  EXPECT_EQ(limits_back->memory_limit_bytes, 64 << 20);
  EXPECT_EQ(limits_back->cpu_quota_us, 50000);
  EXPECT_EQ(limits_back->cpu_period_us, 100000u);
  EXPECT_EQ(limits_back->cpu_shares, 512u);
  EXPECT_EQ(limits_back->pids_limit, 20);
  EXPECT_EQ(Decode<ProcessList>(Encode(ProcessList{{1, 42, 4242}}))->pids, (std::vector<int>{1, 42, 4242}));
  // A request without arguments may come with no payload at all.
  EXPECT_FALSE(Decode<AttachRequest>("")->stdin);
}

TEST(ShimMessages, DecodeRefusesWrongTypesAndBadValues) {
  EXPECT_EQ(Decode<ExitReport>(R"({"exit_code":"0"})").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Decode<AttachRequest>(R"({"stdin":1})").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Decode<Dropped>("[1]").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Decode<KillRequest>(R"({"signal":0})").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Decode<KillRequest>(R"({"signal":65})").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Decode<ExecRequest>(R"({"stdin":true})").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Decode<ResourceLimits>(R"({"memory_limit_bytes":-1})").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Decode<ProcessList>(R"({"pids":["1"]})").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Decode<ExecRequest>(R"({"process":{"args":[],"cwd":"/"}})").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Decode<ExecRequest>(R"({"process":{"args":["true"],"cwd":"rel"}})").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ShimState, FileRoundTrip) {
  TempDir dir;
  EXPECT_EQ(ReadStateFile(dir.path()).status().code(), absl::StatusCode::kNotFound);
  ShimState s = SampleState();
  ASSERT_TRUE(WriteStateFile(dir.path(), s).ok());
  s.status = "running";
  ASSERT_TRUE(WriteStateFile(dir.path(), s).ok());  // replaces atomically
  auto back = ReadStateFile(dir.path());
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSameState(*back, s);
}

// A listening SEQPACKET socket at `path`, bound through /proc/self/fd when the path is longer
// than sun_path (as berth-shim does).
UniqueFd Listen(const std::string& dir, const std::string& name) {
  UniqueFd sock(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  UniqueFd dfd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string bind_path = absl::StrCat("/proc/self/fd/", dfd.get(), "/", name);
  std::memcpy(addr.sun_path, bind_path.c_str(), bind_path.size() + 1);
  EXPECT_EQ(::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0)
      << strerror(errno);
  EXPECT_EQ(::listen(sock.get(), 4), 0);
  return sock;
}

TEST(ShimProtocol, ConnectShim) {
  TempDir dir;
  std::string path = absl::StrCat(dir.path(), "/", kShimSocketName);
  EXPECT_EQ(ConnectShim(path).status().code(), absl::StatusCode::kNotFound);

  UniqueFd listener = Listen(dir.path(), kShimSocketName);
  auto client = ConnectShim(path);
  ASSERT_TRUE(client.ok()) << client.status();
  UniqueFd server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(server.valid());
  ASSERT_TRUE(SendMessage(client->get(), MsgType::kState, "").ok());
  auto m = ReceiveMessage(server.get());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->type, MsgType::kState);
}

TEST(ShimProtocol, ConnectShimWithPathLongerThanSunPath) {
  TempDir dir;
  std::string deep = dir.path();
  while (deep.size() < 150) {
    deep += "/a-rather-long-directory-name";
    ASSERT_EQ(::mkdir(deep.c_str(), 0700), 0);
  }
  UniqueFd listener = Listen(deep, kShimSocketName);
  auto client = ConnectShim(absl::StrCat(deep, "/", kShimSocketName));
  ASSERT_TRUE(client.ok()) << client.status();
  UniqueFd server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  EXPECT_TRUE(server.valid());
}

}  // namespace
}  // namespace berth::shim
