// Which namespaces a container's init makes (clone flags) and which it joins (setns on
// fds opened by the parent), plus the namespace work done inside them: loopback up in a new
// network namespace, joining a running container's namespaces for exec.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/base/unique_fd.h"
#include "runtime/spec/spec.h"

namespace berth::container_internal {

struct NamespaceJoin {
  std::string type;  // spec name: "network", "ipc", ...
  std::string path;
  int nstype = 0;  // CLONE_NEW*
  UniqueFd fd;
};

struct NamespacePlan {
  // CLONE_NEW* flags passed to clone(). CLONE_NEWCGROUP is never among them: a cgroup
  // namespace is unshared by the child once it sits in its own cgroup, so that cgroup
  // becomes the namespace's root (cloning it straight away would root it in the caller's).
  int clone_flags = 0;
  bool unshare_cgroup = false;
  // Namespaces with a path, joined by the child in this order (user first, mount last).
  std::vector<NamespaceJoin> joins;
  // A pid namespace with a path is entered by the parent just around clone(): setns(pid)
  // only affects children, so the child cannot do it for itself.
  UniqueFd pid_join;
  bool new_mount = false;
  bool new_net = false;
  bool new_uts = false;
  bool new_user = false;    // CLONE_NEWUSER: the parent writes the id maps (step 3)
  bool joins_user = false;  // a user namespace with a path
  bool has_uts = false;  // new or joined
};

// Computes the plan and opens every namespace path (errors name the path).
absl::StatusOr<NamespacePlan> PlanNamespaces(const spec::Spec& spec);

// In the child: setns into plan.joins in order, closing each fd; then unshare the cgroup
// namespace when asked.
absl::Status JoinNamespaces(NamespacePlan& plan);

// Parent side of a joined pid namespace: enters it for children and restores the caller's
// own afterwards.
class PidNamespaceForChildren {
 public:
  // Does nothing when `target` is not valid.
  static absl::StatusOr<PidNamespaceForChildren> Enter(const UniqueFd& target);
  PidNamespaceForChildren(PidNamespaceForChildren&&) = default;
  ~PidNamespaceForChildren();  // restores

 private:
  PidNamespaceForChildren() = default;
  UniqueFd own_;
};

// ip link set lo up, in the calling process's network namespace.
absl::Status BringUpLoopback();

// For exec: opens /proc/<pid>/ns/{user,cgroup,ipc,uts,net,pid,mnt}, keeps those whose inode
// differs from the caller's own, and setns()es them (user first: it grants the rights over
// the others; mount last: it moves root and cwd). The pid namespace only applies to the
// caller's children.
absl::Status JoinNamespacesOf(pid_t pid);

// Writes linux.sysctl ("net.ipv4.ip_forward" -> /proc/sys/net/ipv4/ip_forward) through the
// container's own /proc, so namespaced keys land in its namespaces.
absl::Status WriteSysctls(const std::map<std::string, std::string>& sysctls);

}  // namespace berth::container_internal
