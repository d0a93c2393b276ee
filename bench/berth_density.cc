// berth-density: many containers on one node, through the berth.v1 API (`make bench-density`).
//
//   1. a network namespace of its own (as berth-bench), a berthd of its own (temp --root and
//      --socket, --cgroup-parent berth-density-<pid>);
//   2. --containers `sleep` containers with network none, started by --clients clients in
//      parallel, each on its own channel: the start rate, and the node's CPU meanwhile (busy
//      share, CPU time per container; work a shim defers past its start, its idle release
//      100 ms later, falls in the pause after a round and is not counted);
//   3. --bridge more on the default bridge, the same way;
//   4. berthd's memory idle and with all of them running, and every berth-shim's (VmRSS and
//      Pss: shared pages of the one shim binary are counted once across them by Pss);
//   5. List of all (summaries, as `ps`; and whole records), Inspect of one and Stats of all:
//      p50 and p99;
//   6. removal of everything (force, from the same clients): the removal rate;
//   7. then nothing may be left: no container, shim process, cgroup, veth or address lease.
//      A leftover makes it exit 1;
//   8. crun beside it (skipped with --no-crun): `crun run --detach` of as many sleeps from as
//      many parallel clients, in cgroups below the bench's own (see CrunArm), started in
//      rounds that alternate with Berth's in step 2 (this VM's speed drifts by 10-20 % within
//      a minute, so rates measured one after the other compare the minutes as much as the
//      runtimes), and deleted before step 4;
//   9. the round's targets, each with its verdict, and the command that reproduces them.
// Not a test: it asserts nothing about times and memory; it prints them.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <array>
#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <google/protobuf/arena.h>
#include <grpcpp/grpcpp.h>

#include "bench/bench_berth.h"
#include "bench/bench_host.h"
#include "bench/bench_net.h"
#include "bench/bench_oci_runtime.h"
#include "bench/bench_proc.h"
#include "bench/bench_stats.h"
#include "berth/v1/containers.grpc.pb.h"
#include "runtime/base/file_util.h"
#include "runtime/network/rtnetlink.h"

namespace berth::bench {
namespace {

namespace v1 = berth::v1;

struct Flags {
  int containers = 1000;
  int bridge = 200;
  int clients = 8;
  int list_calls = 100;
  int inspect_calls = 200;
  int stats_calls = 20;
  std::string berthd;
  std::string tmpdir = "/tmp";
  std::string log_level = "warn";
  std::string crun = "crun";
  bool no_crun = false;
  std::string command;  // how the bench was started, printed to reproduce it
};

std::unique_ptr<v1::Containers::Stub> Stub(const std::string& socket) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);  // whole records of many thousands exceed gRPC's 4 MiB
  return v1::Containers::NewStub(
      grpc::CreateCustomChannel("unix://" + socket, grpc::InsecureChannelCredentials(), args));
}

void Check(const grpc::Status& st, const std::string& what) {
  if (!st.ok()) throw BenchError(what + ": " + st.error_message());
}

std::string CreateAndStart(v1::Containers::Stub& stub, const std::string& network) {
  v1::CreateRequest req;
  req.mutable_config()->set_image("busybox");
  req.mutable_config()->set_network(network);
  for (const char* a : {"sleep", "3600"}) req.mutable_config()->add_command(a);
  v1::CreateResponse resp;
  grpc::ClientContext c1;
  Check(stub.Create(&c1, req, &resp), "Create");
  v1::StartRequest start;
  start.set_id(resp.container().id());
  v1::StartResponse started;
  grpc::ClientContext c2;
  Check(stub.Start(&c2, start, &started), "Start");
  return resp.container().id();
}

// Rounds of Berth's starts and crun's, alternating, for the start rates beside each other.
constexpr int kRateRounds = 10;

// Runs jobs 0 .. count-1 over `clients` threads; `make_worker` gives each thread its job
// function (with a channel of its own, say). Seconds of wall time; the first error is thrown.
double ParallelJobs(int clients, int count, const std::function<std::function<void(int)>()>& make_worker) {
  std::atomic<int> next{0};
  std::mutex error_mu;
  std::string error;
  std::vector<std::thread> threads;
  const auto t0 = Clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      std::function<void(int)> job = make_worker();
      for (int i; (i = next.fetch_add(1)) < count;) {
        try {
          ThrowIfInterrupted();
          job(i);
        } catch (const std::exception& e) {
          std::lock_guard<std::mutex> lock(error_mu);
          if (error.empty()) error = e.what();
          next = count;  // the others stop too
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = MillisBetween(t0, Clock::now()) / 1000.0;
  if (!error.empty()) throw BenchError(error);
  return seconds;
}

// The same with berth.v1 calls, each thread on its own channel.
double Parallel(const std::string& socket, int clients, int count,
                const std::function<void(v1::Containers::Stub&, int)>& job) {
  return ParallelJobs(clients, count, [&]() -> std::function<void(int)> {
    std::shared_ptr<v1::Containers::Stub> stub = Stub(socket);
    return [stub, &job](int i) { job(*stub, i); };
  });
}

// crun beside Berth: `crun run --detach` of the same sleep, from as many parallel clients, each
// container in its own cgroup below the bench's, on one shared overlay of the busybox layer.
// The bench is in a private mount namespace (entered before any thread): for the crun phase
// only, each cgroup hierarchy there is a bind mount of <own cgroup>/<parent>/crun and the
// controller-less cgroup2 mount is gone (crun 1.8 refuses hybrid hosts).
class CrunArm {
 public:
  CrunArm(std::string crun_path, std::string tmp, std::vector<CgroupHierarchy> hierarchies, std::string cgroup_parent)
      : crun_path_(std::move(crun_path)),
        tmp_(std::move(tmp)),
        hierarchies_(std::move(hierarchies)),
        cgroup_parent_(std::move(cgroup_parent)) {}
  ~CrunArm() { End(); }

  void Begin(const std::string& busybox_rootfs) {
    if (std::string hidden = HybridCgroup2MountPoint(); !hidden.empty()) Unmount(hidden);
    for (const auto& h : hierarchies_) {
      const std::string crun_dir = h.own_dir + "/" + cgroup_parent_ + "/crun";
      MakeCgroup(h, h.own_dir + "/" + cgroup_parent_);
      MakeCgroup(h, crun_dir);
      BindMount(crun_dir, h.mount_point);
      mounts_.push_back(h.mount_point);
    }
    runtime_ = std::make_shared<OciRuntime>(crun_path_, tmp_ + "/crun-state", tmp_ + "/crun.log");
    MakeDir(tmp_ + "/crun-state", 0700);
    bundle_ = tmp_ + "/crun-sleep";
    for (const char* sub : {"", "/rootfs", "/upper", "/work"}) MakeDir(bundle_ + sub);
    MountOverlay(busybox_rootfs, bundle_ + "/upper", bundle_ + "/work", bundle_ + "/rootfs");
    mounts_.push_back(bundle_ + "/rootfs");
    runtime_->MakeBundle(bundle_, bundle_ + "/rootfs", {"/bin/sleep", "3600"}, kCgroupPlaceholder);
    config_ = ReadTextFile(bundle_ + "/config.json");
  }

  // Each container its own bundle (a copy of config.json naming a cgroup of its own: crun's
  // device rules of one container must not race another's mknod) on the shared rootfs.
  void MakeBundleFor(const std::string& id) {
    const std::string dir = tmp_ + "/crun-bundles/" + id;
    MakeDir(tmp_ + "/crun-bundles", 0700);
    MakeDir(dir, 0700);
    std::string config = config_;
    const size_t at = config.find(kCgroupPlaceholder);
    if (at == std::string::npos) throw BenchError("crun config.json lost its cgroupsPath");
    config.replace(at, std::strlen(kCgroupPlaceholder), "/" + id);
    WriteTextFile(dir + "/config.json", config);
  }

  void RunDetached(const std::string& id) { runtime_->RunDetached(tmp_ + "/crun-bundles/" + id, id); }

  // Deletes every crun container, undoes the mounts and removes the cgroups Begin made; false
  // if a container or cgroup stayed.
  bool End() {
    const bool begun = runtime_ != nullptr;
    bool deleted = !begun || runtime_->DeleteAll();
    runtime_.reset();
    while (!mounts_.empty()) {
      TryUnmount(mounts_.back());
      mounts_.pop_back();
    }
    if (begun) {
      for (const auto& h : hierarchies_) {
        deleted = KillAndRemoveCgroupTree(h.own_dir + "/" + cgroup_parent_ + "/crun") && deleted;
      }
    }
    return deleted;
  }

 private:
  std::string crun_path_, tmp_;
  std::vector<CgroupHierarchy> hierarchies_;
  std::string cgroup_parent_;
  static constexpr char kCgroupPlaceholder[] = "/berth-density-crun-cgroup";
  std::shared_ptr<OciRuntime> runtime_;
  std::string bundle_;
  std::string config_;  // the bundle's config.json, cgroupsPath kCgroupPlaceholder
  std::vector<std::string> mounts_;
};

// The closing table of the round's density targets.
void PrintTargets(const std::vector<std::array<std::string, 4>>& rows, const std::string& command) {
  std::printf("\nTargets\n  %-52s %-26s %-12s %s\n", "measure", "value", "target", "");
  for (const auto& r : rows) {
    std::printf("  %-52s %-26s %-12s %s\n", r[0].c_str(), r[1].c_str(), r[2].c_str(), r[3].c_str());
  }
  std::printf("  reproduce: %s\n", command.c_str());
}

std::string Fixed(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

// Every container, in every state.
void ListAll(v1::Containers::Stub& stub, v1::ListView view, v1::ListResponse* resp) {
  v1::ListRequest req;
  req.set_view(view);
  grpc::ClientContext ctx;
  Check(stub.List(&ctx, req, resp), "List");
}

// One List, timed, its response parsed into an arena (one block freed at once, as a client
// that lists often parses it); the response's size in bytes.
size_t TimedList(v1::Containers::Stub& stub, v1::ListView view, std::vector<double>& ms) {
  const auto t0 = Clock::now();
  google::protobuf::ArenaOptions options;
  options.max_block_size = 64 * 1024;  // a listing of 1000 summaries is about 250 kB
  google::protobuf::Arena arena(options);
  // CreateMessage, not Create: a message made by Create does not know its arena, and parses
  // every record and string onto the heap.
  auto* resp = google::protobuf::Arena::CreateMessage<v1::ListResponse>(&arena);
  ListAll(stub, view, resp);
  const size_t bytes = resp->ByteSizeLong();
  ms.push_back(MillisBetween(t0, Clock::now()));
  return bytes;
}

std::vector<v1::Container> ListSummaries(v1::Containers::Stub& stub) {
  v1::ListResponse resp;
  ListAll(stub, v1::LIST_VIEW_SUMMARY, &resp);
  return {resp.containers().begin(), resp.containers().end()};
}

struct ShimMemory {
  int shims = 0;
  long rss_kb = 0;
  long pss_kb = 0;
};

// The shims of the running containers: the parents of their init processes.
ShimMemory ShimsOf(const std::vector<v1::Container>& containers) {
  ShimMemory m;
  for (const v1::Container& c : containers) {
    if (c.pid() <= 0) continue;
    pid_t shim = ParentPid(c.pid());
    if (shim <= 0 || CommOf(shim) != "berth-shim") continue;
    MemoryUse use = ReadMemoryUse(shim);
    ++m.shims;
    m.rss_kb += std::max(0L, use.vm_rss_kb);
    m.pss_kb += std::max(0L, use.pss_kb);
  }
  return m;
}

// Processes whose command line names `dir` (the shims of this bench's berthd do).
std::vector<pid_t> ProcessesNaming(const std::string& dir) {
  std::vector<pid_t> out;
  for (const std::string& name : berth::ListDirectory("/proc")) {
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = std::stoi(name);
    if (pid == ::getpid()) continue;
    auto cmdline = berth::ReadFile("/proc/" + name + "/cmdline");
    if (cmdline.ok() && cmdline->find(dir) != std::string::npos && CommOf(pid) == "berth-shim") out.push_back(pid);
  }
  return out;
}

// Subdirectories left below a cgroup directory (the containers' cgroups), across hierarchies.
int CgroupsLeftBelow(const std::vector<CgroupHierarchy>& hierarchies, const std::string& parent) {
  int left = 0;
  for (const auto& h : hierarchies) {
    for (const std::string& name : berth::ListDirectory(h.own_dir + "/" + parent)) {
      struct stat st;
      if (::stat((h.own_dir + "/" + parent + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) ++left;
    }
  }
  return left;
}

// Links of the bench's network namespace whose name starts with `prefix` (container veths).
int CountLinksWithPrefix(const std::string& prefix) {
  auto rtnl = berth::net::Rtnl::Open();
  if (!rtnl.ok()) return -1;
  auto links = rtnl->ListLinks();
  if (!links.ok()) return -1;
  return static_cast<int>(std::count_if(links->begin(), links->end(), [&](const berth::net::LinkInfo& l) {
    return l.name.rfind(prefix, 0) == 0;
  }));
}

void PrintLatency(const char* name, const std::vector<double>& ms) {
  std::printf("  %-44s p50 %8.2f ms   p99 %8.2f ms   (n=%zu)\n", name, Percentile(ms, 50), Percentile(ms, 99),
              ms.size());
}

std::string Mem(long kb) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(kb) / 1024.0);
  return buf;
}

int Density(const Flags& flags) {
  const std::string berthd = flags.berthd.empty() ? SelfDir() + "/berthd" : flags.berthd;
  if (::access(berthd.c_str(), X_OK) != 0) throw BenchError("no berthd at " + berthd + " (give --berthd)");
  const std::string tmp = MakeTempDir(flags.tmpdir, "berth-density-");
  const std::string cgroup_parent = "berth-density-" + std::to_string(::getpid());
  const std::vector<CgroupHierarchy> hierarchies = OwnCgroupHierarchies();
  auto cleanup_host = [&] {
    bool ok = true;
    for (const auto& h : hierarchies) ok = KillAndRemoveCgroupTree(h.own_dir + "/" + cgroup_parent) && ok;
    return RemoveTree(tmp) && ok;
  };

  const std::string crun_path = flags.no_crun ? "" : FindExecutable(flags.crun);
  if (!flags.no_crun && crun_path.empty()) {
    throw BenchError("crun not found (" + flags.crun + "); install it with deploy/install-deps.sh, or give --no-crun");
  }

  int rc = 0;
  {
    BerthAgent agent({berthd, tmp + "/root", tmp + "/berthd.sock", cgroup_parent, tmp + "/berthd.log", flags.log_level});
    std::optional<CrunArm> crun;
    try {
      agent.Start();
      agent.WaitServing(std::chrono::seconds(120));
      if (!crun_path.empty()) {
        // berthd stays outside; before any thread (gRPC's come with the first channel).
        EnterPrivateMountNamespace();
        crun.emplace(crun_path, tmp, hierarchies, cgroup_parent);
      }
      auto stub = Stub(tmp + "/berthd.sock");
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // past its first release
      const MemoryUse idle = ReadMemoryUse(agent.pid());

      std::printf("berth-density: %d containers (network none), then %d on the bridge; %d clients\n",
                  flags.containers, flags.bridge, flags.clients);
      const std::string crun_prefix = "dens" + std::to_string(::getpid()) + "-";
      if (crun) {
        crun->Begin(BusyboxLayer(tmp + "/root"));
        for (int i = 0; i < flags.containers; ++i) crun->MakeBundleFor(crun_prefix + std::to_string(i));  // not timed
      }
      // With crun, in rounds that alternate which of the two starts first; a pause follows
      // each round, long enough for the shims it made to give back their memory (100 ms
      // idle), so that their release is not counted in crun's next round.
      const int rounds = crun ? std::min(kRateRounds, flags.containers) : 1;
      double none_s = 0, crun_s = 0;
      // The node's CPU in each arm's rounds: on a node whose CPUs the starts keep busy, the
      // rate is the CPUs over the CPU one start costs, all processes and the kernel counted.
      NodeCpu none_cpu, crun_cpu;
      for (int r = 0; r < rounds; ++r) {
        const int first = flags.containers * r / rounds;
        const int count = flags.containers * (r + 1) / rounds - first;
        auto settle = [] { std::this_thread::sleep_for(std::chrono::milliseconds(300)); };  // not timed
        auto berth_round = [&] {
          const NodeCpu before = ReadNodeCpu();
          none_s += Parallel(tmp + "/berthd.sock", flags.clients, count,
                             [](v1::Containers::Stub& s, int) { CreateAndStart(s, "none"); });
          AddNodeCpu(none_cpu, before, ReadNodeCpu());
          if (crun) settle();
        };
        auto crun_round = [&] {
          const NodeCpu before = ReadNodeCpu();
          crun_s += ParallelJobs(flags.clients, count, [&]() -> std::function<void(int)> {
            return [&](int i) { crun->RunDetached(crun_prefix + std::to_string(first + i)); };
          });
          AddNodeCpu(crun_cpu, before, ReadNodeCpu());
          settle();
        };
        const bool berth_first = !crun || r % 2 == 0;
        if (berth_first) berth_round();
        if (!crun) continue;
        crun_round();
        if (!berth_first) berth_round();
      }
      const double bridge_s = Parallel(tmp + "/berthd.sock", flags.clients, flags.bridge,
                                       [](v1::Containers::Stub& s, int) { CreateAndStart(s, "bridge"); });
      std::printf("\nStart rate (Create + Start, sleep 3600)\n");
      std::printf("  %-44s %8.1f containers/s  (%.1f s)\n", "network none", flags.containers / none_s, none_s);
      std::printf("  %-44s %8.1f containers/s  (%.1f s)\n", "default bridge", flags.bridge / bridge_s, bridge_s);
      if (!crun) {
        std::printf("  %-44s %.0f %% busy, %.1f ms of CPU per container (network none)\n", "node CPU in the timed starts",
                    BusyPercent(none_cpu), 1000 * none_cpu.busy_s / flags.containers);
      }
      const double crun_rate = crun ? flags.containers / crun_s : 0;
      // crun's containers go before anything else is measured: the calls and memory below are
      // Berth's with its own containers only, and the check for leftovers reads the node's
      // cgroup hierarchies, which crun's mounts stand in for in this namespace.
      if (crun) {
        std::printf("  %-44s %8.1f containers/s  (%.1f s); Berth's rate, network none: %.2fx\n",
                    "crun run --detach, in alternating rounds", crun_rate, crun_s, (flags.containers / none_s) / crun_rate);
        std::printf("  %-44s %s, as many clients, the same sleep on one overlay\n", "  crun", crun_path.c_str());
        std::printf("  %-44s Berth %.0f %% busy, %.1f ms of CPU per container; crun %.0f %% busy, %.1f ms\n",
                    "node CPU in the timed rounds", BusyPercent(none_cpu), 1000 * none_cpu.busy_s / flags.containers,
                    BusyPercent(crun_cpu), 1000 * crun_cpu.busy_s / flags.containers);
        const auto t0 = Clock::now();
        const bool deleted = crun->End();
        const double delete_s = MillisBetween(t0, Clock::now()) / 1000.0;
        std::printf("  %-44s %8.1f containers/s  (%.1f s, one client)\n", "crun delete --force",
                    flags.containers / delete_s, delete_s);
        if (!deleted) {
          std::printf("  crun left containers behind\n");
          rc = 1;
        }
      }

      std::vector<v1::Container> all = ListSummaries(*stub);
      const int total = flags.containers + flags.bridge;
      if (static_cast<int>(all.size()) != total) {
        throw BenchError("List shows " + std::to_string(all.size()) + " containers, not " + std::to_string(total));
      }
      const MemoryUse loaded = ReadMemoryUse(agent.pid());
      const ShimMemory shims = ShimsOf(all);
      // berthd gives its resident code back every 10 s (agent/memory_release.h): at rest.
      std::this_thread::sleep_for(std::chrono::milliseconds(10500));
      const MemoryUse rest = ReadMemoryUse(agent.pid());
      std::printf("\nMemory\n");
      std::printf("  %-44s %s (Pss %s)\n", "berthd, idle", Mem(idle.vm_rss_kb).c_str(), Mem(idle.pss_kb).c_str());
      std::printf("  %-44s %s (Pss %s)\n", ("berthd, " + std::to_string(total) + " running, just started").c_str(),
                  Mem(loaded.vm_rss_kb).c_str(), Mem(loaded.pss_kb).c_str());
      std::printf("  %-44s %s (Pss %s; anon %s)\n", ("berthd, " + std::to_string(total) + " running, at rest").c_str(),
                  Mem(rest.vm_rss_kb).c_str(), Mem(rest.pss_kb).c_str(), Mem(rest.rss_anon_kb).c_str());
      if (shims.shims > 0) {
        std::printf("  %-44s Pss %s total, %.0f kB each; VmRSS %.0f kB each\n",
                    (std::to_string(shims.shims) + " berth-shims").c_str(), Mem(shims.pss_kb).c_str(),
                    static_cast<double>(shims.pss_kb) / shims.shims, static_cast<double>(shims.rss_kb) / shims.shims);
      }

      // The summary view is what `berth ps` asks for; whole records are what `ps -o json` and
      // the CRI read.
      std::vector<double> list_ms, list_full_ms, inspect_ms, stats_ms;
      size_t summary_bytes = 0, full_bytes = 0;
      // Not interleaved: berthd frees a megabyte of whole records after the client has them,
      // which would land in the next call's time.
      for (int i = 0; i < flags.list_calls; ++i) summary_bytes = TimedList(*stub, v1::LIST_VIEW_SUMMARY, list_ms);
      for (int i = 0; i < flags.list_calls; ++i) full_bytes = TimedList(*stub, v1::LIST_VIEW_FULL, list_full_ms);
      for (int i = 0; i < flags.inspect_calls; ++i) {
        v1::InspectRequest req;
        req.set_id(all[static_cast<size_t>(i * 7919) % all.size()].id());
        v1::InspectResponse resp;
        grpc::ClientContext ctx;
        const auto t0 = Clock::now();
        Check(stub->Inspect(&ctx, req, &resp), "Inspect");
        inspect_ms.push_back(MillisBetween(t0, Clock::now()));
      }
      for (int i = 0; i < flags.stats_calls; ++i) {
        v1::StatsRequest req;
        v1::StatsResponse resp;
        grpc::ClientContext ctx;
        const auto t0 = Clock::now();
        Check(stub->Stats(&ctx, req, &resp), "Stats");
        stats_ms.push_back(MillisBetween(t0, Clock::now()));
      }
      std::printf("\nCalls with %d containers\n", total);
      PrintLatency("List (all, summaries: berth ps)", list_ms);
      std::printf("  %-44s %.0f kB\n", "  its response", summary_bytes / 1000.0);
      PrintLatency("List (all, whole records: ps -o json)", list_full_ms);
      std::printf("  %-44s %.0f kB\n", "  its response", full_bytes / 1000.0);
      PrintLatency("Inspect (one)", inspect_ms);
      PrintLatency("Stats (all, one call)", stats_ms);

      const double remove_s = Parallel(tmp + "/berthd.sock", flags.clients, total, [&](v1::Containers::Stub& s, int i) {
        v1::RemoveRequest req;
        req.set_id(all[static_cast<size_t>(i)].id());
        req.set_force(true);
        v1::RemoveResponse resp;
        grpc::ClientContext ctx;
        Check(s.Remove(&ctx, req, &resp), "Remove");
      });
      std::printf("\nRemoval (force, running)\n  %-44s %8.1f containers/s  (%.1f s)\n", "all of them", total / remove_s,
                  remove_s);

      // Nothing left: what the agent lists, the shims, the containers' cgroups, veths, leases.
      std::vector<std::string> left;
      if (size_t n = ListSummaries(*stub).size(); n > 0) left.push_back(std::to_string(n) + " containers listed");
      if (auto shims_left = ProcessesNaming(tmp); !shims_left.empty()) {
        left.push_back(std::to_string(shims_left.size()) + " berth-shim processes");
      }
      if (int n = CgroupsLeftBelow(hierarchies, cgroup_parent); n > 0) left.push_back(std::to_string(n) + " cgroups");
      if (int n = CountLinksWithPrefix("bth"); n != 0) left.push_back(std::to_string(n) + " veths (-1: cannot list)");
      for (const std::string& network : berth::ListDirectory(tmp + "/root/networks")) {
        size_t leases = berth::ListDirectory(tmp + "/root/networks/" + network + "/leases").size();
        if (leases > 0) left.push_back(std::to_string(leases) + " address leases");
      }
      std::printf("\nLeft behind after removal: %s\n", left.empty() ? "nothing" : "");
      for (const std::string& l : left) std::printf("  %s\n", l.c_str());
      if (!left.empty()) rc = 1;

      std::vector<std::array<std::string, 4>> targets;
      auto verdict = [](bool ok) { return std::string(ok ? "MET" : "MISSED"); };
      const double loaded_mib = rest.vm_rss_kb / 1024.0;
      targets.push_back({"berthd VmRSS, idle", Fixed("%.1f MiB", idle.vm_rss_kb / 1024.0), "<= 20 MiB",
                         verdict(idle.vm_rss_kb / 1024.0 <= 20)});
      targets.push_back({"berthd VmRSS, " + std::to_string(total) + " running, at rest", Fixed("%.1f MiB", loaded_mib),
                         "<= 60 MiB", verdict(loaded_mib <= 60)});
      if (shims.shims > 0) {
        const double pss_each = static_cast<double>(shims.pss_kb) / shims.shims / 1024.0;
        targets.push_back({"berth-shim Pss each, " + std::to_string(shims.shims) + " running",
                           Fixed("%.2f MiB", pss_each), "<= 1 MiB", verdict(pss_each <= 1.0)});
      }
      const double list_p50 = Percentile(list_ms, 50);
      targets.push_back({"List of " + std::to_string(total) + " (summaries), p50", Fixed("%.2f ms", list_p50), "<= 5 ms",
                         verdict(list_p50 <= 5)});
      if (crun_rate > 0) {
        const double ratio = (flags.containers / none_s) / crun_rate;
        targets.push_back({"detached starts, " + std::to_string(flags.clients) + " clients, / crun's rate",
                           Fixed("%.2fx", ratio) + Fixed(" (%.0f/s", flags.containers / none_s) +
                               Fixed(" vs %.0f/s)", crun_rate),
                           ">= 1.5x", verdict(ratio >= 1.5)});
      }
      PrintTargets(targets, flags.command);
    } catch (...) {
      if (crun) crun->End();
      agent.Stop();
      cleanup_host();
      throw;
    }
    if (crun) crun->End();
    agent.Stop();
  }
  if (!cleanup_host()) {
    std::fprintf(stderr, "berth-density: some of what the bench made could not be removed\n");
    rc = 1;
  }
  return rc;
}

}  // namespace
}  // namespace berth::bench

int main(int argc, char** argv) {
  using namespace berth::bench;
  Flags flags;
  CLI::App app{"berth-density: many containers on one node (start rate, memory, List/Inspect/Stats, removal)"};
  app.add_option("--containers", flags.containers, "sleep containers with network none")->check(CLI::Range(1, 100000));
  app.add_option("--bridge", flags.bridge, "more on the default bridge")->check(CLI::Range(0, 60000));
  app.add_option("--clients", flags.clients, "parallel clients")->check(CLI::Range(1, 256));
  app.add_option("--list-calls", flags.list_calls, "List calls measured")->check(CLI::Range(1, 100000));
  app.add_option("--inspect-calls", flags.inspect_calls, "Inspect calls measured")->check(CLI::Range(1, 100000));
  app.add_option("--stats-calls", flags.stats_calls, "Stats calls measured")->check(CLI::Range(1, 100000));
  app.add_option("--berthd", flags.berthd, "berthd to start (default: next to berth-density)");
  app.add_option("--tmpdir", flags.tmpdir, "where the agent's root goes");
  app.add_option("--agent-log-level", flags.log_level, "berthd --log-level");
  app.add_option("--crun", flags.crun, "crun binary of the start-rate baseline");
  app.add_flag("--no-crun", flags.no_crun, "skip the crun baseline");
  CLI11_PARSE(app, argc, argv);
  for (int i = 0; i < argc; ++i) flags.command += (i > 0 ? " " : "") + std::string(argv[i]);
  if (::geteuid() != 0) {
    std::fprintf(stderr, "berth-density: must run as root (namespaces, cgroups, mounts)\n");
    return 1;
  }
  try {
    EnterPrivateNetworkNamespace();  // before any thread: the bridge and veths live in it
    InstallInterruptHandlers();
    return Density(flags);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "berth-density: %s\n", e.what());
    return 1;
  }
}
