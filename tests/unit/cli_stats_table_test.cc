// `berth stats`' table: CPU % from two samples, memory in binary units, no-limit dashes.
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "cli/human_format.h"
#include "cli/stats_table.h"
#include "google/protobuf/util/time_util.h"

namespace berth::cli {
namespace {

using google::protobuf::util::TimeUtil;

v1::ContainerStats Sample(int64_t time_ns, uint64_t cpu_ns) {
  v1::ContainerStats s;
  s.set_id(std::string(64, 'a'));
  s.set_name("web");
  s.set_state(v1::RUNNING);
  *s.mutable_time() = TimeUtil::NanosecondsToTimestamp(time_ns);
  s.mutable_cpu()->set_usage_ns(cpu_ns);
  s.mutable_memory()->set_usage_bytes(32u << 20);
  s.mutable_memory()->set_limit_bytes(128u << 20);
  s.mutable_pids()->set_current(3);
  auto* n = s.add_networks();
  n->set_rx_bytes(1500);
  n->set_tx_bytes(250);
  s.mutable_block_io()->set_write_bytes(4096);
  return s;
}

TEST(StatsTable, CpuPercentIsCpuTimeOverWallTimeBetweenSamples) {
  StatsSamples previous;
  previous[std::string(64, 'a')] = Sample(1'000'000'000, 100'000'000);
  v1::ContainerStats now = Sample(2'000'000'000, 600'000'000);  // 0.5 s of CPU in 1 s
  std::string table = StatsTable({now}, previous);
  EXPECT_TRUE(absl::StartsWith(table, "CONTAINER ID   NAME   CPU %    MEM USAGE / LIMIT   MEM %    NET I/O        BLOCK I/O      PIDS\n"))
      << table;
  EXPECT_TRUE(absl::StrContains(table, "aaaaaaaaaaaa   web    50.00%   32MiB / 128MiB      25.00%   1.5kB / 250B   0B / 4.096kB   3\n"))
      << table;
  // Without a previous sample, 0.00%.
  EXPECT_TRUE(absl::StrContains(StatsTable({now}, {}), "0.00%"));
}

TEST(StatsTable, NoLimitAndNotRunning) {
  v1::ContainerStats unlimited = Sample(1, 1);
  unlimited.mutable_memory()->set_limit_bytes(0);
  EXPECT_TRUE(absl::StrContains(StatsTable({unlimited}, {}), "32MiB / --")) << StatsTable({unlimited}, {});
  v1::ContainerStats created;
  created.set_id(std::string(64, 'b'));
  created.set_name("later");
  created.set_state(v1::CREATED);
  EXPECT_TRUE(absl::StrContains(StatsTable({created}, {}), "-- / --"));
}

TEST(StatsTable, BinarySizes) {
  EXPECT_EQ(BinarySize(0), "0B");
  EXPECT_EQ(BinarySize(512 * 1024), "512KiB");
  EXPECT_EQ(BinarySize(13107200), "12.5MiB");
  EXPECT_EQ(BinarySize(2097152000ull), "1.953GiB");
}

}  // namespace
}  // namespace berth::cli
