#include <set>

#include "agent/ids.h"
#include "gtest/gtest.h"

namespace berth::agent {
namespace {

TEST(ContainerIdTest, IsSixtyFourLowercaseHexAndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string id = NewContainerId();
    EXPECT_TRUE(IsFullId(id)) << id;
    EXPECT_TRUE(seen.insert(id).second);
  }
  EXPECT_FALSE(IsFullId("abc"));
  EXPECT_FALSE(IsFullId(std::string(64, 'g')));
  EXPECT_FALSE(IsFullId(std::string(64, 'A')));
}

TEST(ContainerNameTest, AcceptsDockerNames) {
  for (const char* ok : {"web", "a", "Web-1_x.y", "0abc"}) EXPECT_TRUE(ValidateName(ok).ok()) << ok;
  EXPECT_TRUE(ValidateName(std::string(128, 'a')).ok());
}

TEST(ContainerNameTest, RejectsBadNames) {
  for (const char* bad : {"", "-web", "_web", ".web", "we b", "a/b", "../x", "a:b", "ü"}) {
    absl::Status st = ValidateName(bad);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(ValidateName(std::string(129, 'a')).ok());
}

TEST(ContainerNameTest, GeneratedNamesAreValid) {
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(ValidateName(GenerateName(NewContainerId())).ok());
}

TEST(ResolveReferenceTest, ExactIdNameAndUniquePrefix) {
  std::string a = "aaaa" + std::string(60, '1');
  std::string b = "aabb" + std::string(60, '2');
  std::vector<IdAndName> known = {{a, "web"}, {b, "db"}};
  EXPECT_EQ(*ResolveReference(a, known), a);
  EXPECT_EQ(*ResolveReference("db", known), b);
  EXPECT_EQ(*ResolveReference("aaa", known), a);
  EXPECT_EQ(*ResolveReference("aab", known), b);
}

TEST(ResolveReferenceTest, AmbiguousPrefixIsAnError) {
  std::vector<IdAndName> known = {{"aaaa" + std::string(60, '1'), "x"}, {"aabb" + std::string(60, '2'), "y"}};
  auto r = ResolveReference("aa", known);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("ambiguous"), absl::string_view::npos);
}

TEST(ResolveReferenceTest, UnknownIsNotFound) {
  std::vector<IdAndName> known = {{"aaaa" + std::string(60, '1'), "x"}};
  EXPECT_EQ(ResolveReference("zz", known).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ResolveReference("", known).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ResolveReferenceTest, NameWinsOverPrefix) {
  std::string a = "beef" + std::string(60, '1');
  std::string b = "cafe" + std::string(60, '2');
  std::vector<IdAndName> known = {{a, "x"}, {b, "beef"}};
  EXPECT_EQ(*ResolveReference("beef", known), b);
}

}  // namespace
}  // namespace berth::agent
