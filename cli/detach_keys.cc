#include "cli/detach_keys.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "cli/human_format.h"

namespace berth::cli {

absl::StatusOr<std::string> ParseDetachKeys(std::string_view spec) {
  std::string out;
  for (absl::string_view key : absl::StrSplit(absl::string_view(spec.data(), spec.size()), ',')) {
    if (key.size() == 1) {
      out += key[0];
      continue;
    }
    std::string lower(key);
    absl::AsciiStrToLower(&lower);
    if (lower.size() == 6 && lower.rfind("ctrl-", 0) == 0) {
      const char c = lower[5];
      if (c >= 'a' && c <= 'z') {
        out += static_cast<char>(c - 'a' + 1);
        continue;
      }
      // ctrl-@ is NUL, ctrl-[ ESC, ctrl-\ FS, ctrl-] GS, ctrl-^ RS, ctrl-_ US.
      if (c == '@' || c == '[' || c == '\\' || c == ']' || c == '^' || c == '_') {
        out += static_cast<char>(c == '@' ? 0 : c - '@');
        continue;
      }
    }
    return absl::InvalidArgumentError("--detach-keys " + Quote(spec) + ": " + Quote(std::string_view(key.data(), key.size())) +
                                      " is not a key; use one character or ctrl-<a-z@[\\]^_>, comma-separated");
  }
  if (out.empty()) return absl::InvalidArgumentError("--detach-keys: no keys given");
  return out;
}

DetachKeys::Result DetachKeys::Feed(std::string_view input) {
  Result r;
  for (size_t i = 0; i < input.size(); ++i) {
    const char c = input[i];
    if (c == sequence_[matched_]) {
      if (++matched_ == sequence_.size()) {
        matched_ = 0;
        r.detached = true;
        return r;
      }
      continue;
    }
    // Not the next key: what was held back goes on, and this key may begin a new match.
    r.forward.append(sequence_, 0, matched_);
    matched_ = 0;
    if (c == sequence_[0]) {
      matched_ = 1;
      if (sequence_.size() == 1) {
        matched_ = 0;
        r.detached = true;
        return r;
      }
    } else {
      r.forward += c;
    }
  }
  return r;
}

}  // namespace berth::cli
