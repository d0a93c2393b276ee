// Docker's detach keys (default ctrl-p ctrl-q): typed into an attached terminal, they end the
// client's session and leave the container running. The matcher holds back a partial match
// until the next key tells whether it was one; a broken match is forwarded whole.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace berth::cli {

inline constexpr char kDefaultDetachKeys[] = "ctrl-p,ctrl-q";

// "ctrl-p,ctrl-q" -> "\x10\x11": comma-separated keys, each "ctrl-<a-z@[\]^_>" or one
// character, as docker's --detach-keys.
absl::StatusOr<std::string> ParseDetachKeys(std::string_view spec);

class DetachKeys {
 public:
  explicit DetachKeys(std::string sequence) : sequence_(std::move(sequence)) {}

  struct Result {
    std::string forward;    // input for the container
    bool detached = false;  // the whole sequence was typed (input after it is dropped)
  };
  Result Feed(std::string_view input);

 private:
  std::string sequence_;
  size_t matched_ = 0;  // bytes of sequence_ seen and held back
};

}  // namespace berth::cli
