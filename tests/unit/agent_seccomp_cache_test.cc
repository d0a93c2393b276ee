#include "agent/seccomp_cache.h"

#include <gtest/gtest.h>

#include <string>

#include "runtime/seccomp/compiled_program.h"
#include "runtime/seccomp/seccomp_filter.h"

namespace berth::agent {
namespace {

// A small profile: everything fails with EPERM but read, write and `allowed`.
spec::Seccomp Profile(const std::string& allowed) {
  spec::Seccomp profile;
  profile.default_action = "SCMP_ACT_ERRNO";
  profile.architectures = {"SCMP_ARCH_X86_64"};
  spec::SeccompSyscall rule;
  rule.names = {"read", "write", allowed};
  rule.action = "SCMP_ACT_ALLOW";
  profile.syscalls.push_back(rule);
  return profile;
}

// What an uncached compile of `profile` encodes for `config_json`.
std::string CompiledFresh(const spec::Seccomp& profile, const std::string& config_json) {
  absl::StatusOr<seccomp::Program> program = seccomp::Compile(profile);
  EXPECT_TRUE(program.ok()) << program.status();
  return program.ok() ? seccomp::EncodeProgram(*program, config_json) : "";
}

TEST(SeccompCacheTest, EachProfileGetsItsOwnProgramAgainAndAgain) {
  SeccompCache cache;
  const spec::Seccomp with_getpid = Profile("getpid");
  const spec::Seccomp with_getppid = Profile("getppid");
  for (int round = 0; round < 3; ++round) {
    const std::string config = "{\"round\": " + std::to_string(round) + "}";
    absl::StatusOr<std::string> first = cache.Encoded(with_getpid, config);
    absl::StatusOr<std::string> second = cache.Encoded(with_getppid, config);
    ASSERT_TRUE(first.ok()) << first.status();
    ASSERT_TRUE(second.ok()) << second.status();
    EXPECT_EQ(*first, CompiledFresh(with_getpid, config));
    EXPECT_EQ(*second, CompiledFresh(with_getppid, config));
    EXPECT_NE(*first, *second);
  }
}

TEST(SeccompCacheTest, AnErrnoOrArgumentDifferenceIsADifferentProfile) {
  SeccompCache cache;
  spec::Seccomp base = Profile("getpid");
  spec::Seccomp other_errno = base;
  other_errno.default_errno_ret = 38;  // ENOSYS
  spec::Seccomp with_arg = base;
  with_arg.syscalls[0].args.push_back({0, 1, 0, "SCMP_CMP_EQ"});
  const std::string config = "{}";
  for (const spec::Seccomp* profile : {&base, &other_errno, &with_arg, &base}) {
    absl::StatusOr<std::string> bytes = cache.Encoded(*profile, config);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_EQ(*bytes, CompiledFresh(*profile, config));
  }
}

TEST(SeccompCacheTest, StaysRightPastItsBound) {
  SeccompCache cache;
  const char* names[] = {"getpid", "getppid", "getuid", "geteuid", "getgid", "getegid", "gettid",
                         "uname", "sync", "pause", "getpgrp", "setsid", "umask", "getcwd", "chdir",
                         "fchdir", "alarm", "nanosleep", "sched_yield", "times", "sysinfo", "getrusage",
                         "getpriority", "capget", "personality", "mlockall", "munlockall", "vhangup",
                         "acct", "sethostname", "setdomainname", "iopl", "ioperm", "gettimeofday",
                         "time", "getrlimit", "dup", "dup2", "close", "fsync"};
  const std::string config = "{}";
  for (int pass = 0; pass < 2; ++pass) {
    for (const char* name : names) {
      absl::StatusOr<std::string> bytes = cache.Encoded(Profile(name), config);
      ASSERT_TRUE(bytes.ok()) << bytes.status();
      EXPECT_EQ(*bytes, CompiledFresh(Profile(name), config)) << name;
    }
  }
}

}  // namespace
}  // namespace berth::agent
