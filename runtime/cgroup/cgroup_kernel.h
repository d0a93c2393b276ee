// CgroupKernel: everything the cgroup drivers ask of the kernel — cgroupfs directories and
// control files, the v2 device program (bpf(2)), kill(2), and the clock for bounded waits.
// The drivers hold only policy; this seam lets unit tests run them against a fake cgroupfs
// tree without root.
#pragma once

#include <linux/bpf.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace berth {

class CgroupKernel {
 public:
  virtual ~CgroupKernel() = default;

  // mkdir(2); AlreadyExists when the directory is there.
  virtual absl::Status MakeDir(const std::string& dir) = 0;
  // rmdir(2) of a cgroup directory (the kernel drops its control files with it).
  virtual absl::Status RemoveDir(const std::string& dir) = 0;
  // Names of the child cgroups (subdirectories) of `dir`.
  virtual absl::StatusOr<std::vector<std::string>> ListSubdirs(const std::string& dir) = 0;
  virtual bool Exists(const std::string& path) = 0;
  virtual absl::StatusOr<std::string> Read(const std::string& file) = 0;
  // One write(2) to an existing control file: the kernel parses each write as one command.
  virtual absl::Status Write(const std::string& file, absl::string_view data) = 0;
  // One write(2) per line, in order, to one existing control file; stops at the first that
  // fails. By default a Write each.
  virtual absl::Status WriteEach(const std::string& file, const std::vector<std::string>& lines);
  // cgroup v2: makes `program` (a BPF_PROG_TYPE_CGROUP_DEVICE program) the only device
  // program attached directly to cgroup directory `dir`, with no moment without one.
  virtual absl::Status SetDeviceProgram(const std::string& dir,
                                        const std::vector<struct bpf_insn>& program) = 0;
  // kill(2); a process that is already gone (ESRCH) is not an error.
  virtual absl::Status Kill(pid_t pid, int signal) = 0;
  // chown(2) of a cgroup directory or control file (delegation to a container's root).
  virtual absl::Status Chown(const std::string& path, uid_t uid, gid_t gid) = 0;
  virtual absl::Time Now() = 0;
  virtual void SleepFor(absl::Duration duration) = 0;
};

// The real kernel, via /sys/fs/cgroup paths.
class LinuxCgroupKernel : public CgroupKernel {
 public:
  absl::Status MakeDir(const std::string& dir) override;
  absl::Status RemoveDir(const std::string& dir) override;
  absl::StatusOr<std::vector<std::string>> ListSubdirs(const std::string& dir) override;
  bool Exists(const std::string& path) override;
  absl::StatusOr<std::string> Read(const std::string& file) override;
  absl::Status Write(const std::string& file, absl::string_view data) override;
  // The file opened once for all the lines.
  absl::Status WriteEach(const std::string& file, const std::vector<std::string>& lines) override;
  absl::Status SetDeviceProgram(const std::string& dir,
                                const std::vector<struct bpf_insn>& program) override;
  absl::Status Kill(pid_t pid, int signal) override;
  absl::Status Chown(const std::string& path, uid_t uid, gid_t gid) override;
  absl::Time Now() override;
  void SleepFor(absl::Duration duration) override;
};

}  // namespace berth
