// The payloads of the agent <-> shim messages (shim_protocol.h says which message carries
// which) as typed structs, and their one encoding (JSON). Both sides build and read messages
// only through these.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "runtime/spec/spec.h"

namespace berth::shim {

// kExec: one more process in the running container.
struct ExecRequest {
  spec::Process process;  // args must not be empty, cwd must be absolute
  bool stdin = false;     // hand back a stdin writer (without a terminal)
};

// kExecStarted: the exec's process (the shim's child), whose exit code comes later as kExit.
struct ExecStarted {
  int pid = 0;
};

// kAttach / kAttached: whether the client asked for, and got, the container's stdin.
struct AttachRequest {
  bool stdin = false;
};
struct Attached {
  bool stdin = false;
};

// kDropped: attach output the client missed since it last kept up.
struct Dropped {
  uint64_t bytes = 0;
};

// kStarted: the reply to kStart.
struct Started {
  int64_t started_at_ns = 0;  // unix time in nanoseconds
};

// kKill: a signal to init, or with `all` to every process of the container, or with
// `exec_pid` to the process of that exec (the pid its kExecStarted named) alone.
struct KillRequest {
  int signal = 0;  // 1..64
  bool all = false;
  int exec_pid = 0;
};

// kUpdate: the limits the agent manages, in full (0: no limit); the rest of the container's
// linux.resources (devices, cpusets, ...) stays as created.
struct ResourceLimits {
  int64_t memory_limit_bytes = 0;
  int64_t cpu_quota_us = 0;  // per cpu_period_us
  uint64_t cpu_period_us = 0;
  uint64_t cpu_shares = 0;
  int64_t pids_limit = 0;
};

// kProcessList: the reply to kProcesses, the pids in the container's cgroup (the node's
// pid namespace).
struct ProcessList {
  std::vector<int> pids;
};

// kExit: how the container (kWait, kAttach) or an exec (kExec) ended. An exec's report has
// only exit_code.
struct ExitReport {
  int exit_code = 0;
  bool oom_killed = false;
  int64_t started_at_ns = 0;  // 0 = never started
  int64_t finished_at_ns = 0;
  std::string error;  // why start failed, or a clean-up problem
  bool cgroup_removed = false;  // the shim removed the container's cgroup (none left to remove)
};

// kStateReply, and state.json, written atomically by the shim on every transition.
struct ShimState {
  std::string id;
  int shim_pid = 0;
  uint64_t shim_start_time = 0;
  int pid = 0;  // container init, host pid namespace
  uint64_t pid_start_time = 0;
  std::string status;  // "created", "running", "paused", "exited"
  int exit_code = 0;
  bool oom_killed = false;
  int64_t created_at_ns = 0;  // unix time in nanoseconds; 0 = unset
  int64_t started_at_ns = 0;
  int64_t finished_at_ns = 0;
  std::string error;  // why Start failed, or a cleanup problem; empty when all went well
};

std::string Encode(const ExecRequest& m);
std::string Encode(const ExecStarted& m);
std::string Encode(const AttachRequest& m);
std::string Encode(const Attached& m);
std::string Encode(const Dropped& m);
std::string Encode(const Started& m);
std::string Encode(const KillRequest& m);
std::string Encode(const ResourceLimits& m);
std::string Encode(const ProcessList& m);
std::string Encode(const ExitReport& m);
std::string Encode(const ShimState& m);

// Missing fields keep their defaults; a field of the wrong type, or a payload that is not a
// JSON object, is INVALID_ARGUMENT naming the message and field. An empty payload is a
// message with every default (requests without arguments).
template <typename T>
absl::StatusOr<T> Decode(absl::string_view payload);

template <> absl::StatusOr<ExecRequest> Decode<ExecRequest>(absl::string_view payload);
template <> absl::StatusOr<ExecStarted> Decode<ExecStarted>(absl::string_view payload);
template <> absl::StatusOr<AttachRequest> Decode<AttachRequest>(absl::string_view payload);
template <> absl::StatusOr<Attached> Decode<Attached>(absl::string_view payload);
template <> absl::StatusOr<Dropped> Decode<Dropped>(absl::string_view payload);
template <> absl::StatusOr<Started> Decode<Started>(absl::string_view payload);
template <> absl::StatusOr<KillRequest> Decode<KillRequest>(absl::string_view payload);
template <> absl::StatusOr<ResourceLimits> Decode<ResourceLimits>(absl::string_view payload);
template <> absl::StatusOr<ProcessList> Decode<ProcessList>(absl::string_view payload);
template <> absl::StatusOr<ExitReport> Decode<ExitReport>(absl::string_view payload);
template <> absl::StatusOr<ShimState> Decode<ShimState>(absl::string_view payload);

// kError payload <-> absl::Status. DecodeError never returns OK: a code of 0, an unknown code
// or a malformed payload is UNKNOWN.
std::string EncodeError(const absl::Status& status);
absl::Status DecodeError(const std::string& payload);

}  // namespace berth::shim
