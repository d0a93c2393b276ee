// ContainerManager::Stats: what containers use, from their cgroups and, for those with a
// network namespace of their own, from its links over netlink.
#include <spdlog/spdlog.h>

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "agent/container_manager.h"
#include "runtime/base/proc_util.h"
#include "runtime/network/rtnetlink.h"

namespace berth::agent {
namespace {

void FillFromCgroup(const CgroupStats& c, v1::ContainerStats& s) {
  v1::CpuStats& cpu = *s.mutable_cpu();
  cpu.set_usage_ns(c.cpu_usage_ns);
  cpu.set_user_ns(c.cpu_user_ns);
  cpu.set_system_ns(c.cpu_system_ns);
  cpu.set_periods(c.cpu_periods);
  cpu.set_throttled_periods(c.cpu_throttled_periods);
  cpu.set_throttled_ns(c.cpu_throttled_ns);
  v1::MemoryStats& mem = *s.mutable_memory();
  mem.set_usage_bytes(c.memory_usage_bytes);
  mem.set_working_set_bytes(c.memory_working_set_bytes());
  mem.set_rss_bytes(c.memory_rss_bytes);
  mem.set_cache_bytes(c.memory_cache_bytes);
  mem.set_limit_bytes(c.memory_limit_bytes);
  mem.set_failcnt(c.memory_failcnt);
  mem.set_oom_events(c.oom_events);
  mem.set_oom_kills(c.oom_kills);
  s.mutable_pids()->set_current(c.pids_current);
  s.mutable_pids()->set_limit(c.pids_limit);
  v1::BlockIoStats& io = *s.mutable_block_io();
  io.set_read_bytes(c.io_read_bytes);
  io.set_write_bytes(c.io_write_bytes);
  io.set_read_ops(c.io_read_ops);
  io.set_write_ops(c.io_write_ops);
}

// The links of the container's own network namespace, opened from its init (checked by
// start time, so a reused pid never hands over another namespace).
absl::Status FillNetwork(int pid, uint64_t start_time, v1::ContainerStats& s) {
  auto netns = OpenNamespaceOf(pid, start_time, "net");
  if (!netns.ok()) return netns.status();
  auto rtnl = net::Rtnl::OpenIn(netns->get());
  if (!rtnl.ok()) return rtnl.status();
  auto links = rtnl->ListLinks(/*with_counters=*/true);
  if (!links.ok()) return links.status();
  for (const net::LinkInfo& link : *links) {
    if (link.name == "lo") continue;
    v1::NetworkInterfaceStats& n = *s.add_networks();
    n.set_name(link.name);
    n.set_rx_bytes(link.counters.rx_bytes);
    n.set_rx_packets(link.counters.rx_packets);
    n.set_rx_errors(link.counters.rx_errors);
    n.set_rx_dropped(link.counters.rx_dropped);
    n.set_tx_bytes(link.counters.tx_bytes);
    n.set_tx_packets(link.counters.tx_packets);
    n.set_tx_errors(link.counters.tx_errors);
    n.set_tx_dropped(link.counters.tx_dropped);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<v1::ContainerStats>> ContainerManager::Stats(const std::vector<std::string>& refs) {
  std::vector<std::shared_ptr<Entry>> entries;
  if (refs.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, e] : by_id_) entries.push_back(e);
  } else {
    for (const std::string& ref : refs) {
      auto e = Find(ref);
      if (!e.ok()) return e.status();
      entries.push_back(*e);
    }
  }
  std::vector<v1::ContainerStats> out;
  for (const auto& e : entries) {
    v1::ContainerStats s;
    int pid = 0;
    uint64_t start_time = 0;
    bool own_netns = false;
    {
      std::lock_guard<std::mutex> lock(e->mu);
      if (e->removed) continue;
      const v1::Container& c = e->record;
      const bool live = c.state() == v1::RUNNING || c.state() == v1::PAUSED;
      if (refs.empty() && !live) continue;  // "all": the running and the paused
      s.set_id(c.id());
      s.set_name(c.name());
      s.set_image(c.image());
      s.set_state(c.state());
      if (live) {
        pid = c.pid();
        start_time = e->pid_start_time;
        own_netns = c.network_settings().mode() == "bridge" || c.network_settings().mode() == "none";
      }
    }
    *s.mutable_time() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::GetCurrentTimeNanos());
    if (pid > 0) {
      // A container that exits meanwhile has no cgroup or namespace left: it keeps no figures.
      absl::StatusOr<CgroupStats> cgroup = cgroups_.Stats(e->cgroups_path);
      if (cgroup.ok()) {
        FillFromCgroup(*cgroup, s);
      } else if (!absl::IsNotFound(cgroup.status())) {
        spdlog::warn("stats id={} cgroup: {}", e->id, std::string(cgroup.status().message()));
      }
      if (own_netns) {
        if (absl::Status st = FillNetwork(pid, start_time, s); !st.ok() && !absl::IsNotFound(st)) {
          spdlog::debug("stats id={} network: {}", e->id, std::string(st.message()));
        }
      }
    }
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const v1::ContainerStats& a, const v1::ContainerStats& b) {
    return a.name() < b.name();
  });
  return out;
}

}  // namespace berth::agent
