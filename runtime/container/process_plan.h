// The last steps before a process's execve, in two halves. Planning runs in the parent, with
// the heap: capability names become numbers, PATH becomes the candidates to try, rlimit names
// become resources. Applying is syscalls only and allocates nothing, so a child that shares
// its parent's memory (CLONE_VM | CLONE_VFORK) can apply a plan and leave nothing behind in
// that memory; what it reports is a step and an errno, which the parent turns into a status.
// The same appliers serve every process Berth starts (a container's init, forked execs).
#pragma once

#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/spec/spec.h"

namespace berth::seccomp {
struct Program;
}

namespace berth::container_internal {

enum class ProcessStep : int {
  kNone = 0,
  kChdir,
  kCwdOutsideRoot,
  kDupStdio,      // detail: the fd number (0-2) being set up
  kDup2Stdio,     // detail: the fd number (0-2)
  kRlimit,        // detail: the index in ProcessPlan::rlimits
  kKeepPreservedFd,  // detail: the fd
  kCloseRange,
  kSeccomp,
  kDropBounding,  // detail: the capability
  kSetKeepcaps,
  kSetgroups,
  kSetresgid,
  kSetresuid,
  kClearKeepcaps,
  kSetCapabilities,
  kClearAmbient,
  kRaiseAmbient,  // detail: the capability
  kNoNewPrivs,
  kExec,          // a name with a '/', or a candidate that failed for a reason other than absence
                  // (detail: the candidate's index, -1 for the name itself)
  kExecSearch,    // no candidate on PATH could be run (err: ENOENT, or EACCES if one was denied)
};

// What a child that cannot allocate reports.
struct ProcessFailure {
  ProcessStep step = ProcessStep::kNone;
  int err = 0;
  int detail = 0;
};

struct CredentialPlan {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  bool capabilities = false;  // false: the kernel's defaults for the ids apply
  int last_cap = 0;           // the kernel's highest capability
  uint64_t bounding = 0;      // kept in the bounding set, one bit per capability
  __user_cap_data_struct sets[_LINUX_CAPABILITY_U32S_3] = {};  // effective, permitted, inheritable
  std::vector<int> ambient;
};

struct RlimitPlan {
  int resource = 0;
  struct rlimit limit = {};
  spec::Rlimit requested;  // for the message
};

struct ExecPlan {
  std::string name;                     // args[0]
  std::vector<std::string> candidates;  // name itself, or each PATH entry joined with it
  std::string path_var;                 // what was searched, for the message
  bool searched = false;                // name had no '/'
  // Into the process's args and env, which must outlive the plan.
  std::vector<char*> argv;
  std::vector<char*> envp;
};

struct ProcessPlan {
  std::string cwd = "/";
  int stdio[3] = {-1, -1, -1};  // the fds that become 0, 1 and 2 (no terminal)
  std::vector<RlimitPlan> rlimits;
  int preserve_fds = 0;
  const seccomp::Program* seccomp_early = nullptr;  // without no_new_privs: before the id switch
  std::optional<CredentialPlan> credentials;
  bool no_new_privileges = false;
  const seccomp::Program* seccomp_late = nullptr;  // with no_new_privs: right before execve
  ExecPlan exec;
};

// Before any clone: a hard limit above the caller's own needs CAP_SYS_RESOURCE; without it
// the request fails here, naming the rlimit, rather than deep inside the child.
absl::Status CheckRlimitsAllowed(const std::vector<spec::Rlimit>& rlimits);
absl::StatusOr<CredentialPlan> PlanCredentials(const spec::User& user,
                                               const std::optional<spec::Capabilities>& capabilities);
absl::StatusOr<std::vector<RlimitPlan>> PlanRlimits(const std::vector<spec::Rlimit>& rlimits);
// `process` must outlive the plan (argv and envp point into it).
absl::StatusOr<ExecPlan> PlanExec(const spec::Process& process);
// A process without a terminal whose fds 0-2 come from `stdio` (-1: `devnull_fd`).
absl::StatusOr<ProcessPlan> PlanProcess(const spec::Process& process, const int stdio[3], int devnull_fd,
                                        const seccomp::Program* seccomp, int preserve_fds);

// The appliers: true on success; on failure `failure` says where, and they return false.
// Allocation-free, like everything they call.
bool ApplyChdir(const std::string& dir, ProcessFailure* failure);
bool ApplyStdio(const int stdio[3], ProcessFailure* failure);
bool ApplyRlimitPlans(const std::vector<RlimitPlan>& rlimits, ProcessFailure* failure);
bool ApplyMarkFdsCloseOnExec(int preserve_fds, ProcessFailure* failure);
bool ApplySeccomp(const seccomp::Program* seccomp, ProcessFailure* failure);
bool ApplyCredentials(const CredentialPlan& plan, ProcessFailure* failure);
bool ApplyNoNewPrivileges(ProcessFailure* failure);
// Returns only on failure (false).
bool ApplyExec(const ExecPlan& plan, ProcessFailure* failure);
// Signals reset, then every step of `plan` in order, then execve: returns only on failure.
bool ApplyProcessPlan(const ProcessPlan& plan, ProcessFailure* failure);

// The status a failure stands for, with the same text as the step's own function gives
// (ChangeDirectory, SwitchUserAndCapabilities, ExecProcess...) and the errno remembered.
absl::Status DescribeFailure(const ProcessPlan& plan, const ProcessFailure& failure);

}  // namespace berth::container_internal
