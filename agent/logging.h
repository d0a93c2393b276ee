// The agent's one logger (spdlog), text or JSON lines, with key=value fields.
#pragma once

#include <string>

namespace berth::agent {

void SetUpLogging(const std::string& level, const std::string& format);

}  // namespace berth::agent

#include <fmt/format.h>

#include "absl/strings/string_view.h"

// Debian's Abseil has its own string_view type; let spdlog/fmt print it (status messages).
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  template <typename Ctx>
  auto format(absl::string_view s, Ctx& ctx) const {
    return fmt::formatter<fmt::string_view>::format(fmt::string_view(s.data(), s.size()), ctx);
  }
};
