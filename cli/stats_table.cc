#include "cli/stats_table.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "cli/human_format.h"
#include "cli/table.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

std::string Percent(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", value);
  return buf;
}

double CpuPercent(const v1::ContainerStats& now, const v1::ContainerStats* before) {
  if (before == nullptr) return 0;
  const double wall = static_cast<double>(absl::ToInt64Nanoseconds(TimeFromProto(now.time()) - TimeFromProto(before->time())));
  if (wall <= 0 || now.cpu().usage_ns() < before->cpu().usage_ns()) return 0;
  return static_cast<double>(now.cpu().usage_ns() - before->cpu().usage_ns()) / wall * 100.0;
}

}  // namespace

std::string StatsTable(const std::vector<v1::ContainerStats>& current, const StatsSamples& previous) {
  std::vector<std::vector<std::string>> rows = {
      {"CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"}};
  for (const v1::ContainerStats& s : current) {
    auto it = previous.find(s.id());
    const v1::ContainerStats* before = it == previous.end() ? nullptr : &it->second;
    const bool live = s.state() == v1::RUNNING || s.state() == v1::PAUSED;
    if (!live) {
      rows.push_back({ShortId(s.id()), s.name(), "--", "-- / --", "--", "--", "--", "--"});
      continue;
    }
    uint64_t rx = 0, tx = 0;
    for (const auto& n : s.networks()) {
      rx += n.rx_bytes();
      tx += n.tx_bytes();
    }
    const uint64_t used = s.memory().usage_bytes();
    const uint64_t limit = s.memory().limit_bytes();
    rows.push_back({ShortId(s.id()), s.name(), Percent(CpuPercent(s, before)),
                    absl::StrCat(BinarySize(used), " / ", limit > 0 ? BinarySize(limit) : "--"),
                    limit > 0 ? Percent(100.0 * static_cast<double>(used) / static_cast<double>(limit)) : "--",
                    absl::StrCat(HumanSize(static_cast<int64_t>(rx)), " / ", HumanSize(static_cast<int64_t>(tx))),
                    absl::StrCat(HumanSize(static_cast<int64_t>(s.block_io().read_bytes())), " / ",
                                 HumanSize(static_cast<int64_t>(s.block_io().write_bytes()))),
                    std::to_string(s.pids().current())});
  }
  return FormatTable(rows);
}

}  // namespace berth::cli
