#include "agent/image/digest.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace berth::image {

namespace {
constexpr absl::string_view kPrefix = "sha256:";
constexpr size_t kHexLen = 64;

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// OpenSSL failing to hash in memory means the library is broken or out of memory: nothing
// in the image store can work on, so this is an invariant, not an error to return.
void CheckOpenSsl(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "berth: fatal: OpenSSL %s failed\n", what);
  std::abort();
}
}  // namespace

struct Sha256::State {
  EVP_MD_CTX* ctx = nullptr;
  State() {
    ctx = EVP_MD_CTX_new();
    CheckOpenSsl(ctx != nullptr, "EVP_MD_CTX_new");
    CheckOpenSsl(EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1, "EVP_DigestInit_ex(sha256)");
  }
  ~State() { EVP_MD_CTX_free(ctx); }
  State(const State&) = delete;
  State& operator=(const State&) = delete;
};

Sha256::Sha256() : state_(std::make_unique<State>()) {}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::Update(absl::string_view data) {
  if (data.empty()) return;
  CheckOpenSsl(EVP_DigestUpdate(state_->ctx, data.data(), data.size()) == 1, "EVP_DigestUpdate");
}

std::string Sha256::Digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  CheckOpenSsl(EVP_DigestFinal_ex(state_->ctx, md, &len) == 1 && len == 32, "EVP_DigestFinal_ex");
  CheckOpenSsl(EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr) == 1, "EVP_DigestInit_ex(sha256)");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(kPrefix);
  out.reserve(kPrefix.size() + kHexLen);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xf]);
  }
  return out;
}

std::string Sha256Of(absl::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.Digest();
}

absl::Status ValidateDigest(absl::string_view digest) {
  if (digest.empty()) return absl::InvalidArgumentError("empty digest");
  size_t colon = digest.find(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("digest \"", digest, "\" has no algorithm (want sha256:<hex>)"));
  }
  if (digest.substr(0, colon + 1) != kPrefix) {
    return absl::InvalidArgumentError(
        absl::StrCat("digest \"", digest, "\": unsupported algorithm \"", digest.substr(0, colon), "\" (only sha256)"));
  }
  absl::string_view hex = digest.substr(kPrefix.size());
  if (hex.size() != kHexLen) {
    return absl::InvalidArgumentError(
        absl::StrCat("digest \"", digest, "\": want 64 hex digits after sha256:, got ", hex.size()));
  }
  for (char c : hex) {
    if (!IsLowerHex(c)) {
      return absl::InvalidArgumentError(absl::StrCat("digest \"", digest, "\": not lowercase hex"));
    }
  }
  return absl::OkStatus();
}

std::string DigestHex(absl::string_view digest) {
  // Empty for an invalid digest, so that a path built from it can never name anything
  // outside the blob directory.
  if (!ValidateDigest(digest).ok()) return "";
  return std::string(digest.substr(kPrefix.size()));
}

}  // namespace berth::image
