// CriRuntimeService: what pods and containers use (from their cgroups and the pod's network
// namespace, through ContainerManager::Stats), and new limits for a running container.
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/cri/cri_labels.h"
#include "agent/cri/cri_runtime_service.h"
#include "agent/grpc_status.h"
#include "runtime/base/file_util.h"

namespace berth::agent::cri {

namespace cri = ::runtime::v1;

namespace {

void SetValue(cri::UInt64Value* v, uint64_t value) { v->set_value(value); }

}  // namespace

uint64_t CriRuntimeService::NanoCores(const std::string& id, int64_t now_ns, uint64_t usage_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, fresh] = cpu_samples_.try_emplace(id, CpuSample{now_ns, usage_ns});
  if (fresh) return 0;
  CpuSample previous = it->second;
  it->second = CpuSample{now_ns, usage_ns};
  if (now_ns <= previous.time_ns || usage_ns < previous.usage_ns) return 0;
  const long double rate = static_cast<long double>(usage_ns - previous.usage_ns) * 1e9L /
                           static_cast<long double>(now_ns - previous.time_ns);
  return static_cast<uint64_t>(rate);
}

cri::ContainerStats CriRuntimeService::ToCriStats(const v1::Container& record, const v1::ContainerStats* stats) {
  cri::ContainerStats out;
  cri::ContainerAttributes* attributes = out.mutable_attributes();
  attributes->set_id(record.id());
  attributes->mutable_metadata()->set_name(Label(record, kNameLabel));
  GetKubeletLabels(record.labels(), attributes->mutable_labels(), attributes->mutable_annotations());
  const int64_t now = stats != nullptr && stats->has_time() ? UnixNanos(stats->time()) : absl::ToUnixNanos(absl::Now());
  cri::CpuUsage* cpu = out.mutable_cpu();
  cri::MemoryUsage* memory = out.mutable_memory();
  cpu->set_timestamp(now);
  memory->set_timestamp(now);
  if (stats != nullptr) {
    SetValue(cpu->mutable_usage_core_nano_seconds(), stats->cpu().usage_ns());
    SetValue(cpu->mutable_usage_nano_cores(), NanoCores(record.id(), now, stats->cpu().usage_ns()));
    const v1::MemoryStats& m = stats->memory();
    SetValue(memory->mutable_working_set_bytes(), m.working_set_bytes());
    SetValue(memory->mutable_usage_bytes(), m.usage_bytes());
    SetValue(memory->mutable_rss_bytes(), m.rss_bytes());
    if (m.limit_bytes() > 0) {
      SetValue(memory->mutable_available_bytes(),
               m.limit_bytes() > m.working_set_bytes() ? m.limit_bytes() - m.working_set_bytes() : 0);
    }
  }
  cri::FilesystemUsage* layer = out.mutable_writable_layer();
  layer->set_timestamp(now);
  layer->mutable_fs_id()->set_mountpoint(record.log_path().substr(0, record.log_path().find_last_of('/')));
  TreeUsage usage = DirectoryUsage(absl::StrCat(layer->fs_id().mountpoint(), "/upper"));
  SetValue(layer->mutable_used_bytes(), static_cast<uint64_t>(usage.bytes));
  SetValue(layer->mutable_inodes_used(), static_cast<uint64_t>(usage.inodes));
  return out;
}

absl::StatusOr<std::vector<cri::ContainerStats>> CriRuntimeService::StatsOf(const std::vector<v1::Container>& records) {
  std::vector<std::string> running;
  for (const v1::Container& c : records) {
    if (c.state() == v1::RUNNING || c.state() == v1::PAUSED) running.push_back(c.id());
  }
  std::map<std::string, v1::ContainerStats> by_id;
  if (!running.empty()) {
    auto stats = containers_.Stats(running);
    if (!stats.ok()) return stats.status();
    for (v1::ContainerStats& s : *stats) by_id[s.id()] = std::move(s);
  }
  std::vector<cri::ContainerStats> out;
  for (const v1::Container& c : records) {
    auto it = by_id.find(c.id());
    out.push_back(ToCriStats(c, it == by_id.end() ? nullptr : &it->second));
  }
  return out;
}

grpc::Status CriRuntimeService::ContainerStats(grpc::ServerContext*, const cri::ContainerStatsRequest* req,
                                               cri::ContainerStatsResponse* resp) {
  auto c = FindObject(req->container_id(), kContainerKind);
  if (!c.ok()) return ToGrpcStatus(c.status());
  auto stats = StatsOf({*c});
  if (!stats.ok()) return ToGrpcStatus(stats.status());
  *resp->mutable_stats() = stats->front();
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::ListContainerStats(grpc::ServerContext*, const cri::ListContainerStatsRequest* req,
                                                   cri::ListContainerStatsResponse* resp) {
  auto all = ListKind(kContainerKind);
  if (!all.ok()) return ToGrpcStatus(all.status());
  const cri::ContainerStatsFilter& filter = req->filter();
  std::vector<v1::Container> chosen;
  for (const v1::Container& c : *all) {
    if (!filter.id().empty() && c.id().rfind(filter.id(), 0) != 0) continue;
    if (!filter.pod_sandbox_id().empty() && Label(c, kSandboxIdLabel).rfind(filter.pod_sandbox_id(), 0) != 0) continue;
    if (!MatchesSelector(c, filter.label_selector())) continue;
    chosen.push_back(c);
  }
  auto stats = StatsOf(chosen);
  if (!stats.ok()) return ToGrpcStatus(stats.status());
  for (cri::ContainerStats& s : *stats) *resp->add_stats() = std::move(s);
  {
    // Samples of containers that are gone are dropped here, where every container is seen.
    std::set<std::string> ids;
    for (const v1::Container& c : *all) ids.insert(c.id());
    std::lock_guard<std::mutex> lock(mu_);
    std::erase_if(cpu_samples_, [&](const auto& entry) { return ids.count(entry.first) == 0; });
  }
  return grpc::Status::OK;
}

absl::StatusOr<cri::PodSandboxStats> CriRuntimeService::PodStats(const v1::Container& sandbox) {
  cri::PodSandboxStats out;
  cri::PodSandboxAttributes* attributes = out.mutable_attributes();
  attributes->set_id(sandbox.id());
  attributes->mutable_metadata()->set_name(Label(sandbox, kNameLabel));
  attributes->mutable_metadata()->set_namespace_(Label(sandbox, kNamespaceLabel));
  attributes->mutable_metadata()->set_uid(Label(sandbox, kUidLabel));
  GetKubeletLabels(sandbox.labels(), attributes->mutable_labels(), attributes->mutable_annotations());
  auto members = ContainersOf(sandbox.id());
  if (!members.ok()) return members.status();
  auto stats = StatsOf(*members);
  if (!stats.ok()) return stats.status();
  cri::LinuxPodSandboxStats* linux = out.mutable_linux();
  const int64_t now = absl::ToUnixNanos(absl::Now());
  uint64_t cpu_ns = 0, nano_cores = 0, working_set = 0, usage = 0, rss = 0;
  uint64_t member_processes = 0;
  for (const v1::Container& m : *members) {
    if (m.state() != v1::RUNNING) continue;
    auto pids = containers_.Stats({m.id()});
    if (pids.ok() && !pids->empty()) member_processes += pids->front().pids().current();
  }
  for (cri::ContainerStats& s : *stats) {
    cpu_ns += s.cpu().usage_core_nano_seconds().value();
    nano_cores += s.cpu().usage_nano_cores().value();
    working_set += s.memory().working_set_bytes().value();
    usage += s.memory().usage_bytes().value();
    rss += s.memory().rss_bytes().value();
    *linux->add_containers() = std::move(s);
  }
  linux->mutable_cpu()->set_timestamp(now);
  SetValue(linux->mutable_cpu()->mutable_usage_core_nano_seconds(), cpu_ns);
  SetValue(linux->mutable_cpu()->mutable_usage_nano_cores(), nano_cores);
  linux->mutable_memory()->set_timestamp(now);
  SetValue(linux->mutable_memory()->mutable_working_set_bytes(), working_set);
  SetValue(linux->mutable_memory()->mutable_usage_bytes(), usage);
  SetValue(linux->mutable_memory()->mutable_rss_bytes(), rss);
  // The pod's network is its sandbox's namespace; its processes, the sandbox's and its members'.
  if (sandbox.state() == v1::RUNNING) {
    auto own = containers_.Stats({sandbox.id()});
    if (own.ok() && !own->empty()) {
      const v1::ContainerStats& s = own->front();
      cri::NetworkUsage* network = linux->mutable_network();
      network->set_timestamp(now);
      for (const v1::NetworkInterfaceStats& i : s.networks()) {
        cri::NetworkInterfaceUsage* usage_of = network->add_interfaces();
        usage_of->set_name(i.name());
        SetValue(usage_of->mutable_rx_bytes(), i.rx_bytes());
        SetValue(usage_of->mutable_rx_errors(), i.rx_errors());
        SetValue(usage_of->mutable_tx_bytes(), i.tx_bytes());
        SetValue(usage_of->mutable_tx_errors(), i.tx_errors());
        if (i.name() == "eth0") *network->mutable_default_interface() = *usage_of;
      }
      linux->mutable_process()->set_timestamp(now);
      SetValue(linux->mutable_process()->mutable_process_count(), s.pids().current() + member_processes);
    }
  }
  return out;
}

grpc::Status CriRuntimeService::PodSandboxStats(grpc::ServerContext*, const cri::PodSandboxStatsRequest* req,
                                                cri::PodSandboxStatsResponse* resp) {
  auto sandbox = FindObject(req->pod_sandbox_id(), kSandboxKind);
  if (!sandbox.ok()) return ToGrpcStatus(sandbox.status());
  auto stats = PodStats(*sandbox);
  if (!stats.ok()) return ToGrpcStatus(stats.status());
  *resp->mutable_stats() = std::move(*stats);
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::ListPodSandboxStats(grpc::ServerContext*, const cri::ListPodSandboxStatsRequest* req,
                                                    cri::ListPodSandboxStatsResponse* resp) {
  auto sandboxes = ListKind(kSandboxKind);
  if (!sandboxes.ok()) return ToGrpcStatus(sandboxes.status());
  for (const v1::Container& s : *sandboxes) {
    if (!req->filter().id().empty() && s.id().rfind(req->filter().id(), 0) != 0) continue;
    if (!MatchesSelector(s, req->filter().label_selector())) continue;
    auto stats = PodStats(s);
    if (!stats.ok()) return ToGrpcStatus(stats.status());
    *resp->add_stats() = std::move(*stats);
  }
  return grpc::Status::OK;
}

grpc::Status CriRuntimeService::UpdateContainerResources(grpc::ServerContext*,
                                                         const cri::UpdateContainerResourcesRequest* req,
                                                         cri::UpdateContainerResourcesResponse*) {
  auto c = FindObject(req->container_id(), kContainerKind);
  if (!c.ok()) return ToGrpcStatus(c.status());
  const cri::LinuxContainerResources& r = req->linux();
  v1::UpdateRequest update;
  update.set_id(c->id());
  if (r.memory_limit_in_bytes() > 0) update.set_memory_limit_bytes(r.memory_limit_in_bytes());
  if (r.cpu_quota() > 0) {
    const int64_t period = r.cpu_period() > 0 ? r.cpu_period() : 100000;
    update.set_cpu_millis(std::max<int64_t>(1, r.cpu_quota() * 1000 / period));
  }
  if (r.cpu_shares() > 0) update.set_cpu_shares(std::max<int64_t>(2, r.cpu_shares()));
  auto updated = containers_.Update(update);
  if (!updated.ok()) return ToGrpcStatus(updated.status());
  return grpc::Status::OK;
}

}  // namespace berth::agent::cri
