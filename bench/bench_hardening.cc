#include "bench/bench_hardening.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <vector>

#include "bench/bench_host.h"
#include "bench/bench_proc.h"
#include "runtime/base/sealed_copy.h"
#include "runtime/seccomp/seccomp_filter.h"
#include "runtime/seccomp/seccomp_profile.h"
#include "runtime/spec/spec.h"

namespace berth::bench {

namespace {

constexpr char kImage[] = "busybox";

spec::Seccomp ResolvedDefault() {
  return seccomp::Resolve(seccomp::DefaultProfile(), spec::DefaultCapabilities());
}

// Runs `child` in a forked process and returns the wall time to its exit (ms). The child
// must only make async-signal-safe calls: the bench has gRPC threads.
double TimedChild(const std::function<void()>& child) {
  auto t0 = Clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    child();
    ::_exit(127);
  }
  if (pid < 0) throw BenchError("fork failed");
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return MillisBetween(t0, Clock::now());
}

// Loads `program` in a fresh child; the load alone, timed inside the child (ms).
double TimedLoad(const seccomp::Program& program) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw BenchError("pipe failed");
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    timespec a, b;
    ::clock_gettime(CLOCK_MONOTONIC, &a);
    int err = seccomp::LoadOrErrno(program);
    ::clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = err == 0 ? (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6 : -1;
    (void)!::write(fds[1], &ms, sizeof(ms));
    ::_exit(0);
  }
  ::close(fds[1]);
  double ms = -1;
  (void)!::read(fds[0], &ms, sizeof(ms));
  ::close(fds[0]);
  ::waitpid(pid, nullptr, 0);
  if (ms < 0) throw BenchError("loading the default seccomp filter failed");
  return ms;
}

}  // namespace

std::string DefaultSeccompJson() { return spec::SerializeSeccomp(ResolvedDefault()); }

HardeningResult MeasureHardening(const HardeningInputs& in) {
  HardeningResult r;
  const int total = in.warmup + in.runs;
  v1::SecurityOptions hardened, userns, neither;
  userns.set_userns("auto");
  neither.set_seccomp_profile("unconfined");
  neither.set_no_new_privileges(false);

  // 1. Run to exit, five ways, interleaved.
  std::vector<double> run_h, run_u, run_n, crun_p, crun_s;
  std::vector<double> create_h, create_u, create_n, start_h, start_u, start_n;
  int n = 0;
  auto berth_run = [&](const v1::SecurityOptions& sec, std::vector<double>& into, std::vector<double>& creates,
                       std::vector<double>& starts) {
    return [&, &sec = sec, &into = into, &creates = creates, &starts = starts](bool keep) {
      RunPhases p = in.client->RunToExit(kImage, {"true"}, "none", sec);
      if (!keep) return;
      into.push_back(p.total);
      creates.push_back(p.create);
      starts.push_back(p.start + p.exit);
    };
  };
  auto crun_run = [&](const std::string& bundle, std::vector<double>& into) {
    return [&, bundle, &into = into](bool keep) {
      auto t0 = Clock::now();
      in.crun->Run(bundle, in.id_prefix + "-hard-" + std::to_string(n++));
      if (keep) into.push_back(MillisBetween(t0, Clock::now()));
    };
  };
  Interleaved(total, in.warmup,
                   {berth_run(hardened, run_h, create_h, start_h), berth_run(userns, run_u, create_u, start_u),
                    berth_run(neither, run_n, create_n, start_n),
                    crun_run(in.crun_plain_bundle, crun_p), crun_run(in.crun_seccomp_bundle, crun_s)});
  r.run_hardened = Summarize(run_h);
  r.run_userns = Summarize(run_u);
  r.run_neither = Summarize(run_n);
  r.create_hardened = Summarize(create_h).median;
  r.create_userns = Summarize(create_u).median;
  r.create_neither = Summarize(create_n).median;
  r.start_hardened = Summarize(start_h).median;
  r.start_userns = Summarize(start_u).median;
  r.start_neither = Summarize(start_n).median;
  r.crun_plain = Summarize(crun_p);
  r.crun_seccomp = Summarize(crun_s);

  // 2. Exec into a hardened and an unhardened container, and crun.
  const std::string sleeper_h = in.client->RunDetached(kImage, {"sleep", "3600"}, hardened);
  const std::string sleeper_n = in.client->RunDetached(kImage, {"sleep", "3600"}, neither);
  std::vector<double> ex_h, ex_n, ex_c;
  Interleaved(total, in.warmup,
                   {[&](bool keep) {
                      ExecPhases p = in.client->Exec(sleeper_h, {"true"});
                      if (keep) ex_h.push_back(p.total);
                    },
                    [&](bool keep) {
                      ExecPhases p = in.client->Exec(sleeper_n, {"true"});
                      if (keep) ex_n.push_back(p.total);
                    },
                    [&](bool keep) {
                      auto t0 = Clock::now();
                      in.crun->Exec(in.crun_sleeper, {"/bin/true"});
                      if (keep) ex_c.push_back(MillisBetween(t0, Clock::now()));
                    }});
  in.client->Remove(sleeper_h, true);
  in.client->Remove(sleeper_n, true);
  r.exec_hardened = Summarize(ex_h);
  r.exec_neither = Summarize(ex_n);
  r.crun_exec = Summarize(ex_c);

  // 3. The filter alone: compile (the agent does it once per profile) and load (per process).
  std::vector<double> compile, load;
  const spec::Seccomp resolved = ResolvedDefault();
  seccomp::Program program;
  for (int i = 0; i < total; ++i) {
    auto t0 = Clock::now();
    absl::StatusOr<seccomp::Program> p = seccomp::Compile(resolved);
    double ms = MillisBetween(t0, Clock::now());
    if (!p.ok()) throw BenchError("compile the default profile: " + std::string(p.status().message()));
    program = std::move(*p);
    if (i >= in.warmup) {
      compile.push_back(ms);
      load.push_back(TimedLoad(program));
    }
  }
  r.compile_ms = Summarize(compile);
  r.load_ms = Summarize(load);
  r.filter_instructions = static_cast<int>(program.instructions.size());

  // 4. Launching the monitor: from its path, from a sealed memfd copy, and from a read-only
  // bind of itself in a private mount namespace (berth-shim without arguments exits at once).
  absl::StatusOr<UniqueFd> sealed = SealedCopy(in.shim_path);
  if (!sealed.ok()) throw BenchError("sealed copy: " + std::string(sealed.status().message()));
  const std::string memfd_path = "/proc/self/fd/" + std::to_string(sealed->get());
  const std::string shim = in.shim_path;
  char* const argv[] = {const_cast<char*>("berth-shim"), nullptr};
  char* const envp[] = {nullptr};
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  auto quiet = [devnull] {
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
  };
  std::vector<double> lp, lm, lr;
  Interleaved(total, in.warmup,
                   {[&](bool keep) {
                      double ms = TimedChild([&] {
                        quiet();
                        ::execve(shim.c_str(), argv, envp);
                      });
                      if (keep) lp.push_back(ms);
                    },
                    [&](bool keep) {
                      int fd = sealed->get();
                      double ms = TimedChild([&] {
                        quiet();
                        ::fcntl(fd, F_SETFD, 0);
                        ::execve(memfd_path.c_str(), argv, envp);
                      });
                      if (keep) lm.push_back(ms);
                    },
                    [&](bool keep) {
                      double ms = TimedChild([&] {
                        quiet();
                        if (::unshare(CLONE_NEWNS) != 0) ::_exit(126);
                        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
                        ::mount(shim.c_str(), shim.c_str(), nullptr, MS_BIND, nullptr);
                        ::mount(nullptr, shim.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr);
                        ::execve(shim.c_str(), argv, envp);
                      });
                      if (keep) lr.push_back(ms);
                    }});
  ::close(devnull);
  r.launch_path = Summarize(lp);
  r.launch_memfd = Summarize(lm);
  r.launch_robind = Summarize(lr);
  return r;
}

void PrintHardening(const HardeningResult& r, int runs) {
  std::printf("\nHardening (ms, n=%d each, interleaved; network none)\n", runs);
  std::printf("  %-48s %8s %8s\n", "", "median", "p95");
  PrintDeltaRow("run-to-exit, berth hardened (default profile+nnp)", r.run_hardened, r.run_neither, "neither");
  PrintDeltaRow("run-to-exit, berth hardened + --userns=auto", r.run_userns, r.run_hardened, "hardened");
  PrintDeltaRow("run-to-exit, berth neither (unconfined, no nnp)", r.run_neither, r.run_neither, "itself");
  PrintDeltaRow("crun run, same default profile + nnp", r.crun_seccomp, r.crun_plain, "crun plain");
  PrintDeltaRow("crun run, no filter", r.crun_plain, r.crun_plain, "itself");
  std::printf("  steps (median ms), Create | Start to exit code: hardened %.2f | %.2f, userns %.2f | %.2f, "
              "neither %.2f | %.2f\n",
              r.create_hardened, r.start_hardened, r.create_userns, r.start_userns, r.create_neither,
              r.start_neither);
  std::printf("  ratios: hardened berth / crun with the same filter %.2fx; / plain crun %.2fx\n",
              r.crun_seccomp.median > 0 ? r.run_hardened.median / r.crun_seccomp.median : 0,
              r.crun_plain.median > 0 ? r.run_hardened.median / r.crun_plain.median : 0);
  PrintDeltaRow("exec, hardened container", r.exec_hardened, r.exec_neither, "neither");
  PrintDeltaRow("exec, unconfined container", r.exec_neither, r.exec_neither, "itself");
  PrintDeltaRow("crun exec", r.crun_exec, r.crun_exec, "itself");
  std::printf("  default filter: %d instructions (x86-64 and i386); compile %.2f ms median (once per profile, "
              "in the agent), load %.3f ms median (per process)\n",
              r.filter_instructions, r.compile_ms.median, r.load_ms.median);
  PrintDeltaRow("launch berth-shim from its path", r.launch_path, r.launch_path, "path");
  PrintDeltaRow("launch from a sealed memfd copy (what Berth does)", r.launch_memfd, r.launch_path, "path");
  PrintDeltaRow("launch from a read-only bind in a private mntns", r.launch_robind, r.launch_path, "path");
  const double hard = r.run_hardened.median - r.run_neither.median;
  const double user = r.run_userns.median - r.run_hardened.median;
  std::printf("  targets: hardening adds <= 1 ms to run-to-exit: %s (%+.2f ms) | --userns=auto adds <= 2 ms: %s "
              "(%+.2f ms)\n",
              hard <= 1.0 ? "MET" : "MISSED", hard, user <= 2.0 ? "MET" : "MISSED", user);
  std::fflush(stdout);
}

}  // namespace berth::bench
