#include "agent/network_store.h"

#include <stdlib.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "runtime/base/file_util.h"

namespace berth::agent {
namespace {

class NetworkStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-netstore-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)RemoveTree(dir_); }

  static v1::Network Net(const std::string& id_char, const std::string& name, const std::string& subnet,
                         const std::string& gateway) {
    v1::Network n;
    n.set_id(std::string(64, id_char[0]));
    n.set_name(name);
    n.set_subnet(subnet);
    n.set_gateway(gateway);
    n.set_bridge("bbr" + n.id().substr(0, 12));
    return n;
  }
  std::string dir_;
};

TEST_F(NetworkStoreTest, AllocatesHostAddressesButNeverGatewayNetworkOrBroadcast) {
  NetworkStore store(dir_);
  ASSERT_TRUE(store.Load().ok());
  v1::Network n = Net("a", "small", "10.90.0.0/29", "10.90.0.1");
  ASSERT_TRUE(store.Add(n).ok());
  std::vector<std::string> got;
  for (int i = 0; i < 5; ++i) {
    auto a = store.Allocate(n.id(), "c" + std::to_string(i));
    ASSERT_TRUE(a.ok()) << a.status();
    got.push_back(a->ToString());
  }
  EXPECT_EQ(got, (std::vector<std::string>{"10.90.0.2", "10.90.0.3", "10.90.0.4", "10.90.0.5", "10.90.0.6"}));
  auto full = store.Allocate(n.id(), "c5");
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(full.status().message().find("small"), absl::string_view::npos);

  ASSERT_TRUE(store.Release(n.id(), "c2").ok());
  auto again = store.Allocate(n.id(), "c6");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->ToString(), "10.90.0.4");  // the only free one
  EXPECT_EQ(store.Find("small")->containers_size(), 5);
}

TEST_F(NetworkStoreTest, LeasesSurviveAReloadAndAreNotHandedOutTwice) {
  v1::Network n = Net("b", "persist", "10.91.0.0/24", "10.91.0.1");
  {
    NetworkStore store(dir_);
    ASSERT_TRUE(store.Load().ok());
    ASSERT_TRUE(store.Add(n).ok());
    ASSERT_EQ(store.Allocate(n.id(), "first")->ToString(), "10.91.0.2");
    ASSERT_EQ(store.Allocate(n.id(), "second")->ToString(), "10.91.0.3");
  }
  EXPECT_EQ(ReadFile(dir_ + "/" + n.id() + "/leases/10.91.0.2").value_or(""), "first\n");
  NetworkStore reloaded(dir_);
  ASSERT_TRUE(reloaded.Load().ok());
  auto leases = reloaded.Leases(n.id());
  ASSERT_EQ(leases.size(), 2u);
  EXPECT_EQ(leases[0].container_id, "first");
  auto next = reloaded.Allocate(n.id(), "third");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->ToString(), "10.91.0.4");
  ASSERT_TRUE(reloaded.Release(n.id(), "first").ok());
  EXPECT_NE(::access((dir_ + "/" + n.id() + "/leases/10.91.0.2").c_str(), F_OK), 0);
}

TEST_F(NetworkStoreTest, FindByNameIdAndPrefix) {
  NetworkStore store(dir_);
  ASSERT_TRUE(store.Load().ok());
  v1::Network a = Net("c", "alpha", "10.92.0.0/24", "10.92.0.1");
  v1::Network b = Net("d", "beta", "10.93.0.0/24", "10.93.0.1");
  ASSERT_TRUE(store.Add(a).ok());
  ASSERT_TRUE(store.Add(b).ok());
  EXPECT_EQ(store.Find("alpha")->id(), a.id());
  EXPECT_EQ(store.Find(b.id())->name(), "beta");
  EXPECT_EQ(store.Find("ddd")->name(), "beta");
  EXPECT_EQ(store.Find("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store.List().size(), 2u);
  ASSERT_TRUE(store.Delete(a.id()).ok());
  EXPECT_EQ(store.Find("alpha").status().code(), absl::StatusCode::kNotFound);
  NetworkStore reloaded(dir_);
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_EQ(reloaded.List().size(), 1u);
}

TEST_F(NetworkStoreTest, LoadFinishesInterruptedRemovalsAndIgnoresTempFiles) {
  v1::Network n = Net("e", "crashy", "10.94.0.0/24", "10.94.0.1");
  {
    NetworkStore store(dir_);
    ASSERT_TRUE(store.Load().ok());
    ASSERT_TRUE(store.Add(n).ok());
  }
  ASSERT_TRUE(MakeDirs(dir_ + "/.trash-" + std::string(64, 'f'), 0700).ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/" + n.id() + "/leases/.tmp-xyz", "junk").ok());
  NetworkStore store(dir_);
  ASSERT_TRUE(store.Load().ok());
  EXPECT_NE(::access((dir_ + "/.trash-" + std::string(64, 'f')).c_str(), F_OK), 0);
  EXPECT_TRUE(store.Leases(n.id()).empty());
}

TEST_F(NetworkStoreTest, RestoreRecreatesALostLeaseButNeverStealsOne) {
  NetworkStore store(dir_);
  ASSERT_TRUE(store.Load().ok());
  v1::Network n = Net("9", "restore", "10.95.0.0/24", "10.95.0.1");
  ASSERT_TRUE(store.Add(n).ok());
  auto a = store.Allocate(n.id(), "owner");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(store.Restore(n.id(), *a, "owner").ok());  // already held: nothing to do
  EXPECT_EQ(store.Restore(n.id(), *a, "thief").code(), absl::StatusCode::kFailedPrecondition);
  auto lost = net::ParseIpv4("10.95.0.77");
  ASSERT_TRUE(store.Restore(n.id(), *lost, "survivor").ok());
  EXPECT_EQ(ReadFile(dir_ + "/" + n.id() + "/leases/10.95.0.77").value_or(""), "survivor\n");
  EXPECT_EQ(store.Restore(n.id(), *net::ParseIpv4("10.96.0.5"), "x").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store.Restore(std::string(64, '0'), *lost, "x").code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace berth::agent
