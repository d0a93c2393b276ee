// sha256 digests ("sha256:<64 lowercase hex>"), computed incrementally (OpenSSL's EVP).
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace berth::image {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  void Update(absl::string_view data);
  std::string Digest();  // "sha256:<hex>"; the hasher is reset after

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string Sha256Of(absl::string_view data);
// INVALID_ARGUMENT unless "sha256:" + 64 lowercase hex digits.
absl::Status ValidateDigest(absl::string_view digest);
// The 64 hex digits of a valid digest.
std::string DigestHex(absl::string_view digest);

}  // namespace berth::image
