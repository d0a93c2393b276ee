#include "agent/cri/streaming/stream_tokens.h"

#include <openssl/rand.h>

#include "absl/strings/str_cat.h"

namespace berth::agent::cri::streaming {
namespace {

// 128 random bits, URL-safe.
absl::StatusOr<std::string> NewToken() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return absl::InternalError("no random bytes for a stream token");
  static constexpr char kAlphabet[] = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) {
    token.push_back(kAlphabet[b >> 4]);
    token.push_back(kAlphabet[b & 0xf]);
  }
  return token;
}

}  // namespace

void TokenCache::DropExpiredLocked(absl::Time now) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = it->second.expires <= now ? entries_.erase(it) : std::next(it);
  }
}

absl::StatusOr<std::string> TokenCache::Insert(StreamRequest request) {
  auto token = NewToken();
  if (!token.ok()) return token.status();
  absl::Time now = now_();
  std::lock_guard<std::mutex> lock(mu_);
  DropExpiredLocked(now);
  if (entries_.size() >= capacity_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the streaming server holds ", capacity_, " unused URLs already; use or let expire some (they last ",
        absl::FormatDuration(ttl_), ")"));
  }
  entries_[*token] = Entry{std::move(request), now + ttl_};
  return token;
}

std::optional<StreamRequest> TokenCache::Take(const std::string& token) {
  absl::Time now = now_();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(token);
  if (it == entries_.end()) return std::nullopt;
  Entry entry = std::move(it->second);
  entries_.erase(it);
  if (entry.expires <= now) return std::nullopt;
  return std::move(entry.request);
}

}  // namespace berth::agent::cri::streaming
