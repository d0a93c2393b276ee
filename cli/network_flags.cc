#include "cli/network_flags.h"

#include <arpa/inet.h>

#include <cctype>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace berth::cli {
namespace {

constexpr char kPublishForm[] = "[HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]";

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool IsIpv4(const std::string& text) {
  struct in_addr addr;
  return inet_pton(AF_INET, text.c_str(), &addr) == 1;
}

bool IsIpv6(const std::string& text) {
  struct in6_addr addr;
  return inet_pton(AF_INET6, text.c_str(), &addr) == 1;
}

// A decimal port 1..65535; `what` names it in the error ("host port").
absl::StatusOr<uint32_t> ParsePort(const std::string& text, const std::string& spec,
                                   const std::string& what) {
  if (text.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid --publish '", spec, "': the ", what, " is missing (", kPublishForm, ")"));
  }
  uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return absl::InvalidArgumentError(absl::StrCat("invalid --publish '", spec, "': ", what, " '",
                                                     text, "' is not a number (", kPublishForm,
                                                     ")"));
    }
    value = value * 10 + static_cast<uint32_t>(c - '0');
    if (value > 65535) break;
  }
  if (value < 1 || value > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("invalid --publish '", spec, "': ", what, " ",
                                                   text, " is out of range (1-65535)"));
  }
  return value;
}

bool AnyAddress(const std::string& ip) { return ip.empty() || ip == "0.0.0.0"; }

std::string HostAddress(const berth::v1::PortMapping& m) {
  return m.host_ip().empty() ? std::string("0.0.0.0") : m.host_ip();
}

}  // namespace

absl::StatusOr<berth::v1::PortMapping> ParsePublish(std::string_view spec_in) {
  const std::string spec(spec_in);
  berth::v1::PortMapping mapping;
  std::string body = spec;
  std::string protocol = "tcp";
  if (const size_t slash = body.rfind('/'); slash != std::string::npos) {
    protocol = Lower(body.substr(slash + 1));
    body = body.substr(0, slash);
    if (protocol != "tcp" && protocol != "udp") {
      return absl::InvalidArgumentError(absl::StrCat("invalid --publish '", spec,
                                                     "': unknown protocol '",
                                                     spec.substr(spec.rfind('/') + 1),
                                                     "' (tcp or udp)"));
    }
  }
  const std::vector<std::string> parts = absl::StrSplit(body, ':');
  std::string host_ip;
  std::string host_port;
  std::string container_port;
  if (parts.size() == 2) {
    host_port = parts[0];
    container_port = parts[1];
  } else if (parts.size() == 3) {
    host_ip = parts[0];
    host_port = parts[1];
    container_port = parts[2];
    if (host_ip.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("invalid --publish '", spec,
                                                     "': the host address is empty (",
                                                     kPublishForm, ")"));
    }
    if (!IsIpv4(host_ip)) {
      return absl::InvalidArgumentError(absl::StrCat("invalid --publish '", spec, "': '", host_ip,
                                                     "' is not an IPv4 address"));
    }
  } else if (parts.size() == 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid --publish '", spec,
        "': a host port is required (publishing on a random port is not supported; use ",
        kPublishForm, ")"));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid --publish '", spec, "': expected ", kPublishForm));
  }
  absl::StatusOr<uint32_t> host = ParsePort(host_port, spec, "host port");
  if (!host.ok()) return host.status();
  absl::StatusOr<uint32_t> container = ParsePort(container_port, spec, "container port");
  if (!container.ok()) return container.status();
  mapping.set_protocol(protocol);
  mapping.set_host_ip(host_ip);
  mapping.set_host_port(*host);
  mapping.set_container_port(*container);
  return mapping;
}

absl::StatusOr<std::vector<berth::v1::PortMapping>> ParsePublishes(
    const std::vector<std::string>& specs) {
  std::vector<berth::v1::PortMapping> out;
  out.reserve(specs.size());
  for (const std::string& spec : specs) {
    absl::StatusOr<berth::v1::PortMapping> mapping = ParsePublish(spec);
    if (!mapping.ok()) return mapping.status();
    for (size_t i = 0; i < out.size(); ++i) {
      const berth::v1::PortMapping& earlier = out[i];
      const bool same_address = AnyAddress(earlier.host_ip()) || AnyAddress(mapping->host_ip()) ||
                                earlier.host_ip() == mapping->host_ip();
      if (earlier.protocol() == mapping->protocol() &&
          earlier.host_port() == mapping->host_port() && same_address) {
        return absl::InvalidArgumentError(absl::StrCat(
            "invalid --publish '", spec, "': host port ", mapping->host_port(), "/",
            mapping->protocol(), " is already published by '", specs[i], "'"));
      }
    }
    out.push_back(*std::move(mapping));
  }
  return out;
}

absl::Status ValidateExtraHost(std::string_view entry_in) {
  const std::string entry(entry_in);
  const size_t colon = entry.find(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid --add-host '", entry, "': expected NAME:IP"));
  }
  const std::string name = entry.substr(0, colon);
  const std::string ip = entry.substr(colon + 1);
  if (name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid --add-host '", entry, "': the host name is empty"));
  }
  for (char c : name) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '#') {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid --add-host '", entry, "': bad character in the host name"));
    }
  }
  if (!IsIpv4(ip) && !IsIpv6(ip)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid --add-host '", entry, "': '", ip, "' is not an IP address"));
  }
  return absl::OkStatus();
}

absl::Status ValidateDnsServer(std::string_view address_in) {
  const std::string address(address_in);
  if (IsIpv4(address) || IsIpv6(address)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("invalid --dns '", address, "': not an IP address"));
}

absl::Status ValidateDnsSearch(std::string_view domain_in) {
  const std::string domain(domain_in);
  if (domain.empty()) return absl::InvalidArgumentError("invalid --dns-search: empty domain");
  for (char c : domain) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '#') {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid --dns-search '", domain, "': bad character"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> NetworkModeFromFlag(std::string_view value_in) {
  const std::string value(value_in);
  if (value.empty() || value == "default") return std::string();
  if (value == "container:") {
    return absl::InvalidArgumentError(
        "invalid --network 'container:': name the container (container:<id|name>)");
  }
  for (char c : value) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid --network '", value, "': white space in the name"));
    }
  }
  return value;
}

std::string PortProtocol(const berth::v1::PortMapping& mapping) {
  return mapping.protocol().empty() ? std::string("tcp") : mapping.protocol();
}

std::string PortMappingLine(const berth::v1::PortMapping& m) {
  return absl::StrCat(m.container_port(), "/", PortProtocol(m), " -> ", HostAddress(m), ":",
                      m.host_port());
}

std::string PortsText(const berth::v1::Container& container) {
  std::vector<std::string> cells;
  for (const berth::v1::PortMapping& m : container.network_settings().ports()) {
    cells.push_back(absl::StrCat(HostAddress(m), ":", m.host_port(), "->", m.container_port(),
                                 "/", PortProtocol(m)));
  }
  return absl::StrJoin(cells, ", ");
}

absl::StatusOr<PortFilter> ParsePortFilter(std::string_view spec_in) {
  const std::string spec(spec_in);
  PortFilter filter;
  std::string port = spec;
  filter.protocol = "tcp";
  if (const size_t slash = spec.find('/'); slash != std::string::npos) {
    port = spec.substr(0, slash);
    filter.protocol = Lower(spec.substr(slash + 1));
    if (filter.protocol != "tcp" && filter.protocol != "udp") {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid port '", spec, "': the protocol must be tcp or udp"));
    }
  }
  uint32_t value = 0;
  if (port.empty() || port.size() > 5) {
    return absl::InvalidArgumentError(absl::StrCat("invalid port '", spec, "'"));
  }
  for (char c : port) {
    if (c < '0' || c > '9') return absl::InvalidArgumentError(absl::StrCat("invalid port '", spec, "'"));
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value < 1 || value > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("invalid port '", spec, "': out of range (1-65535)"));
  }
  filter.container_port = value;
  return filter;
}

std::vector<berth::v1::PortMapping> SelectPorts(const berth::v1::Container& container,
                                                const PortFilter* filter) {
  std::vector<berth::v1::PortMapping> out;
  for (const berth::v1::PortMapping& m : container.network_settings().ports()) {
    if (filter != nullptr &&
        (m.container_port() != filter->container_port || PortProtocol(m) != filter->protocol)) {
      continue;
    }
    out.push_back(m);
  }
  return out;
}

}  // namespace berth::cli
