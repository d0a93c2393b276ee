// update: new limits for a container, from --resources (an OCI linux.resources object, "-"
// for stdin) or from flags.
#include <iostream>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"
#include "runtime/base/quote.h"
#include "runtime/base/status_macros.h"
#include "runtime/runtime_cli/commands.h"

namespace berth::runtime_cli {

namespace {

struct UpdateFlags {
  std::string id;
  std::string resources_file;
  std::string memory, memory_reservation, memory_swap, kernel_memory, kernel_memory_tcp;
  std::optional<int64_t> cpu_quota, pids_limit, cpu_rt_runtime;
  std::optional<uint64_t> cpu_period, cpu_shares, cpu_rt_period;
  std::string cpuset_cpus, cpuset_mems;
};

// "1048576", "512k", "100m", "2g" (powers of 1024, as runc takes them); "-1": unlimited.
absl::StatusOr<std::optional<int64_t>> ParseBytes(const std::string& flag, const std::string& text) {
  if (text.empty()) return std::optional<int64_t>();
  if (text == "-1") return std::optional<int64_t>(-1);
  std::string digits = absl::AsciiStrToLower(text);
  int64_t unit = 1;
  if (!digits.empty() && digits.back() == 'b') digits.pop_back();
  if (!digits.empty()) {
    switch (digits.back()) {
      case 'k': unit = int64_t{1} << 10; break;
      case 'm': unit = int64_t{1} << 20; break;
      case 'g': unit = int64_t{1} << 30; break;
      default: break;
    }
    if (unit != 1) digits.pop_back();
  }
  int64_t value = 0;
  if (!absl::SimpleAtoi(digits, &value) || value < 0 || value > INT64_MAX / unit) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", Quoted(text), ": give bytes, optionally with k, m or g (e.g. 512m)"));
  }
  return std::optional<int64_t>(value * unit);
}

absl::StatusOr<spec::LinuxResources> Changes(const UpdateFlags& f) {
  spec::LinuxResources r;
  if (!f.resources_file.empty()) {
    std::string text;
    if (f.resources_file == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      ASSIGN_OR_RETURN(text, ReadFile(f.resources_file));
    }
    // Parsed as the linux.resources of a config, so that errors name its fields as usual.
    absl::StatusOr<spec::Spec> wrapped = spec::ParseSpec(absl::StrCat("{\"linux\": {\"resources\": ", text, "}}"));
    if (!wrapped.ok()) return Annotate(wrapped.status(), absl::StrCat("--resources ", f.resources_file));
    r = wrapped->linux.resources;
  }
  ASSIGN_OR_RETURN(std::optional<int64_t> memory, ParseBytes("--memory", f.memory));
  if (memory) r.memory_limit = memory;
  ASSIGN_OR_RETURN(std::optional<int64_t> reservation, ParseBytes("--memory-reservation", f.memory_reservation));
  if (reservation) r.memory_reservation = reservation;
  ASSIGN_OR_RETURN(std::optional<int64_t> swap, ParseBytes("--memory-swap", f.memory_swap));
  if (swap) r.memory_swap = swap;
  ASSIGN_OR_RETURN(std::optional<int64_t> kernel, ParseBytes("--kernel-memory", f.kernel_memory));
  if (kernel) r.memory_kernel = kernel;
  ASSIGN_OR_RETURN(std::optional<int64_t> kernel_tcp, ParseBytes("--kernel-memory-tcp", f.kernel_memory_tcp));
  if (kernel_tcp) r.memory_kernel_tcp = kernel_tcp;
  if (f.cpu_quota) r.cpu_quota = f.cpu_quota;
  if (f.cpu_period) r.cpu_period = f.cpu_period;
  if (f.cpu_shares) r.cpu_shares = f.cpu_shares;
  if (f.cpu_rt_runtime) r.cpu_realtime_runtime = f.cpu_rt_runtime;
  if (f.cpu_rt_period) r.cpu_realtime_period = f.cpu_rt_period;
  if (!f.cpuset_cpus.empty()) r.cpu_cpus = f.cpuset_cpus;
  if (!f.cpuset_mems.empty()) r.cpu_mems = f.cpuset_mems;
  if (f.pids_limit) r.pids_limit = f.pids_limit;
  if (r == spec::LinuxResources{}) {
    return absl::InvalidArgumentError("update: give --resources FILE or at least one limit flag");
  }
  return r;
}

}  // namespace

void AddUpdateCommand(CLI::App& app, Invocation& inv) {
  auto f = std::make_shared<UpdateFlags>();
  CLI::App* update = app.add_subcommand("update", "change a container's resource limits");
  update->add_option("id", f->id)->required();
  update->add_option("-r,--resources", f->resources_file, "an OCI linux.resources JSON file (\"-\": stdin)");
  update->add_option("--memory", f->memory, "memory limit (bytes, or with k/m/g)");
  update->add_option("--memory-reservation", f->memory_reservation, "memory soft limit");
  update->add_option("--memory-swap", f->memory_swap, "memory plus swap limit (-1: unlimited)");
  update->add_option("--kernel-memory", f->kernel_memory, "kernel memory limit (cgroup v1)");
  update->add_option("--kernel-memory-tcp", f->kernel_memory_tcp, "kernel TCP buffer limit (cgroup v1)");
  update->add_option("--cpu-quota", f->cpu_quota, "CPU time per period, microseconds (-1: none)");
  update->add_option("--cpu-period", f->cpu_period, "CFS period, microseconds");
  update->add_option("--cpu-share", f->cpu_shares, "CPU shares (relative weight)");
  update->add_option("--cpu-rt-runtime", f->cpu_rt_runtime, "realtime runtime, microseconds (cgroup v1)");
  update->add_option("--cpu-rt-period", f->cpu_rt_period, "realtime period, microseconds (cgroup v1)");
  update->add_option("--cpuset-cpus", f->cpuset_cpus, "CPUs to run on, e.g. 0-1");
  update->add_option("--cpuset-mems", f->cpuset_mems, "memory nodes, e.g. 0");
  update->add_option("--pids-limit", f->pids_limit, "maximum number of processes (-1: none)");
  update->callback([&inv, f] {
    if (!inv.Prepare()) return;
    absl::StatusOr<spec::LinuxResources> changes = Changes(*f);
    if (!changes.ok()) return inv.Fail(changes.status());
    absl::StatusOr<lifecycle::Runtime> rt = inv.Runtime();
    inv.Fail(rt.ok() ? lifecycle::Update(*rt, f->id, *changes) : rt.status());
  });
}

}  // namespace berth::runtime_cli
