#include "agent/ids.h"

#include <sys/random.h>

#include <array>
#include <cstdint>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "runtime/base/quote.h"
#include "absl/strings/str_format.h"

namespace berth::agent {

std::string NewContainerId() {
  std::array<uint8_t, 32> bytes{};
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::getrandom(bytes.data() + done, bytes.size() - done, 0);
    if (n > 0) done += static_cast<size_t>(n);
  }
  std::string out;
  for (uint8_t b : bytes) absl::StrAppendFormat(&out, "%02x", b);
  return out;
}

bool IsFullId(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::Status ValidateName(const std::string& name) {
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  bool ok = !name.empty() && name.size() <= 128 && alnum(name[0]);
  for (size_t i = 1; ok && i < name.size(); ++i) {
    char c = name[i];
    ok = alnum(c) || c == '_' || c == '.' || c == '-';
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid container name ", Quoted(name), ": names match [a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}"));
}

std::string GenerateName(const std::string& id) {
  static const char* kAdjectives[] = {"brave", "calm", "eager", "fond", "gentle", "happy", "jolly", "keen",
                                      "lucid", "merry", "nimble", "proud", "quiet", "rapid", "sharp", "tidy"};
  static const char* kNouns[] = {"anchor", "buoy", "cutter", "dinghy", "ferry", "galley", "harbor", "jetty",
                                 "keel", "lagoon", "mooring", "pier", "quay", "rudder", "schooner", "tug"};
  uint32_t a = id.size() >= 2 ? static_cast<uint32_t>(std::stoul(id.substr(0, 2), nullptr, 16)) : 0;
  return absl::StrCat(kAdjectives[a & 15], "_", kNouns[(a >> 4) & 15], "_", id.substr(2, 6));
}

absl::Status CheckReference(const std::string& ref) {
  if (ref.empty()) return absl::InvalidArgumentError("container id or name is empty");
  if (ref.size() > kMaxReferenceLength) {
    return absl::InvalidArgumentError(absl::StrCat("container id or name ", Quoted(ref), " is ", ref.size(),
                                                   " bytes; ids are 64 and names at most 128"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ResolvePrefix(const std::string& ref, size_t matches, const std::string* first) {
  if (matches == 1) return *first;
  if (matches == 0) return absl::NotFoundError(absl::StrCat("no such container: ", Quoted(ref)));
  return absl::InvalidArgumentError(absl::StrCat("container prefix ", Quoted(ref), " is ambiguous: it matches ",
                                                 matches, " containers; give more characters of the id"));
}

}  // namespace berth::agent
