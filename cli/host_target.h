// Agent addresses: what --host / BERTH_HOST / a context / an inventory endpoint may say, and the
// endpoint the CLI connects to (an address plus, for TCP, the mutual-TLS files). There is no
// plaintext TCP: a tcp:// address always comes with the three TLS files, a unix socket never.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "cli/tls_files.h"

namespace berth::cli {

inline constexpr char kDefaultHost[] = "unix:///run/berth/berth.sock";

struct HostAddress {
  enum class Kind { kUnix, kTcp };
  Kind kind = Kind::kUnix;
  std::string socket_path;  // kUnix: absolute path
  std::string host;         // kTcp: DNS name or IP address, IPv6 without brackets
  uint16_t port = 0;        // kTcp

  bool is_tcp() const { return kind == Kind::kTcp; }
  // True when `host` is an IPv4 or IPv6 address rather than a name.
  bool host_is_ip() const;
  // "unix:///run/berth/berth.sock" or "tcp://node:7443" ("tcp://[::1]:7443").
  std::string Uri() const;
  // "node:7443" or "[::1]:7443" (kTcp).
  std::string HostPort() const;
  // What grpc::CreateChannel takes: "unix:///path" or "dns:///node:7443". With TLS, gRPC checks
  // the agent's certificate against the host part.
  std::string GrpcTarget() const;
};

// Accepts "unix:///abs/path", "/abs/path" (a socket), "tcp://host:port" and "host:port" (also
// "[v6]:port"; a trailing '/' is ignored). Empty means kDefaultHost. Other schemes are refused.
absl::StatusOr<HostAddress> ParseHostAddress(std::string_view host);

// An agent the CLI can connect to.
struct AgentEndpoint {
  HostAddress address;
  TlsFiles tls;        // all three for tcp://, none for unix://
  std::string origin;  // where it was chosen, for errors: "--host", "context \"prod\""...
  // The network namespace to dial from (a test cluster's underlay, where its nodes' endpoints
  // are); empty: this process's own.
  std::string netns_path;
};

// Checks that `host` parses and that the TLS files fit it: tcp:// needs all three (the error
// names the missing ones), unix:// takes none. `origin` prefixes the errors. The files are not
// read here (see LoadTlsMaterial).
absl::StatusOr<AgentEndpoint> MakeEndpoint(std::string_view host, const TlsFiles& tls,
                                           std::string origin);

}  // namespace berth::cli
