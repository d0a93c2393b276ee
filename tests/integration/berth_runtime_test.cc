// berth-runtime as a runc-compatible command line: the lifecycle dance, a foreground run,
// a console socket, hooks, preserved fds, pid files, forced deletes and bad bundles — each
// checked on the real process, its namespaces and its cgroup, not on the CLI's word alone.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/file_util.h"
#include "runtime/cgroup/cgroup_driver.h"
#include "tests/integration/support/agent_harness.h"

namespace berth::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

// Starts `argv` (PATH searched) without waiting; the caller kills and reaps it.
pid_t SpawnProgram(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

std::string ReadLink(const std::string& path) {
  char buf[256];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof(buf));
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

class BerthRuntime : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    if (::access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "needs /bin/busybox (busybox-static)";
    char tmpl[] = "/tmp/berth-rt-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ::chmod(dir_.c_str(), 0755);
    state_root_ = dir_ + "/state";
    bundle_ = dir_ + "/bundle";
    MakeBundle();
    auto driver = DetectCgroupDriver();
    ASSERT_TRUE(driver.ok()) << driver.status();
    cgroups_ = std::move(*driver);
  }

  void TearDown() override {
    if (dir_.empty()) return;
    CliResult ids = Rt({"list", "-q"});
    for (absl::string_view id : absl::StrSplit(ids.out, '\n', absl::SkipEmpty())) {
      Rt({"delete", "--force", std::string(id)});
    }
    for (const std::string& path : cgroup_paths_) {
      absl::StatusOr<std::string> d = cgroups_->Directory(path, "memory");
      if (d.ok()) {
        EXPECT_NE(::access(d->c_str(), F_OK), 0) << *d << " left behind";
      }
      // The per-test parent (berth-rt-<pid>-<n>): made by the runtime as the path's parent,
      // in every hierarchy; like runc, it removes only the container's own cgroup.
      for (const std::string& parent : CgroupDirsNamed(path.substr(0, path.find('/')))) {
        EXPECT_EQ(::rmdir(parent.c_str()), 0) << parent;
      }
    }
    EXPECT_TRUE(RemoveTree(dir_).ok());
  }

  void MakeBundle() {
    const std::string rootfs = bundle_ + "/rootfs";
    ASSERT_TRUE(MakeDirs(rootfs + "/bin").ok());
    for (const char* d : {"proc", "sys", "dev", "tmp", "etc"}) ASSERT_TRUE(MakeDirs(rootfs + "/" + d).ok());
    {
      std::ifstream in("/bin/busybox", std::ios::binary);
      std::ofstream out(rootfs + "/bin/busybox", std::ios::binary);
      out << in.rdbuf();
    }
    ASSERT_EQ(::chmod((rootfs + "/bin/busybox").c_str(), 0755), 0);
    for (const char* applet : {"sh", "echo", "cat", "sleep", "tty", "ls", "sed", "test", "readlink"}) {
      ASSERT_EQ(::symlink("busybox", (rootfs + "/bin/" + applet).c_str()), 0);
    }
    CliResult spec = Rt({"spec", "--bundle", bundle_});
    ASSERT_EQ(spec.exit_code, 0) << spec.err;
    absl::StatusOr<std::string> text = ReadFile(bundle_ + "/config.json");
    ASSERT_TRUE(text.ok());
    config_ = Json::parse(*text);
    config_["process"]["terminal"] = false;
    config_["process"]["env"] = {"PATH=/bin"};
  }

  // Writes the bundle's config.json with `args` and a cgroup of the test's own.
  void Configure(const std::vector<std::string>& args, const std::string& id) {
    config_["process"]["args"] = args;
    std::string path = absl::StrCat("berth-rt-", ::getpid(), "-", counter_++, "/", id);
    cgroup_paths_.push_back(path);
    config_["linux"]["cgroupsPath"] = path;
    ASSERT_TRUE(WriteFileAtomic(bundle_ + "/config.json", config_.dump(2)).ok());
  }

  std::vector<std::string> Argv(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {BERTH_RUNTIME_PATH, "--root", state_root_};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  // A command whose output ends when it exits (nothing it starts keeps the pipes).
  CliResult Rt(const std::vector<std::string>& args, const std::string& stdin_data = "") {
    return RunProgram(Argv(args), stdin_data, 60);
  }

  // create / run -d: the container inherits the runtime's stdio, so both go to a file (as
  // runc's callers arrange); `out` is that file when the runtime returned.
  CliResult RtDetached(const std::vector<std::string>& args, const std::string& output_file) {
    std::vector<std::string> argv = {"/bin/sh", "-c", "out=$1; shift; exec \"$@\" >\"$out\" 2>&1 </dev/null",
                                      "sh", output_file};
    std::vector<std::string> rt = Argv(args);
    argv.insert(argv.end(), rt.begin(), rt.end());
    CliResult r = RunProgram(argv, "", 60);
    r.err = ReadText(output_file);
    return r;
  }

  Json State(const std::string& id) {
    CliResult r = Rt({"state", id});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return Json::parse(r.out, nullptr, false);
  }

  std::string Status(const std::string& id) {
    Json s = State(id);
    return s.is_object() ? s.value("status", "") : "";
  }

  std::string CgroupDir(const std::string& controller) {
    absl::StatusOr<std::string> d = cgroups_->Directory(cgroup_paths_.back(), controller);
    return d.ok() ? *d : "";
  }

  std::string dir_, state_root_, bundle_;
  Json config_;
  std::unique_ptr<CgroupDriver> cgroups_;
  std::vector<std::string> cgroup_paths_;
  int counter_ = 0;
};

TEST_F(BerthRuntime, CreateStartStateKillDelete) {
  Configure({"sleep", "1000"}, "dance");
  const std::string pid_file = dir_ + "/dance.pid";
  CliResult created = RtDetached({"create", "--bundle", bundle_, "--pid-file", pid_file, "dance"}, dir_ + "/out");
  ASSERT_EQ(created.exit_code, 0) << created.err;

  Json state = State("dance");
  EXPECT_EQ(state["status"], "created");
  EXPECT_EQ(state["id"], "dance");
  EXPECT_EQ(state["bundle"], bundle_);
  EXPECT_TRUE(state.contains("ociVersion") && state.contains("created") && state.contains("annotations"));
  pid_t pid = state["pid"].get<pid_t>();
  ASSERT_GT(pid, 0);
  EXPECT_EQ(ReadText(pid_file), absl::StrCat(pid));
  // Held at the gate: still the runtime's copy, not sleep yet; in namespaces of its own and
  // in its cgroup.
  EXPECT_THAT(ReadText(absl::StrCat("/proc/", pid, "/cmdline")), Not(HasSubstr("sleep")));
  for (const char* ns : {"pid", "mnt", "uts", "ipc", "net"}) {
    char mine[64] = {}, theirs[64] = {};
    ASSERT_GT(::readlink(absl::StrCat("/proc/self/ns/", ns).c_str(), mine, sizeof(mine) - 1), 0);
    ASSERT_GT(::readlink(absl::StrCat("/proc/", pid, "/ns/", ns).c_str(), theirs, sizeof(theirs) - 1), 0);
    EXPECT_STRNE(mine, theirs) << ns;
  }
  EXPECT_THAT(ReadText(CgroupDir("memory") + "/cgroup.procs"), HasSubstr(absl::StrCat(pid)));

  CliResult again = RtDetached({"create", "--bundle", bundle_, "dance"}, dir_ + "/out2");
  EXPECT_NE(again.exit_code, 0);
  EXPECT_THAT(again.err, HasSubstr("already exists"));

  CliResult started = Rt({"start", "dance"});
  ASSERT_EQ(started.exit_code, 0) << started.err;
  EXPECT_EQ(Status("dance"), "running");
  EXPECT_THAT(ReadText(absl::StrCat("/proc/", pid, "/cmdline")), HasSubstr("sleep"));
  CliResult twice = Rt({"start", "dance"});
  EXPECT_NE(twice.exit_code, 0);
  EXPECT_THAT(twice.err, HasSubstr("running"));

  CliResult listed = Rt({"list", "--format", "json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  Json list = Json::parse(listed.out);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["id"], "dance");

  // The pid namespace's init ignores TERM without a handler: KILL, by name without SIG.
  CliResult killed = Rt({"kill", "dance", "KILL"});
  ASSERT_EQ(killed.exit_code, 0) << killed.err;
  EXPECT_TRUE(Eventually([&] { return Status("dance") == "stopped"; }));
  EXPECT_FALSE(State("dance").contains("pid"));

  CliResult deleted = Rt({"delete", "dance"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_NE(::access(CgroupDir("memory").c_str(), F_OK), 0);
  EXPECT_NE(::access((state_root_ + "/dance").c_str(), F_OK), 0);
  CliResult gone = Rt({"state", "dance"});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_THAT(gone.err, HasSubstr("does not exist"));
}

TEST_F(BerthRuntime, ForegroundRunPassesOutputAndExitCode) {
  Configure({"sh", "-c", "echo out; echo err >&2; hostname; exit 7"}, "fg");
  CliResult r = Rt({"run", "--bundle", bundle_, "fg"});
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_EQ(r.out, "out\nberth\n");
  EXPECT_EQ(r.err, "err\n");
  // Removed after it exited: no state, no cgroup.
  EXPECT_NE(::access((state_root_ + "/fg").c_str(), F_OK), 0);
  EXPECT_NE(::access(CgroupDir("memory").c_str(), F_OK), 0);

  Configure({"/no/such/program"}, "missing");
  CliResult missing = Rt({"run", "--bundle", bundle_, "missing"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_THAT(missing.err, HasSubstr("/no/such/program"));
  EXPECT_NE(::access((state_root_ + "/missing").c_str(), F_OK), 0);
}

// Listens on a Unix socket for one console-socket hand-over, then reads the pty master
// until the terminal's other side is gone.
class ConsoleReceiver {
 public:
  explicit ConsoleReceiver(const std::string& path) : path_(path) {
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    ok_ = listener_ >= 0 && ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
          ::listen(listener_, 1) == 0;
    thread_ = std::thread([this] { Receive(); });
  }
  ~ConsoleReceiver() { Join(); }

  bool ok() const { return ok_; }
  // Waits for the hand-over and for the terminal to close.
  void Join() {
    if (thread_.joinable()) thread_.join();
    if (listener_ >= 0) ::close(listener_);
    listener_ = -1;
  }
  const std::string& name() const { return name_; }
  const std::string& output() const { return output_; }

 private:
  void Receive() {
    if (!ok_) return;
    int conn = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) return;
    char buf[256] = {};
    iovec iov = {buf, sizeof(buf) - 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n = ::recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
    ::close(conn);
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    if (n <= 0 || cmsg == nullptr || cmsg->cmsg_type != SCM_RIGHTS) return;
    name_.assign(buf, static_cast<size_t>(n));
    int master;
    std::memcpy(&master, CMSG_DATA(cmsg), sizeof(int));
    char data[1024];
    ssize_t got;
    while ((got = ::read(master, data, sizeof(data))) > 0) output_.append(data, static_cast<size_t>(got));
    ::close(master);  // EIO once the container's side is closed
  }

  std::string path_;
  int listener_ = -1;
  bool ok_ = false;
  std::thread thread_;
  std::string name_, output_;
};

// The console socket receives a pty master opened in the container's own /dev/pts: `tty`
// inside names it, and what the container writes arrives on the master.
TEST_F(BerthRuntime, DetachedRunSendsTheTerminalToTheConsoleSocket) {
  ConsoleReceiver console(dir_ + "/console.sock");
  ASSERT_TRUE(console.ok());
  config_["process"]["terminal"] = true;
  Configure({"sh", "-c", "tty; test -t 0 && echo stdin-is-a-tty"}, "console");
  CliResult r = RtDetached(
      {"run", "--detach", "--bundle", bundle_, "--console-socket", dir_ + "/console.sock", "console"}, dir_ + "/out");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  console.Join();
  EXPECT_EQ(console.name(), "/dev/pts/0");
  EXPECT_THAT(console.output(), HasSubstr("/dev/pts/0\r\n"));
  EXPECT_THAT(console.output(), HasSubstr("stdin-is-a-tty"));
  EXPECT_TRUE(Eventually([&] { return Status("console") == "stopped"; }));

  // A terminal without a socket to send it to is refused, and nothing is left.
  Configure({"true"}, "no-socket");
  CliResult refused = RtDetached({"create", "--bundle", bundle_, "no-socket"}, dir_ + "/out3");
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.err, HasSubstr("--console-socket"));
  EXPECT_NE(::access((state_root_ + "/no-socket").c_str(), F_OK), 0);
}

// exec from the command line (the container's process as the base) and from a
// process.json; -t through a console socket; -d with a pid file naming the process.
TEST_F(BerthRuntime, ExecRunsInTheContainer) {
  Configure({"sleep", "1000"}, "target");
  ASSERT_EQ(RtDetached({"run", "-d", "--bundle", bundle_, "target"}, dir_ + "/out").exit_code, 0);
  pid_t init = State("target")["pid"].get<pid_t>();

  CliResult plain = Rt({"exec", "--env", "EXTRA=1", "target", "sh", "-c", "echo $EXTRA $PATH; hostname; exit 5"});
  EXPECT_EQ(plain.exit_code, 5) << plain.err;
  EXPECT_EQ(plain.out, "1 /bin\nberth\n");

  const std::string process_json = dir_ + "/process.json";
  ASSERT_TRUE(WriteFileAtomic(process_json, R"({"args": ["sh", "-c", "echo $FOO; pwd; cat /proc/self/status | grep ^Uid"],
      "env": ["FOO=from-json", "PATH=/bin"], "cwd": "/tmp", "user": {"uid": 7, "gid": 7}})").ok());
  CliResult from_json = Rt({"exec", "--process", process_json, "target"});
  EXPECT_EQ(from_json.exit_code, 0) << from_json.err;
  EXPECT_THAT(from_json.out, HasSubstr("from-json\n/tmp\nUid:\t7\t7\t7\t7"));

  ConsoleReceiver console(dir_ + "/exec-console.sock");
  ASSERT_TRUE(console.ok());
  CliResult tty = Rt({"exec", "-t", "--console-socket", dir_ + "/exec-console.sock", "target", "tty"});
  EXPECT_EQ(tty.exit_code, 0) << tty.err;
  console.Join();
  EXPECT_THAT(console.output(), HasSubstr("/dev/pts/"));
  EXPECT_THAT(console.output(), Not(HasSubstr("not a tty")));

  const std::string pid_file = dir_ + "/exec.pid";
  CliResult detached = RtDetached({"exec", "-d", "--pid-file", pid_file, "target", "sleep", "999"}, dir_ + "/out2");
  ASSERT_EQ(detached.exit_code, 0) << detached.err;
  std::string pid = ReadText(pid_file);
  EXPECT_THAT(ReadText("/proc/" + pid + "/cmdline"), HasSubstr("sleep"));
  char mine[64] = {}, theirs[64] = {};
  ASSERT_GT(::readlink(absl::StrCat("/proc/", init, "/ns/pid").c_str(), mine, sizeof(mine) - 1), 0);
  ASSERT_GT(::readlink(("/proc/" + pid + "/ns/pid").c_str(), theirs, sizeof(theirs) - 1), 0);
  EXPECT_STREQ(mine, theirs);
  CliResult ps = Rt({"ps", "--format", "json", "target"});
  EXPECT_THAT(ps.out, HasSubstr(pid));

  CliResult missing = Rt({"exec", "target", "/no/such/thing"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_THAT(missing.err, HasSubstr("/no/such/thing"));
  CliResult nocontainer = Rt({"exec", "nosuch", "true"});
  EXPECT_EQ(nocontainer.exit_code, 1);
  EXPECT_THAT(nocontainer.err, HasSubstr("does not exist"));
}

// Each hook sees the state on stdin and its own environment, in the spec's order; the
// createContainer hook runs in the container's mount namespace (its /hooks.log is the
// rootfs's).
TEST_F(BerthRuntime, HooksRunInOrderWithStateAndEnvironment) {
  const std::string log = bundle_ + "/rootfs/hooks.log";
  auto hook = [&](const std::string& name, const std::string& log_path) {
    std::string script = absl::StrCat(
        "s=$(/bin/busybox cat); st=$(echo \"$s\" | /bin/busybox sed -n 's/.*\"status\":\"\\([a-z]*\\)\".*/\\1/p'); "
        "echo \"", name, " $st $HOOK_ENV\" >> ", log_path);
    return Json{{"path", "/bin/busybox"}, {"args", {"busybox", "sh", "-c", script}}, {"env", {"HOOK_ENV=" + name + "-env"}}};
  };
  // startContainer runs inside the container: its root (the log lands in the rootfs), its
  // hostname, and init's pid in its pid namespace as the state's pid.
  Json start_hook = hook("startContainer", "/hooks.log");
  start_hook["path"] = "/bin/sh";  // the container's /bin/sh (busybox's applet link)
  start_hook["args"] = {"sh", "-c",
                        absl::StrCat(start_hook["args"][3].get<std::string>(),
                                     "; echo \"startContainer in $(hostname) pid=$(echo \"$s\" | "
                                     "sed -n 's/.*\"pid\":\\([0-9]*\\).*/\\1/p')\" >> /hooks.log")};
  config_["hooks"] = {{"prestart", {hook("prestart", log)}},
                      {"createRuntime", {hook("createRuntime", log)}},
                      {"createContainer", {hook("createContainer", "/hooks.log")}},
                      {"startContainer", {start_hook}},
                      {"poststart", {hook("poststart", log)}},
                      {"poststop", {hook("poststop", log)}}};
  Configure({"sleep", "1000"}, "hooked");
  CliResult created = RtDetached({"create", "--bundle", bundle_, "hooked"}, dir_ + "/out");
  ASSERT_EQ(created.exit_code, 0) << created.err;
  // The state says "created" (what the runtime-tools suite checks for prestart).
  EXPECT_EQ(ReadText(log),
            "prestart created prestart-env\ncreateRuntime created createRuntime-env\n"
            "createContainer created createContainer-env\n");
  ASSERT_EQ(Rt({"start", "hooked"}).exit_code, 0);
  ASSERT_EQ(Rt({"kill", "hooked", "9"}).exit_code, 0);
  EXPECT_TRUE(Eventually([&] { return Status("hooked") == "stopped"; }));
  ASSERT_EQ(Rt({"delete", "hooked"}).exit_code, 0);
  EXPECT_THAT(ReadText(log), HasSubstr("createContainer created createContainer-env\n"
                                       "startContainer created startContainer-env\n"
                                       "startContainer in berth pid=1\n"
                                       "poststart running poststart-env\npoststop stopped poststop-env\n"));

  // A failing startContainer hook fails the start; the container ends, nothing is left.
  config_["hooks"] = {{"startContainer", {{{"path", "/bin/false"}}}}};
  Configure({"sleep", "1000"}, "bad-start");
  ASSERT_EQ(RtDetached({"create", "--bundle", bundle_, "bad-start"}, dir_ + "/out3").exit_code, 0);
  CliResult start_failed = Rt({"start", "bad-start"});
  EXPECT_NE(start_failed.exit_code, 0);
  EXPECT_THAT(start_failed.err, HasSubstr("hooks.startContainer[0]"));
  EXPECT_TRUE(Eventually([&] { return Status("bad-start") == "stopped"; }));
  ASSERT_EQ(Rt({"delete", "bad-start"}).exit_code, 0);
  EXPECT_TRUE(ProcessesMentioning(bundle_).empty());

  // A failing createRuntime hook fails the create and leaves nothing.
  config_["hooks"] = {{"createRuntime", {{{"path", "/bin/false"}}}}};
  Configure({"true"}, "bad-hook");
  CliResult failed = RtDetached({"create", "--bundle", bundle_, "bad-hook"}, dir_ + "/out2");
  EXPECT_NE(failed.exit_code, 0);
  EXPECT_THAT(failed.err, HasSubstr("hooks.createRuntime[0]"));
  EXPECT_NE(::access((state_root_ + "/bad-hook").c_str(), F_OK), 0);
  EXPECT_NE(::access(CgroupDir("memory").c_str(), F_OK), 0);
  EXPECT_TRUE(ProcessesMentioning(bundle_).empty());
}

// --no-pivot moves the rootfs over / and chroots: the process sees the bundle's root, not
// the node's.
TEST_F(BerthRuntime, NoPivotRunsInTheBundlesRoot) {
  ASSERT_TRUE(WriteFileAtomic(bundle_ + "/rootfs/marker", "from the bundle\n").ok());
  Configure({"sh", "-c", "cat /marker; test -e " + dir_ + " && echo node-visible; hostname"}, "nopivot");
  CliResult r = Rt({"run", "--no-pivot", "--bundle", bundle_, "nopivot"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "from the bundle\nberth\n");
  EXPECT_NE(::access((state_root_ + "/nopivot").c_str(), F_OK), 0);
}

TEST_F(BerthRuntime, PreservedFdsReachTheProcess) {
  const std::string secret = dir_ + "/secret";
  ASSERT_TRUE(WriteFileAtomic(secret, "passed as fd 3\n").ok());
  Configure({"sh", "-c", "cat <&3; ls /proc/self/fd | sort -n | tr '\\n' ' '"}, "fds");
  std::vector<std::string> argv = {"/bin/sh", "-c", "exec 3<\"$0\"; exec \"$@\"", secret};
  std::vector<std::string> rt = Argv({"run", "--preserve-fds", "1", "--bundle", bundle_, "fds"});
  argv.insert(argv.end(), rt.begin(), rt.end());
  CliResult r = RunProgram(argv, "", 60);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("passed as fd 3\n"));
  // 0-2, the preserved 3, and the fd ls itself opens: nothing of the runtime's.
  EXPECT_THAT(r.out, HasSubstr("0 1 2 3 4 "));
  EXPECT_THAT(r.out, Not(HasSubstr(" 5 ")));

  CliResult missing = Rt({"run", "--preserve-fds", "40", "--bundle", bundle_, "fds2"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_THAT(missing.err, HasSubstr("preserve_fds"));
}

TEST_F(BerthRuntime, PauseResumePsAndForcedDelete) {
  Configure({"sleep", "1000"}, "busy");
  ASSERT_EQ(RtDetached({"run", "-d", "--bundle", bundle_, "busy"}, dir_ + "/out").exit_code, 0);
  pid_t pid = State("busy")["pid"].get<pid_t>();

  CliResult ps = Rt({"ps", "--format", "json", "busy"});
  ASSERT_EQ(ps.exit_code, 0) << ps.err;
  EXPECT_EQ(Json::parse(ps.out), Json::array({pid}));

  ASSERT_EQ(Rt({"pause", "busy"}).exit_code, 0);
  EXPECT_EQ(Status("busy"), "paused");
  std::string freezer = CgroupDir("freezer");
  if (!freezer.empty()) {
    EXPECT_EQ(ReadText(freezer + "/freezer.state"), "FROZEN\n");
  }
  CliResult pause_twice = Rt({"pause", "busy"});
  EXPECT_NE(pause_twice.exit_code, 0);
  EXPECT_THAT(pause_twice.err, HasSubstr("paused"));
  ASSERT_EQ(Rt({"resume", "busy"}).exit_code, 0);
  EXPECT_EQ(Status("busy"), "running");
  if (!freezer.empty()) {
    EXPECT_EQ(ReadText(freezer + "/freezer.state"), "THAWED\n");
  }

  CliResult refused = Rt({"delete", "busy"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.err, HasSubstr("running"));
  EXPECT_EQ(Status("busy"), "running");
  CliResult forced = Rt({"delete", "--force", "busy"});
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_TRUE(Eventually([&] { return ::kill(pid, 0) != 0 || ReadText(absl::StrCat("/proc/", pid, "/stat")).find(") Z") != std::string::npos; }));
  EXPECT_NE(::access(CgroupDir("memory").c_str(), F_OK), 0);
  EXPECT_EQ(Rt({"delete", "--force", "busy"}).exit_code, 0);  // gone already: fine with --force
  EXPECT_NE(Rt({"delete", "busy"}).exit_code, 0);
}

// update changes the live cgroup (read back from its files) and keeps what it is not told to
// change; events --stats reports the cgroup's figures; features says what is implemented.
TEST_F(BerthRuntime, UpdateEventsAndFeatures) {
  Configure({"sleep", "1000"}, "limits");
  ASSERT_EQ(RtDetached({"run", "-d", "--bundle", bundle_, "limits"}, dir_ + "/out").exit_code, 0);
  CliResult flags = Rt({"update", "--memory", "64m", "--pids-limit", "50", "limits"});
  ASSERT_EQ(flags.exit_code, 0) << flags.err;
  EXPECT_EQ(ReadText(CgroupDir("memory") + "/memory.limit_in_bytes"), "67108864\n");
  EXPECT_EQ(ReadText(CgroupDir("pids") + "/pids.max"), "50\n");
  CliResult file = Rt({"update", "--resources", "-", "limits"}, R"({"pids": {"limit": 77}, "cpu": {"shares": 512}})");
  ASSERT_EQ(file.exit_code, 0) << file.err;
  EXPECT_EQ(ReadText(CgroupDir("pids") + "/pids.max"), "77\n");
  EXPECT_EQ(ReadText(CgroupDir("cpu") + "/cpu.shares"), "512\n");
  EXPECT_EQ(ReadText(CgroupDir("memory") + "/memory.limit_in_bytes"), "67108864\n");  // kept
  CliResult bad = Rt({"update", "--memory", "12x", "limits"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("--memory"));
  CliResult bad_json = Rt({"update", "--resources", "-", "limits"}, R"({"pids": {"limit": "many"}})");
  EXPECT_EQ(bad_json.exit_code, 1);
  EXPECT_THAT(bad_json.err, HasSubstr("linux.resources.pids.limit"));
  EXPECT_EQ(ReadText(CgroupDir("pids") + "/pids.max"), "77\n");

  CliResult events = Rt({"events", "--stats", "limits"});
  ASSERT_EQ(events.exit_code, 0) << events.err;
  Json event = Json::parse(events.out);
  EXPECT_EQ(event["type"], "stats");
  EXPECT_EQ(event["data"]["pids"]["current"], 1);
  EXPECT_GT(event["data"]["memory"]["usage"]["usage"].get<uint64_t>(), 0u);

  CliResult features = Rt({"features"});
  ASSERT_EQ(features.exit_code, 0) << features.err;
  Json f = Json::parse(features.out);
  EXPECT_EQ(f["linux"]["cgroup"]["v1"], true);
  EXPECT_THAT(f["hooks"].dump(), HasSubstr("createContainer"));
  EXPECT_THAT(f["linux"]["seccomp"]["actions"].dump(), HasSubstr("SCMP_ACT_ERRNO"));
  EXPECT_THAT(f["mountOptions"].dump(), HasSubstr("rbind"));
}

// Mounts appear in /proc/self/mountinfo in spec order (binds made before the container's
// namespace included), and an unbindable root propagation is applied once the root is "/".
TEST_F(BerthRuntime, MountsInSpecOrderAndUnbindableRoot) {
  config_["mounts"].push_back({{"destination", "/tmp/first"}, {"type", "tmpfs"}, {"source", "tmpfs"},
                               {"options", {"mode=755"}}});
  config_["mounts"].push_back({{"destination", "/mnt/second"}, {"source", dir_}, {"options", {"rbind", "ro"}}});
  config_["linux"]["rootfsPropagation"] = "unbindable";
  Configure({"cat", "/proc/self/mountinfo"}, "order");
  CliResult r = Rt({"run", "--bundle", bundle_, "order"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  size_t first = r.out.find(" /tmp/first ");
  size_t second = r.out.find(" /mnt/second ");
  ASSERT_NE(first, std::string::npos) << r.out;
  ASSERT_NE(second, std::string::npos) << r.out;
  EXPECT_LT(first, second) << r.out;
  std::string root_line;
  for (absl::string_view line : absl::StrSplit(r.out, '\n')) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    if (fields.size() > 4 && fields[4] == "/") root_line = std::string(line);
  }
  EXPECT_THAT(root_line, HasSubstr("unbindable")) << r.out;
}

// File binds, each first attached at a parking spot in the node's tree (its own source) to be
// copied into place: with or without pivot_root, every bind shows once, in spec order, with
// its source's content, and nothing is left on a source, one inside the rootfs included.
TEST_F(BerthRuntime, FileBindsShowOnceInSpecOrder) {
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/a.txt", "a\n").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/b.txt", "b\n").ok());
  ASSERT_TRUE(WriteFileAtomic(bundle_ + "/rootfs/marker", "inside\n").ok());
  auto bind = [](const std::string& source, const std::string& destination) {
    return Json{{"destination", destination}, {"type", "bind"}, {"source", source}, {"options", {"bind", "ro"}}};
  };
  config_["mounts"].push_back(bind(dir_ + "/a.txt", "/etc/a"));
  config_["mounts"].push_back({{"destination", "/tmp/first"}, {"type", "tmpfs"}, {"source", "tmpfs"},
                               {"options", {"mode=755"}}});
  config_["mounts"].push_back(bind(dir_ + "/b.txt", "/etc/b"));
  config_["mounts"].push_back(bind(dir_ + "/b.txt", "/etc/b2"));
  config_["mounts"].push_back(bind(bundle_ + "/rootfs/marker", "/etc/inside"));
  const std::vector<std::string> in_order = {" /etc/a ", " /tmp/first ", " /etc/b ", " /etc/b2 ", " /etc/inside "};
  for (bool pivot : {true, false}) {
    SCOPED_TRACE(pivot ? "pivot_root" : "--no-pivot");
    std::string id = pivot ? "binds" : "binds-nopivot";
    Configure({"sh", "-c", "cat /etc/a /etc/b /etc/b2 /etc/inside /marker && cat /proc/self/mountinfo"}, id);
    std::vector<std::string> args = {"run", "--bundle", bundle_, id};
    if (!pivot) args.insert(args.begin() + 1, "--no-pivot");
    CliResult r = Rt(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(absl::StartsWith(r.out, "a\nb\nb\ninside\ninside\n")) << r.out;
    size_t last = 0;
    for (const std::string& destination : in_order) {
      size_t at = r.out.find(destination);
      ASSERT_NE(at, std::string::npos) << destination << " is not mounted:\n" << r.out;
      EXPECT_EQ(r.out.find(destination, at + 1), std::string::npos) << destination << " shows twice:\n" << r.out;
      EXPECT_GT(at, last) << destination << " is out of spec order:\n" << r.out;
      last = at;
    }
    EXPECT_THAT(r.out, Not(HasSubstr(" /marker "))) << "a bind's original stayed on its source";
  }
}

// With "private" root propagation the mounts below "/" keep theirs: a bind whose source is on
// a shared mount is not parked there (it would propagate to the node, and stay there when the
// container fails before its old root is detached). Here a later mount fails, after the bind.
TEST_F(BerthRuntime, ABindFromASharedMountLeavesNothingOnTheNode) {
  const std::string shared = dir_ + "/shared";
  ASSERT_EQ(::mkdir(shared.c_str(), 0755), 0);
  ASSERT_EQ(::mount("tmpfs", shared.c_str(), "tmpfs", 0, "size=1m"), 0) << std::strerror(errno);
  absl::Cleanup unmount = [&] { ::umount2(shared.c_str(), MNT_DETACH); };
  ASSERT_EQ(::mount(nullptr, shared.c_str(), nullptr, MS_SHARED, nullptr), 0) << std::strerror(errno);
  ASSERT_TRUE(WriteFileAtomic(shared + "/f.txt", "f\n").ok());
  config_["linux"]["rootfsPropagation"] = "private";
  config_["mounts"].push_back(
      {{"destination", "/etc/f"}, {"type", "bind"}, {"source", shared + "/f.txt"}, {"options", {"bind"}}});
  config_["mounts"].push_back({{"destination", "/mnt/bad"}, {"type", "no-such-fs"}, {"source", "none"}});
  Configure({"cat", "/etc/f"}, "sharedsrc");
  CliResult r = Rt({"run", "--bundle", bundle_, "sharedsrc"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("/mnt/bad"));
  EXPECT_THAT(ReadText("/proc/self/mountinfo"), Not(HasSubstr(shared + "/f.txt")));

  // Without the failing mount it runs, the bind in place.
  config_["mounts"].erase(config_["mounts"].size() - 1);
  Configure({"cat", "/etc/f"}, "sharedsrc2");
  r = Rt({"run", "--bundle", bundle_, "sharedsrc2"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "f\n");
  EXPECT_THAT(ReadText("/proc/self/mountinfo"), Not(HasSubstr(shared + "/f.txt")));
}

// A mount namespace joined by path gets the container's root set up in it (as runc does);
// nothing of it reaches the caller's own mount namespace.
TEST_F(BerthRuntime, JoinsAMountNamespaceByPath) {
  std::vector<std::string> holder_argv = {"unshare", "--mount", "--propagation", "private", "sleep", "1000"};
  pid_t holder = SpawnProgram(holder_argv);
  ASSERT_GT(holder, 0);
  absl::Cleanup end_holder = [holder] {
    ::kill(holder, SIGKILL);
    ::waitpid(holder, nullptr, 0);
  };
  const std::string holder_ns = absl::StrCat("/proc/", holder, "/ns/mnt");
  std::string own_ns = ReadLink("/proc/self/ns/mnt");
  ASSERT_TRUE(Eventually([&] { return ReadLink(holder_ns) != own_ns && !ReadLink(holder_ns).empty(); }));
  for (Json& ns : config_["linux"]["namespaces"]) {
    if (ns["type"] == "mount") ns["path"] = holder_ns;
  }
  ASSERT_TRUE(WriteFileAtomic(bundle_ + "/rootfs/marker", "joined\n").ok());
  Configure({"sh", "-c", "cat /marker; readlink /proc/self/ns/mnt"}, "joiner");
  CliResult r = Rt({"run", "--bundle", bundle_, "joiner"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, absl::StrCat("joined\n", ReadLink(holder_ns), "\n"));
  std::string mounts = ReadText("/proc/self/mountinfo");
  EXPECT_THAT(mounts, Not(HasSubstr(bundle_))) << "the container's mounts reached the caller";
}

// SELinux labels: where SELinux is not enabled there is nothing to label, so they are
// accepted (as runc and crun do); where it is, they are refused naming the field.
TEST_F(BerthRuntime, SelinuxLabelsAreAcceptedOnlyWithoutSelinux) {
  config_["process"]["selinuxLabel"] = "system_u:system_r:container_t:s0:c1,c2";
  config_["linux"]["mountLabel"] = "system_u:object_r:container_file_t:s0:c1,c2";
  Configure({"echo", "labelled"}, "labels");
  CliResult r = Rt({"run", "--bundle", bundle_, "labels"});
  if (::access("/sys/fs/selinux/enforce", F_OK) == 0) {
    EXPECT_NE(r.exit_code, 0);
    EXPECT_THAT(r.err, HasSubstr("linux.mountLabel"));
  } else {
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "labelled\n");
  }
  EXPECT_NE(::access((state_root_ + "/labels").c_str(), F_OK), 0);
}

TEST_F(BerthRuntime, BadConfigIsRefusedWithNothingLeft) {
  config_["process"]["args"] = 5;
  ASSERT_TRUE(WriteFileAtomic(bundle_ + "/config.json", config_.dump()).ok());
  CliResult r = RtDetached({"create", "--bundle", bundle_, "bad"}, dir_ + "/out");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("process.args"));
  EXPECT_NE(::access((state_root_ + "/bad").c_str(), F_OK), 0);
  EXPECT_TRUE(CgroupDirsNamed("bad").empty());

  config_["process"]["args"] = {"true"};
  config_["linux"]["intelRdt"] = {{"closID", "x"}};
  ASSERT_TRUE(WriteFileAtomic(bundle_ + "/config.json", config_.dump()).ok());
  r = RtDetached({"create", "--bundle", bundle_, "rdt"}, dir_ + "/out2");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("linux.intelRdt"));

  r = RtDetached({"create", "--bundle", bundle_, "../escape"}, dir_ + "/out3");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("container id"));
  r = RtDetached({"create", "--bundle", dir_ + "/nowhere", "nobundle"}, dir_ + "/out4");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("config.json"));
  EXPECT_TRUE(Rt({"list", "-q"}).out.empty());
  CliResult systemd = Rt({"--systemd-cgroup", "list"});
  EXPECT_EQ(systemd.exit_code, 1);
  EXPECT_THAT(systemd.err, HasSubstr("systemd"));
}

TEST_F(BerthRuntime, LogFileGetsJsonErrors) {
  const std::string log = dir_ + "/runtime.log";
  CliResult r = Rt({"--log", log, "--log-format", "json", "state", "nosuch"});
  EXPECT_EQ(r.exit_code, 1);
  Json line = Json::parse(ReadText(log));
  EXPECT_EQ(line["level"], "error");
  EXPECT_THAT(line["msg"].get<std::string>(), HasSubstr("\"nosuch\" does not exist"));
  EXPECT_TRUE(line.contains("time"));
}

}  // namespace
}  // namespace berth::testing
