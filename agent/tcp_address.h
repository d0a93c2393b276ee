// "IPV4:PORT" and "[IPV6]:PORT" as the agent's TCP listeners take them.
#pragma once

#include <sys/socket.h>

#include <string>

#include "absl/status/statusor.h"

namespace berth::agent {

// The socket address of `address`; INVALID_ARGUMENT naming `what` and the value, with
// `example` (e.g. "127.0.0.1:9338, or none") as the form wanted.
absl::StatusOr<sockaddr_storage> ParseTcpAddress(const std::string& address, const std::string& what,
                                                 const std::string& example);

// The port in a parsed address.
int PortOf(const sockaddr_storage& address);

}  // namespace berth::agent
