#include "bench/bench_oci_runtime.h"

#include <dirent.h>
#include <sys/stat.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "bench/bench_host.h"
#include "bench/bench_proc.h"

namespace berth::bench {

OciRuntime::OciRuntime(std::string path, std::string state_root, std::string log_path)
    : path_(std::move(path)), root_(std::move(state_root)), log_(std::move(log_path)) {}

void OciRuntime::Invoke(const std::vector<std::string>& args, const std::string& what, const std::string& cwd) {
  std::vector<std::string> argv = {path_, "--root", root_};
  argv.insert(argv.end(), args.begin(), args.end());
  SpawnOptions io;
  io.stderr_path = log_;
  io.cwd = cwd;
  int status = RunToCompletion(argv, io);
  if (!ExitedZero(status)) {
    std::string name = path_.substr(path_.rfind('/') + 1);
    throw BenchError(name + " " + what + " failed (" + DescribeWaitStatus(status) + "); its stderr:\n" + FileTail(log_));
  }
}

void OciRuntime::MakeBundle(const std::string& bundle_dir, const std::string& rootfs, const std::vector<std::string>& args,
                      const std::string& cgroups_path, const std::string& seccomp_json) {
  Invoke({"spec"}, "spec", bundle_dir);
  const std::string path = bundle_dir + "/config.json";
  nlohmann::json config = nlohmann::json::parse(ReadTextFile(path), nullptr, /*allow_exceptions=*/false);
  if (!config.is_object()) throw BenchError(path + ": not JSON");
  config["process"]["args"] = args;
  config["process"]["terminal"] = false;
  config["root"]["path"] = rootfs;
  config["root"]["readonly"] = false;
  config["linux"]["cgroupsPath"] = cgroups_path;
  // The bench bind-mounts a cgroup of its own over each hierarchy: those mounts cannot be
  // mounted again inside a container (berth-runtime gets EBUSY), and /bin/true needs no
  // /sys/fs/cgroup. Dropped for every runtime alike.
  nlohmann::json mounts = nlohmann::json::array();
  for (const auto& m : config["mounts"]) {
    if (m.value("type", "") != "cgroup") mounts.push_back(m);
  }
  config["mounts"] = mounts;
  if (!seccomp_json.empty()) {
    config["linux"]["seccomp"] = nlohmann::json::parse(seccomp_json);
    config["process"]["noNewPrivileges"] = true;
  }
  WriteTextFile(path, config.dump(2));
}

void OciRuntime::Run(const std::string& bundle_dir, const std::string& id) { Invoke({"run", "--bundle", bundle_dir, id}, "run"); }

void OciRuntime::RunDetached(const std::string& bundle_dir, const std::string& id) {
  Invoke({"run", "--detach", "--bundle", bundle_dir, id}, "run --detach");
}

void OciRuntime::Exec(const std::string& id, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"exec", id};
  argv.insert(argv.end(), args.begin(), args.end());
  Invoke(argv, "exec");
}

bool OciRuntime::DeleteAll() {
  std::vector<std::string> ids;
  if (DIR* d = ::opendir(root_.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != ".." && e->d_type == DT_DIR) ids.push_back(name);
    }
    ::closedir(d);
  }
  bool ok = true;
  for (const auto& id : ids) {
    try {
      Invoke({"delete", "--force", id}, "delete " + id);
    } catch (const BenchError& e) {
      std::fprintf(stderr, "berth-bench: %s\n", e.what());
      ok = false;
    }
  }
  return ok;
}

}  // namespace berth::bench
