#include "cli/host_target.h"

#include "absl/status/status.h"

namespace berth::cli {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// "host:port" or "[v6]:port" with a non-empty host and a numeric port.
bool LooksLikeHostPort(std::string_view s) {
  const size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == s.size()) return false;
  for (char c : s.substr(colon + 1)) {
    if (c < '0' || c > '9') return false;
  }
  std::string_view host = s.substr(0, colon);
  if (host.front() == '[') return host.back() == ']' && host.size() > 2;
  return host.find(':') == std::string_view::npos && host.find('/') == std::string_view::npos;
}

}  // namespace

absl::StatusOr<std::string> ResolveHostTarget(std::string_view host) {
  if (host.empty()) return std::string(kDefaultHost);
  if (StartsWith(host, "unix://")) {
    if (host.size() == 7) return absl::InvalidArgumentError("--host unix://: missing socket path");
    return std::string(host);
  }
  if (host.front() == '/') return "unix://" + std::string(host);
  if (StartsWith(host, "dns:") || StartsWith(host, "ipv4:") || StartsWith(host, "ipv6:")) {
    return std::string(host);
  }
  std::string_view rest = host;
  if (StartsWith(rest, "tcp://")) rest.remove_prefix(6);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find("://") != std::string_view::npos) {
    return absl::InvalidArgumentError("--host " + std::string(host) +
                                      ": unsupported scheme (use unix:// or tcp://)");
  }
  if (!LooksLikeHostPort(rest)) {
    return absl::InvalidArgumentError("--host " + std::string(host) +
                                      ": expected unix:///path or host:port");
  }
  return "dns:///" + std::string(rest);
}

}  // namespace berth::cli
