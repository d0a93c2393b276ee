// Turns the user's --host / BERTH_HOST value into a gRPC target string.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace berth::cli {

inline constexpr char kDefaultHost[] = "unix:///run/berth/berth.sock";

// Accepts "unix:///abs/path", "/abs/path" (a socket), "tcp://host:port", "host:port", and the
// gRPC schemes "dns:", "ipv4:", "ipv6:" unchanged. Empty means kDefaultHost.
absl::StatusOr<std::string> ResolveHostTarget(std::string_view host);

}  // namespace berth::cli
