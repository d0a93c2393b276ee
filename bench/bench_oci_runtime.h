// A runc-compatible runtime for berth-bench (crun, runc, berth-runtime): bundles made with
// its `spec`, and run / exec / delete with a private --root. Everything here runs inside
// the bench's private mount namespace.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace berth::bench {

class OciRuntime {
 public:
  // `state_root`: crun's --root; `log_path`: crun's stderr (appended).
  OciRuntime(std::string path, std::string state_root, std::string log_path);

  // `<runtime> spec` in `bundle_dir`, then: args, no terminal, root = `rootfs` (writable),
  // linux.cgroupsPath = `cgroups_path`.
  // `seccomp_json` (when not empty) becomes linux.seccomp, with process.noNewPrivileges.
  void MakeBundle(const std::string& bundle_dir, const std::string& rootfs, const std::vector<std::string>& args,
                  const std::string& cgroups_path, const std::string& seccomp_json = "");

  // `<runtime> run` in the foreground: returns when the container exited and was deleted. Throws
  // unless it exits 0.
  void Run(const std::string& bundle_dir, const std::string& id);
  void RunDetached(const std::string& bundle_dir, const std::string& id);
  void Exec(const std::string& id, const std::vector<std::string>& args);
  // `delete -f` of every container under the state root; returns false if one stays.
  bool DeleteAll();

  const std::string& path() const { return path_; }

 private:
  void Invoke(const std::vector<std::string>& args, const std::string& what, const std::string& cwd = "");

  std::string path_;
  std::string root_;
  std::string log_;
};

}  // namespace berth::bench
