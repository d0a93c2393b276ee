// Real rtnetlink against the kernel: needs root. Every test works only inside network
// namespaces it creates with CreateNetns (a fake "host" plus one per container); the
// namespace the test process runs in is never changed, and nothing is left behind: the
// namespaces go away with their fds, and everything in them with them.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/network/container_link.h"
#include "runtime/network/ipv4.h"
#include "runtime/network/netns.h"
#include "runtime/network/rtnetlink.h"

namespace berth::net {
namespace {

using ::testing::HasSubstr;

inline const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

#define ASSERT_OK(expr)                            \
  do {                                             \
    const absl::Status _st = StatusOf(expr);       \
    ASSERT_TRUE(_st.ok()) << #expr << ": " << _st; \
  } while (0)
#define EXPECT_OK(expr)                            \
  do {                                             \
    const absl::Status _st = StatusOf(expr);       \
    EXPECT_TRUE(_st.ok()) << #expr << ": " << _st; \
  } while (0)

Ipv4Address Addr(absl::string_view text) { return ParseIpv4(text).value(); }
Ipv4Prefix Prefix(absl::string_view text) { return ParseIpv4Prefix(text).value(); }

ino_t InodeOf(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return 0;
  return st.st_ino;
}

ino_t CurrentNetnsInode() {
  struct stat st {};
  if (stat("/proc/thread-self/ns/net", &st) != 0) return 0;
  return st.st_ino;
}

std::optional<LinkInfo> FindLink(const std::vector<LinkInfo>& links, const std::string& name) {
  for (const LinkInfo& link : links) {
    if (link.name == name) return link;
  }
  return std::nullopt;
}

std::set<std::string> LinkNames(const std::vector<LinkInfo>& links) {
  std::set<std::string> names;
  for (const LinkInfo& link : links) names.insert(link.name);
  return names;
}

// A listening TCP socket on address:port, created in the calling thread's netns.
absl::StatusOr<UniqueFd> Listen(Ipv4Address address, uint16_t port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoToStatus("socket");
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = address.NetworkOrder();
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    return ErrnoToStatus(absl::StrCat("bind ", address.ToString()));
  }
  if (listen(fd.get(), 4) != 0) return ErrnoToStatus("listen");
  return fd;
}

// Connects to address:port from the calling thread's netns and sends `payload`.
absl::StatusOr<UniqueFd> ConnectAndSend(Ipv4Address address, uint16_t port, const std::string& payload) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoToStatus("socket");
  timeval timeout{5, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = address.NetworkOrder();
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    return ErrnoToStatus(absl::StrCat("connect ", address.ToString()));
  }
  if (send(fd.get(), payload.data(), payload.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(payload.size())) {
    return ErrnoToStatus("send");
  }
  return fd;
}

// Accepts one connection on `listener` (any thread: the socket keeps its netns) and reads
// until `size` bytes arrived; the peer's address goes to *peer.
absl::StatusOr<std::string> AcceptAndRead(int listener, size_t size, Ipv4Address* peer) {
  pollfd pfd{listener, POLLIN, 0};
  if (poll(&pfd, 1, 5000) != 1) return absl::DeadlineExceededError("no connection within 5 s");
  sockaddr_in sa{};
  socklen_t len = sizeof(sa);
  UniqueFd conn(accept4(listener, reinterpret_cast<sockaddr*>(&sa), &len, SOCK_CLOEXEC));
  if (!conn) return ErrnoToStatus("accept");
  *peer = Ipv4Address{ntohl(sa.sin_addr.s_addr)};
  std::string data;
  while (data.size() < size) {
    pollfd cfd{conn.get(), POLLIN, 0};
    if (poll(&cfd, 1, 5000) != 1) return absl::DeadlineExceededError("no data within 5 s");
    char buf[256];
    ssize_t n = read(conn.get(), buf, sizeof(buf));
    if (n <= 0) break;
    data.append(buf, n);
  }
  return data;
}

class NetworkLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root (creates network namespaces)";
    }
    own_netns_inode_ = CurrentNetnsInode();
    absl::StatusOr<UniqueFd> host = CreateNetns();
    ASSERT_OK(host);
    host_ = *std::move(host);
  }

  void TearDown() override {
    // The test thread itself never changed namespace.
    if (own_netns_inode_ != 0) {
      EXPECT_EQ(CurrentNetnsInode(), own_netns_inode_);
    }
  }

  // Runs fn inside the fake host netns (AttachContainer and EnsureBridge work in the calling
  // thread's netns).
  absl::Status InHost(const std::function<absl::Status()>& fn) { return RunInNetns(host_.get(), fn); }

  static std::vector<LinkInfo> LinksIn(int netns) {
    absl::StatusOr<Rtnl> rtnl = Rtnl::OpenIn(netns);
    EXPECT_TRUE(rtnl.ok()) << rtnl.status();
    if (!rtnl.ok()) return {};
    absl::StatusOr<std::vector<LinkInfo>> links = rtnl->ListLinks();
    EXPECT_TRUE(links.ok()) << links.status();
    return links.value_or(std::vector<LinkInfo>{});
  }

  static absl::StatusOr<std::string> ReadSysctlIn(int netns, const std::string& key) {
    absl::StatusOr<std::string> value = absl::InternalError("not run");
    absl::Status st = RunInNetns(netns, [&] {
      value = ReadFile("/proc/sys/" + key);
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    return value;
  }

  absl::Status MakeBridge(const std::string& name = "berth0", int mtu = 0) {
    return InHost([&] { return EnsureBridge(BridgeConfig{name, gateway_prefix_, mtu}); });
  }

  ContainerLinkConfig LinkFor(const std::string& host_interface, int netns, const std::string& address) {
    ContainerLinkConfig link;
    link.bridge = "berth0";
    link.host_interface = host_interface;
    link.container_netns_fd = netns;
    link.address = Prefix(address);
    link.gateway = gateway_prefix_.address;
    return link;
  }

  ino_t own_netns_inode_ = 0;
  UniqueFd host_;
  const Ipv4Prefix gateway_prefix_ = Prefix("10.88.0.1/16");
};

// --- netns ---------------------------------------------------------------------------------

TEST_F(NetworkLinkTest, CreateNetnsMakesAnEmptyNamespaceWithoutMovingTheCaller) {
  EXPECT_NE(InodeOf(host_.get()), own_netns_inode_);
  std::vector<LinkInfo> links = LinksIn(host_.get());
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0].name, "lo");
  EXPECT_FALSE(links[0].up);
}

TEST_F(NetworkLinkTest, RunInNetnsRunsInsideAndReturnsTheStatus) {
  ino_t inside = 0;
  ASSERT_OK(InHost([&] {
    inside = CurrentNetnsInode();
    return absl::OkStatus();
  }));
  EXPECT_EQ(inside, InodeOf(host_.get()));
  absl::Status failed = InHost([] { return absl::DataLossError("from fn"); });
  EXPECT_EQ(failed.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(RunInNetns(-1, [] { return absl::OkStatus(); }).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(NetworkLinkTest, OpenNetnsOfPid) {
  absl::StatusOr<UniqueFd> self = OpenNetnsOfPid(getpid());
  ASSERT_OK(self);
  absl::StatusOr<UniqueFd> current = OpenCurrentNetns();
  ASSERT_OK(current);
  EXPECT_EQ(InodeOf(self->get()), InodeOf(current->get()));
  // pid_max is one past the largest pid the kernel hands out.
  absl::StatusOr<std::string> pid_max = ReadFile("/proc/sys/kernel/pid_max");
  ASSERT_OK(pid_max);
  EXPECT_EQ(OpenNetnsOfPid(std::stoi(*pid_max)).status().code(), absl::StatusCode::kNotFound);
}

// --- Rtnl ------------------------------------------------------------------------------------

TEST_F(NetworkLinkTest, RtnlOpenedInANetnsStaysThere) {
  absl::StatusOr<Rtnl> rtnl = Rtnl::OpenIn(host_.get());
  ASSERT_OK(rtnl);
  ASSERT_OK(rtnl->CreateBridge("br-test"));  // from the test thread, but lands in host_
  EXPECT_TRUE(FindLink(LinksIn(host_.get()), "br-test").has_value());
  absl::StatusOr<Rtnl> own = Rtnl::Open();
  ASSERT_OK(own);
  EXPECT_EQ(own->GetLink("br-test").status().code(), absl::StatusCode::kNotFound);  // read only
}

TEST_F(NetworkLinkTest, RtnlErrors) {
  absl::StatusOr<Rtnl> rtnl = Rtnl::OpenIn(host_.get());
  ASSERT_OK(rtnl);
  ASSERT_OK(rtnl->CreateBridge("br-test"));

  absl::Status duplicate = rtnl->CreateBridge("br-test");
  EXPECT_EQ(duplicate.code(), absl::StatusCode::kAlreadyExists) << duplicate;
  EXPECT_THAT(duplicate.message(), HasSubstr("br-test"));

  absl::Status missing = rtnl->DeleteLink("nosuchlink");
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound) << missing;
  EXPECT_THAT(missing.message(), HasSubstr("nosuchlink"));
  EXPECT_EQ(rtnl->GetLink("nosuchlink").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(rtnl->SetUp("nosuchlink").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(rtnl->AddAddress("nosuchlink", Prefix("10.1.0.1/24")).code(), absl::StatusCode::kNotFound);

  EXPECT_EQ(rtnl->CreateBridge("this-name-is-too-long").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(rtnl->CreateBridge("a/b").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(rtnl->CreateBridge("").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(rtnl->SetMac("br-test", "01:00:5e:00:00:01").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(rtnl->SetMac("br-test", "02:42:0a:58:00").code(), absl::StatusCode::kInvalidArgument);

  ASSERT_OK(rtnl->AddAddress("br-test", Prefix("10.1.0.1/24")));
  absl::Status again = rtnl->AddAddress("br-test", Prefix("10.1.0.1/24"));
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists) << again;
  EXPECT_THAT(again.message(), HasSubstr("10.1.0.1/24"));
}

TEST_F(NetworkLinkTest, RtnlLinkSettings) {
  absl::StatusOr<Rtnl> rtnl = Rtnl::OpenIn(host_.get());
  ASSERT_OK(rtnl);
  ASSERT_OK(rtnl->CreateBridge("br-a"));
  absl::StatusOr<LinkInfo> link = rtnl->GetLink("br-a");
  ASSERT_OK(link);
  EXPECT_EQ(link->kind, "bridge");
  EXPECT_FALSE(link->up);
  EXPECT_GT(link->index, 0);

  ASSERT_OK(rtnl->Rename("br-a", "br-b"));
  EXPECT_EQ(rtnl->GetLink("br-a").status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK(rtnl->SetMtu("br-b", 1400));
  ASSERT_OK(rtnl->SetMac("br-b", "02:42:aa:bb:cc:dd"));
  ASSERT_OK(rtnl->SetUp("br-b"));
  link = rtnl->GetLink("br-b");
  ASSERT_OK(link);
  EXPECT_EQ(link->mtu, 1400);
  EXPECT_EQ(link->mac, "02:42:aa:bb:cc:dd");
  EXPECT_TRUE(link->up);

  // A veth whose peer stays in the same netns, enslaved to the bridge.
  ASSERT_OK(rtnl->CreateVethPair("ve-a", "ve-b", host_.get(), 0));
  ASSERT_OK(rtnl->SetMaster("ve-a", "br-b"));
  absl::StatusOr<LinkInfo> port = rtnl->GetLink("ve-a");
  ASSERT_OK(port);
  EXPECT_EQ(port->kind, "veth");
  EXPECT_EQ(port->master_index, link->index);

  ASSERT_OK(rtnl->AddAddress("br-b", Prefix("10.2.0.1/24")));
  absl::StatusOr<std::vector<Ipv4Prefix>> addresses = rtnl->ListAddresses("br-b");
  ASSERT_OK(addresses);
  EXPECT_THAT(*addresses, ::testing::ElementsAre(Prefix("10.2.0.1/24")));

  ASSERT_OK(rtnl->AddRoute(Prefix("10.3.0.0/16"), Addr("10.2.0.9"), "br-b"));
  absl::Status duplicate_route = rtnl->AddRoute(Prefix("10.3.0.0/16"), Addr("10.2.0.9"), "br-b");
  EXPECT_EQ(duplicate_route.code(), absl::StatusCode::kAlreadyExists) << duplicate_route;
  absl::StatusOr<std::vector<RouteInfo>> routes = rtnl->ListRoutes();
  ASSERT_OK(routes);
  bool found = false;
  for (const RouteInfo& r : *routes) {
    if (r.destination == Prefix("10.3.0.0/16")) {
      found = true;
      EXPECT_EQ(r.gateway, Addr("10.2.0.9"));
      EXPECT_EQ(r.oif_index, link->index);
    }
  }
  EXPECT_TRUE(found);

  ASSERT_OK(rtnl->DeleteLink("ve-b"));  // takes its peer along
  EXPECT_EQ(rtnl->GetLink("ve-a").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(NetworkLinkTest, DumpsSpanManyMessages) {
  // 150 bridges (~1.5 KB each on the wire) do not fit one 32 KiB batch: the dump comes in parts.
  absl::StatusOr<Rtnl> rtnl = Rtnl::OpenIn(host_.get());
  ASSERT_OK(rtnl);
  constexpr int kBridges = 150;
  for (int i = 0; i < kBridges; ++i) ASSERT_OK(rtnl->CreateBridge(absl::StrCat("br", i)));
  absl::StatusOr<std::vector<LinkInfo>> links = rtnl->ListLinks();
  ASSERT_OK(links);
  EXPECT_EQ(links->size(), kBridges + 1u);  // and lo
  std::set<std::string> names = LinkNames(*links);
  EXPECT_TRUE(names.count("br0") && names.count("br149") && names.count("lo"));
  for (const LinkInfo& link : *links) {
    if (link.name != "lo") {
      EXPECT_EQ(link.kind, "bridge") << link.name;
    }
  }
  // The socket is still in step after a long dump.
  EXPECT_OK(rtnl->GetLink("br75"));
}

TEST_F(NetworkLinkTest, VethPeerIsBornInsideTheOtherNetns) {
  absl::StatusOr<UniqueFd> container = CreateNetns();
  ASSERT_OK(container);
  absl::StatusOr<Rtnl> rtnl = Rtnl::OpenIn(host_.get());
  ASSERT_OK(rtnl);
  ASSERT_OK(rtnl->CreateVethPair("vh0", "eth0", container->get(), 1450));

  std::vector<LinkInfo> host_links = LinksIn(host_.get());
  std::optional<LinkInfo> host_end = FindLink(host_links, "vh0");
  ASSERT_TRUE(host_end.has_value());
  EXPECT_EQ(host_end->kind, "veth");
  EXPECT_EQ(host_end->mtu, 1450);
  EXPECT_FALSE(FindLink(host_links, "eth0").has_value());

  std::optional<LinkInfo> peer = FindLink(LinksIn(container->get()), "eth0");
  ASSERT_TRUE(peer.has_value());
  EXPECT_EQ(peer->kind, "veth");
  EXPECT_EQ(peer->mtu, 1450);

  // Duplicates of either name.
  absl::Status same_host = rtnl->CreateVethPair("vh0", "eth1", container->get(), 0);
  EXPECT_EQ(same_host.code(), absl::StatusCode::kAlreadyExists) << same_host;
  absl::Status same_peer = rtnl->CreateVethPair("vh1", "eth0", container->get(), 0);
  EXPECT_EQ(same_peer.code(), absl::StatusCode::kAlreadyExists) << same_peer;
  EXPECT_FALSE(FindLink(LinksIn(host_.get()), "vh1").has_value());
  EXPECT_FALSE(FindLink(LinksIn(container->get()), "eth1").has_value());
}

TEST_F(NetworkLinkTest, WriteSysctlWritesInTheGivenNetnsOnly) {
  absl::StatusOr<std::string> before = ReadFile("/proc/sys/net/ipv4/ip_forward");
  ASSERT_OK(before);
  ASSERT_OK(WriteSysctl("net/ipv4/ip_forward", "1", host_.get()));
  absl::StatusOr<std::string> inside = ReadSysctlIn(host_.get(), "net/ipv4/ip_forward");
  ASSERT_OK(inside);
  EXPECT_EQ(*inside, "1\n");
  EXPECT_EQ(ReadFile("/proc/sys/net/ipv4/ip_forward").value_or(""), *before);
  EXPECT_EQ(WriteSysctl("net/../../etc/passwd", "x", host_.get()).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteSysctl("net/ipv4/no_such_key", "1", host_.get()).code(), absl::StatusCode::kNotFound);
}

TEST_F(NetworkLinkTest, LoopbackUp) {
  absl::StatusOr<UniqueFd> netns = CreateNetns();
  ASSERT_OK(netns);
  ASSERT_OK(LoopbackUp(netns->get()));
  std::optional<LinkInfo> lo = FindLink(LinksIn(netns->get()), "lo");
  ASSERT_TRUE(lo.has_value());
  EXPECT_TRUE(lo->up);
}

// --- bridge --------------------------------------------------------------------------------

TEST_F(NetworkLinkTest, EnsureBridgeCreatesAddressesAndBringsUp) {
  ASSERT_OK(MakeBridge("berth0", 1400));
  absl::StatusOr<Rtnl> rtnl = Rtnl::OpenIn(host_.get());
  ASSERT_OK(rtnl);
  absl::StatusOr<LinkInfo> bridge = rtnl->GetLink("berth0");
  ASSERT_OK(bridge);
  EXPECT_EQ(bridge->kind, "bridge");
  EXPECT_TRUE(bridge->up);
  EXPECT_EQ(bridge->mtu, 1400);
  EXPECT_EQ(bridge->mac, MacForAddress(gateway_prefix_.address));
  absl::StatusOr<std::vector<Ipv4Prefix>> addresses = rtnl->ListAddresses("berth0");
  ASSERT_OK(addresses);
  EXPECT_THAT(*addresses, ::testing::ElementsAre(gateway_prefix_));
  absl::StatusOr<std::string> route_localnet =
      ReadSysctlIn(host_.get(), "net/ipv4/conf/berth0/route_localnet");
  ASSERT_OK(route_localnet);
  EXPECT_EQ(*route_localnet, "1\n");
}

TEST_F(NetworkLinkTest, EnsureBridgeIsIdempotent) {
  ASSERT_OK(MakeBridge());
  absl::StatusOr<Rtnl> rtnl = Rtnl::OpenIn(host_.get());
  ASSERT_OK(rtnl);
  absl::StatusOr<LinkInfo> first = rtnl->GetLink("berth0");
  ASSERT_OK(first);
  ASSERT_OK(MakeBridge());
  ASSERT_OK(MakeBridge());
  absl::StatusOr<LinkInfo> again = rtnl->GetLink("berth0");
  ASSERT_OK(again);
  EXPECT_EQ(again->index, first->index);
  EXPECT_THAT(rtnl->ListAddresses("berth0").value_or(std::vector<Ipv4Prefix>{}),
              ::testing::ElementsAre(gateway_prefix_));

  // Repairs what it owns: a bridge found down and without its address.
  ASSERT_OK(rtnl->DeleteLink("berth0"));
  ASSERT_OK(rtnl->CreateBridge("berth0"));
  ASSERT_OK(MakeBridge());
  absl::StatusOr<LinkInfo> repaired = rtnl->GetLink("berth0");
  ASSERT_OK(repaired);
  EXPECT_TRUE(repaired->up);
  EXPECT_THAT(rtnl->ListAddresses("berth0").value_or(std::vector<Ipv4Prefix>{}),
              ::testing::ElementsAre(gateway_prefix_));
}

TEST_F(NetworkLinkTest, EnsureBridgeRacingCallsAllSucceed) {
  for (int round = 0; round < 5; ++round) {
    absl::StatusOr<Rtnl> rtnl = Rtnl::OpenIn(host_.get());
    ASSERT_OK(rtnl);
    (void)rtnl->DeleteLink("berth0");
    std::vector<absl::Status> results(4);
    std::vector<std::thread> threads;
    for (absl::Status& result : results) {
      threads.emplace_back([&] { result = MakeBridge(); });
    }
    for (std::thread& t : threads) t.join();
    for (const absl::Status& result : results) EXPECT_TRUE(result.ok()) << result;
    EXPECT_THAT(rtnl->ListAddresses("berth0").value_or(std::vector<Ipv4Prefix>{}),
                ::testing::ElementsAre(gateway_prefix_));
    absl::StatusOr<LinkInfo> bridge = rtnl->GetLink("berth0");
    ASSERT_OK(bridge);
    EXPECT_TRUE(bridge->up);
  }
}

TEST_F(NetworkLinkTest, EnsureBridgeRefusesANonBridge) {
  absl::StatusOr<Rtnl> rtnl = Rtnl::OpenIn(host_.get());
  ASSERT_OK(rtnl);
  ASSERT_OK(rtnl->CreateVethPair("berth0", "berth0-peer", host_.get(), 0));
  absl::Status st = MakeBridge();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_EQ(InHost([] { return DeleteBridge("berth0"); }).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(NetworkLinkTest, DeleteBridge) {
  ASSERT_OK(MakeBridge());
  ASSERT_OK(InHost([] { return DeleteBridge("berth0"); }));
  EXPECT_FALSE(FindLink(LinksIn(host_.get()), "berth0").has_value());
  EXPECT_OK(InHost([] { return DeleteBridge("berth0"); }));  // already gone
}

// --- containers ------------------------------------------------------------------------------

TEST_F(NetworkLinkTest, AttachContainerConfiguresBothEnds) {
  ASSERT_OK(MakeBridge("berth0", 1400));
  absl::StatusOr<UniqueFd> container = CreateNetns();
  ASSERT_OK(container);
  ASSERT_OK(
      InHost([&] { return AttachContainer(LinkFor("bth0123456789a", container->get(), "10.88.0.2/16")); }));

  // Host end: on the bridge, up, the bridge's MTU.
  std::vector<LinkInfo> host_links = LinksIn(host_.get());
  std::optional<LinkInfo> bridge = FindLink(host_links, "berth0");
  std::optional<LinkInfo> host_end = FindLink(host_links, "bth0123456789a");
  ASSERT_TRUE(bridge.has_value());
  ASSERT_TRUE(host_end.has_value());
  EXPECT_EQ(host_end->kind, "veth");
  EXPECT_EQ(host_end->master_index, bridge->index);
  EXPECT_TRUE(host_end->up);
  EXPECT_EQ(host_end->mtu, 1400);
  EXPECT_FALSE(FindLink(host_links, "eth0").has_value());

  // Container end.
  absl::StatusOr<Rtnl> inside = Rtnl::OpenIn(container->get());
  ASSERT_OK(inside);
  absl::StatusOr<LinkInfo> eth0 = inside->GetLink("eth0");
  ASSERT_OK(eth0);
  EXPECT_EQ(eth0->kind, "veth");
  EXPECT_TRUE(eth0->up);
  EXPECT_EQ(eth0->mtu, 1400);
  EXPECT_EQ(eth0->mac, "02:42:0a:58:00:02");
  absl::StatusOr<std::vector<Ipv4Prefix>> addresses = inside->ListAddresses("eth0");
  ASSERT_OK(addresses);
  EXPECT_THAT(*addresses, ::testing::ElementsAre(Prefix("10.88.0.2/16")));
  absl::StatusOr<LinkInfo> lo = inside->GetLink("lo");
  ASSERT_OK(lo);
  EXPECT_TRUE(lo->up);

  absl::StatusOr<std::vector<RouteInfo>> routes = inside->ListRoutes();
  ASSERT_OK(routes);
  bool has_default = false;
  for (const RouteInfo& r : *routes) {
    if (r.destination.length == 0) {
      has_default = true;
      EXPECT_EQ(r.gateway, gateway_prefix_.address);
      EXPECT_EQ(r.oif_index, eth0->index);
    }
  }
  EXPECT_TRUE(has_default);
}

TEST_F(NetworkLinkTest, AttachContainerUsesAGivenMac) {
  ASSERT_OK(MakeBridge());
  absl::StatusOr<UniqueFd> container = CreateNetns();
  ASSERT_OK(container);
  ContainerLinkConfig link = LinkFor("bth-mac", container->get(), "10.88.0.9/16");
  link.mac = "02:00:00:00:be:ef";
  ASSERT_OK(InHost([&] { return AttachContainer(link); }));
  std::optional<LinkInfo> eth0 = FindLink(LinksIn(container->get()), "eth0");
  ASSERT_TRUE(eth0.has_value());
  EXPECT_EQ(eth0->mac, "02:00:00:00:be:ef");
  EXPECT_EQ(eth0->mtu, 1500);
}

TEST_F(NetworkLinkTest, PacketsCrossTheBridgeBetweenContainersAndToTheHost) {
  ASSERT_OK(MakeBridge());
  absl::StatusOr<UniqueFd> a = CreateNetns();
  absl::StatusOr<UniqueFd> b = CreateNetns();
  ASSERT_OK(a);
  ASSERT_OK(b);
  ASSERT_OK(InHost([&] { return AttachContainer(LinkFor("bth-a", a->get(), "10.88.0.2/16")); }));
  ASSERT_OK(InHost([&] { return AttachContainer(LinkFor("bth-b", b->get(), "10.88.0.3/16")); }));

  // B -> A across the bridge.
  absl::StatusOr<UniqueFd> listener = absl::InternalError("not run");
  ASSERT_OK(RunInNetns(a->get(), [&] {
    listener = Listen(Addr("10.88.0.2"), 5000);
    return listener.status();
  }));
  absl::StatusOr<UniqueFd> client = absl::InternalError("not run");
  ASSERT_OK(RunInNetns(b->get(), [&] {
    client = ConnectAndSend(Addr("10.88.0.2"), 5000, "hello from b");
    return client.status();
  }));
  Ipv4Address peer;
  absl::StatusOr<std::string> received = AcceptAndRead(listener->get(), 12, &peer);
  ASSERT_OK(received);
  EXPECT_EQ(*received, "hello from b");
  EXPECT_EQ(peer, Addr("10.88.0.3"));

  // A -> the gateway address on the bridge.
  absl::StatusOr<UniqueFd> host_listener = absl::InternalError("not run");
  ASSERT_OK(InHost([&] {
    host_listener = Listen(gateway_prefix_.address, 5001);
    return host_listener.status();
  }));
  absl::StatusOr<UniqueFd> client_a = absl::InternalError("not run");
  ASSERT_OK(RunInNetns(a->get(), [&] {
    client_a = ConnectAndSend(gateway_prefix_.address, 5001, "to gateway");
    return client_a.status();
  }));
  received = AcceptAndRead(host_listener->get(), 10, &peer);
  ASSERT_OK(received);
  EXPECT_EQ(*received, "to gateway");
  EXPECT_EQ(peer, Addr("10.88.0.2"));

  // A -> an address outside the subnet: only the default route via the gateway gets there.
  // The fake host owns 192.0.2.1 (TEST-NET-1) on its own lo.
  absl::StatusOr<Rtnl> host_rtnl = Rtnl::OpenIn(host_.get());
  ASSERT_OK(host_rtnl);
  ASSERT_OK(host_rtnl->AddAddress("lo", Prefix("192.0.2.1/32")));
  ASSERT_OK(host_rtnl->SetUp("lo"));
  absl::StatusOr<UniqueFd> outside_listener = absl::InternalError("not run");
  ASSERT_OK(InHost([&] {
    outside_listener = Listen(Addr("192.0.2.1"), 5002);
    return outside_listener.status();
  }));
  absl::StatusOr<UniqueFd> client_routed = absl::InternalError("not run");
  ASSERT_OK(RunInNetns(a->get(), [&] {
    client_routed = ConnectAndSend(Addr("192.0.2.1"), 5002, "routed");
    return client_routed.status();
  }));
  received = AcceptAndRead(outside_listener->get(), 6, &peer);
  ASSERT_OK(received);
  EXPECT_EQ(*received, "routed");
  EXPECT_EQ(peer, Addr("10.88.0.2"));
}

TEST_F(NetworkLinkTest, AttachToAMissingBridgeLeavesNothing) {
  absl::StatusOr<UniqueFd> container = CreateNetns();
  ASSERT_OK(container);
  std::set<std::string> host_before = LinkNames(LinksIn(host_.get()));
  absl::Status st =
      InHost([&] { return AttachContainer(LinkFor("bth-x", container->get(), "10.88.0.2/16")); });
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound) << st;
  EXPECT_THAT(st.message(), HasSubstr("berth0"));
  EXPECT_EQ(LinkNames(LinksIn(host_.get())), host_before);
  EXPECT_EQ(LinkNames(LinksIn(container->get())), std::set<std::string>{"lo"});
}

TEST_F(NetworkLinkTest, AttachFailingHalfWayRollsBack) {
  ASSERT_OK(MakeBridge());
  absl::StatusOr<UniqueFd> container = CreateNetns();
  ASSERT_OK(container);
  std::set<std::string> host_before = LinkNames(LinksIn(host_.get()));
  // The pair gets made; the multicast MAC is refused when the container end is configured.
  ContainerLinkConfig link = LinkFor("bth-y", container->get(), "10.88.0.2/16");
  link.mac = "03:00:00:00:00:01";
  absl::Status st = InHost([&] { return AttachContainer(link); });
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_EQ(LinkNames(LinksIn(host_.get())), host_before);
  EXPECT_EQ(LinkNames(LinksIn(container->get())), std::set<std::string>{"lo"});
}

TEST_F(NetworkLinkTest, AttachWithADuplicateNameIsAlreadyExistsAndKeepsTheFirst) {
  ASSERT_OK(MakeBridge());
  absl::StatusOr<UniqueFd> first = CreateNetns();
  absl::StatusOr<UniqueFd> second = CreateNetns();
  ASSERT_OK(first);
  ASSERT_OK(second);
  ASSERT_OK(InHost([&] { return AttachContainer(LinkFor("bth-dup", first->get(), "10.88.0.2/16")); }));
  absl::Status st =
      InHost([&] { return AttachContainer(LinkFor("bth-dup", second->get(), "10.88.0.3/16")); });
  EXPECT_EQ(st.code(), absl::StatusCode::kAlreadyExists) << st;
  EXPECT_THAT(st.message(), HasSubstr("bth-dup"));
  EXPECT_EQ(LinkNames(LinksIn(second->get())), std::set<std::string>{"lo"});
  std::optional<LinkInfo> kept = FindLink(LinksIn(host_.get()), "bth-dup");
  ASSERT_TRUE(kept.has_value());
  EXPECT_TRUE(kept->up);
  EXPECT_TRUE(FindLink(LinksIn(first->get()), "eth0").has_value());
}

TEST_F(NetworkLinkTest, AttachValidatesItsConfig) {
  ASSERT_OK(MakeBridge());
  absl::StatusOr<UniqueFd> container = CreateNetns();
  ASSERT_OK(container);
  ContainerLinkConfig outside_gateway = LinkFor("bth-v", container->get(), "10.88.0.2/16");
  outside_gateway.gateway = Addr("10.99.0.1");
  EXPECT_EQ(InHost([&] { return AttachContainer(outside_gateway); }).code(),
            absl::StatusCode::kInvalidArgument);
  ContainerLinkConfig no_netns = LinkFor("bth-v", -1, "10.88.0.2/16");
  EXPECT_EQ(InHost([&] { return AttachContainer(no_netns); }).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(FindLink(LinksIn(host_.get()), "bth-v").has_value());
}

TEST_F(NetworkLinkTest, DetachLeavesNothingBehind) {
  ASSERT_OK(MakeBridge());
  absl::StatusOr<UniqueFd> container = CreateNetns();
  ASSERT_OK(container);
  std::set<std::string> host_before = LinkNames(LinksIn(host_.get()));
  ASSERT_OK(InHost([&] { return AttachContainer(LinkFor("bth-d", container->get(), "10.88.0.2/16")); }));
  EXPECT_EQ(LinkNames(LinksIn(host_.get())).size(), host_before.size() + 1);
  ASSERT_OK(InHost([] { return DetachContainer("bth-d"); }));
  EXPECT_EQ(LinkNames(LinksIn(host_.get())), host_before);
  EXPECT_EQ(LinkNames(LinksIn(container->get())), std::set<std::string>{"lo"});
  EXPECT_OK(InHost([] { return DetachContainer("bth-d"); }));  // already gone

  // The container netns can be attached again.
  ASSERT_OK(InHost([&] { return AttachContainer(LinkFor("bth-d", container->get(), "10.88.0.2/16")); }));
  ASSERT_OK(InHost([] { return DetachContainer("bth-d"); }));
  EXPECT_EQ(LinkNames(LinksIn(host_.get())), host_before);
}

// Prints (does not assert) how long AttachContainer takes: the median of 100, each into a
// fresh container netns, as the agent would do it.
TEST_F(NetworkLinkTest, AttachContainerTiming) {
  ASSERT_OK(MakeBridge());
  constexpr int kRounds = 100;
  std::vector<double> attach_us, attach_cpu_us, detach_us;
  // Process CPU time (all threads, user + kernel): the work itself, apart from the time spent
  // waiting for a CPU when the machine is busy.
  auto cpu_now = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
  };
  for (int i = 0; i < kRounds; ++i) {
    absl::StatusOr<UniqueFd> container = CreateNetns();
    ASSERT_OK(container);
    ContainerLinkConfig link = LinkFor(absl::StrCat("bth-t", i), container->get(), "10.88.1.2/16");
    double attach = 0, attach_cpu = 0, detach = 0;
    ASSERT_OK(InHost([&] {
      double cpu0 = cpu_now();
      auto t0 = std::chrono::steady_clock::now();
      absl::Status st = AttachContainer(link);
      auto t1 = std::chrono::steady_clock::now();
      attach_cpu = cpu_now() - cpu0;
      if (!st.ok()) return st;
      st = DetachContainer(link.host_interface);
      auto t2 = std::chrono::steady_clock::now();
      attach = std::chrono::duration<double, std::micro>(t1 - t0).count();
      detach = std::chrono::duration<double, std::micro>(t2 - t1).count();
      return st;
    }));
    attach_us.push_back(attach);
    attach_cpu_us.push_back(attach_cpu);
    detach_us.push_back(detach);
  }
  auto report = [](const char* what, std::vector<double> v) {
    std::sort(v.begin(), v.end());
    std::printf("%s over %zu runs: median %.0f us, p90 %.0f us, max %.0f us\n", what, v.size(),
                v[v.size() / 2], v[v.size() * 9 / 10], v.back());
  };
  report("AttachContainer", attach_us);
  report("AttachContainer CPU time", attach_cpu_us);
  report("DetachContainer", detach_us);
}

}  // namespace
}  // namespace berth::net
