// The hardening flags of `run`/`create`, as typed, and their translation into the request:
// --security-opt, --cap-add/--cap-drop, --privileged, --userns, --read-only, --device,
// --tmpfs, --ulimit, --sysctl, --shm-size and --init. Pure; errors name the flag and value.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "berth/v1/containers.pb.h"

namespace berth::cli {

struct SecurityFlags {
  std::vector<std::string> security_opts;  // seccomp=FILE|unconfined, no-new-privileges[=BOOL]
  std::vector<std::string> cap_add;
  std::vector<std::string> cap_drop;
  bool privileged = false;
  std::string userns;  // auto | host
  bool read_only = false;
  std::vector<std::string> devices;  // HOST[:CONTAINER][:rwm]
  std::vector<std::string> tmpfs;    // DEST[:OPTIONS]
  std::vector<std::string> ulimits;  // NAME=SOFT[:HARD]
  std::vector<std::string> sysctls;  // KEY=VALUE
  std::string shm_size;              // 64m
  bool init = false;
};

// Fills the security-related fields of `config`. A seccomp=FILE profile is read here, on the
// client, like docker does (`read_file` is the reader, so tests can stub it).
absl::Status ApplySecurityFlags(
    const SecurityFlags& flags, berth::v1::ContainerConfig& config,
    const std::function<absl::StatusOr<std::string>(const std::string&)>& read_file);

// "/dev/fuse", "/dev/fuse:/dev/f", "/dev/fuse:rw", "/dev/fuse:/dev/f:rwm".
absl::StatusOr<berth::v1::DeviceMapping> ParseDevice(const std::string& text);
// "/run", "/run:size=64m,mode=1777".
absl::StatusOr<berth::v1::TmpfsMount> ParseTmpfs(const std::string& text);
// "nofile=1024", "nofile=1024:2048", "core=-1".
absl::StatusOr<berth::v1::Ulimit> ParseUlimit(const std::string& text);

}  // namespace berth::cli
