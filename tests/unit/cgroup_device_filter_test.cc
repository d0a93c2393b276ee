// The cgroup v2 device filter: the emitted program, run by EvaluateDeviceFilter, against a
// plain reading of the rule semantics over many devices, accesses and rule lists; then, as
// root, the kernel's verifier on those programs and a real attach to a cgroup2 directory
// below our own cgroup, with a forked child opening /dev/null and /dev/full from inside it.
#include <fcntl.h>
#include <linux/bpf.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/open_in_cgroup.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/status_macros.h"
#include "runtime/base/unique_fd.h"
#include "runtime/cgroup/cgroup_driver.h"
#include "runtime/cgroup/cgroup_kernel.h"
#include "runtime/cgroup/device_filter.h"

namespace berth {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

using Rules = std::vector<CgroupDeviceRule>;

CgroupDeviceRule Allow(char type, int64_t major, int64_t minor, std::string access = "rwm") {
  return {true, type, major, minor, std::move(access)};
}
CgroupDeviceRule Deny(char type, int64_t major, int64_t minor, std::string access = "rwm") {
  return {false, type, major, minor, std::move(access)};
}

std::string Describe(const Rules& rules) {
  std::vector<std::string> parts;
  for (const CgroupDeviceRule& r : rules) {
    parts.push_back(absl::StrCat(r.allow ? "allow " : "deny ", std::string(1, r.type), " ", r.major,
                                 ":", r.minor, " ", r.access));
  }
  return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
}

// The semantics, read straight: the last matching rule decides, no match denies.
bool Reference(const Rules& rules, char type, int64_t major, int64_t minor,
               const std::string& access) {
  bool allowed = false;
  for (const CgroupDeviceRule& r : rules) {
    if (r.type != 'a' && r.type != type) continue;
    if (r.major != -1 && r.major != major) continue;
    if (r.minor != -1 && r.minor != minor) continue;
    bool covered = true;
    for (char c : access) covered &= r.access.find(c) != std::string::npos;
    if (!covered) continue;
    allowed = r.allow;
  }
  return allowed;
}

constexpr int64_t kBigMajor = 2147483648;  // >= 2^31: must not be sign-extended
const int64_t kMajors[] = {0, 1, 4, 136, kBigMajor, kMaxDeviceNumber};
const int64_t kMinors[] = {0, 3, 5, 7, 1048575, kBigMajor};
const char* const kAccesses[] = {"r", "w", "m", "rw", "wr", "rm", "wm", "rwm", "mwr"};

// Every (type, major, minor, access) of the tables above: the program's verdict must be the
// reference's.
void ExpectSameVerdicts(const Rules& rules) {
  absl::StatusOr<std::vector<bpf_insn>> prog = BuildDeviceFilter(rules);
  ASSERT_TRUE(prog.ok()) << prog.status() << " for " << Describe(rules);
  for (char type : {'c', 'b'}) {
    for (int64_t major : kMajors) {
      for (int64_t minor : kMinors) {
        for (const char* access : kAccesses) {
          absl::StatusOr<bool> got = EvaluateDeviceFilter(*prog, type, static_cast<uint32_t>(major),
                                                          static_cast<uint32_t>(minor), access);
          ASSERT_TRUE(got.ok()) << got.status() << " for " << Describe(rules);
          ASSERT_EQ(*got, Reference(rules, type, major, minor, access))
              << type << " " << major << ":" << minor << " " << access << " under "
              << Describe(rules);
        }
      }
    }
  }
}

// Lists that exercise each part of the semantics.
std::vector<Rules> InterestingLists() {
  return {
      {},
      {Allow('a', -1, -1)},
      {Deny('a', -1, -1)},
      // The usual container list: deny everything, then allow a few nodes.
      {Deny('a', -1, -1), Allow('c', 1, 3), Allow('c', 1, 5), Allow('c', 1, 7, "rw"),
       Allow('c', 136, -1, "rw"), Allow('c', 5, 2), Allow('c', -1, -1, "m"),
       Allow('b', -1, -1, "m")},
      // Deny after allow, and allow after deny.
      {Allow('c', 1, -1), Deny('c', 1, 7)},
      {Allow('a', -1, -1), Deny('c', 1, 7, "w"), Deny('b', -1, -1)},
      {Deny('c', 1, -1), Allow('c', 1, 3, "r")},
      {Allow('c', 1, 3), Deny('a', -1, -1)},  // a final deny-all hides everything before it
      {Deny('c', 1, 3), Allow('a', -1, -1)},  // a final allow-all does the opposite
      // Type a with numbers, partial access, wildcards on one side only.
      {Allow('a', 1, 3, "rw")},
      {Allow('a', -1, 5, "r"), Allow('b', 8, -1, "w"), Deny('a', 8, 0, "rw")},
      {Allow('c', kBigMajor, kBigMajor), Allow('b', kMaxDeviceNumber, 0, "m")},
      // Access that only a combination of rules would cover: no single rule does.
      {Allow('c', 1, 3, "r"), Allow('c', 1, 3, "w")},
      {Allow('a', -1, -1, "rw"), Deny('c', -1, -1, "r")},
  };
}

TEST(DeviceFilterTest, VerdictsMatchTheReferenceForInterestingLists) {
  for (const Rules& rules : InterestingLists()) ExpectSameVerdicts(rules);
}

// Random lists over small pools, so rules overlap, shadow and undo each other.
std::vector<Rules> RandomLists(int count, uint32_t seed) {
  std::mt19937 rng(seed);
  const char types[] = {'a', 'c', 'b'};
  const int64_t majors[] = {-1, 1, 136, kBigMajor};
  const int64_t minors[] = {-1, 3, 5, 7};
  const char* const accesses[] = {"r", "w", "m", "rw", "rm", "wm", "rwm"};
  auto pick = [&](const auto& pool) {
    return pool[std::uniform_int_distribution<size_t>(0, std::size(pool) - 1)(rng)];
  };
  std::vector<Rules> lists;
  for (int i = 0; i < count; ++i) {
    Rules rules(std::uniform_int_distribution<int>(0, 8)(rng));
    for (CgroupDeviceRule& r : rules) {
      r = {std::bernoulli_distribution(0.5)(rng), pick(types), pick(majors), pick(minors),
           pick(accesses)};
    }
    lists.push_back(std::move(rules));
  }
  return lists;
}

TEST(DeviceFilterTest, VerdictsMatchTheReferenceForRandomLists) {
  for (const Rules& rules : RandomLists(300, 20240601)) ExpectSameVerdicts(rules);
}

// The verifier refuses unreachable instructions: every one must be reachable.
void ExpectAllReachable(const std::vector<bpf_insn>& prog) {
  std::vector<bool> seen(prog.size());
  std::vector<size_t> todo = {0};
  while (!todo.empty()) {
    size_t pc = todo.back();
    todo.pop_back();
    if (pc >= prog.size() || seen[pc]) continue;
    seen[pc] = true;
    if (prog[pc].code == (BPF_JMP | BPF_EXIT)) continue;
    todo.push_back(pc + 1);
    if (BPF_CLASS(prog[pc].code) == BPF_JMP32) todo.push_back(pc + 1 + prog[pc].off);
  }
  for (size_t i = 0; i < prog.size(); ++i) EXPECT_TRUE(seen[i]) << "instruction " << i;
}

TEST(DeviceFilterTest, EveryInstructionIsReachable) {
  for (const Rules& rules : InterestingLists()) {
    absl::StatusOr<std::vector<bpf_insn>> prog = BuildDeviceFilter(rules);
    ASSERT_TRUE(prog.ok()) << prog.status();
    ExpectAllReachable(*prog);
  }
  for (const Rules& rules : RandomLists(100, 7)) {
    absl::StatusOr<std::vector<bpf_insn>> prog = BuildDeviceFilter(rules);
    ASSERT_TRUE(prog.ok()) << prog.status();
    ExpectAllReachable(*prog);
  }
}

TEST(DeviceFilterTest, AFinalMatchEverythingRuleEndsTheProgram) {
  absl::StatusOr<std::vector<bpf_insn>> prog =
      BuildDeviceFilter({Allow('c', 1, 3), Deny('c', 1, 5), Allow('a', -1, -1)});
  ASSERT_TRUE(prog.ok());
  // The context loads, then "r0 = 1; exit": the earlier rules could never decide.
  EXPECT_THAT(*prog, SizeIs(8));
}

TEST(DeviceFilterTest, InvalidRulesAreRefusedNamingTheirIndex) {
  struct Case {
    CgroupDeviceRule bad;
    const char* says;
  };
  const Case cases[] = {
      {Allow('x', 1, 3), "type"},          {Allow('c', 1, 3, ""), "access"},
      {Allow('c', 1, 3, "rwx"), "access"}, {Allow('c', 1, 3, "read"), "access"},
      {Allow('c', -2, 3), "major -2"},     {Allow('c', 1, kMaxDeviceNumber + 1), "minor"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::vector<bpf_insn>> prog =
        BuildDeviceFilter({Deny('a', -1, -1), Allow('c', 1, 3), c.bad});
    ASSERT_FALSE(prog.ok()) << Describe({c.bad});
    EXPECT_TRUE(absl::IsInvalidArgument(prog.status())) << prog.status();
    EXPECT_THAT(std::string(prog.status().message()), HasSubstr("device rule 2"));
    EXPECT_THAT(std::string(prog.status().message()), HasSubstr(c.says));
    EXPECT_TRUE(absl::IsInvalidArgument(ValidateDeviceRules({c.bad})));
  }
}

bpf_insn Raw(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn insn;
  std::memset(&insn, 0, sizeof(insn));
  insn.code = code;
  insn.dst_reg = dst;
  insn.src_reg = src;
  insn.off = off;
  insn.imm = imm;
  return insn;
}

TEST(DeviceFilterTest, InterpreterRefusesWhatTheEmitterNeverWrites) {
  const bpf_insn exit = Raw(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  const bpf_insn r0_is_1 = Raw(BPF_ALU | BPF_MOV | BPF_K, 0, 0, 0, 1);
  const std::vector<std::vector<bpf_insn>> bad = {
      {},                                                              // runs off the end
      {r0_is_1},                                                       // no exit
      {exit},                                                          // r0 never set
      {Raw(BPF_ALU | BPF_MOV | BPF_K, 0, 0, 0, 2), exit},              // verdict 2
      {Raw(BPF_ALU64 | BPF_ADD | BPF_K, 0, 0, 0, 1), r0_is_1, exit},   // another opcode
      {Raw(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 12, 0), r0_is_1, exit},    // past the context
      {Raw(BPF_LDX | BPF_MEM | BPF_W, 2, 3, 0, 0), r0_is_1, exit},     // not from the context
      {Raw(BPF_ALU | BPF_MOV | BPF_X, 2, 4, 0, 0), r0_is_1, exit},     // unset register
      {r0_is_1, Raw(BPF_JMP32 | BPF_JNE | BPF_K, 0, 0, -2, 0), exit},  // backwards
      {r0_is_1, Raw(BPF_JMP32 | BPF_JNE | BPF_K, 0, 0, 5, 0), exit},   // past the end
      {Raw(BPF_ALU | BPF_MOV | BPF_K, 10, 0, 0, 1), r0_is_1, exit},    // writes r10
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    absl::StatusOr<bool> got = EvaluateDeviceFilter(bad[i], 'c', 1, 3, "rw");
    EXPECT_TRUE(absl::IsInvalidArgument(got.status())) << i << ": " << got.status();
  }
  absl::StatusOr<bool> good = EvaluateDeviceFilter({r0_is_1, exit}, 'c', 1, 3, "rw");
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_TRUE(*good);
  // And it refuses questions the kernel never asks.
  EXPECT_FALSE(EvaluateDeviceFilter({r0_is_1, exit}, 'a', 1, 3, "rw").ok());
  EXPECT_FALSE(EvaluateDeviceFilter({r0_is_1, exit}, 'c', 1, 3, "").ok());
  EXPECT_FALSE(EvaluateDeviceFilter({r0_is_1, exit}, 'c', 1, 3, "x").ok());
}

// ---- The real kernel ----

TEST(DeviceFilterKernelTest, TheVerifierAcceptsThePrograms) {
  if (::geteuid() != 0) GTEST_SKIP() << "BPF_PROG_LOAD needs root";
  std::vector<Rules> lists = InterestingLists();
  for (Rules& rules : RandomLists(20, 99)) lists.push_back(std::move(rules));
  Rules long_list = {Deny('a', -1, -1)};
  for (int i = 0; i < 500; ++i) long_list.push_back(Allow(i % 2 ? 'c' : 'b', i, i % 7, "rw"));
  lists.push_back(long_list);
  for (const Rules& rules : lists) {
    absl::StatusOr<std::vector<bpf_insn>> prog = BuildDeviceFilter(rules);
    ASSERT_TRUE(prog.ok()) << prog.status();
    absl::StatusOr<UniqueFd> fd = LoadDeviceFilter(*prog);
    EXPECT_TRUE(fd.ok()) << fd.status() << " for " << Describe(rules);
  }
}

TEST(DeviceFilterKernelTest, AVerifierRejectionSaysWhy) {
  if (::geteuid() != 0) GTEST_SKIP() << "BPF_PROG_LOAD needs root";
  // A device program may only return 0 or 1.
  std::vector<bpf_insn> prog = {Raw(BPF_ALU | BPF_MOV | BPF_K, 0, 0, 0, 2),
                                Raw(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)};
  absl::StatusOr<UniqueFd> fd = LoadDeviceFilter(prog);
  ASSERT_FALSE(fd.ok());
  EXPECT_THAT(std::string(fd.status().message()), HasSubstr("verifier: "));
  EXPECT_THAT(std::string(fd.status().message()), HasSubstr("R0"));
}

std::string UniqueName() {
  static std::atomic<int> n{0};
  return absl::StrCat("berth-devtest-", ::getpid(), "-", n++);
}

// A cgroup2 directory made for one test, removed on every exit path. Processes left in it
// are killed first.
class ScopedCgroup {
 public:
  explicit ScopedCgroup(std::string dir) : dir_(std::move(dir)) {}
  ScopedCgroup(const ScopedCgroup&) = delete;
  ScopedCgroup& operator=(const ScopedCgroup&) = delete;
  ~ScopedCgroup() {
    if (!made_) return;
    for (int i = 0; i < 200; ++i) {
      if (::rmdir(dir_.c_str()) == 0 || errno == ENOENT) return;
      absl::StatusOr<std::string> procs = ReadFile(dir_ + "/cgroup.procs");
      if (procs.ok()) {
        for (absl::string_view line : absl::StrSplit(*procs, '\n', absl::SkipEmpty())) {
          pid_t pid = 0;
          if (absl::SimpleAtoi(line, &pid)) ::kill(pid, SIGKILL);
        }
      }
      ::usleep(5000);
    }
    ADD_FAILURE() << "could not remove " << dir_ << ": " << std::strerror(errno);
  }

  absl::Status Make() {
    if (::mkdir(dir_.c_str(), 0755) != 0) return ErrnoToStatus("mkdir " + dir_);
    made_ = true;
    return absl::OkStatus();
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  bool made_ = false;
};

struct OpenResults {
  int null_errno = -1;  // 0: opened
  int full_errno = -1;
};

// /dev/null and /dev/full opened read-write from a child that `join` puts into a cgroup.
absl::StatusOr<OpenResults> OpenDevicesFrom(const std::function<absl::Status(pid_t)>& join) {
  absl::StatusOr<std::vector<int>> errs = ::berth::testing::OpenErrnosFrom({"/dev/null", "/dev/full"}, join);
  if (!errs.ok()) return errs.status();
  return OpenResults{(*errs)[0], (*errs)[1]};
}

// Attaches device programs to a fresh cgroup2 directory below our own cgroup. Works on a
// hybrid host too: BPF device programs need a cgroup2 directory, not a controller.
class DeviceFilterAttachTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "attaching device programs needs root";
    absl::StatusOr<std::string> mountinfo = ReadFile("/proc/self/mountinfo");
    absl::StatusOr<std::string> cgroup = ReadFile("/proc/self/cgroup");
    ASSERT_TRUE(mountinfo.ok() && cgroup.ok());
    mount_ = ParseCgroupV2Mount(*mountinfo, *cgroup);
    if (!mount_) GTEST_SKIP() << "no cgroup2 mount holds our cgroup";
    std::string own = mount_->mount_point;
    if (mount_->own_path != "/") own += mount_->own_path;
    cgroup_ = std::make_unique<ScopedCgroup>(absl::StrCat(own, "/", UniqueName()));
    absl::Status made = cgroup_->Make();
    ASSERT_TRUE(made.ok()) << made;
  }

  const std::string& dir() const { return cgroup_->dir(); }

  absl::Status Set(const Rules& rules) {
    absl::StatusOr<std::vector<bpf_insn>> prog = BuildDeviceFilter(rules);
    if (!prog.ok()) return prog.status();
    return kernel_.SetDeviceProgram(dir(), *prog);
  }

  absl::StatusOr<OpenResults> OpenFromInside() {
    return OpenDevicesFrom(
        [&](pid_t pid) { return WriteExisting(dir() + "/cgroup.procs", absl::StrCat(pid)); });
  }

  std::optional<CgroupMountV2> mount_;
  std::unique_ptr<ScopedCgroup> cgroup_;
  LinuxCgroupKernel kernel_;
};

TEST_F(DeviceFilterAttachTest, OnlyTheAllowedDevicesOpen) {
  absl::Status set = Set({Deny('a', -1, -1), Allow('c', 1, 3, "rw"), Allow('c', 1, 5, "rw")});
  ASSERT_TRUE(set.ok()) << set;
  absl::StatusOr<std::vector<uint32_t>> ids = QueryDeviceFilters(dir());
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_THAT(*ids, SizeIs(1));
  absl::StatusOr<OpenResults> opened = OpenFromInside();
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->null_errno, 0) << std::strerror(opened->null_errno);
  EXPECT_EQ(opened->full_errno, EPERM) << std::strerror(opened->full_errno);
  // Outside the cgroup nothing changed.
  absl::StatusOr<OpenResults> outside = OpenDevicesFrom([](pid_t) { return absl::OkStatus(); });
  ASSERT_TRUE(outside.ok()) << outside.status();
  EXPECT_EQ(outside->full_errno, 0);
}

TEST_F(DeviceFilterAttachTest, ReapplyReplacesTheProgram) {
  ASSERT_TRUE(Set({Deny('a', -1, -1), Allow('c', 1, 3, "rw")}).ok());
  absl::StatusOr<std::vector<uint32_t>> first = QueryDeviceFilters(dir());
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_THAT(*first, SizeIs(1));
  absl::StatusOr<OpenResults> before = OpenFromInside();
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->full_errno, EPERM);

  absl::Status set = Set({Deny('a', -1, -1), Allow('c', 1, 3, "rw"), Allow('c', 1, 7, "rw")});
  ASSERT_TRUE(set.ok()) << set;
  absl::StatusOr<std::vector<uint32_t>> second = QueryDeviceFilters(dir());
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_THAT(*second, SizeIs(1));
  EXPECT_NE((*second)[0], (*first)[0]);
  absl::StatusOr<OpenResults> after = OpenFromInside();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->null_errno, 0) << std::strerror(after->null_errno);
  EXPECT_EQ(after->full_errno, 0) << std::strerror(after->full_errno);

  // And back to stricter: read-only /dev/null refuses O_RDWR.
  ASSERT_TRUE(Set({Allow('c', 1, 3, "r")}).ok());
  EXPECT_THAT(*QueryDeviceFilters(dir()), SizeIs(1));
  absl::StatusOr<OpenResults> strict = OpenFromInside();
  ASSERT_TRUE(strict.ok()) << strict.status();
  EXPECT_EQ(strict->null_errno, EPERM);
  EXPECT_EQ(strict->full_errno, EPERM);
}

// The same through CgroupDriverV2 (which needs no controller for devices).
TEST_F(DeviceFilterAttachTest, TheV2DriverAppliesDeviceRules) {
  // Our test cgroup stands in as the driver's own: unlike ours, it holds no process, so the
  // driver may delegate controllers from it on a host that offers some.
  CgroupMountV2 mount = *mount_;
  mount.own_path = dir().substr(mount.mount_point.size());
  std::unique_ptr<CgroupDriver> driver = MakeCgroupDriverV2(mount);
  std::string name = "inner";
  absl::Status created = driver->Create(name).status();
  ASSERT_TRUE(created.ok()) << created;
  absl::Cleanup destroy = [&] { EXPECT_TRUE(driver->Destroy(name).ok()); };
  CgroupResources r;
  r.devices = Rules{Deny('a', -1, -1), Allow('c', 1, 3, "rwm")};
  absl::Status applied = driver->Apply(name, r, CgroupOrigin::kFound);
  ASSERT_TRUE(applied.ok()) << applied;
  absl::StatusOr<OpenResults> opened =
      OpenDevicesFrom([&](pid_t pid) { return driver->AddProcess(name, pid); });
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->null_errno, 0) << std::strerror(opened->null_errno);
  EXPECT_EQ(opened->full_errno, EPERM) << std::strerror(opened->full_errno);
}

}  // namespace
}  // namespace berth
