// Unit tests for runtime/seccomp: profile parsing and resolution, compiling with libseccomp,
// and (as root) what the kernel does for a process that loaded the compiled default profile.
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdint>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "runtime/seccomp/compiled_program.h"
#include "runtime/seccomp/seccomp_filter.h"
#include "runtime/seccomp/seccomp_profile.h"
#include "runtime/spec/spec.h"

namespace berth::seccomp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr uint64_t kNewNamespaceFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
                                        CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP;
constexpr long kX32SyscallBit = 0x40000000;

std::vector<std::string> With(std::vector<std::string> caps, const std::string& more) {
  caps.push_back(more);
  return caps;
}

spec::Seccomp ResolveDefault(const std::vector<std::string>& caps) {
  return Resolve(DefaultProfile(), caps);
}

// The rules naming `name`.
std::vector<spec::SeccompSyscall> RulesFor(const spec::Seccomp& seccomp, const std::string& name) {
  std::vector<spec::SeccompSyscall> rules;
  for (const spec::SeccompSyscall& rule : seccomp.syscalls) {
    if (std::find(rule.names.begin(), rule.names.end(), name) != rule.names.end()) rules.push_back(rule);
  }
  return rules;
}

bool AllowedUnconditionally(const spec::Seccomp& seccomp, const std::string& name) {
  for (const spec::SeccompSyscall& rule : RulesFor(seccomp, name)) {
    if (rule.action == "SCMP_ACT_ALLOW" && rule.args.empty()) return true;
  }
  return false;
}

// The highest native syscall number a resolved profile names (what the ENOSYS stub uses).
int HighestNative(const spec::Seccomp& seccomp) {
  int highest = -1;
  for (const spec::SeccompSyscall& rule : seccomp.syscalls) {
    for (const std::string& name : rule.names) {
      highest = std::max(highest, seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name.c_str()));
    }
  }
  return highest;
}

Program CompileOrDie(const spec::Seccomp& seccomp) {
  absl::StatusOr<Program> program = Compile(seccomp);
  EXPECT_TRUE(program.ok()) << program.status();
  return program.ok() ? *std::move(program) : Program{};
}

// ---------------------------------------------------------------------------------------------
// ParseProfile

TEST(SeccompProfileTest, DefaultProfileParses) {
  absl::StatusOr<Profile> profile = ParseProfile(DefaultProfileJson(), "default");
  ASSERT_TRUE(profile.ok()) << profile.status();
  EXPECT_EQ(*profile, DefaultProfile());
  EXPECT_EQ(profile->base.default_action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(profile->base.default_errno_ret, 1u);
  EXPECT_THAT(profile->base.architectures,
              ElementsAre("SCMP_ARCH_X86_64", "SCMP_ARCH_X86"));
  EXPECT_THAT(profile->base.syscalls, IsEmpty());
  ASSERT_FALSE(profile->rules.empty());
  EXPECT_EQ(profile->rules[0].rule.action, "SCMP_ACT_ALLOW");
  EXPECT_GT(profile->rules[0].rule.names.size(), 250u);
}

// The document is an OCI linux.seccomp object once the profile-only keys are taken out.
TEST(SeccompProfileTest, DefaultProfileIsOciWithoutConditions) {
  nlohmann::json doc = nlohmann::json::parse(DefaultProfileJson());
  for (nlohmann::json& entry : doc["syscalls"]) {
    entry.erase("includes");
    entry.erase("excludes");
  }
  absl::StatusOr<spec::Seccomp> seccomp = spec::ParseSeccomp(doc.dump(), "linux.seccomp");
  ASSERT_TRUE(seccomp.ok()) << seccomp.status();
  EXPECT_TRUE(spec::ValidateSeccomp(*seccomp, "linux.seccomp").ok());
  EXPECT_EQ(seccomp->syscalls.size(), DefaultProfile().rules.size());
}

// Every name is an x86-64 syscall: libseccomp resolves it to a real x86-64 number (not a pseudo
// number of another architecture), or it is one of the syscalls newer than this libseccomp.
TEST(SeccompProfileTest, DefaultProfileNamesX86_64Syscalls) {
  const std::set<std::string> newer_than_libseccomp_2_5_4 = {
      "file_getattr",      "file_setattr",     "getxattrat",        "listmount",
      "listxattrat",       "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr",
      "mseal",             "open_tree_attr",   "removexattrat",     "setxattrat",
      "statmount",
  };
  std::set<std::string> all;
  for (const ProfileRule& rule : DefaultProfile().rules) {
    for (const std::string& name : rule.rule.names) {
      all.insert(name);
      const int nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name.c_str());
      if (nr == __NR_SCMP_ERROR) {
        EXPECT_TRUE(newer_than_libseccomp_2_5_4.contains(name)) << name << " is unknown";
      } else {
        EXPECT_GE(nr, 0) << name << " is not an x86-64 syscall";
      }
    }
  }
  for (const char* denied :
       {"io_uring_setup", "io_uring_enter", "io_uring_register", "userfaultfd", "keyctl", "add_key",
        "request_key", "kexec_load", "kexec_file_load", "swapon", "swapoff", "_sysctl", "uselib",
        "ustat", "sysfs", "modify_ldt", "create_module", "get_kernel_syms", "query_module",
        "nfsservctl", "vm86", "vm86old", "memfd_secret", "move_pages", "migrate_pages"}) {
    EXPECT_FALSE(all.contains(denied)) << denied;
  }
}

absl::Status ParseError(const std::string& json) {
  absl::StatusOr<Profile> profile = ParseProfile(json, "security.seccomp_profile");
  return profile.ok() ? absl::OkStatus() : profile.status();
}

void ExpectFieldError(const std::string& json, const std::string& field_and_problem) {
  absl::Status status = ParseError(json);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << json << "\n" << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(field_and_problem)) << json;
}

TEST(SeccompProfileTest, BadDocumentsNameTheField) {
  ExpectFieldError("{\"defaultAction\": ", "security.seccomp_profile: is not valid JSON");
  ExpectFieldError("[]", "security.seccomp_profile: must be an object");
  ExpectFieldError(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
      {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["write"], "action": "SCMP_ACT_ALOW"}]})",
                   "security.seccomp_profile.syscalls[1].action: unknown action \"SCMP_ACT_ALOW\"");
  ExpectFieldError(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["socket"],
      "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_NOT"}]}]})",
                   "security.seccomp_profile.syscalls[0].args[0].op: unknown operator");
  ExpectFieldError(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["socket"],
      "action": "SCMP_ACT_ALLOW", "args": [{"index": 7, "value": 40, "op": "SCMP_CMP_EQ"}]}]})",
                   "security.seccomp_profile.syscalls[0].args[0].index: 7 is not a syscall argument");
  ExpectFieldError(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["mount"],
      "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN", "CAP_SYS_WIZARD"]}}]})",
                   "security.seccomp_profile.syscalls[0].includes.caps[1]: unknown capability "
                   "\"CAP_SYS_WIZARD\"");
  ExpectFieldError(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["mount"],
      "action": "SCMP_ACT_ALLOW", "excludes": {"caps": "CAP_SYS_ADMIN"}}]})",
                   "security.seccomp_profile.syscalls[0].excludes.caps: must be an array");
  ExpectFieldError(R"({"defaultAction": "SCMP_ACT_ERRNO", "listenerPath": "/run/agent.sock"})",
                   "security.seccomp_profile.listenerPath: is not supported");
  ExpectFieldError(R"({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1})",
                   "security.seccomp_profile.defaultAction: an errno return needs");
  ExpectFieldError(R"({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_Z80"]})",
                   "security.seccomp_profile.architectures[0]: unknown architecture");
  ExpectFieldError(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": [],
      "action": "SCMP_ACT_ALLOW"}]})",
                   "security.seccomp_profile.syscalls[0].names: must not be empty");
}

// Keys the parser does not know are refused, not dropped: each would make a rule apply more
// widely than its author meant.
TEST(SeccompProfileTest, UnknownKeysAreRefused) {
  ExpectFieldError(R"({"defaultAction": "SCMP_ACT_ERRNO", "archMap": []})",
                   "security.seccomp_profile.archMap: is not supported");
  ExpectFieldError(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["mount"],
      "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "5.8"}}]})",
                   "security.seccomp_profile.syscalls[0].includes.minKernel: is not supported");
  ExpectFieldError(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["mount"],
      "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["s390x"]}}]})",
                   "security.seccomp_profile.syscalls[0].excludes.arches: is not supported");
  ExpectFieldError(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "mount",
      "action": "SCMP_ACT_ALLOW"}]})",
                   "security.seccomp_profile.syscalls[0].name: is not supported");
  ExpectFieldError(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["clone"],
      "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "valuetwo": 0,
      "op": "SCMP_CMP_MASKED_EQ"}]}]})",
                   "security.seccomp_profile.syscalls[0].args[0].valuetwo: is not supported");
}

TEST(SeccompProfileTest, ConditionsAndCommentsAreRead) {
  absl::StatusOr<Profile> profile = ParseProfile(R"({
    "comment": "tiny", "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
    "flags": ["SECCOMP_FILTER_FLAG_LOG"],
    "syscalls": [
      {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "comment": "I/O"},
      {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
      {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
       "excludes": {"caps": ["CAP_SYS_ADMIN", "CAP_BPF"]}, "includes": {}}
    ]})",
                                                 "p");
  ASSERT_TRUE(profile.ok()) << profile.status();
  EXPECT_THAT(profile->base.flags, ElementsAre("SECCOMP_FILTER_FLAG_LOG"));
  ASSERT_EQ(profile->rules.size(), 3u);
  EXPECT_THAT(profile->rules[0].rule.names, ElementsAre("read", "write"));
  EXPECT_THAT(profile->rules[0].includes_caps, IsEmpty());
  EXPECT_THAT(profile->rules[1].includes_caps, ElementsAre("CAP_SYS_ADMIN"));
  EXPECT_THAT(profile->rules[2].excludes_caps, ElementsAre("CAP_SYS_ADMIN", "CAP_BPF"));
  EXPECT_THAT(profile->rules[2].includes_caps, IsEmpty());
  EXPECT_EQ(profile->rules[2].rule.errno_ret, 38u);
}

// ---------------------------------------------------------------------------------------------
// Resolve

TEST(SeccompResolveTest, DefaultCapabilities) {
  const spec::Seccomp seccomp = ResolveDefault(spec::DefaultCapabilities());
  EXPECT_EQ(seccomp.default_action, "SCMP_ACT_ERRNO");
  for (const char* name : {"mount", "umount2", "ptrace", "reboot", "setns", "bpf", "keyctl",
                           "clock_settime", "pidfd_getfd", "init_module", "open_by_handle_at"}) {
    EXPECT_THAT(RulesFor(seccomp, name), IsEmpty()) << name;
  }
  for (const char* name : {"read", "openat2", "statx", "execve", "fork", "wait4", "futex",
                           "epoll_pwait", "rseq", "sethostname", "chroot"}) {
    EXPECT_TRUE(AllowedUnconditionally(seccomp, name)) << name;
  }

  std::vector<spec::SeccompSyscall> clone = RulesFor(seccomp, "clone");
  ASSERT_EQ(clone.size(), 1u);
  EXPECT_EQ(clone[0].action, "SCMP_ACT_ALLOW");
  ASSERT_EQ(clone[0].args.size(), 1u);
  EXPECT_EQ(clone[0].args[0], (spec::SeccompArg{0, kNewNamespaceFlags, 0, "SCMP_CMP_MASKED_EQ"}));
  ASSERT_EQ(RulesFor(seccomp, "unshare").size(), 1u);
  EXPECT_EQ(RulesFor(seccomp, "unshare")[0].args, clone[0].args);

  std::vector<spec::SeccompSyscall> clone3 = RulesFor(seccomp, "clone3");
  ASSERT_EQ(clone3.size(), 1u);
  EXPECT_EQ(clone3[0].action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(clone3[0].errno_ret, static_cast<uint32_t>(ENOSYS));

  std::set<uint64_t> personalities;
  for (const spec::SeccompSyscall& rule : RulesFor(seccomp, "personality")) {
    ASSERT_EQ(rule.args.size(), 1u);
    EXPECT_EQ(rule.args[0].op, "SCMP_CMP_EQ");
    personalities.insert(rule.args[0].value);
  }
  EXPECT_EQ(personalities, (std::set<uint64_t>{0x0, 0x8, 0x20000, 0x20008, 0xffffffff}));

  std::vector<spec::SeccompSyscall> socket = RulesFor(seccomp, "socket");
  ASSERT_EQ(socket.size(), 1u);
  EXPECT_EQ(socket[0].args, (std::vector<spec::SeccompArg>{{0, AF_VSOCK, 0, "SCMP_CMP_NE"}}));
}

TEST(SeccompResolveTest, SysAdminOpensMountsAndNamespaces) {
  const spec::Seccomp seccomp = ResolveDefault(With(spec::DefaultCapabilities(), "CAP_SYS_ADMIN"));
  for (const char* name : {"mount", "umount2", "pivot_root", "setns", "unshare", "clone", "clone3",
                           "bpf", "perf_event_open", "fanotify_init", "name_to_handle_at"}) {
    EXPECT_TRUE(AllowedUnconditionally(seccomp, name)) << name;
  }
  // The conditional forms are gone, not merely overridden.
  for (const char* name : {"clone", "clone3", "unshare"}) {
    EXPECT_EQ(RulesFor(seccomp, name).size(), 1u) << name;
  }
  // Docker keeps file handles behind CAP_DAC_READ_SEARCH.
  EXPECT_THAT(RulesFor(seccomp, "open_by_handle_at"), IsEmpty());
  EXPECT_THAT(RulesFor(seccomp, "keyctl"), IsEmpty());
  EXPECT_THAT(RulesFor(seccomp, "ptrace"), IsEmpty());
}

TEST(SeccompResolveTest, OtherCapabilitiesOpenTheirGroups) {
  const std::vector<std::string> base = spec::DefaultCapabilities();
  EXPECT_TRUE(AllowedUnconditionally(ResolveDefault(With(base, "CAP_SYS_PTRACE")), "ptrace"));
  EXPECT_TRUE(AllowedUnconditionally(ResolveDefault(With(base, "CAP_SYS_PTRACE")), "pidfd_getfd"));
  EXPECT_TRUE(AllowedUnconditionally(ResolveDefault(With(base, "CAP_SYS_TIME")), "clock_settime"));
  EXPECT_TRUE(AllowedUnconditionally(ResolveDefault(With(base, "CAP_SYS_BOOT")), "reboot"));
  EXPECT_TRUE(AllowedUnconditionally(ResolveDefault(With(base, "CAP_SYS_MODULE")), "finit_module"));
  EXPECT_TRUE(AllowedUnconditionally(ResolveDefault(With(base, "CAP_DAC_READ_SEARCH")),
                                     "open_by_handle_at"));
  EXPECT_TRUE(AllowedUnconditionally(ResolveDefault(With(base, "CAP_BPF")), "bpf"));
  EXPECT_FALSE(AllowedUnconditionally(ResolveDefault(With(base, "CAP_BPF")), "mount"));
  // Without CAP_SYS_CHROOT, no chroot.
  std::vector<std::string> no_chroot = base;
  std::erase(no_chroot, "CAP_SYS_CHROOT");
  EXPECT_THAT(RulesFor(ResolveDefault(no_chroot), "chroot"), IsEmpty());
}

TEST(SeccompResolveTest, IncludesNeedAllExcludesAny) {
  absl::StatusOr<Profile> profile = ParseProfile(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
      {"names": ["a"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_BPF", "CAP_PERFMON"]}},
      {"names": ["b"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_BPF", "CAP_PERFMON"]}}]})",
                                                 "p");
  ASSERT_TRUE(profile.ok()) << profile.status();
  auto names = [&](const std::vector<std::string>& caps) {
    std::vector<std::string> out;
    for (const spec::SeccompSyscall& rule : Resolve(*profile, caps).syscalls) out.push_back(rule.names[0]);
    return out;
  };
  EXPECT_THAT(names({}), ElementsAre("b"));
  EXPECT_THAT(names({"CAP_BPF"}), IsEmpty());
  EXPECT_THAT(names({"CAP_PERFMON", "CAP_BPF"}), ElementsAre("a"));
}

// ---------------------------------------------------------------------------------------------
// Compile

TEST(SeccompCompileTest, DefaultProfileCompiles) {
  const spec::Seccomp seccomp = ResolveDefault(spec::DefaultCapabilities());
  Program program = CompileOrDie(seccomp);
  ASSERT_FALSE(program.instructions.empty());
  EXPECT_LE(program.instructions.size(), static_cast<size_t>(BPF_MAXINSNS));
  EXPECT_EQ(program.flags, 0u);
  for (const std::string& name : program.unknown_names) {
    EXPECT_EQ(seccomp_syscall_resolve_name(name.c_str()), __NR_SCMP_ERROR) << name;
  }
  EXPECT_TRUE(std::is_sorted(program.unknown_names.begin(), program.unknown_names.end()));

  // The ENOSYS stub comes first: arch check, x32 check, then "nr > highest" -> ENOSYS.
  ASSERT_GE(program.instructions.size(), 7u);
  const std::vector<sock_filter>& bpf = program.instructions;
  EXPECT_EQ(bpf[0].code, BPF_LD | BPF_W | BPF_ABS);
  EXPECT_EQ(bpf[0].k, 4u);  // seccomp_data.arch
  EXPECT_EQ(bpf[1].k, static_cast<uint32_t>(AUDIT_ARCH_X86_64));
  EXPECT_EQ(bpf[3].code, BPF_JMP | BPF_JSET | BPF_K);
  EXPECT_EQ(bpf[3].k, static_cast<uint32_t>(kX32SyscallBit));
  EXPECT_EQ(bpf[4].code, BPF_JMP | BPF_JGT | BPF_K);
  EXPECT_EQ(bpf[4].k, static_cast<uint32_t>(HighestNative(seccomp)));
  EXPECT_EQ(bpf[5].code, BPF_RET | BPF_K);
  EXPECT_EQ(bpf[5].k, SECCOMP_RET_ERRNO | ENOSYS);
  // libseccomp's own program starts by loading the arch again.
  EXPECT_EQ(bpf[6].code, BPF_LD | BPF_W | BPF_ABS);
  EXPECT_EQ(bpf[6].k, 4u);
  std::cout << "default profile: " << program.instructions.size() << " BPF instructions, highest "
            << "native syscall named " << HighestNative(seccomp) << ", unknown to libseccomp: "
            << program.unknown_names.size() << "\n";
}

TEST(SeccompCompileTest, UnknownNamesAreSkippedAndListed) {
  spec::Seccomp seccomp;
  seccomp.default_action = "SCMP_ACT_ERRNO";
  seccomp.syscalls = {{{"getpid", "berth_no_such_syscall", "read"}, "SCMP_ACT_ALLOW", {}, {}},
                      {{"another_missing_one", "berth_no_such_syscall"}, "SCMP_ACT_LOG", {}, {}}};
  Program program = CompileOrDie(seccomp);
  EXPECT_FALSE(program.instructions.empty());
  EXPECT_THAT(program.unknown_names, ElementsAre("another_missing_one", "berth_no_such_syscall"));
}

TEST(SeccompCompileTest, NoStubUnlessTheDefaultIsAnErrno) {
  spec::Seccomp seccomp;
  seccomp.default_action = "SCMP_ACT_ALLOW";
  seccomp.syscalls = {{{"getppid"}, "SCMP_ACT_ERRNO", 42, {}}};
  Program program = CompileOrDie(seccomp);
  for (const sock_filter& insn : program.instructions) {
    EXPECT_FALSE(insn.code == (BPF_RET | BPF_K) && insn.k == (SECCOMP_RET_ERRNO | ENOSYS));
  }
}

TEST(SeccompCompileTest, RulesEqualToTheDefaultAreSkipped) {
  spec::Seccomp seccomp;
  seccomp.default_action = "SCMP_ACT_ERRNO";
  seccomp.syscalls = {{{"keyctl"}, "SCMP_ACT_ERRNO", {}, {}},   // EPERM, as the default
                      {{"bpf"}, "SCMP_ACT_ERRNO", 1, {}},
                      {{"read"}, "SCMP_ACT_ALLOW", {}, {}}};
  EXPECT_TRUE(Compile(seccomp).ok()) << Compile(seccomp).status();
}

TEST(SeccompCompileTest, FlagsAndErrors) {
  spec::Seccomp seccomp;
  seccomp.default_action = "SCMP_ACT_ERRNO";
  seccomp.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC",
                   "SECCOMP_FILTER_FLAG_SPEC_ALLOW"};
  seccomp.syscalls = {{{"read"}, "SCMP_ACT_ALLOW", {}, {}}};
  EXPECT_EQ(CompileOrDie(seccomp).flags, SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW);

  // Two conditions on one argument: libseccomp cannot AND them, and OR would allow more.
  spec::Seccomp twice = seccomp;
  twice.syscalls.push_back({{"write"},
                            "SCMP_ACT_ALLOW",
                            {},
                            {{0, 1, 0, "SCMP_CMP_GE"}, {0, 2, 0, "SCMP_CMP_LE"}}});
  absl::StatusOr<Program> program = Compile(twice);
  EXPECT_EQ(program.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(program.status().message()),
              HasSubstr("linux.seccomp.syscalls[1].args[1].index: a second condition on argument 0"));

  spec::Seccomp big_errno = seccomp;
  big_errno.syscalls.push_back({{"write"}, "SCMP_ACT_ERRNO", 70000, {}});
  program = Compile(big_errno);
  EXPECT_EQ(program.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(program.status().message()), HasSubstr("linux.seccomp.syscalls[1].action"));

  spec::Seccomp bad_action = seccomp;
  bad_action.default_action = "SCMP_ACT_NOTIFY";
  EXPECT_EQ(Compile(bad_action).status().code(), absl::StatusCode::kInvalidArgument);
}

// The agent's compiled program goes to the monitor only with the very config.json it was
// written beside: any other bytes there (edited, replaced, from an older agent) are compiled anew.
TEST(SeccompCompiledProgramTest, IsTiedToTheExactConfigJson) {
  spec::Seccomp seccomp;
  seccomp.default_action = "SCMP_ACT_ERRNO";
  seccomp.flags = {"SECCOMP_FILTER_FLAG_LOG"};
  seccomp.syscalls = {{{"read", "write"}, "SCMP_ACT_ALLOW", {}, {}}};
  const Program program = CompileOrDie(seccomp);
  const std::string config = R"({"ociVersion": "1.0.2", "linux": {"seccomp": {"defaultAction": "SCMP_ACT_ERRNO"}}})";
  const std::string bytes = EncodeProgram(program, config);

  std::optional<Program> back = DecodeProgram(bytes, config);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->flags, program.flags);
  ASSERT_EQ(back->instructions.size(), program.instructions.size());
  EXPECT_EQ(std::memcmp(back->instructions.data(), program.instructions.data(),
                        program.instructions.size() * sizeof(sock_filter)),
            0);

  std::string edited = config;
  edited[edited.find("ERRNO")] = 'e';
  EXPECT_FALSE(DecodeProgram(bytes, edited).has_value());
  EXPECT_FALSE(DecodeProgram(bytes, config + "\n").has_value());
  EXPECT_FALSE(DecodeProgram(bytes, "").has_value());
  EXPECT_FALSE(DecodeProgram(bytes.substr(0, bytes.size() - 1), config).has_value());
  EXPECT_FALSE(DecodeProgram(bytes + std::string(sizeof(sock_filter), '\0'), config).has_value());
  std::string other_magic = bytes;
  other_magic[7] = '1';  // the format before, which carried the profile's own text
  EXPECT_FALSE(DecodeProgram(other_magic, config).has_value());
  EXPECT_FALSE(DecodeProgram(EncodeProgram(Program{}, config), config).has_value());  // no instructions
}

TEST(SeccompCompileTest, CompileTimeOfTheDefaultProfile) {
  const spec::Seccomp seccomp = ResolveDefault(spec::DefaultCapabilities());
  std::vector<double> micros;
  size_t size = 0;
  for (int i = 0; i < 50; ++i) {
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<Program> program = Compile(seccomp);
    const auto end = std::chrono::steady_clock::now();
    ASSERT_TRUE(program.ok()) << program.status();
    size = program->instructions.size();
    micros.push_back(std::chrono::duration<double, std::micro>(end - start).count());
  }
  std::sort(micros.begin(), micros.end());
  const double median = (micros[24] + micros[25]) / 2;
  std::cout << "Compile(default profile, default caps): median " << median << " us, min "
            << micros.front() << " us, max " << micros.back() << " us over 50 runs; " << size
            << " instructions\n";
  RecordProperty("compile_median_us", std::to_string(median));
  RecordProperty("instructions", std::to_string(size));
  EXPECT_LT(median, 1e6);  // a sanity bound only
}

TEST(SeccompCompileTest, LoadRefusesAnEmptyProgram) {
  EXPECT_EQ(LoadOrErrno(Program{}), EINVAL);
  EXPECT_EQ(Load(Program{}).code(), absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// The kernel: a forked child sets no_new_privs, loads the program and runs probes, reporting
// each result (value, errno) through a pipe. Probes are plain functions: the child runs only
// them between Load and _exit.

struct ProbeResult {
  long value = 0;
  int err = 0;  // errno when value is -1
};

using Probe = long (*)();

// The highest native number the profile names, for the boundary probes (set before fork).
long g_highest = 0;

long Raw(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0) {
  return ::syscall(nr, a, b, c, d, e);
}

// A fork (clone without namespace flags, through libc) whose child exits at once.
long ForkAndReap() {
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) ::_exit(0);
  int status = 0;
  return ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) ? 0 : -2;
}

// A raw clone with `flags`; if it succeeds, its child exits at once and is reaped.
long CloneAndReap(long flags) {
  long pid = ::syscall(SYS_clone, flags | SIGCHLD, 0L, 0L, 0L, 0L);
  if (pid < 0) return -1;
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(static_cast<pid_t>(pid), &status, 0);
  return 0;
}

std::map<std::string, ProbeResult> RunFiltered(const Program& program,
                                               const std::vector<std::pair<std::string, Probe>>& probes) {
  std::map<std::string, ProbeResult> results;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << errno;
    return results;
  }
  std::vector<Probe> fns;
  for (const auto& [name, fn] : probes) fns.push_back(fn);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(3);
    if (LoadOrErrno(program) != 0) ::_exit(4);
    for (Probe fn : fns) {
      errno = 0;
      ProbeResult r;
      r.value = fn();
      r.err = r.value < 0 ? errno : 0;
      if (::write(fds[1], &r, sizeof(r)) != sizeof(r)) ::_exit(5);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::vector<ProbeResult> got;
  ProbeResult r;
  while (::read(fds[0], &r, sizeof(r)) == sizeof(r)) got.push_back(r);
  ::close(fds[0]);
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "child status " << status << " (3: no_new_privs, 4: Load failed, signal: killed by the filter)";
  EXPECT_EQ(got.size(), probes.size());
  for (size_t i = 0; i < got.size() && i < probes.size(); ++i) results[probes[i].first] = got[i];
  return results;
}

void ExpectErrno(const std::map<std::string, ProbeResult>& results, const std::string& probe, int err) {
  auto it = results.find(probe);
  ASSERT_NE(it, results.end()) << probe;
  EXPECT_EQ(it->second.value, -1) << probe;
  EXPECT_EQ(it->second.err, err) << probe << ": errno " << it->second.err << " (" << strerror(it->second.err)
                                 << "), want " << err << " (" << strerror(err) << ")";
}

void ExpectWorks(const std::map<std::string, ProbeResult>& results, const std::string& probe) {
  auto it = results.find(probe);
  ASSERT_NE(it, results.end()) << probe;
  EXPECT_GE(it->second.value, 0) << probe << ": errno " << it->second.err << " (" << strerror(it->second.err) << ")";
}

// A result the filter did not make: the kernel's own answer (success or an ordinary error).
void ExpectNotFiltered(const std::map<std::string, ProbeResult>& results, const std::string& probe) {
  auto it = results.find(probe);
  ASSERT_NE(it, results.end()) << probe;
  if (it->second.value < 0) {
    EXPECT_NE(it->second.err, EPERM) << probe;
    EXPECT_NE(it->second.err, ENOSYS) << probe;
  }
}

constexpr char kMissingTarget[] = "/nonexistent-berth-seccomp-test";

const std::vector<std::pair<std::string, Probe>>& KernelProbes() {
  static const auto* probes = new std::vector<std::pair<std::string, Probe>>{
      {"getpid", +[] { return Raw(SYS_getpid); }},
      {"getppid", +[] { return Raw(SYS_getppid); }},
      // A missing target: without the filter this is ENOENT, never a mount.
      {"mount", +[] {
         return Raw(SYS_mount, reinterpret_cast<long>("none"), reinterpret_cast<long>(kMissingTarget),
                    reinterpret_cast<long>("tmpfs"), 0, 0);
       }},
      {"unshare(CLONE_NEWNS)", +[] { return Raw(SYS_unshare, CLONE_NEWNS); }},
      {"unshare(0)", +[] { return Raw(SYS_unshare, 0); }},
      {"unshare(CLONE_FILES)", +[] { return Raw(SYS_unshare, CLONE_FILES); }},
      // NULL args of size 0: EINVAL from the kernel, never a process.
      {"clone3", +[] { return Raw(SYS_clone3, 0, 0); }},
      {"fork", +[] { return ForkAndReap(); }},
      {"clone(CLONE_NEWUSER)", +[] { return CloneAndReap(CLONE_NEWUSER); }},
      {"clone(CLONE_NEWNS)", +[] { return CloneAndReap(CLONE_NEWNS); }},
      {"nr 1000", +[] { return Raw(1000); }},
      {"nr 469", +[] { return Raw(469, -1); }},  // file_setattr on 6.17+ kernels
      {"highest named", +[] { return Raw(g_highest); }},
      {"highest named + 1", +[] { return Raw(g_highest + 1, -1); }},
      {"keyctl", +[] { return Raw(SYS_keyctl, 0 /*KEYCTL_GET_KEYRING_ID*/, -1, 0); }},
      // x32's keyctl: the default profile does not cover x32, so x32 numbers get ENOSYS, as
      // from a kernel without x32 (not libseccomp's bad-architecture kill).
      {"x32 keyctl", +[] { return Raw(kX32SyscallBit | 250, 0, -1, 0); }},
      {"bpf", +[] { return Raw(SYS_bpf, -1, 0, 0); }},
      {"io_uring_setup", +[] { return Raw(SYS_io_uring_setup, 0, 0); }},
      {"personality(query)", +[] { return Raw(SYS_personality, 0xffffffffL); }},
      {"personality(ADDR_NO_RANDOMIZE)", +[] { return Raw(SYS_personality, ADDR_NO_RANDOMIZE); }},
      {"personality(READ_IMPLIES_EXEC)", +[] { return Raw(SYS_personality, READ_IMPLIES_EXEC); }},
      {"socket(AF_VSOCK)", +[] {
         long fd = Raw(SYS_socket, AF_VSOCK, SOCK_STREAM, 0);
         if (fd >= 0) ::close(static_cast<int>(fd));
         return fd;
       }},
      {"socket(AF_UNIX)", +[] {
         long fd = Raw(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
         if (fd >= 0) ::close(static_cast<int>(fd));
         return fd;
       }},
      // Without the filter: EBADF / EFAULT, never a change.
      {"pidfd_getfd", +[] { return Raw(SYS_pidfd_getfd, -1, 0, 0); }},
      {"clock_settime", +[] { return Raw(SYS_clock_settime, CLOCK_REALTIME, 0); }},
      // These two change the child for good (a tracer, a user namespace without mappings) when
      // the filter lets them through: last.
      {"ptrace(PTRACE_TRACEME)", +[] { return Raw(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0); }},
      {"unshare(CLONE_NEWUSER)", +[] { return Raw(SYS_unshare, CLONE_NEWUSER); }},
  };
  return *probes;
}

class SeccompKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (the probes compare with what root may do)";
    if (seccomp_arch_native() != SCMP_ARCH_X86_64) GTEST_SKIP() << "x86-64 only";
  }

  std::map<std::string, ProbeResult> RunDefault(const std::vector<std::string>& caps) {
    const spec::Seccomp seccomp = ResolveDefault(caps);
    g_highest = HighestNative(seccomp);
    return RunFiltered(CompileOrDie(seccomp), KernelProbes());
  }
};

TEST_F(SeccompKernelTest, DefaultProfileWithDefaultCapabilities) {
  const auto results = RunDefault(spec::DefaultCapabilities());
  ExpectWorks(results, "getpid");
  ExpectWorks(results, "getppid");
  ExpectErrno(results, "mount", EPERM);
  ExpectErrno(results, "unshare(CLONE_NEWUSER)", EPERM);
  ExpectErrno(results, "unshare(CLONE_NEWNS)", EPERM);
  ExpectWorks(results, "unshare(0)");
  ExpectWorks(results, "unshare(CLONE_FILES)");
  ExpectErrno(results, "clone3", ENOSYS);
  ExpectWorks(results, "fork");
  ExpectErrno(results, "clone(CLONE_NEWUSER)", EPERM);
  ExpectErrno(results, "clone(CLONE_NEWNS)", EPERM);
  ExpectErrno(results, "nr 1000", ENOSYS);
  // file_setattr (469) is the newest on 6.17+ kernels; above what this libseccomp knows.
  if (g_highest < 469) ExpectErrno(results, "nr 469", ENOSYS);
  ExpectNotFiltered(results, "highest named");
  ExpectErrno(results, "highest named + 1", ENOSYS);
  ExpectErrno(results, "keyctl", EPERM);
  ExpectErrno(results, "x32 keyctl", ENOSYS);
  ExpectErrno(results, "bpf", EPERM);
  ExpectErrno(results, "io_uring_setup", EPERM);
  ExpectWorks(results, "personality(query)");
  ExpectErrno(results, "personality(ADDR_NO_RANDOMIZE)", EPERM);
  ExpectErrno(results, "personality(READ_IMPLIES_EXEC)", EPERM);
  ExpectErrno(results, "socket(AF_VSOCK)", EPERM);
  ExpectWorks(results, "socket(AF_UNIX)");
  ExpectErrno(results, "pidfd_getfd", EPERM);
  ExpectErrno(results, "clock_settime", EPERM);
  ExpectErrno(results, "ptrace(PTRACE_TRACEME)", EPERM);
}

TEST_F(SeccompKernelTest, DefaultProfileWithSysAdmin) {
  const auto results = RunDefault(With(spec::DefaultCapabilities(), "CAP_SYS_ADMIN"));
  ExpectWorks(results, "getpid");
  ExpectErrno(results, "mount", ENOENT);  // the kernel's answer: the filter let it through
  ExpectWorks(results, "unshare(CLONE_NEWNS)");  // only this throwaway child's namespace
  ExpectWorks(results, "clone(CLONE_NEWNS)");
  ExpectWorks(results, "fork");
  ExpectErrno(results, "clone3", EINVAL);  // reached the kernel, which wants a real struct
  ExpectErrno(results, "nr 1000", ENOSYS);
  ExpectErrno(results, "keyctl", EPERM);
  ExpectErrno(results, "ptrace(PTRACE_TRACEME)", EPERM);
  ExpectErrno(results, "socket(AF_VSOCK)", EPERM);
}

TEST_F(SeccompKernelTest, DefaultProfileWithPtraceAndTime) {
  std::vector<std::string> caps = With(With(spec::DefaultCapabilities(), "CAP_SYS_PTRACE"), "CAP_SYS_TIME");
  const auto results = RunDefault(caps);
  ExpectErrno(results, "pidfd_getfd", EBADF);
  ExpectErrno(results, "clock_settime", EFAULT);
  ExpectErrno(results, "mount", EPERM);
}

TEST_F(SeccompKernelTest, CustomProfileErrno) {
  absl::StatusOr<Profile> profile = ParseProfile(R"({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42}]})",
                                                 "custom");
  ASSERT_TRUE(profile.ok()) << profile.status();
  Program program = CompileOrDie(Resolve(*profile, {}));
  const auto results = RunFiltered(program, {{"getppid", +[] { return Raw(SYS_getppid); }},
                                             {"getpid", +[] { return Raw(SYS_getpid); }},
                                             {"nr 1000", +[] { return Raw(1000); }}});
  ExpectErrno(results, "getppid", 42);
  ExpectWorks(results, "getpid");
  ExpectErrno(results, "nr 1000", ENOSYS);  // the kernel's own answer: ALLOW lets it through
}

TEST_F(SeccompKernelTest, LoadNeedsNoNewPrivsOrSysAdmin) {
  // Root holds CAP_SYS_ADMIN, so here Load works without no_new_privs too; it installs a filter
  // that allows everything, in a child.
  spec::Seccomp allow_all;
  allow_all.default_action = "SCMP_ACT_ALLOW";
  Program program = CompileOrDie(allow_all);
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(Load(program).ok() ? 0 : 1);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace berth::seccomp
