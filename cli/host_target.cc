#include "cli/host_target.h"

#include <arpa/inet.h>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace berth::cli {
namespace {

bool IsIpv4(const std::string& s) {
  in_addr a;
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}

bool IsIpv6(const std::string& s) {
  in6_addr a;
  return inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

// A DNS name or an IPv4 address: letters, digits, '-', '_' and '.', not starting with '-'.
bool IsHostName(std::string_view s) {
  if (s.empty() || s.size() > 253 || s.front() == '-' || s.front() == '.') return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

absl::Status BadAddress(std::string_view given, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid agent address \"", std::string(given), "\": ", std::string(why)));
}

}  // namespace

bool HostAddress::host_is_ip() const { return IsIpv4(host) || IsIpv6(host); }

std::string HostAddress::HostPort() const {
  if (host.find(':') != std::string::npos) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

std::string HostAddress::Uri() const {
  if (kind == Kind::kUnix) return "unix://" + socket_path;
  return "tcp://" + HostPort();
}

std::string HostAddress::GrpcTarget() const {
  if (kind == Kind::kUnix) return "unix://" + socket_path;
  return "dns:///" + HostPort();
}

absl::StatusOr<HostAddress> ParseHostAddress(std::string_view given) {
  std::string_view s = given.empty() ? std::string_view(kDefaultHost) : given;
  HostAddress out;
  if (s.starts_with("unix://") || s.front() == '/') {
    std::string_view path = s.starts_with("unix://") ? s.substr(7) : s;
    if (path.empty()) return BadAddress(given, "missing socket path");
    if (path.front() != '/') return BadAddress(given, "the socket path must be absolute");
    out.kind = HostAddress::Kind::kUnix;
    out.socket_path = std::string(path);
    return out;
  }
  std::string_view rest = s;
  if (rest.starts_with("tcp://")) rest.remove_prefix(6);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  bool grpc_scheme = false;
  for (std::string_view scheme : {"unix:", "unix-abstract:", "dns:", "ipv4:", "ipv6:", "vsock:"}) {
    grpc_scheme = grpc_scheme || rest.starts_with(scheme);
  }
  if (grpc_scheme || rest.find("://") != std::string_view::npos ||
      (rest.find(':') != std::string_view::npos && rest.front() != '[' &&
       rest.find(':') != rest.rfind(':'))) {
    return BadAddress(given, "unsupported scheme (use unix:///path or tcp://host:port)");
  }
  const size_t colon = rest.rfind(':');
  const size_t bracket = rest.rfind(']');
  if (colon == std::string_view::npos || colon + 1 == rest.size() ||
      (bracket != std::string_view::npos && bracket > colon)) {
    return BadAddress(given, "expected unix:///path or tcp://host:port (the port is missing)");
  }
  std::string_view port = rest.substr(colon + 1);
  uint32_t port_value = 0;
  for (char c : port) {
    if (c < '0' || c > '9' || port.size() > 5) {
      return BadAddress(given, "the port must be a number from 1 to 65535");
    }
    port_value = port_value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port_value == 0 || port_value > 65535) {
    return BadAddress(given, "the port must be a number from 1 to 65535");
  }
  std::string_view host = rest.substr(0, colon);
  if (!host.empty() && host.front() == '[') {
    if (host.size() < 3 || host.back() != ']' || !IsIpv6(std::string(host.substr(1, host.size() - 2)))) {
      return BadAddress(given, "expected an IPv6 address inside [ ]");
    }
    host = host.substr(1, host.size() - 2);
  } else if (!IsHostName(host)) {
    return BadAddress(given, host.empty() ? "the host is missing" : "not a host name or address");
  }
  out.kind = HostAddress::Kind::kTcp;
  out.host = std::string(host);
  out.port = static_cast<uint16_t>(port_value);
  return out;
}

absl::StatusOr<AgentEndpoint> MakeEndpoint(std::string_view host, const TlsFiles& tls,
                                           std::string origin) {
  absl::StatusOr<HostAddress> address = ParseHostAddress(host);
  if (!address.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": ", address.status().message()));
  }
  if (address->is_tcp() && !tls.complete()) {
    return absl::InvalidArgumentError(absl::StrCat(
        origin, ": ", address->Uri(),
        " needs mutual TLS (there is no plaintext TCP): missing ",
        absl::StrJoin(MissingTlsFiles(tls), ", ")));
  }
  if (!address->is_tcp() && !tls.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        origin, ": ", address->Uri(),
        " is a local socket and TLS files are only for tcp:// addresses: drop ",
        absl::StrJoin(GivenTlsFiles(tls), ", ")));
  }
  AgentEndpoint endpoint;
  endpoint.address = *std::move(address);
  endpoint.tls = tls;
  endpoint.origin = std::move(origin);
  return endpoint;
}

}  // namespace berth::cli
