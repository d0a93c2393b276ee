#include <algorithm>
#include <string>
#include <utility>

#include "agent/image/digest.h"
#include "gtest/gtest.h"

namespace berth::image {
namespace {

// FIPS 180-2 test vectors.
constexpr char kEmpty[] = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char kAbc[] = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr char kTwoBlocks[] = "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
constexpr char kMillionA[] = "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Of(""), kEmpty);
  EXPECT_EQ(Sha256Of("abc"), kAbc);
  EXPECT_EQ(Sha256Of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"), kTwoBlocks);
  EXPECT_EQ(Sha256Of(std::string(1000000, 'a')), kMillionA);
}

TEST(Sha256Test, IncrementalMatchesOneShotAndResetsAfterDigest) {
  Sha256 h;
  std::string million(1000000, 'a');
  // Uneven pieces across block boundaries.
  size_t pos = 0;
  for (size_t step = 1; pos < million.size(); step = step * 3 + 1) {
    size_t n = std::min(step, million.size() - pos);
    h.Update(absl::string_view(million).substr(pos, n));
    pos += n;
  }
  EXPECT_EQ(h.Digest(), kMillionA);
  // Reset after Digest: the same object hashes afresh.
  EXPECT_EQ(h.Digest(), kEmpty);
  h.Update("a");
  h.Update("");
  h.Update("bc");
  EXPECT_EQ(h.Digest(), kAbc);
}

TEST(Sha256Test, Movable) {
  Sha256 a;
  a.Update("ab");
  Sha256 b(std::move(a));
  b.Update("c");
  EXPECT_EQ(b.Digest(), kAbc);
  Sha256 c;
  c = std::move(b);
  c.Update("abc");
  EXPECT_EQ(c.Digest(), kAbc);
}

TEST(ValidateDigestTest, AcceptsSha256LowercaseHex) {
  EXPECT_TRUE(ValidateDigest(kAbc).ok());
  EXPECT_EQ(DigestHex(kAbc), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ValidateDigestTest, RejectsEverythingElse) {
  std::string hex(64, 'a');
  for (const std::string& bad :
       {std::string(), hex, "sha256:" + std::string(63, 'a'), "sha256:" + std::string(65, 'a'),
        "sha256:" + std::string(64, 'A'), "sha256:" + std::string(63, 'a') + "g", "sha512:" + std::string(128, 'a'),
        "SHA256:" + hex, std::string("sha256:"), ":" + hex, "sha256:../../../../etc/passwd" + std::string(36, 'a')}) {
    absl::Status st = ValidateDigest(bad);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(DigestHex(bad), "") << bad;
  }
  EXPECT_NE(ValidateDigest("sha512:" + std::string(128, 'a')).message().find("only sha256"), absl::string_view::npos);
}

}  // namespace
}  // namespace berth::image
