#include "bench/bench_net.h"

#include <dirent.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/bench_proc.h"
#include "bench/bench_stats.h"
#include "runtime/base/unique_fd.h"
#include "runtime/network/container_link.h"
#include "runtime/network/ipv4.h"
#include "runtime/network/netns.h"
#include "runtime/network/rtnetlink.h"

namespace berth::bench {

namespace {

// iproute2's NETNS_RUN_DIR (fixed at its build; /var/run is /run).
constexpr char kNetnsRunDir[] = "/run/netns";
constexpr char kBridge[] = "bbench0";
// A subnet of the bench's own namespace; nothing else is in it but berthd's 10.88.0.0/16.
constexpr char kGateway[] = "10.213.0.1";
constexpr char kBridgeAddress[] = "10.213.0.1/24";
constexpr char kAttachAddress[] = "10.213.0.2/24";
constexpr char kIpAddress[] = "10.213.0.3/24";
constexpr char kAttachPrefix[] = "bbat";   // in-process host ends: bbat<n>
constexpr char kIpHostPrefix[] = "bbiph";  // baseline host ends: bbiph<n>
constexpr char kIpPeerPrefix[] = "bbipc";  // baseline container ends before the rename

std::string ErrnoText() { return std::strerror(errno); }

template <typename T>
T ValueOrThrow(absl::StatusOr<T> v, const std::string& what) {
  if (!v.ok()) throw BenchError(what + ": " + std::string(v.status().message()));
  return std::move(*v);
}

void CheckStatus(const absl::Status& st, const std::string& what) {
  if (!st.ok()) throw BenchError(what + ": " + std::string(st.message()));
}

std::vector<std::string> DirEntries(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  ::closedir(d);
  return out;
}

bool StartsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

void EnterPrivateNetworkNamespace() {
  if (::unshare(CLONE_NEWNET) != 0) throw BenchError("unshare(CLONE_NEWNET): " + ErrnoText());
  // A new namespace has only "lo", down. Nothing of the bench needs it (gRPC is on a unix
  // socket), but a namespace without a working loopback would surprise whatever does.
  net::Rtnl rtnl = ValueOrThrow(net::Rtnl::Open(), "netlink socket in the bench's netns");
  CheckStatus(rtnl.SetUp("lo"), "bring lo up in the bench's netns");
}

NetworkSetupBench::NetworkSetupBench(std::string ip_path, std::string scratch_dir, std::string tag)
    : ip_(std::move(ip_path)), log_(scratch_dir + "/ip.log"), tag_(std::move(tag)), bridge_(kBridge) {}

std::string NetworkSetupBench::NetnsName(int iteration) const {
  return "berth-bench-" + tag_ + "-" + std::to_string(iteration);
}

void NetworkSetupBench::Init() {
  net::Ipv4Prefix gateway = ValueOrThrow(net::ParseIpv4Prefix(kBridgeAddress), "bench bridge address");
  bridge_made_ = true;  // from here on Cleanup tries to delete it
  CheckStatus(net::EnsureBridge({bridge_, gateway, 0}), "bench bridge");
  if (ip_.empty()) return;

  // `ip netns add` keeps its namespaces as bind mounts on files in /run/netns. A tmpfs there,
  // private to the bench's mount namespace, keeps them out of the machine's /run/netns (and
  // `ip netns list`) even while the bench runs, and takes them along if the bench dies.
  struct stat st;
  if (::stat(kNetnsRunDir, &st) != 0) {
    if (errno != ENOENT) throw BenchError(std::string("stat ") + kNetnsRunDir + ": " + ErrnoText());
    if (::mkdir(kNetnsRunDir, 0755) == 0) {
      run_dir_made_ = true;  // removed again by Cleanup (if still empty)
    } else if (errno != EEXIST) {
      throw BenchError(std::string("mkdir ") + kNetnsRunDir + ": " + ErrnoText());
    }
  }
  if (::mount("tmpfs", kNetnsRunDir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=1m") != 0) {
    throw BenchError(std::string("tmpfs on ") + kNetnsRunDir + ": " + ErrnoText());
  }
  run_dir_mounted_ = true;
}

AttachTiming NetworkSetupBench::AttachOnce(int iteration) {
  static const net::Ipv4Prefix address = ValueOrThrow(net::ParseIpv4Prefix(kAttachAddress), "attach address");
  static const net::Ipv4Address gateway = ValueOrThrow(net::ParseIpv4(kGateway), "gateway");
  AttachTiming t;
  auto t0 = Clock::now();
  UniqueFd netns = ValueOrThrow(net::CreateNetns(), "CreateNetns");
  auto t1 = Clock::now();
  net::ContainerLinkConfig link;
  link.bridge = bridge_;
  link.host_interface = kAttachPrefix + std::to_string(iteration);
  link.container_netns_fd = netns.get();
  link.address = address;
  link.gateway = gateway;
  auto t2 = Clock::now();
  absl::Status attached = net::AttachContainer(link);
  auto t3 = Clock::now();
  // The container end goes with the host end; the netns goes with its last fd (below).
  absl::Status detached = net::DetachContainer(link.host_interface);
  CheckStatus(attached, "AttachContainer");
  CheckStatus(detached, "DetachContainer");
  t.create_netns = MillisBetween(t0, t1);
  t.attach = MillisBetween(t2, t3);
  return t;
}

void NetworkSetupBench::Ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv{ip_};
  argv.insert(argv.end(), args.begin(), args.end());
  SpawnOptions io;
  io.stderr_path = log_;
  int status = RunToCompletion(argv, io);
  if (!ExitedZero(status)) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    throw BenchError(cmd + ": " + DescribeWaitStatus(status) + "\n" + FileTail(log_));
  }
}

double NetworkSetupBench::IpOnce(int iteration) {
  if (ip_.empty()) throw BenchError("no ip binary");
  const std::string ns = NetnsName(iteration);
  const std::string host = kIpHostPrefix + std::to_string(iteration);
  const std::string peer = kIpPeerPrefix + std::to_string(iteration);
  double ms = 0;
  try {
    auto t0 = Clock::now();
    Ip({"netns", "add", ns});
    Ip({"link", "add", host, "type", "veth", "peer", "name", peer});
    Ip({"link", "set", peer, "netns", ns});
    Ip({"link", "set", host, "master", bridge_});
    Ip({"link", "set", host, "up"});
    Ip({"-n", ns, "link", "set", peer, "name", "eth0"});
    Ip({"-n", ns, "addr", "add", kIpAddress, "dev", "eth0"});
    Ip({"-n", ns, "link", "set", "eth0", "up"});
    Ip({"-n", ns, "link", "set", "lo", "up"});
    Ip({"-n", ns, "route", "add", "default", "via", kGateway});
    ms = MillisBetween(t0, Clock::now());
  } catch (const BenchError&) {
    RemoveLeftovers();  // this iteration's netns and links; the bridge and mount stay
    throw;
  }
  // Untimed teardown: the host end first (synchronous, takes the peer along), then the netns
  // (unmount + unlink in /run/netns; the kernel frees it in the background).
  Ip({"link", "del", host});
  Ip({"netns", "del", ns});
  return ms;
}

bool NetworkSetupBench::RemoveLeftovers() {
  bool ok = true;
  // Named namespaces of the baseline that are still there (a failed iteration).
  if (run_dir_mounted_) {
    const std::string prefix = "berth-bench-" + tag_ + "-";
    for (const std::string& name : DirEntries(kNetnsRunDir)) {
      if (!StartsWith(name, prefix)) continue;
      std::string path = std::string(kNetnsRunDir) + "/" + name;
      ::umount2(path.c_str(), MNT_DETACH);
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        std::fprintf(stderr, "berth-bench: remove %s: %s\n", path.c_str(), ErrnoText().c_str());
        ok = false;
      }
    }
  }
  // Links the bench made in its own namespace.
  if (auto rtnl = net::Rtnl::Open(); rtnl.ok()) {
    if (auto links = rtnl->ListLinks(); links.ok()) {
      for (const net::LinkInfo& link : *links) {
        if (!StartsWith(link.name, kAttachPrefix) && !StartsWith(link.name, kIpHostPrefix) &&
            !StartsWith(link.name, kIpPeerPrefix)) {
          continue;
        }
        absl::Status st = rtnl->DeleteLink(link.name);
        if (!st.ok() && !absl::IsNotFound(st)) {
          std::fprintf(stderr, "berth-bench: delete link %s: %s\n", link.name.c_str(), std::string(st.message()).c_str());
          ok = false;
        }
      }
    }
  }
  return ok;
}

bool NetworkSetupBench::Cleanup() {
  bool ok = RemoveLeftovers();
  if (bridge_made_) {
    absl::Status st = net::DeleteBridge(bridge_);
    if (st.ok()) {
      bridge_made_ = false;
    } else {
      std::fprintf(stderr, "berth-bench: delete bridge %s: %s\n", bridge_.c_str(), std::string(st.message()).c_str());
      ok = false;
    }
  }
  if (run_dir_mounted_) {
    // Lazy: takes along any netns mount below it that is still there.
    if (::umount2(kNetnsRunDir, MNT_DETACH) == 0 || errno == EINVAL) {
      run_dir_mounted_ = false;
    } else {
      std::fprintf(stderr, "berth-bench: umount %s: %s\n", kNetnsRunDir, ErrnoText().c_str());
      ok = false;
    }
  }
  if (run_dir_made_ && !run_dir_mounted_) {
    // Only if still empty: something else on the machine may have started using it meanwhile.
    if (::rmdir(kNetnsRunDir) == 0 || errno == ENOENT) {
      run_dir_made_ = false;
    } else if (errno != ENOTEMPTY && errno != EEXIST) {
      std::fprintf(stderr, "berth-bench: rmdir %s: %s\n", kNetnsRunDir, ErrnoText().c_str());
      ok = false;
    } else {
      run_dir_made_ = false;  // in use by someone else now: theirs
    }
  }
  return ok;
}

}  // namespace berth::bench
