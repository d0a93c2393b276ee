// The network side of berth-bench: the bench's own network namespace (entered first thing, so
// no bridge or veth it or its berthd makes ever appears in the machine's namespace), and the
// two things Berth's network setup per container is set against:
//   - runtime/network's AttachContainer called in-process (the network part alone), and
//   - the `ip` baseline: the same links made the way a shell script would, with 10 `ip`
//     processes (netns, veth pair, bridge port, rename, address, links up, default route).
// Failures throw BenchError; Cleanup() never throws and says whether everything is gone.
#pragma once

#include <string>
#include <vector>

namespace berth::bench {

// unshare(CLONE_NEWNET) of the whole process, then "lo" up in the new namespace. Must run
// before any thread or child exists: everything started afterwards (berthd, its shims,
// crun, `ip`) inherits the namespace.
void EnterPrivateNetworkNamespace();

// Milliseconds of one in-process attach.
struct AttachTiming {
  double create_netns = 0;  // berth::net::CreateNetns (the container's netns, made by the runtime in berthd)
  double attach = 0;        // berth::net::AttachContainer
};

class NetworkSetupBench {
 public:
  // `ip_path`: the `ip` binary, or empty to skip the baseline. `scratch_dir`: where `ip`'s
  // stderr goes. Everything is named with `tag` (the bench's pid) so nothing clashes.
  NetworkSetupBench(std::string ip_path, std::string scratch_dir, std::string tag);
  ~NetworkSetupBench() { Cleanup(); }
  NetworkSetupBench(const NetworkSetupBench&) = delete;
  NetworkSetupBench& operator=(const NetworkSetupBench&) = delete;

  // The bench bridge (EnsureBridge) and, for the baseline, /run/netns as a tmpfs private to
  // the bench's mount namespace (made first if missing). Call inside the private mount
  // namespace.
  void Init();

  // A fresh netns (CreateNetns), AttachContainer on the bench bridge, then DetachContainer
  // and the netns dropped; only the first two are timed.
  AttachTiming AttachOnce(int iteration);

  // The 10 `ip` processes (timed), then `ip link del` + `ip netns del` (not timed).
  double IpOnce(int iteration);

  bool has_ip() const { return !ip_.empty(); }
  const std::string& ip_path() const { return ip_; }
  const std::string& bridge() const { return bridge_; }

  // Deletes every netns and link the bench made, the bridge, the /run/netns mount (and the
  // directory if the bench made it). Idempotent. Returns false if something stays.
  bool Cleanup();

 private:
  void Ip(const std::vector<std::string>& args);
  // Baseline netns and bench links still there (named namespaces in our /run/netns, links
  // with the bench's prefixes); the bridge and the mount stay.
  bool RemoveLeftovers();
  std::string NetnsName(int iteration) const;

  std::string ip_;
  std::string log_;
  std::string tag_;
  std::string bridge_;
  bool bridge_made_ = false;
  bool run_dir_made_ = false;      // we created /run/netns on the host's /run
  bool run_dir_mounted_ = false;   // our tmpfs is on it
};

}  // namespace berth::bench
