#include "agent/cri/cri_pod_network.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/quote.h"

namespace berth::agent::cri {

namespace cri = ::runtime::v1;

PodNetwork::PodNetwork(CniOptions options)
    : options_(std::move(options)), runner_(options_.bin_dirs, options_.state_dir + "/results") {}

std::string PodNetwork::PinPath(const std::string& id) const { return absl::StrCat(options_.state_dir, "/netns/", id); }

net::cni::Attachment PodNetwork::AttachmentOf(const std::string& id) const {
  net::cni::Attachment a;
  a.container_id = id;
  a.netns_path = PinPath(id);
  return a;
}

absl::Status PodNetwork::Ready() const {
  auto list = net::cni::LoadFirstNetworkList(options_.conf_dir);
  if (!list.ok()) return list.status();
  if (!*list) {
    return absl::FailedPreconditionError(absl::StrCat("no CNI network configuration in ", options_.conf_dir,
                                                      " (a *.conflist, *.conf or *.json)"));
  }
  for (const auto& plugin : (*list)->plugins) {
    const std::string type = plugin["type"].get<std::string>();
    bool found = false;
    for (const std::string& dir : options_.bin_dirs) found |= ::access(absl::StrCat(dir, "/", type).c_str(), X_OK) == 0;
    if (!found) {
      return absl::FailedPreconditionError(absl::StrCat("CNI plugin ", Quoted(type), " of ", (*list)->source,
                                                        " is not in ", absl::StrJoin(options_.bin_dirs, ":")));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> PodNetwork::Setup(const std::string& id, int pid,
                                                           const cri::PodSandboxConfig& config) {
  auto list = net::cni::LoadFirstNetworkList(options_.conf_dir);
  if (!list.ok()) return list.status();
  if (!*list) return Ready();  // says what is missing
  if (absl::Status st = MakeDirs(options_.state_dir + "/netns", 0700); !st.ok()) return st;
  const std::string pin = PinPath(id);
  {
    int fd = ::open(pin.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return ErrnoStatus(errno, absl::StrCat("create ", pin));
    ::close(fd);
  }
  const std::string source = absl::StrCat("/proc/", pid, "/ns/net");
  if (::mount(source.c_str(), pin.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    absl::Status st = ErrnoStatus(errno, absl::StrCat("pin the pod's network namespace at ", pin));
    ::unlink(pin.c_str());
    return st;
  }
  net::cni::Attachment attachment = AttachmentOf(id);
  attachment.args = {{"IgnoreUnknown", "1"},
                     {"K8S_POD_NAMESPACE", config.metadata().namespace_()},
                     {"K8S_POD_NAME", config.metadata().name()},
                     {"K8S_POD_INFRA_CONTAINER_ID", id},
                     {"K8S_POD_UID", config.metadata().uid()}};
  nlohmann::json ports = nlohmann::json::array();
  for (const cri::PortMapping& p : config.port_mappings()) {
    if (p.host_port() <= 0) continue;
    nlohmann::json port = {{"hostPort", p.host_port()},
                           {"containerPort", p.container_port()},
                           {"protocol", p.protocol() == cri::UDP ? "udp" : p.protocol() == cri::SCTP ? "sctp" : "tcp"}};
    if (!p.host_ip().empty()) port["hostIP"] = p.host_ip();
    ports.push_back(port);
  }
  if (!ports.empty()) attachment.capabilities["portMappings"] = ports;
  auto result = runner_.Add(**list, attachment);
  if (!result.ok()) {
    ::umount2(pin.c_str(), MNT_DETACH);
    ::unlink(pin.c_str());
    return result.status();
  }
  return net::cni::ResultAddresses(*result);
}

absl::Status PodNetwork::Teardown(const std::string& id) {
  const std::string pin = PinPath(id);
  struct stat st;
  const bool pinned = ::lstat(pin.c_str(), &st) == 0;
  // Only a pod that was set up (pinned, or with a cached result) is torn down.
  if (pinned || runner_.CachedResult(AttachmentOf(id))) {
    std::optional<net::cni::NetworkList> fallback;
    if (cni()) {
      auto list = net::cni::LoadFirstNetworkList(options_.conf_dir);
      if (list.ok() && *list) fallback = std::move(**list);
    }
    if (absl::Status del = runner_.Del(AttachmentOf(id), fallback ? &*fallback : nullptr); !del.ok()) return del;
  }
  if (pinned) {
    if (::umount2(pin.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
      return ErrnoStatus(errno, absl::StrCat("unpin the pod's network namespace at ", pin));
    }
    ::unlink(pin.c_str());
  }
  return absl::OkStatus();
}

std::vector<std::string> PodNetwork::Addresses(const std::string& id) const {
  auto result = runner_.CachedResult(AttachmentOf(id));
  if (!result) return {};
  return net::cni::ResultAddresses(*result);
}

}  // namespace berth::agent::cri
