// Pod networking through CNI, the Kubernetes convention: with a configuration directory,
// the first network list there is run for each pod sandbox (ADD once the sandbox runs, DEL
// when it stops), with the sandbox's network namespace pinned by a bind mount under the
// agent's root so that DEL still finds it after the sandbox's process is gone or the agent
// restarted. Without a configuration directory, pods use the agent's own bridge networking.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cri/runtime/v1/api.pb.h"
#include "runtime/network/cni_runner.h"

namespace berth::agent::cri {

struct CniOptions {
  std::string conf_dir;               // empty: CNI off
  std::vector<std::string> bin_dirs;  // where plugins are looked up
  std::string state_dir;              // <root>/cni: cached results, pinned namespaces
};

class PodNetwork {
 public:
  explicit PodNetwork(CniOptions options);

  bool cni() const { return !options_.conf_dir.empty(); }
  // For Status: OK, or why pods cannot get a network (no configuration, a plugin missing).
  absl::Status Ready() const;
  // The sandbox `id` runs as `pid` in a network namespace of its own: pins it and runs ADD.
  // Returns the pod's addresses. On failure nothing is left (DEL run, pin removed).
  absl::StatusOr<std::vector<std::string>> Setup(const std::string& id, int pid,
                                                 const ::runtime::v1::PodSandboxConfig& config);
  // DEL and the pin removed; nothing to do when the pod has no CNI network. Idempotent.
  absl::Status Teardown(const std::string& id);
  // The pod's addresses from its cached ADD result (empty when it has none).
  std::vector<std::string> Addresses(const std::string& id) const;

 private:
  net::cni::Attachment AttachmentOf(const std::string& id) const;
  std::string PinPath(const std::string& id) const;

  CniOptions options_;
  net::cni::Runner runner_;
};

}  // namespace berth::agent::cri
