// berth-cri-bench: the Kubernetes CRI of a private berthd, as the kubelet drives it
// (`make bench-cri`), through the generated runtime.v1 stubs:
//
//   1. a network namespace of its own (as berth-bench), a berthd of its own;
//   2. pod start: RunPodSandbox, then CreateContainer + StartContainer of one container,
//      until StartContainer returns (the container runs) — p50 and p99 over --pods rounds,
//      each pod stopped and removed after it was timed;
//   3. ExecSync of `true` in a running container: p50 and p99;
//   4. berthd's memory idle and with --density pods running (a sandbox and one container each);
//   5. with --crictl PATH, the same pod start through crictl's runp/create/start processes
//      (what a person timing it by hand sees), beside the API figures.
// Not a test: it asserts nothing about times and memory; it prints them.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <grpcpp/grpcpp.h>

#include "bench/bench_berth.h"
#include "bench/bench_host.h"
#include "bench/bench_net.h"
#include "bench/bench_proc.h"
#include "bench/bench_stats.h"
#include "cri/runtime/v1/api.grpc.pb.h"

namespace berth::bench {
namespace {

namespace cri = ::runtime::v1;

struct Flags {
  int pods = 50;
  int execs = 300;
  int density = 100;
  std::string berthd;
  std::string crictl;
  std::string tmpdir = "/tmp";
  std::string log_level = "warn";
};

void Check(const grpc::Status& s, const char* what) {
  if (!s.ok()) throw BenchError(std::string(what) + ": " + s.error_message());
}

class Cri {
 public:
  explicit Cri(const std::string& socket)
      : stub_(cri::RuntimeService::NewStub(
            grpc::CreateChannel("unix://" + socket, grpc::InsecureChannelCredentials()))) {}

  cri::PodSandboxConfig PodConfig(int n, const std::string& log_dir) {
    cri::PodSandboxConfig config;
    config.mutable_metadata()->set_name("bench-" + std::to_string(n));
    config.mutable_metadata()->set_namespace_("bench");
    config.mutable_metadata()->set_uid("uid-bench-" + std::to_string(n));
    config.set_log_directory(log_dir + "/" + std::to_string(n));
    return config;
  }
  std::string RunPod(const cri::PodSandboxConfig& config) {
    cri::RunPodSandboxRequest req;
    *req.mutable_config() = config;
    cri::RunPodSandboxResponse resp;
    grpc::ClientContext ctx;
    Check(stub_->RunPodSandbox(&ctx, req, &resp), "RunPodSandbox");
    return resp.pod_sandbox_id();
  }
  std::string CreateAndStart(const std::string& pod, const cri::PodSandboxConfig& pod_config) {
    cri::CreateContainerRequest req;
    req.set_pod_sandbox_id(pod);
    *req.mutable_sandbox_config() = pod_config;
    cri::ContainerConfig* c = req.mutable_config();
    c->mutable_metadata()->set_name("app");
    c->mutable_image()->set_image("busybox");
    c->add_command("sleep");
    c->add_command("3600");
    c->set_log_path("app.log");
    cri::CreateContainerResponse created;
    {
      grpc::ClientContext ctx;
      Check(stub_->CreateContainer(&ctx, req, &created), "CreateContainer");
    }
    cri::StartContainerRequest start;
    start.set_container_id(created.container_id());
    cri::StartContainerResponse started;
    grpc::ClientContext ctx;
    Check(stub_->StartContainer(&ctx, start, &started), "StartContainer");
    return created.container_id();
  }
  void ExecTrue(const std::string& id) {
    cri::ExecSyncRequest req;
    req.set_container_id(id);
    req.add_cmd("true");
    req.set_timeout(30);
    cri::ExecSyncResponse resp;
    grpc::ClientContext ctx;
    Check(stub_->ExecSync(&ctx, req, &resp), "ExecSync");
    if (resp.exit_code() != 0) throw BenchError("ExecSync true: exit code " + std::to_string(resp.exit_code()));
  }
  void StopAndRemove(const std::string& pod) {
    {
      cri::StopPodSandboxRequest req;
      req.set_pod_sandbox_id(pod);
      cri::StopPodSandboxResponse resp;
      grpc::ClientContext ctx;
      Check(stub_->StopPodSandbox(&ctx, req, &resp), "StopPodSandbox");
    }
    cri::RemovePodSandboxRequest req;
    req.set_pod_sandbox_id(pod);
    cri::RemovePodSandboxResponse resp;
    grpc::ClientContext ctx;
    Check(stub_->RemovePodSandbox(&ctx, req, &resp), "RemovePodSandbox");
  }
  size_t PodCount() {
    cri::ListPodSandboxRequest req;
    cri::ListPodSandboxResponse resp;
    grpc::ClientContext ctx;
    Check(stub_->ListPodSandbox(&ctx, req, &resp), "ListPodSandbox");
    return static_cast<size_t>(resp.items_size());
  }

 private:
  std::unique_ptr<cri::RuntimeService::Stub> stub_;
};

void PrintLatency(const char* name, const std::vector<double>& ms) {
  std::printf("  %-48s p50 %8.2f ms   p99 %8.2f ms   (n=%zu)\n", name, Percentile(ms, 50), Percentile(ms, 99),
              ms.size());
}

std::string Mem(long kb) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(kb) / 1024.0);
  return buf;
}

// crictl runp + create + start as processes, with config files written once.
std::vector<double> CrictlPodStarts(const Flags& flags, const std::string& tmp, const std::string& socket, Cri& api) {
  const std::string endpoint = "unix://" + socket;
  const std::string container_json = tmp + "/container.json";
  WriteTextFile(container_json, R"({"metadata":{"name":"app"},"image":{"image":"busybox"},)"
                                R"("command":["sleep","3600"],"log_path":"app.log"})");
  std::vector<double> ms;
  for (int i = 0; i < flags.pods; ++i) {
    ThrowIfInterrupted();
    const std::string pod_json = tmp + "/pod.json";
    WriteTextFile(pod_json, "{\"metadata\":{\"name\":\"crictl-" + std::to_string(i) +
                                "\",\"namespace\":\"bench\",\"uid\":\"uid-crictl-" + std::to_string(i) +
                                "\"},\"log_directory\":\"" + tmp + "/logs/crictl-" + std::to_string(i) + "\"}");
    const std::string out = tmp + "/crictl.out";
    auto run = [&](const std::vector<std::string>& args) {
      std::vector<std::string> argv = {flags.crictl, "-r", endpoint, "-i", endpoint};
      argv.insert(argv.end(), args.begin(), args.end());
      ::unlink(out.c_str());  // the bench's spawn appends
      SpawnOptions options;
      options.stdout_path = out;
      options.stderr_path = tmp + "/crictl.err";
      if (!ExitedZero(RunToCompletion(argv, options))) {
        throw BenchError("crictl " + args[0] + " failed: " + ReadTextFile(tmp + "/crictl.err"));
      }
      std::string id = ReadTextFile(out);
      while (!id.empty() && (id.back() == '\n' || id.back() == '\r')) id.pop_back();
      return id;
    };
    const auto t0 = Clock::now();
    const std::string pod = run({"runp", pod_json});
    const std::string container = run({"create", pod, container_json, pod_json});
    run({"start", container});
    ms.push_back(MillisBetween(t0, Clock::now()));
    api.StopAndRemove(pod);
  }
  return ms;
}

int Bench(const Flags& flags) {
  const std::string berthd = flags.berthd.empty() ? SelfDir() + "/berthd" : flags.berthd;
  if (::access(berthd.c_str(), X_OK) != 0) throw BenchError("no berthd at " + berthd + " (give --berthd)");
  const std::string tmp = MakeTempDir(flags.tmpdir, "berth-cri-bench-");
  const std::string cgroup_parent = "berth-cri-bench-" + std::to_string(::getpid());
  const std::vector<CgroupHierarchy> hierarchies = OwnCgroupHierarchies();
  auto cleanup_host = [&] {
    bool ok = true;
    for (const auto& h : hierarchies) ok = KillAndRemoveCgroupTree(h.own_dir + "/" + cgroup_parent) && ok;
    return RemoveTree(tmp) && ok;
  };
  const std::string socket = tmp + "/berthd.sock";
  const std::string cri_socket = tmp + "/cri.sock";
  const std::string logs = tmp + "/logs";
  MakeDir(logs);
  int rc = 0;
  {
    BerthAgent agent({berthd, tmp + "/root", socket, cgroup_parent, tmp + "/berthd.log", flags.log_level});
    try {
      agent.Start();
      agent.WaitServing(std::chrono::seconds(120));
      Cri api(cri_socket);
      const MemoryUse idle = ReadMemoryUse(agent.pid());
      std::printf("berth-cri-bench: %d pod starts, %d ExecSyncs, %d pods for memory\n", flags.pods, flags.execs,
                  flags.density);

      std::vector<double> start_ms, sandbox_ms;
      for (int i = 0; i < flags.pods + 3; ++i) {  // 3 warm-up rounds
        ThrowIfInterrupted();
        cri::PodSandboxConfig config = api.PodConfig(i, logs);
        const auto t0 = Clock::now();
        const std::string pod = api.RunPod(config);
        const auto t1 = Clock::now();
        api.CreateAndStart(pod, config);
        const auto t2 = Clock::now();
        if (i >= 3) {
          sandbox_ms.push_back(MillisBetween(t0, t1));
          start_ms.push_back(MillisBetween(t0, t2));
        }
        api.StopAndRemove(pod);
      }
      std::printf("\nPod start (API; the agent's bridge network)\n");
      PrintLatency("RunPodSandbox", sandbox_ms);
      PrintLatency("RunPodSandbox + one container running", start_ms);

      cri::PodSandboxConfig exec_pod_config = api.PodConfig(100000, logs);
      const std::string exec_pod = api.RunPod(exec_pod_config);
      const std::string exec_container = api.CreateAndStart(exec_pod, exec_pod_config);
      std::vector<double> exec_ms;
      for (int i = 0; i < flags.execs + 10; ++i) {
        ThrowIfInterrupted();
        const auto t0 = Clock::now();
        api.ExecTrue(exec_container);
        if (i >= 10) exec_ms.push_back(MillisBetween(t0, Clock::now()));
      }
      api.StopAndRemove(exec_pod);
      std::printf("\nExecSync (true)\n");
      PrintLatency("ExecSync", exec_ms);

      if (!flags.crictl.empty()) {
        std::vector<double> crictl_ms = CrictlPodStarts(flags, tmp, cri_socket, api);
        std::printf("\nPod start through crictl (runp + create + start, three processes)\n");
        PrintLatency("crictl", crictl_ms);
        std::printf("  %-48s %.2fx the API's p50\n", "crictl / API", Percentile(crictl_ms, 50) / Percentile(start_ms, 50));
      }

      std::vector<std::string> pods;
      for (int i = 0; i < flags.density; ++i) {
        ThrowIfInterrupted();
        cri::PodSandboxConfig config = api.PodConfig(200000 + i, logs);
        pods.push_back(api.RunPod(config));
        api.CreateAndStart(pods.back(), config);
      }
      const MemoryUse loaded = ReadMemoryUse(agent.pid());
      std::printf("\nMemory of berthd\n");
      std::printf("  %-48s %s (Pss %s)\n", "idle", Mem(idle.vm_rss_kb).c_str(), Mem(idle.pss_kb).c_str());
      std::printf("  %-48s %s (Pss %s)\n", (std::to_string(flags.density) + " pods, one container each").c_str(),
                  Mem(loaded.vm_rss_kb).c_str(), Mem(loaded.pss_kb).c_str());
      std::printf("  %-48s %.1f kB\n", "per pod (VmRSS growth)",
                  static_cast<double>(loaded.vm_rss_kb - idle.vm_rss_kb) / flags.density);
      for (const std::string& pod : pods) api.StopAndRemove(pod);
      if (size_t left = api.PodCount(); left != 0) {
        std::printf("\nLeft behind: %zu pods\n", left);
        rc = 1;
      }
    } catch (...) {
      agent.Stop();
      cleanup_host();
      throw;
    }
    agent.Stop();
  }
  if (!cleanup_host()) {
    std::fprintf(stderr, "berth-cri-bench: some of what the bench made could not be removed\n");
    rc = 1;
  }
  return rc;
}

}  // namespace
}  // namespace berth::bench

int main(int argc, char** argv) {
  using namespace berth::bench;
  Flags flags;
  CLI::App app{"berth-cri-bench: pod start, ExecSync latency and memory with many pods, through the CRI"};
  app.add_option("--pods", flags.pods, "pod starts measured")->check(CLI::Range(1, 100000));
  app.add_option("--execs", flags.execs, "ExecSync calls measured")->check(CLI::Range(1, 1000000));
  app.add_option("--density", flags.density, "pods running for the memory figure")->check(CLI::Range(1, 10000));
  app.add_option("--crictl", flags.crictl, "a crictl binary: also time pod start through it");
  app.add_option("--berthd", flags.berthd, "berthd to start (default: next to berth-cri-bench)");
  app.add_option("--tmpdir", flags.tmpdir, "where the agent's root goes");
  app.add_option("--agent-log-level", flags.log_level, "berthd --log-level");
  CLI11_PARSE(app, argc, argv);
  if (::geteuid() != 0) {
    std::fprintf(stderr, "berth-cri-bench: must run as root (namespaces, cgroups, mounts)\n");
    return 1;
  }
  try {
    EnterPrivateNetworkNamespace();  // before any thread: the bridge and veths live in it
    InstallInterruptHandlers();
    return Bench(flags);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "berth-cri-bench: %s\n", e.what());
    return 1;
  }
}
