// berth-bench: Berth against crun on this node, side by side, in one run.
//
//   1. run-to-exit: `berth run --rm busybox true` through the API (one Run call: create,
//      attach, start, exit code, removal; once more in separate calls, for the time of each
//      step) against `crun run` of the same busybox rootfs. Like for like, Berth runs
//      with network "none" (crun's default spec also gives a netns with only lo); a third arm
//      runs Berth with its default bridge network, reported without a crun counterpart;
//   2. exec: `true` exec'd into a running container, Exec API against `crun exec`; with a
//      berth CLI, `berth run --rm` and `berth exec` as whole processes, each beside a `crun run`
//      and `crun exec` of its own;
//   3. resident memory (VmRSS) of an idle berthd and of one berth-shim;
//   4. network setup per container: Create with network "bridge" against "none" (the
//      difference is Berth's network part), runtime/network's AttachContainer alone, in
//      process, and the `ip` baseline (the same netns, veth pair, address and routes made by
//      10 `ip` processes);
//   5. images (bench_images.h; skipped with --no-images): Images.Pull of a two-layer image
//      with a ~100 MB layer from a docker-registry the bench starts on 127.0.0.1, against
//      `skopeo copy` to an OCI layout + `umoci unpack`, each from nothing every run; and
//      Containers.Create from that cached image against busybox. Runs last, after the rest
//      is printed;
//   6. observability (bench_observe.h; skipped with --no-observe): Stats of 200 running
//      containers in one call (p50, p99), a /metrics scrape, berthd's CPU with them running and
//      a scrape every 10 s, events delivered to a subscriber, and a log rotation's cost.
//
// First of all, before any thread or child, the bench moves into a network namespace of its
// own: its berthd, the bridges and veths, crun and the `ip` baseline all live there, and go
// with it; the machine's own network is never touched. It starts its own berthd (temp --root
// and --socket, --cgroup-parent berth-bench-<pid>), then moves itself into a private mount
// namespace for crun: crun 1.8.1 refuses hybrid cgroup hosts, so the controller-less cgroup2
// mount is unmounted there, and each cgroup hierarchy is replaced by a bind mount of
// <own cgroup>/berth-bench-<pid>/crun, so the cgroups crun makes land below the bench's own
// cgroup. `ip netns` gets a tmpfs on /run/netns in that namespace, so its entries never show
// in the machine's /run/netns. Everything is undone at the end, also after a failure or ^C.
// Not a test: it asserts nothing about times; it prints them next to the targets.
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/bench_berth.h"
#include "bench/bench_hardening.h"
#include "bench/bench_observe.h"
#include "bench/bench_remote.h"
#include "bench/bench_runtimes.h"
#include "runtime/base/file_util.h"
#include "bench/bench_oci_runtime.h"
#include "bench/bench_host.h"
#include "bench/bench_images.h"
#include "bench/bench_net.h"
#include "bench/bench_proc.h"
#include "bench/bench_stats.h"

namespace berth::bench {
namespace {

// The round's targets (docs/performance.md): medians, against crun in the same run.
constexpr double kRunTargetRatio = 0.5;        // run-to-exit through the API, network none / crun run
constexpr double kBridgeRunTargetRatio = 1.0;  // the same on the default bridge / crun run
constexpr double kCliRunTargetRatio = 1.0;     // `berth run --rm` as a process / crun run
constexpr double kCliExecTargetRatio = 1.0;    // `berth exec` as a process / crun exec
constexpr double kExecTargetRatio = 0.3;       // exec through the API / crun exec
constexpr double kShimTargetMiB = 1.0;         // one berth-shim's VmRSS, its container running
constexpr double kAgentIdleTargetMiB = 20.0;   // berthd's VmRSS, idle
constexpr double kNetworkTargetMs = 5.0;       // Berth's network part per container, median
// berthd drops its resident code pages every 10 s (agent/memory_release.h): one period and a
// bit after the runs it is at rest.
constexpr auto kAgentReleasePeriod = std::chrono::milliseconds(10500);
constexpr char kImage[] = "busybox";

struct Flags {
  int runs = 50;
  int warmup = 3;
  // Before each timed run or exec (run-to-exit, exec, the CLI rows): see Settle.
  int settle_ms = 100;
  int cli_runs = 10;
  std::string berthd;
  std::string cli;
  bool no_cli = false;
  bool no_network = false;
  std::string ip = "ip";
  std::string crun = "crun";
  std::string tmpdir = "/tmp";
  std::string log_level = "info";
  bool no_images = false;
  bool no_hardening = false;
  bool no_remote = false;
  bool no_runtimes = false;
  bool no_observe = false;
  int observe_containers = 200;
  int observe_seconds = 30;
  std::string runc = "runc";
  std::string berth_runtime;
  std::string tls_tool = BERTH_TLS_TOOL;
  std::string command;  // how the bench was started, printed to reproduce it
  int image_runs = 5;
  int image_create_runs = 20;
  int image_layer_mb = 100;
  std::string registry = "docker-registry";
  std::string skopeo = "skopeo";
  std::string umoci = "umoci";
};

// Undo steps, run newest first, exactly once, whatever happened before.
class CleanupStack {
 public:
  ~CleanupStack() { RunAll(); }
  void Push(std::string what, std::function<bool()> step) { steps_.push_back({std::move(what), std::move(step)}); }
  // Returns false if some step left something behind.
  bool RunAll() {
    bool clean = true;
    while (!steps_.empty()) {
      auto [what, step] = std::move(steps_.back());
      steps_.pop_back();
      bool ok = false;
      try {
        ok = step();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "berth-bench: cleanup (%s): %s\n", what.c_str(), e.what());
      }
      if (!ok) {
        std::fprintf(stderr, "berth-bench: cleanup incomplete: %s\n", what.c_str());
        clean = false;
      }
    }
    return clean;
  }

 private:
  std::vector<std::pair<std::string, std::function<bool()>>> steps_;
};

std::string FirstLine(std::string text) {
  size_t nl = text.find('\n');
  if (nl != std::string::npos) text.resize(nl);
  return text;
}

std::string CommandOutput(const std::vector<std::string>& argv, const std::string& scratch) {
  SpawnOptions io;
  io.stdout_path = scratch;
  ::unlink(scratch.c_str());
  RunToCompletion(argv, io);
  std::string out = FirstLine(FileTail(scratch, 4096));
  ::unlink(scratch.c_str());
  return out;
}

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

std::string Verdict(bool ok) { return ok ? "MET" : "MISSED"; }

void PrintLatencyRow(const char* name, const Summary& berth, const Summary& crun, const char* target, bool has_target,
                     double target_ratio) {
  double ratio = crun.median > 0 ? berth.median / crun.median : 0;
  std::string verdict = has_target ? Verdict(ratio <= target_ratio) : "-";
  std::printf("  %-34s %9.1f %8.1f   %9.1f %8.1f   %7.2fx   %-8s %s\n", name, berth.median, berth.p95, crun.median,
              crun.p95, ratio, target, verdict.c_str());
}

double MiB(long kb) { return static_cast<double>(kb) / 1024.0; }

// The closing table: each target with its measure, ratio and verdict, and how to get them again.
class TargetTable {
 public:
  void Ratio(const std::string& name, const Summary& berth, const Summary& crun, const std::string& versus,
             double target) {
    const double ratio = crun.median > 0 ? berth.median / crun.median : 0;
    rows_.push_back({name, Fmt("%.1f ms", berth.median), Fmt("%.1f ms", crun.median) + " " + versus,
                     Fmt("%.2fx", ratio), "<= " + Fmt("%.1fx", target), Verdict(ratio > 0 && ratio <= target)});
  }
  void Amount(const std::string& name, double value, const std::string& unit, double target) {
    rows_.push_back({name, Fmt("%.2f ", value) + unit, "-", "-", "<= " + Fmt("%.0f ", target) + unit,
                     Verdict(value <= target)});
  }
  void Print(const std::string& command, int settle_ms) const {
    std::printf("\nTargets (medians; ratio = berth / crun, both measured in this run)\n");
    std::printf("  %-52s %11s  %-19s %7s  %-9s %s\n", "measure", "berth", "crun", "ratio", "target", "");
    for (const Row& r : rows_) {
      std::printf("  %-52s %11s  %-19s %7s  %-9s %s\n", r.name.c_str(), r.berth.c_str(), r.crun.c_str(),
                  r.ratio.c_str(), r.target.c_str(), r.verdict.c_str());
    }
    std::printf("  1000 containers (berthd memory, List p50, start rate beside crun): make bench-density\n");
    if (settle_ms > 0) {
      std::printf("  each run and exec %d ms after the last, as a lone start on a quiet node; --settle-ms 0 times\n"
                  "  them back to back (crun's cgroup move then skips its grace period: docs/performance.md)\n",
                  settle_ms);
    }
    std::printf("  reproduce: %s\n", command.c_str());
  }

 private:
  struct Row {
    std::string name, berth, crun, ratio, target, verdict;
  };
  std::vector<Row> rows_;
};

std::string MemText(const MemoryUse& m) {
  return Fmt("%.2f MiB", MiB(m.vm_rss_kb)) + " (" + std::to_string(m.vm_rss_kb) + " kB; anon " +
         std::to_string(m.rss_anon_kb) + " kB, file " + std::to_string(m.rss_file_kb) + " kB, Pss " +
         std::to_string(m.pss_kb) + " kB)";
}

int Bench(const Flags& flags, CleanupStack& cleanup) {
  if (::geteuid() != 0) throw BenchError("must run as root (namespaces, cgroups, mounts)");
  const std::string berthd = flags.berthd.empty() ? SelfDir() + "/berthd" : flags.berthd;
  if (::access(berthd.c_str(), X_OK) != 0) throw BenchError("no berthd at " + berthd + " (give --berthd)");
  const std::string crun_path = FindExecutable(flags.crun);
  if (crun_path.empty()) {
    throw BenchError("crun not found (" + flags.crun + "); install it with deploy/install-deps.sh (Debian package crun)");
  }
  std::string cli = flags.no_cli ? "" : flags.cli.empty() ? SelfDir() + "/berth" : flags.cli;
  if (!cli.empty() && ::access(cli.c_str(), X_OK) != 0) {
    if (!flags.cli.empty()) throw BenchError("no berth CLI at " + cli);
    cli.clear();  // the default is optional
  }

  const pid_t self = ::getpid();
  const std::string tmp = MakeTempDir(flags.tmpdir, "berth-bench-");
  cleanup.Push("remove " + tmp, [tmp] { return RemoveTree(tmp); });

  // The cgroups of both sides live below <own cgroup>/berth-bench-<pid>: berthd's containers
  // (its --cgroup-parent) and crun's (in .../crun). Removed last, after both are gone.
  const std::string cgroup_parent = "berth-bench-" + std::to_string(self);
  const std::vector<CgroupHierarchy> hierarchies = OwnCgroupHierarchies();
  if (hierarchies.empty()) throw BenchError("no cgroup hierarchy found for this process");
  cleanup.Push("cgroups " + cgroup_parent, [hierarchies, cgroup_parent] {
    bool ok = true;
    for (const auto& h : hierarchies) ok = KillAndRemoveCgroupTree(h.own_dir + "/" + cgroup_parent) && ok;
    return ok;
  });

  // berthd first, outside the private mount namespace the bench enters next.
  AgentOptions agent_options{berthd, tmp + "/root", tmp + "/berthd.sock", cgroup_parent, tmp + "/berthd.log",
                             flags.log_level};
  // The remote rows: berthd also listens on 127.0.0.1 with mutual TLS.
  std::optional<RemoteSetup> remote_setup;
  if (!flags.no_remote) {
    remote_setup = PrepareRemote(flags.tls_tool, tmp);
    agent_options.extra_args = remote_setup->AgentArgs();
  }
  auto agent = std::make_shared<BerthAgent>(agent_options);
  agent->Start();
  cleanup.Push("stop berthd", [agent] {
    agent->Stop();
    return true;
  });
  agent->WaitServing(std::chrono::seconds(120));
  // The default image has one layer: crun runs on the same unpacked directory.
  const std::string busybox_rootfs = BusyboxLayer(agent_options.root);

  // Private mount namespace (before any thread: gRPC starts its threads only below).
  EnterPrivateMountNamespace();
  if (std::string hidden = HybridCgroup2MountPoint(); !hidden.empty()) Unmount(hidden);
  for (const auto& h : hierarchies) {
    std::string bench_dir = h.own_dir + "/" + cgroup_parent;
    MakeCgroup(h, bench_dir);
    std::string crun_dir = bench_dir + "/crun";
    MakeCgroup(h, crun_dir);
    BindMount(crun_dir, h.mount_point);
    cleanup.Push("unmount " + h.mount_point, [mp = h.mount_point] { return TryUnmount(mp); });
  }

  // crun bundles: run (true) and exec target (sleep), each on its own overlay of the rootfs.
  auto crun = std::make_shared<OciRuntime>(crun_path, tmp + "/crun-state", tmp + "/crun.log");
  MakeDir(tmp + "/crun-state", 0700);
  auto make_bundle = [&](const std::string& name, const std::vector<std::string>& args) {
    std::string dir = tmp + "/" + name;
    for (const char* sub : {"", "/rootfs", "/upper", "/work"}) MakeDir(dir + sub);
    MountOverlay(busybox_rootfs, dir + "/upper", dir + "/work", dir + "/rootfs");
    cleanup.Push("unmount " + dir + "/rootfs", [dir] { return TryUnmount(dir + "/rootfs"); });
    crun->MakeBundle(dir, dir + "/rootfs", args, "/" + name);
    return dir;
  };
  const std::string run_bundle = make_bundle("crun-run", {"/bin/true"});
  // The same, with Berth's default filter and no_new_privs: the hardening rows.
  std::string seccomp_bundle;
  if (!flags.no_hardening) {
    std::string dir = tmp + "/crun-seccomp";
    for (const char* sub : {"", "/rootfs", "/upper", "/work"}) MakeDir(dir + sub);
    MountOverlay(busybox_rootfs, dir + "/upper", dir + "/work", dir + "/rootfs");
    cleanup.Push("unmount " + dir + "/rootfs", [dir] { return TryUnmount(dir + "/rootfs"); });
    crun->MakeBundle(dir, dir + "/rootfs", {"/bin/true"}, "/crun-seccomp", DefaultSeccompJson());
    seccomp_bundle = dir;
  }
  const std::string sleep_bundle = make_bundle("crun-sleep", {"/bin/sleep", "3600"});
  cleanup.Push("crun delete -f", [crun] { return crun->DeleteAll(); });

  // Network setup: the bench bridge and a /run/netns of the bench's own for `ip netns`.
  std::shared_ptr<NetworkSetupBench> netbench;
  if (!flags.no_network) {
    std::string ip_path = FindExecutable(flags.ip);
    if (ip_path.empty()) std::fprintf(stderr, "berth-bench: no `%s` found: the ip baseline is skipped\n", flags.ip.c_str());
    netbench = std::make_shared<NetworkSetupBench>(ip_path, tmp, std::to_string(self));
    cleanup.Push("network bench: bridge, links, netns, /run/netns mount", [netbench] { return netbench->Cleanup(); });
    netbench->Init();
  }

  auto client = std::make_shared<BerthClient>(agent_options.socket);
  client->WaitReady(std::chrono::seconds(10));
  cleanup.Push("remove berth containers", [client] { return client->RemoveAll().empty(); });
  const std::string version = client->Version();

  // Images (run last): the tools are looked up now, so a missing one fails before the rest.
  std::shared_ptr<ImagesBench> images;
  if (!flags.no_images) {
    ImagesBenchOptions o;
    o.socket = agent_options.socket;
    o.store_dir = agent_options.root + "/images";
    o.work_dir = tmp + "/images";
    o.runs = flags.image_runs;
    o.warmup = flags.warmup > 0 ? 1 : 0;
    o.create_runs = flags.image_create_runs;
    o.layer_mb = flags.image_layer_mb;
    o.registry = flags.registry;
    o.skopeo = flags.skopeo;
    o.umoci = flags.umoci;
    images = std::make_shared<ImagesBench>(o, client);
    images->CheckTools();
    cleanup.Push("images bench: containers, image, registry, " + o.work_dir, [images] { return images->Cleanup(); });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const MemoryUse agent_fresh = ReadMemoryUse(agent->pid());

  struct utsname uts = {};
  ::uname(&uts);
  std::string loadavg = FirstLine(ReadTextFile("/proc/loadavg"));
  std::printf("berth-bench: Berth vs crun, %d runs each after %d warm-up runs, interleaved, each run and exec "
              "%d ms after the last\n",
              flags.runs, flags.warmup, flags.settle_ms);
  std::printf("  berthd    %s — %s, log level %s\n", berthd.c_str(), version.c_str(), flags.log_level.c_str());
  std::printf("  crun      %s — %s\n", crun_path.c_str(), CommandOutput({crun_path, "--version"}, tmp + "/out").c_str());
  std::printf("  host      %s %s, %u cpus, load average %s\n", uts.sysname, uts.release,
              std::thread::hardware_concurrency(), loadavg.c_str());
  std::printf("  rootfs    %s (crun: one overlay of it per bundle, mounted once)\n", busybox_rootfs.c_str());
  std::string net_line = "the bench's own netns (berthd's bridge berth0";
  if (netbench) {
    net_line += ", bench bridge " + netbench->bridge() + "); ip: ";
    net_line += netbench->has_ip()
                    ? netbench->ip_path() + " — " + CommandOutput({netbench->ip_path(), "-V"}, tmp + "/out")
                    : "none, baseline skipped";
  } else {
    net_line += "); network rows skipped";
  }
  std::printf("  network   %s\n", net_line.c_str());
  std::fflush(stdout);

  // Each timed run or exec starts after a pause, so that it finds the kernel's shared state as
  // a lone start on a quiet node does, not as the other runtime's start just before left it:
  // moving a process into a cgroup by its pid (crun does, for its container and each exec)
  // takes a global lock whose first taking waits for an RCU grace period (5-15 ms on the
  // development VM), and one taking within a grace period after another does not wait. Back
  // to back, each runtime's start ran on the grace period the other had waited for.
  auto settle = [&] { std::this_thread::sleep_for(std::chrono::milliseconds(flags.settle_ms)); };

  // 1. Run to exit.
  std::vector<double> berth_run, crun_run, bridge_run;
  std::vector<RunPhases> one_call, phases, bridge_phases;
  const int total = flags.warmup + flags.runs;
  for (int i = 0; i < total; ++i) {
    ThrowIfInterrupted();
    auto berth_once = [&] {
      settle();
      RunPhases r = client->RunInOneCall(kImage, {"true"}, "none");
      RunPhases b = client->RunInOneCall(kImage, {"true"}, "bridge");
      RunPhases p = client->RunToExit(kImage, {"true"}, "none");
      RunPhases bp = client->RunToExit(kImage, {"true"}, "bridge");
      if (i >= flags.warmup) {
        berth_run.push_back(r.total);
        one_call.push_back(r);
        bridge_run.push_back(b.total);
        phases.push_back(p);
        bridge_phases.push_back(bp);
      }
    };
    auto crun_once = [&] {
      settle();
      auto t0 = Clock::now();
      crun->Run(run_bundle, "bb" + std::to_string(self) + "-run-" + std::to_string(i));
      double ms = MillisBetween(t0, Clock::now());
      if (i >= flags.warmup) crun_run.push_back(ms);
    };
    InAlternatingOrder(i, berth_once, crun_once);
  }

  // 2. Exec into running containers.
  const std::string berth_sleeper = client->RunDetached(kImage, {"sleep", "3600"});
  const std::string crun_sleeper = "bb" + std::to_string(self) + "-sleep";
  crun->RunDetached(sleep_bundle, crun_sleeper);
  std::vector<double> berth_exec, crun_exec;
  std::vector<ExecPhases> exec_phases;
  for (int i = 0; i < total; ++i) {
    ThrowIfInterrupted();
    auto berth_once = [&] {
      settle();
      ExecPhases p = client->Exec(berth_sleeper, {"true"});
      if (i >= flags.warmup) {
        berth_exec.push_back(p.total);
        exec_phases.push_back(p);
      }
    };
    auto crun_once = [&] {
      settle();
      auto t0 = Clock::now();
      crun->Exec(crun_sleeper, {"/bin/true"});
      double ms = MillisBetween(t0, Clock::now());
      if (i >= flags.warmup) crun_exec.push_back(ms);
    };
    InAlternatingOrder(i, berth_once, crun_once);
  }

  // 2b. What the hardened defaults cost.
  std::optional<HardeningResult> hardening;
  if (!flags.no_hardening) {
    HardeningInputs h;
    h.client = client;
    h.crun = crun;
    h.crun_plain_bundle = run_bundle;
    h.crun_seccomp_bundle = seccomp_bundle;
    h.crun_sleeper = crun_sleeper;
    h.shim_path = SelfDir() + "/berth-shim";
    h.scratch = tmp;
    h.runs = flags.runs;
    h.warmup = flags.warmup;
    h.id_prefix = "bb" + std::to_string(self);
    hardening = MeasureHardening(h);
  }

  // 2d. berth-runtime beside crun and runc, as the processes Podman and containerd start.
  std::vector<RuntimeRow> runtimes;
  if (!flags.no_runtimes) {
    RuntimesInputs in;
    in.run_bundle = run_bundle;
    in.id_prefix = "bb" + std::to_string(self);
    in.runs = flags.runs;
    in.warmup = flags.warmup;
    const std::string berth_runtime = flags.berth_runtime.empty() ? SelfDir() + "/berth-runtime" : flags.berth_runtime;
    std::vector<std::pair<std::string, std::string>> candidates = {
        {"berth-runtime", berth_runtime}, {"crun", crun_path}, {"runc", FindExecutable(flags.runc)}};
    for (const auto& [name, path] : candidates) {
      if (path.empty() || ::access(path.c_str(), X_OK) != 0) {
        std::fprintf(stderr, "berth-bench: no %s found: its runtime row is skipped\n", name.c_str());
        continue;
      }
      MakeDir(tmp + "/" + name + "-state", 0700);
      auto cli = std::make_shared<OciRuntime>(path, tmp + "/" + name + "-state", tmp + "/" + name + ".log");
      cleanup.Push(name + " delete -f", [cli] { return cli->DeleteAll(); });
      in.arms.push_back({name, cli, make_bundle("rt-sleep-" + name, {"/bin/sleep", "3600"})});
    }
    runtimes = MeasureRuntimes(in);
  }

  // 2c. The API over TCP + mutual TLS beside the Unix socket.
  std::optional<RemoteResult> remote;
  if (remote_setup) {
    RemoteInputs in;
    in.setup = *remote_setup;
    in.socket = agent_options.socket;
    in.sleeper = berth_sleeper;
    in.runs = flags.runs;
    in.warmup = flags.warmup;
    remote = MeasureRemote(in);
  }

  // 3. Memory: berthd now idle again with one container, just after the runs and at rest (it
  // gives its resident code back every kAgentReleasePeriod); that container's shim.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const MemoryUse agent_after = ReadMemoryUse(agent->pid());
  std::this_thread::sleep_for(kAgentReleasePeriod);
  const MemoryUse agent_rest = ReadMemoryUse(agent->pid());
  const pid_t init_pid = client->Inspect(berth_sleeper).pid();
  const pid_t shim_pid = init_pid > 0 ? ParentPid(init_pid) : -1;
  if (shim_pid <= 0 || CommOf(shim_pid) != "berth-shim") {
    throw BenchError("cannot find the berth-shim of container " + berth_sleeper + " (init pid " +
                     std::to_string(init_pid) + ", parent " + std::to_string(shim_pid) + " " + CommOf(shim_pid) + ")");
  }
  const MemoryUse shim = ReadMemoryUse(shim_pid);

  // Optional: the CLI as a user runs it (process start, connection, auto-remove by the agent),
  // each run paired with a crun run and exec of its own, in alternating order, so the ratio
  // compares runs made seconds apart rather than with section 1's crun.
  std::vector<double> cli_run, cli_exec, cli_crun_run, cli_crun_exec;
  if (!cli.empty() && flags.cli_runs > 0) {
    const std::string host = "unix://" + agent_options.socket;
    SpawnOptions io;
    io.stderr_path = tmp + "/cli.log";
    for (int i = 0; i < flags.cli_runs + 1; ++i) {  // one warm-up
      ThrowIfInterrupted();
      const bool keep = i > 0;
      auto berth_once = [&] {
        settle();
        auto t0 = Clock::now();
        int st = RunToCompletion({cli, "-H", host, "run", "--rm", kImage, "true"}, io);
        double ms = MillisBetween(t0, Clock::now());
        if (!ExitedZero(st)) throw BenchError("berth run --rm failed: " + DescribeWaitStatus(st) + "\n" + FileTail(io.stderr_path));
        if (keep) cli_run.push_back(ms);
        settle();
        t0 = Clock::now();
        st = RunToCompletion({cli, "-H", host, "exec", berth_sleeper, "true"}, io);
        ms = MillisBetween(t0, Clock::now());
        if (!ExitedZero(st)) throw BenchError("berth exec failed: " + DescribeWaitStatus(st) + "\n" + FileTail(io.stderr_path));
        if (keep) cli_exec.push_back(ms);
      };
      auto crun_once = [&] {
        settle();
        auto t0 = Clock::now();
        crun->Run(run_bundle, "bb" + std::to_string(self) + "-clirun-" + std::to_string(i));
        double ms = MillisBetween(t0, Clock::now());
        if (keep) cli_crun_run.push_back(ms);
        settle();
        t0 = Clock::now();
        crun->Exec(crun_sleeper, {"/bin/true"});
        ms = MillisBetween(t0, Clock::now());
        if (keep) cli_crun_exec.push_back(ms);
      };
      InAlternatingOrder(i, berth_once, crun_once);
    }
  }

  // 4. Network setup per container, the four kinds interleaved (each iteration starts with
  // another one, so none always runs on another's leftovers).
  std::vector<double> create_bridge, create_none, paired_diff, attach, netns_attach, ip_setup;
  if (netbench) {
    for (int i = 0; i < total; ++i) {
      ThrowIfInterrupted();
      const bool keep = i >= flags.warmup;
      double bridge_ms = -1, none_ms = -1;
      auto create_once = [&](const char* network, double* ms) {
        std::string id;
        *ms = client->TimedCreate(kImage, {"true"}, network, &id);
        client->Remove(id, /*force=*/true);  // not timed
      };
      std::function<void()> kinds[] = {
          [&] { create_once("bridge", &bridge_ms); },
          [&] { create_once("none", &none_ms); },
          [&] {
            AttachTiming t = netbench->AttachOnce(i);
            if (keep) {
              attach.push_back(t.attach);
              netns_attach.push_back(t.create_netns + t.attach);
            }
          },
          [&] {
            if (!netbench->has_ip()) return;
            double ms = netbench->IpOnce(i);
            if (keep) ip_setup.push_back(ms);
          },
      };
      constexpr int kKinds = sizeof(kinds) / sizeof(kinds[0]);
      for (int k = 0; k < kKinds; ++k) kinds[(i + k) % kKinds]();
      if (keep) {
        create_bridge.push_back(bridge_ms);
        create_none.push_back(none_ms);
        paired_diff.push_back(bridge_ms - none_ms);
      }
    }
  }

  // Report.
  Summary br = Summarize(berth_run), cr = Summarize(crun_run);
  Summary be = Summarize(berth_exec), ce = Summarize(crun_exec);
  std::printf("\n  %-34s %18s   %18s   %8s\n", ("Latency in ms, n=" + std::to_string(flags.runs) + " each").c_str(),
              "------ berth -----", "------ crun ------", "berth/crun");
  std::printf("  %-34s %9s %8s   %9s %8s   %8s   %-8s %s\n", "", "median", "p95", "median", "p95", "(median)", "target",
              "");
  const Summary bridge = Summarize(bridge_run);
  PrintLatencyRow("run-to-exit: busybox true (net none)", br, cr, "<= 0.5x", true, kRunTargetRatio);
  PrintLatencyRow("  same, berth on the bridge network", bridge, cr, "<= 1x", true, kBridgeRunTargetRatio);
  PrintLatencyRow("exec: true in a running container", be, ce, "<= 0.3x", true, kExecTargetRatio);
  const Summary lr = Summarize(cli_run), le = Summarize(cli_exec);
  const Summary lcr = Summarize(cli_crun_run), lce = Summarize(cli_crun_exec);
  if (!cli_run.empty()) {
    std::printf("  with the berth CLI as a process (n=%d, each beside a crun run and exec of its own; `run --rm`\n"
                "  returns once the container is removed, and runs on the default bridge):\n",
                flags.cli_runs);
    PrintLatencyRow("berth run --rm busybox true", lr, lcr, "<= 1x", true, kCliRunTargetRatio);
    PrintLatencyRow("berth exec <id> true", le, lce, "<= 1x", true, kCliExecTargetRatio);
  }

  auto median_of = [](const auto& v, auto field) {
    std::vector<double> xs;
    for (const auto& p : v) xs.push_back(p.*field);
    return Summarize(xs).median;
  };
  std::printf("\n  berth run-to-exit in one Run call, median (ms): container made %.1f | exit code (removed) %.1f"
              " | stream end %.1f\n",
              median_of(one_call, &RunPhases::create), median_of(one_call, &RunPhases::exit),
              median_of(one_call, &RunPhases::close));
  std::printf("  berth run-to-exit in separate calls, median per step (ms): Create %.1f | Attach %.1f | Start %.1f | to exit code %.1f"
              " | stream end %.1f | Remove %.1f\n",
              median_of(phases, &RunPhases::create), median_of(phases, &RunPhases::attach),
              median_of(phases, &RunPhases::start), median_of(phases, &RunPhases::exit),
              median_of(phases, &RunPhases::close), median_of(phases, &RunPhases::remove));
  std::printf("  the same on the bridge, median per step (ms): Create %.1f | Start %.1f | Remove %.1f\n",
              median_of(bridge_phases, &RunPhases::create), median_of(bridge_phases, &RunPhases::start),
              median_of(bridge_phases, &RunPhases::remove));
  std::printf("  berth exec, median from the call (ms): pid %.1f | exit code %.1f | stream end %.1f\n",
              median_of(exec_phases, &ExecPhases::started), median_of(exec_phases, &ExecPhases::exit),
              median_of(exec_phases, &ExecPhases::total));
  std::printf("  crun min/max (ms): run %.1f/%.1f, exec %.1f/%.1f; berth min/max: run %.1f/%.1f, exec %.1f/%.1f\n",
              cr.min, cr.max, ce.min, ce.max, br.min, br.max, be.min, be.max);

  Summary cb = Summarize(create_bridge), cn = Summarize(create_none), pd = Summarize(paired_diff);
  Summary at = Summarize(attach), na = Summarize(netns_attach), ip = Summarize(ip_setup);
  const double net_part = cb.median - cn.median;
  const bool net_ok = net_part <= kNetworkTargetMs;
  if (netbench) {
    auto vs_ip = [&](double ms) { return ip.n > 0 && ip.median > 0 ? Fmt("%7.3fx", ms / ip.median) : "      -"; };
    auto row = [&](const char* name, const Summary& s, const std::string& p95, const std::string& target) {
      std::printf("  %-52s %8.2f %8s   %8s   %s\n", name, s.median, p95.c_str(), vs_ip(s.median).c_str(),
                  target.c_str());
    };
    std::printf("\nNetwork setup per container (ms, n=%d each, interleaved; in the bench's own netns)\n", flags.runs);
    std::printf("  %-52s %8s %8s   %8s   %s\n", "", "median", "p95", "/ip (med)", "target");
    row("berth Create, network \"bridge\" (gRPC Create)", cb, Fmt("%.2f", cb.p95), "");
    row("berth Create, network \"none\"", cn, Fmt("%.2f", cn.p95), "");
    Summary part;
    part.median = net_part;
    row("Berth's network part (median bridge - median none)", part, "-",
        "<= 5 ms: " + Verdict(net_ok));
    row("  bridge - none, paired per iteration", pd, Fmt("%.2f", pd.p95), "");
    row("AttachContainer alone, in-process (veth..route)", at, Fmt("%.2f", at.p95), "");
    row("CreateNetns + AttachContainer, in-process", na, Fmt("%.2f", na.p95), "");
    if (ip.n > 0) {
      row("ip baseline: netns+veth+addr+routes, 10 `ip` procs", ip, Fmt("%.2f", ip.p95), "(issue: 40-80 ms)");
    } else {
      std::printf("  ip baseline: skipped (no ip binary)\n");
    }
    std::printf("  min/max (ms): create bridge %.2f/%.2f, none %.2f/%.2f, attach %.2f/%.2f, ip %.2f/%.2f\n", cb.min,
                cb.max, cn.min, cn.max, at.min, at.max, ip.min, ip.max);
    std::printf("  (the network part is a difference of two medians: on a busy host it is noisy, even below 0; "
                "AttachContainer alone is its floor)\n");
  }

  if (hardening) PrintHardening(*hardening, flags.runs);
  if (remote) PrintRemote(*remote, flags.runs);
  if (!runtimes.empty()) PrintRuntimes(runtimes, flags.runs);

  std::printf("\nResident memory (VmRSS)\n");
  std::printf("  berthd, idle, fresh             %s\n", MemText(agent_fresh).c_str());
  std::printf("  berthd, idle after the runs     %s\n", MemText(agent_after).c_str());
  std::printf("  berthd, the same %2lld s later    %s\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(kAgentReleasePeriod).count()),
              MemText(agent_rest).c_str());
  std::printf("  berth-shim, one container       %s\n", MemText(shim).c_str());
  std::printf("  (Pss counts the shim binary's shared pages once across all shims: make bench-density shows it\n"
              "   with 1000 of them. For reference, measured on this host: containerd 37-44 MB idle + 13 MB per\n"
              "   shim; conmon 2.4 MB.)\n");

  TargetTable targets;
  targets.Ratio("run-to-exit `busybox true` through the API, net none", br, cr, "crun run", kRunTargetRatio);
  targets.Ratio("the same on the default bridge", bridge, cr, "crun run", kBridgeRunTargetRatio);
  if (!cli_run.empty()) {
    targets.Ratio("`berth run --rm busybox true`, the whole process", lr, lcr, "crun run", kCliRunTargetRatio);
    targets.Ratio("`berth exec <id> true`, the whole process", le, lce, "crun exec", kCliExecTargetRatio);
  }
  targets.Ratio("exec through the API", be, ce, "crun exec", kExecTargetRatio);
  targets.Amount("berth-shim VmRSS, one running container", MiB(shim.vm_rss_kb), "MiB", kShimTargetMiB);
  targets.Amount("berthd VmRSS, idle (at rest after the runs)", MiB(agent_rest.vm_rss_kb), "MiB", kAgentIdleTargetMiB);
  if (netbench) targets.Amount("Berth's network part per container", net_part, "ms", kNetworkTargetMs);
  targets.Print(flags.command, flags.settle_ms);
  std::fflush(stdout);

  // 5. Images, last: building the test image and pushing it take a while.
  if (!flags.no_observe) {
    ObserveInputs in;
    in.socket = agent_options.socket;
    in.agent_pid = agent->pid();
    in.containers = flags.observe_containers;
    in.cpu_seconds = flags.observe_seconds;
    RunObserveBench(in);
    std::fflush(stdout);
  }
  if (images) {
    std::printf("\nImages: building a test image with a %d MB random layer, pushing it to a local registry...\n",
                flags.image_layer_mb);
    std::fflush(stdout);
    images->Prepare();
    ImagesResult result = images->Measure();
    ImagesBench::Print(result, flags.image_runs, flags.image_create_runs);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace berth::bench

int main(int argc, char** argv) {
  using namespace berth::bench;
  Flags flags;
  CLI::App app{"berth-bench: Berth against crun (run-to-exit, exec latency, memory, network) and skopeo + umoci "
               "(image pull + unpack)"};
  app.add_option("--runs", flags.runs, "measured runs per case")->check(CLI::Range(1, 100000));
  app.add_option("--warmup", flags.warmup, "unmeasured runs first")->check(CLI::Range(0, 1000));
  app.add_option("--settle-ms", flags.settle_ms,
                 "pause before each timed run and exec, so none runs on the kernel state another left (default 100)")
      ->check(CLI::Range(0, 10000));
  app.add_option("--berthd", flags.berthd, "berthd to start (default: next to berth-bench; berth-shim next to it)");
  app.add_option("--crun", flags.crun, "crun binary");
  app.add_option("--cli", flags.cli, "berth CLI to time as a process too (default: next to berth-bench, if there)");
  app.add_flag("--no-cli", flags.no_cli, "skip the CLI rows");
  app.add_flag("--no-network", flags.no_network, "skip the network setup rows");
  app.add_option("--ip", flags.ip, "ip (iproute2) binary of the network baseline");
  app.add_option("--cli-runs", flags.cli_runs, "runs of the CLI rows")->check(CLI::Range(0, 100000));
  app.add_option("--tmpdir", flags.tmpdir, "where the temp dir goes (overlay upper dirs: not on overlayfs)");
  app.add_option("--agent-log-level", flags.log_level, "berthd --log-level");
  app.add_flag("--no-images", flags.no_images, "skip the image pull and create-from-image rows");
  app.add_flag("--no-hardening", flags.no_hardening, "skip the rows on what the hardened defaults cost");
  app.add_flag("--no-remote", flags.no_remote, "skip the rows on the API over TCP + mutual TLS");
  app.add_flag("--no-runtimes", flags.no_runtimes, "skip the berth-runtime / crun / runc rows");
  app.add_flag("--no-observe", flags.no_observe, "skip the Stats / metrics / events / log rotation rows");
  app.add_option("--observe-containers", flags.observe_containers, "running containers for the observability rows")
      ->check(CLI::Range(1, 5000));
  app.add_option("--observe-seconds", flags.observe_seconds, "how long berthd's CPU is watched")
      ->check(CLI::Range(1, 3600));
  app.add_option("--runc", flags.runc, "runc binary of the runtime rows (skipped when missing)");
  app.add_option("--berth-runtime", flags.berth_runtime, "berth-runtime (default: next to berth-bench)");
  app.add_option("--tls-tool", flags.tls_tool, "deploy/berth-tls, for the remote rows' certificates")
      ->capture_default_str();
  app.add_option("--image-runs", flags.image_runs, "measured pulls per side (each from nothing)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--image-create-runs", flags.image_create_runs, "Creates per image from the cached image")
      ->check(CLI::Range(1, 100000));
  app.add_option("--image-layer-mb", flags.image_layer_mb, "size of the test image's random layer, MB (10^6 bytes)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--registry", flags.registry, "docker-registry binary (Debian's distribution registry)");
  app.add_option("--skopeo", flags.skopeo, "skopeo binary of the pull baseline");
  app.add_option("--umoci", flags.umoci, "umoci binary of the unpack baseline");
  CLI11_PARSE(app, argc, argv);
  for (int i = 0; i < argc; ++i) flags.command += (i > 0 ? " " : "") + std::string(argv[i]);

  // The bench's own network namespace, before anything else (no thread or child exists yet).
  if (::geteuid() != 0) {
    std::fprintf(stderr, "berth-bench: must run as root (namespaces, cgroups, mounts)\n");
    return 1;
  }
  try {
    EnterPrivateNetworkNamespace();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "berth-bench: %s\n", e.what());
    return 1;
  }

  InstallInterruptHandlers();
  CleanupStack cleanup;
  int rc = 1;
  try {
    rc = Bench(flags, cleanup);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "berth-bench: %s\n", e.what());
    rc = 1;
  }
  if (!cleanup.RunAll()) {
    std::fprintf(stderr, "berth-bench: some of what the bench made could not be removed (see above)\n");
    if (rc == 0) rc = 1;
  }
  return rc;
}
