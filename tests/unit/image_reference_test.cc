#include <string>

#include "agent/image/reference.h"
#include "gtest/gtest.h"

namespace berth::image {
namespace {

const std::string kHex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const std::string kDigest = "sha256:" + kHex;

Reference Parse(const std::string& text) {
  absl::StatusOr<Reference> r = ParseReference(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status();
  return r.ok() ? *r : Reference{};
}

TEST(ReferenceTest, DockerNormalisation) {
  struct Case {
    std::string in, registry, repository, tag, digest, string, familiar;
  };
  const Case cases[] = {
      {"busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest", "busybox:latest"},
      {"busybox:1.36", "docker.io", "library/busybox", "1.36", "", "docker.io/library/busybox:1.36", "busybox:1.36"},
      {"library/busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest",
       "busybox:latest"},
      {"docker.io/busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest",
       "busybox:latest"},
      {"docker.io/library/busybox:musl", "docker.io", "library/busybox", "musl", "",
       "docker.io/library/busybox:musl", "busybox:musl"},
      {"index.docker.io/library/busybox", "docker.io", "library/busybox", "latest", "",
       "docker.io/library/busybox:latest", "busybox:latest"},
      {"index.docker.io/busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest",
       "busybox:latest"},
      {"bitnami/redis:7.2", "docker.io", "bitnami/redis", "7.2", "", "docker.io/bitnami/redis:7.2",
       "bitnami/redis:7.2"},
      // Only official images drop "library/" in the short form.
      {"library/a/b", "docker.io", "library/a/b", "latest", "", "docker.io/library/a/b:latest", "library/a/b:latest"},
      {"registry.k8s.io/pause:3.9", "registry.k8s.io", "pause", "3.9", "", "registry.k8s.io/pause:3.9",
       "registry.k8s.io/pause:3.9"},
      {"localhost/foo", "localhost", "foo", "latest", "", "localhost/foo:latest", "localhost/foo:latest"},
      {"localhost:5000/a/b:v1", "localhost:5000", "a/b", "v1", "", "localhost:5000/a/b:v1", "localhost:5000/a/b:v1"},
      {"127.0.0.1:5000/x", "127.0.0.1:5000", "x", "latest", "", "127.0.0.1:5000/x:latest", "127.0.0.1:5000/x:latest"},
      {"[::1]:5000/x:t", "[::1]:5000", "x", "t", "", "[::1]:5000/x:t", "[::1]:5000/x:t"},
      {"ghcr.io/org/sub/img:v1.2.3-rc_1", "ghcr.io", "org/sub/img", "v1.2.3-rc_1", "",
       "ghcr.io/org/sub/img:v1.2.3-rc_1", "ghcr.io/org/sub/img:v1.2.3-rc_1"},
      // A single component is never a registry, dots or not; "localhost:5000" alone is a tag.
      {"example.com", "docker.io", "library/example.com", "latest", "", "docker.io/library/example.com:latest",
       "example.com:latest"},
      {"localhost:5000", "docker.io", "library/localhost", "5000", "", "docker.io/library/localhost:5000",
       "localhost:5000"},
      // No '.', ':' and not localhost: a user name on docker.io.
      {"myregistry/img", "docker.io", "myregistry/img", "latest", "", "docker.io/myregistry/img:latest",
       "myregistry/img:latest"},
      {"busybox@" + kDigest, "docker.io", "library/busybox", "", kDigest, "docker.io/library/busybox@" + kDigest,
       "busybox@" + kDigest},
      {"busybox:1.36@" + kDigest, "docker.io", "library/busybox", "1.36", kDigest,
       "docker.io/library/busybox:1.36@" + kDigest, "busybox:1.36@" + kDigest},
      {"localhost:5000/a@" + kDigest, "localhost:5000", "a", "", kDigest, "localhost:5000/a@" + kDigest,
       "localhost:5000/a@" + kDigest},
      {"a.b-c/e---f", "a.b-c", "e---f", "latest", "", "a.b-c/e---f:latest", "a.b-c/e---f:latest"},
      {"x/a__b.c-d_e", "docker.io", "x/a__b.c-d_e", "latest", "", "docker.io/x/a__b.c-d_e:latest",
       "x/a__b.c-d_e:latest"},
      {"img:_T", "docker.io", "library/img", "_T", "", "docker.io/library/img:_T", "img:_T"},
  };
  for (const Case& c : cases) {
    Reference r = Parse(c.in);
    EXPECT_EQ(r.registry, c.registry) << c.in;
    EXPECT_EQ(r.repository, c.repository) << c.in;
    EXPECT_EQ(r.tag, c.tag) << c.in;
    EXPECT_EQ(r.digest, c.digest) << c.in;
    EXPECT_EQ(r.String(), c.string) << c.in;
    EXPECT_EQ(r.Name(), c.registry + "/" + c.repository) << c.in;
    EXPECT_EQ(r.Familiar(), c.familiar) << c.in;
    // The normalised and the short forms parse back to the same reference.
    Reference again = Parse(r.String());
    EXPECT_EQ(again.String(), r.String()) << c.in;
    EXPECT_EQ(Parse(r.Familiar()).String(), r.String()) << c.in;
  }
}

TEST(ReferenceTest, TagLimits) {
  EXPECT_EQ(Parse("a:" + std::string(128, 'x')).tag, std::string(128, 'x'));
  EXPECT_FALSE(ParseReference("a:" + std::string(129, 'x')).ok());
}

TEST(ReferenceTest, RejectsBadReferences) {
  struct Case {
    std::string in, message;
  };
  const Case cases[] = {
      {"", "empty"},
      {"Busybox", "must be lowercase"},
      {"docker.io/Library/busybox", "must be lowercase"},
      {"busybox:", "bad tag"},
      {"busybox:-x", "bad tag"},
      {"busybox:.x", "bad tag"},
      {"busybox:a/b", "bad registry"},  // a ':' before the '/' makes "busybox:a" a registry
      {"busybox:t@sha256:abc", "sha256"},
      {"busybox@sha256:" + std::string(64, 'A'), "hex"},
      {"busybox@md5:" + std::string(32, 'a'), "only sha256"},
      {"busybox@", "empty digest"},
      {"a//b", "empty path component"},
      {"/a", "empty path component"},
      {"a/", "empty path component"},
      {"-a", "bad repository"},
      {"a-", "bad repository"},
      {"a..b", "bad repository"},
      {"a___b", "bad repository"},
      {"a b", "bad repository"},
      {"a_-b", "bad repository"},
      {"ex ample.com/a", "bad registry"},
      {"-bad.com/a", "bad registry"},
      {"host.com:port/a", "bad registry"},
      {"host.com:/a", "bad registry"},
      {"my_host.com/a", "bad registry"},
      {"localhost:5000/", "empty repository"},
      {":tag", "empty name"},
      {"@" + kDigest, "empty name"},
      {kHex, "image id"},
      {std::string(256, 'a'), "longer than 255"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Reference> r = ParseReference(c.in);
    ASSERT_FALSE(r.ok()) << c.in << " parsed as " << r->String();
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.in;
    EXPECT_NE(r.status().message().find(c.message), absl::string_view::npos) << c.in << ": " << r.status();
  }
}

TEST(ReferenceTest, HexNameWithTagOrPathIsNotAnId) {
  EXPECT_EQ(Parse(kHex + ":v1").repository, "library/" + kHex);
  EXPECT_EQ(Parse("user/" + kHex).repository, "user/" + kHex);
}

}  // namespace
}  // namespace berth::image
