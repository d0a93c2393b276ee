#include "agent/ids.h"

#include <map>
#include <set>
#include <string>

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

// Containers by id, as the manager keeps them, and each name's id.
struct Known {
  std::map<std::string, int> ids;
  std::map<std::string, std::string> names;
  Known& Add(const std::string& id, const std::string& name) {
    ids[id] = 0;
    names[name] = id;
    return *this;
  }
  absl::StatusOr<std::string> Resolve(const std::string& ref) const { return ResolveReference(ref, ids, names); }
};

TEST(ResolveReferenceTest, ExactIdNameAndUniquePrefix) {
  std::string a = "aaaa" + std::string(60, '1');
  std::string b = "aabb" + std::string(60, '2');
  Known known;
  known.Add(a, "web").Add(b, "db");
  EXPECT_EQ(*known.Resolve(a), a);
  EXPECT_EQ(*known.Resolve("db"), b);
  EXPECT_EQ(*known.Resolve("aaa"), a);
  EXPECT_EQ(*known.Resolve("aab"), b);
  EXPECT_EQ(*known.Resolve(b.substr(0, 63)), b);
}

TEST(ResolveReferenceTest, AmbiguousPrefixIsAnError) {
  Known known;
  known.Add("aaaa" + std::string(60, '1'), "x").Add("aabb" + std::string(60, '2'), "y").Add("ab" + std::string(62, '3'), "z");
  auto r = known.Resolve("aa");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("ambiguous: it matches 2 containers"), absl::string_view::npos) << r.status();
}

TEST(ResolveReferenceTest, UnknownIsNotFound) {
  Known known;
  known.Add("aaaa" + std::string(60, '1'), "x");
  EXPECT_EQ(known.Resolve("zz").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(known.Resolve("aaab").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(known.Resolve("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(known.Resolve(std::string(257, 'a')).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ResolveReferenceTest, NameWinsOverPrefix) {
  std::string a = "beef" + std::string(60, '1');
  std::string b = "cafe" + std::string(60, '2');
  Known known;
  known.Add(a, "x").Add(b, "beef");
  EXPECT_EQ(*known.Resolve("beef"), b);
}

TEST(ResolveReferenceTest, IdWinsOverName) {
  std::string a = "beef" + std::string(60, '1');
  std::string b = "cafe" + std::string(60, '2');
  Known known;
  known.Add(a, "x").Add(b, a.substr(0, 64));  // a name cannot be 64 hex characters, but the rule holds
  EXPECT_EQ(*known.Resolve(a), a);
}

TEST(ResolveReferenceTest, ANameReservedByACreateInFlightNamesNothing) {
  std::string a = "beef" + std::string(60, '1');
  Known known;
  known.Add(a, "x");
  known.names["pending"] = "";  // the manager's reservation: no id yet
  EXPECT_EQ(known.Resolve("pending").status().code(), absl::StatusCode::kNotFound);
  known.names["be"] = "";
  EXPECT_EQ(*known.Resolve("be"), a) << "a reserved name does not hide an id prefix";
}

}  // namespace
}  // namespace berth::agent
