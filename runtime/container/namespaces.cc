#include "runtime/container/namespaces.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/container/sync_channel.h"

namespace berth::container_internal {

namespace {

// Join order: the user namespace first (it grants the rights for the others), mount last
// (after it, paths resolve in the container).
int JoinRank(int nstype) {
  switch (nstype) {
    case CLONE_NEWUSER:
      return 0;
    case CLONE_NEWIPC:
      return 1;
    case CLONE_NEWUTS:
      return 2;
    case CLONE_NEWNET:
      return 3;
    case CLONE_NEWCGROUP:
      return 4;
    case CLONE_NEWNS:
      return 6;
    default:
      return 5;
  }
}

}  // namespace

absl::StatusOr<NamespacePlan> PlanNamespaces(const spec::Spec& spec) {
  NamespacePlan plan;
  for (const spec::Namespace& ns : spec.linux.namespaces) {
    absl::StatusOr<int> flag = spec::NamespaceCloneFlag(ns.type);
    if (!flag.ok()) return Annotate(flag.status(), "linux.namespaces");
    if (*flag == CLONE_NEWUTS) plan.has_uts = true;
    if (*flag == CLONE_NEWUSER) {
      if (ns.path.empty()) {
        plan.new_user = true;
      } else {
        plan.joins_user = true;
      }
    }
    if (ns.path.empty()) {
      if (*flag == CLONE_NEWCGROUP) {
        plan.unshare_cgroup = true;
      } else {
        plan.clone_flags |= *flag;
      }
      if (*flag == CLONE_NEWNS) plan.new_mount = true;
      if (*flag == CLONE_NEWNET) plan.new_net = true;
      if (*flag == CLONE_NEWUTS) plan.new_uts = true;
      continue;
    }
    UniqueFd fd(::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return ErrnoToStatus(absl::StrCat("open ", ns.type, " namespace ", ns.path));
    if (*flag == CLONE_NEWPID) {
      plan.pid_join = std::move(fd);
      continue;
    }
    plan.joins.push_back(NamespaceJoin{ns.type, ns.path, *flag, std::move(fd)});
  }
  std::stable_sort(plan.joins.begin(), plan.joins.end(),
                   [](const NamespaceJoin& a, const NamespaceJoin& b) {
                     return JoinRank(a.nstype) < JoinRank(b.nstype);
                   });
  return plan;
}

absl::Status JoinNamespaces(NamespacePlan& plan) {
  for (NamespaceJoin& join : plan.joins) {
    if (::setns(join.fd.get(), join.nstype) != 0) {
      return SysError(absl::StrCat("join ", join.type, " namespace ", join.path));
    }
    join.fd.Reset();
  }
  if (plan.unshare_cgroup && ::unshare(CLONE_NEWCGROUP) != 0) {
    return SysError("unshare cgroup namespace");
  }
  return absl::OkStatus();
}

absl::StatusOr<PidNamespaceForChildren> PidNamespaceForChildren::Enter(const UniqueFd& target) {
  PidNamespaceForChildren guard;
  if (!target.valid()) return guard;
  UniqueFd own(::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC));
  if (!own) return ErrnoToStatus("open /proc/self/ns/pid");
  if (::setns(target.get(), CLONE_NEWPID) != 0) return ErrnoToStatus("join pid namespace");
  guard.own_ = std::move(own);
  return guard;
}

PidNamespaceForChildren::~PidNamespaceForChildren() {
  // Going back to one's own active pid namespace is always allowed.
  if (own_.valid()) ::setns(own_.get(), CLONE_NEWPID);
}

absl::Status BringUpLoopback() {
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) return SysError("socket for loopback");
  struct ifreq ifr = {};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) != 0) return SysError("get lo flags");
  if (ifr.ifr_flags & IFF_UP) return absl::OkStatus();
  ifr.ifr_flags |= IFF_UP;
  if (::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) != 0) return SysError("set lo up");
  return absl::OkStatus();
}

absl::Status JoinNamespacesOf(pid_t pid) {
  struct Entry {
    const char* name;
    int nstype;
  };
  // Mount last: setns(mnt) changes root and cwd, and /proc/<pid> must still be the host's
  // while the fds are opened (they all are before the first setns).
  static constexpr Entry kEntries[] = {
      {"user", CLONE_NEWUSER}, {"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC},
      {"uts", CLONE_NEWUTS},   {"net", CLONE_NEWNET},       {"pid", CLONE_NEWPID},
      {"mnt", CLONE_NEWNS},
  };
  struct Open {
    const Entry* entry;
    UniqueFd fd;
  };
  std::vector<Open> to_join;
  for (const Entry& e : kEntries) {
    std::string theirs = absl::StrCat("/proc/", pid, "/ns/", e.name);
    std::string ours = absl::StrCat("/proc/self/ns/", e.name);
    UniqueFd fd(::open(theirs.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return SysError(absl::StrCat("open ", theirs));
    struct stat their_st, our_st;
    if (::fstat(fd.get(), &their_st) != 0) return SysError(absl::StrCat("stat ", theirs));
    if (::stat(ours.c_str(), &our_st) != 0) return SysError(absl::StrCat("stat ", ours));
    if (their_st.st_ino == our_st.st_ino && their_st.st_dev == our_st.st_dev) continue;
    to_join.push_back(Open{&e, std::move(fd)});
  }
  for (Open& o : to_join) {
    if (::setns(o.fd.get(), o.entry->nstype) != 0) {
      return SysError(absl::StrCat("join ", o.entry->name, " namespace of pid ", pid));
    }
  }
  return absl::OkStatus();
}

absl::Status WriteSysctls(const std::map<std::string, std::string>& sysctls) {
  for (const auto& [key, value] : sysctls) {
    std::string path = "/proc/sys/";
    for (char c : key) path += c == '.' ? '/' : c;
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return SysError(absl::StrCat("sysctl ", key));
    ssize_t n;
    do {
      n = ::write(fd.get(), value.data(), value.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) return SysError(absl::StrCat("sysctl ", key, "=", value));
  }
  return absl::OkStatus();
}

}  // namespace berth::container_internal
