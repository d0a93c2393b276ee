// ContainerManager: the ipc, uts and pid namespaces a container shares with the node or with
// another container (docker's --ipc, --uts, --pid; a pod's containers and its sandbox).
#include <limits.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/container_manager.h"
#include "runtime/base/proc_util.h"
#include "runtime/base/quote.h"

namespace berth::agent {

namespace {

constexpr const char* kSharable[] = {"ipc", "uts", "pid"};

const std::string& ModeOf(const v1::ContainerConfig& config, const std::string& type) {
  return type == "ipc" ? config.ipc() : type == "uts" ? config.uts() : config.pid();
}

}  // namespace

absl::StatusOr<ContainerManager::NamespacePlan> ContainerManager::PlanNamespaces(const v1::ContainerConfig& config) {
  NamespacePlan plan;
  for (const char* type : kSharable) {
    const std::string& mode = ModeOf(config, type);
    if (mode.empty()) continue;
    if (mode == "host") {
      plan.host.insert(type);
      plan.recorded[type] = mode;
      if (std::string(type) == "uts") {
        char name[HOST_NAME_MAX + 1] = {};
        if (::gethostname(name, sizeof(name) - 1) == 0) plan.hostname = name;
      }
      continue;
    }
    if (!absl::StartsWith(mode, "container:") || mode.size() == std::string("container:").size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(type, ": want host or container:<id|name>, got ", Quoted(mode)));
    }
    const std::string ref = mode.substr(std::string("container:").size());
    auto target = Find(ref);
    if (!target.ok()) {
      if (absl::IsNotFound(target.status())) {
        return absl::NotFoundError(absl::StrCat(type, " container:", Quoted(ref), ": no such container"));
      }
      return target.status();
    }
    std::lock_guard<std::mutex> lock((*target)->mu);
    const v1::Container& t = (*target)->record;
    if ((*target)->removed || t.state() != v1::RUNNING || t.pid() <= 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(type, " container:", Quoted(ref), ": container ", t.name(), " is not running; start it first"));
    }
    const std::string& its_mode = ModeOf(t.config(), type);
    if (its_mode == "host") {
      plan.host.insert(type);  // its namespace is the node's
    } else {
      // Opened from that very process (a reused pid cannot hand over a stranger's namespace).
      auto fd = OpenNamespaceOf(t.pid(), (*target)->pid_start_time, type);
      if (!fd.ok()) {
        return absl::FailedPreconditionError(
            absl::StrCat(type, " container:", Quoted(ref), ": ", fd.status().message()));
      }
      plan.fds.push_back(std::move(*fd));
      plan.types.push_back(type);
    }
    if (std::string(type) == "uts") plan.hostname = HostnameFor(t.config(), t.id());
    plan.recorded[type] = absl::StrCat("container:", t.id());
  }
  if (!config.hostname().empty() && !config.uts().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("hostname ", Quoted(config.hostname()), " cannot be set with uts ", Quoted(config.uts()),
                     ": the host name belongs to the namespace it shares"));
  }
  return plan;
}

void ContainerManager::NamespacePlan::AddTo(SpecNetwork& spec, std::vector<int>& inherit_fds) const {
  for (size_t i = 0; i < fds.size(); ++i) {
    // The shim gets inherited fds from 4 on, in order; the spec names them as it sees them.
    spec.join_paths[types[i]] = absl::StrCat("/proc/self/fd/", 4 + inherit_fds.size());
    inherit_fds.push_back(fds[i].get());
  }
  spec.host_namespaces = host;
}

void ContainerManager::NamespacePlan::Record(v1::ContainerConfig& config) const {
  for (const auto& [type, mode] : recorded) {
    if (type == "ipc") config.set_ipc(mode);
    if (type == "uts") config.set_uts(mode);
    if (type == "pid") config.set_pid(mode);
  }
}

}  // namespace berth::agent
