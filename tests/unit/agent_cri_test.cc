// The CRI layer's pure parts: pod CIDRs, the kubelet's auth config, images as the CRI shows
// them, and where the CRI socket goes.
#include "absl/strings/escaping.h"
#include "agent/cri/cri_endpoint.h"
#include "agent/cri/cri_image_service.h"
#include "agent/cri/cri_runtime_service.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::agent::cri {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(CriPodCidr, OneOrADualStackPair) {
  EXPECT_TRUE(ValidatePodCidr("10.244.0.0/24").ok());
  EXPECT_TRUE(ValidatePodCidr("10.244.0.0/24,fd00:10:244::/64").ok());
  EXPECT_TRUE(ValidatePodCidr("fd00::/64").ok());
  absl::Status bad = ValidatePodCidr("10.244.0.0");
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ValidatePodCidr("10.244.0.0/33").ok());
  EXPECT_FALSE(ValidatePodCidr("a,b,c").ok());
  EXPECT_THAT(ValidatePodCidr("a,b,c").message(), HasSubstr("\"a,b,c\""));
}

TEST(CriAuthConfig, UserAndPasswordOrBase64) {
  ::runtime::v1::AuthConfig none;
  auto empty = CredentialsOf(none);
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->has_value());

  ::runtime::v1::AuthConfig plain;
  plain.set_username("u");
  plain.set_password("p:w");
  auto got = CredentialsOf(plain);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->username, "u");
  EXPECT_EQ((*got)->password, "p:w");

  ::runtime::v1::AuthConfig encoded;
  encoded.set_auth(absl::Base64Escape("user:pa:ss"));
  got = CredentialsOf(encoded);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->username, "user");
  EXPECT_EQ((*got)->password, "pa:ss");

  ::runtime::v1::AuthConfig garbage;
  garbage.set_auth("!!!");
  EXPECT_EQ(CredentialsOf(garbage).status().code(), absl::StatusCode::kInvalidArgument);
  ::runtime::v1::AuthConfig token;
  token.set_identity_token("t");
  EXPECT_EQ(CredentialsOf(token).status().code(), absl::StatusCode::kInvalidArgument);
  ::runtime::v1::AuthConfig password_only;
  password_only.set_password("p");
  EXPECT_EQ(CredentialsOf(password_only).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CriImage, TagsDigestsAndUser) {
  image::Image image;
  image.id = "sha256:" + std::string(64, 'c');
  image.manifest_digest = "sha256:" + std::string(64, 'a');
  image.names = {"docker.io/library/app:v1", "docker.io/library/app:latest",
                 "127.0.0.1:5000/team/app@sha256:" + std::string(64, 'a')};
  image.size = 1234;
  image.config.config.user = "1000:1000";
  ::runtime::v1::Image out = ToCriImage(image);
  EXPECT_EQ(out.id(), image.id);
  EXPECT_THAT(out.repo_tags(), ElementsAre("docker.io/library/app:v1", "docker.io/library/app:latest"));
  EXPECT_THAT(out.repo_digests(), ElementsAre("docker.io/library/app@" + image.manifest_digest,
                                              "127.0.0.1:5000/team/app@" + image.manifest_digest));
  EXPECT_EQ(out.size(), 1234u);
  ASSERT_TRUE(out.has_uid());
  EXPECT_EQ(out.uid().value(), 1000);
  EXPECT_EQ(out.username(), "");

  image.config.config.user = "nobody";
  out = ToCriImage(image);
  EXPECT_FALSE(out.has_uid());
  EXPECT_EQ(out.username(), "nobody");
}

TEST(CriSocket, BesideTheAgentsSocketUnlessGiven) {
  EXPECT_EQ(CriSocketPath("", "/run/berth/berth.sock"), "/run/berth/cri.sock");
  EXPECT_EQ(CriSocketPath("/run/k8s/cri.sock", "/run/berth/berth.sock"), "/run/k8s/cri.sock");
  EXPECT_EQ(CriSocketPath("none", "/run/berth/berth.sock"), "");
}

}  // namespace
}  // namespace berth::agent::cri
