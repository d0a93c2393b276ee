// Running a CNI network list for one attachment (CNI spec 1.0, "Section 3" and "Section 4"):
// each plugin executed with CNI_* variables and its configuration on stdin, chained through
// prevResult; DEL in reverse order. The result of an ADD is cached on disk with the list it
// was made with, so that DEL and CHECK work with the same configuration after the runtime
// restarted or the configuration directory changed.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "runtime/network/cni_config.h"

namespace berth::net::cni {

// One container's interface on one network.
struct Attachment {
  std::string container_id;
  std::string netns_path;
  std::string ifname = "eth0";
  std::vector<std::pair<std::string, std::string>> args;  // CNI_ARGS, e.g. K8S_POD_NAME
  // Values of the capabilities the runtime offers ("portMappings": [...]); each plugin gets
  // in runtimeConfig only those it declares in its "capabilities".
  nlohmann::json capabilities = nlohmann::json::object();
};

class Runner {
 public:
  Runner(std::vector<std::string> bin_dirs, std::string cache_dir, absl::Duration timeout = absl::Seconds(60))
      : bin_dirs_(std::move(bin_dirs)), cache_dir_(std::move(cache_dir)), timeout_(timeout) {}

  // ADD through the chain; returns the last plugin's result, also cached. When a plugin
  // fails, what the earlier ones made is deleted again (DEL through the chain) and the
  // plugin's error is returned (UNAVAILABLE, its code and message).
  absl::StatusOr<nlohmann::json> Add(const NetworkList& list, const Attachment& attachment);
  // CHECK through the chain with the cached result. NOT_FOUND when nothing is cached.
  absl::Status Check(const Attachment& attachment);
  // DEL through the chain in reverse, with the cached list and result, or with `fallback` when
  // nothing is cached (nothing to do without either). Every plugin is run even after one
  // fails; the cache entry goes only when all succeeded, so a retry is possible.
  absl::Status Del(const Attachment& attachment, const NetworkList* fallback);
  // The cached result of the attachment's ADD, if any.
  std::optional<nlohmann::json> CachedResult(const Attachment& attachment) const;

 private:
  struct Cached {
    NetworkList list;
    nlohmann::json result;
  };
  std::string CachePath(const Attachment& attachment) const;
  std::optional<Cached> LoadCache(const Attachment& attachment) const;
  absl::StatusOr<nlohmann::json> Invoke(const char* command, const NetworkList& list, const nlohmann::json& plugin,
                                        const Attachment& attachment, const nlohmann::json* prev_result);

  std::vector<std::string> bin_dirs_;
  std::string cache_dir_;
  absl::Duration timeout_;
};

// The addresses of a result ("10.22.0.5", prefix length dropped), in its order.
std::vector<std::string> ResultAddresses(const nlohmann::json& result);

}  // namespace berth::net::cni
