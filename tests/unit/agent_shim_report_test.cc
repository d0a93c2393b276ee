// The shim's launch report as the agent reads it (agent/shim_client.h): init's pid line, then
// the final "ok" or "error" line, arriving whole or in pieces. on_init runs exactly once for a
// container that exists, and never for one that does not.
#include <unistd.h>

#include <string>
#include <vector>

#include "agent/shim_client.h"
#include "gtest/gtest.h"
#include "runtime/base/unique_fd.h"

namespace berth::agent {
namespace {

struct Read {
  absl::StatusOr<LaunchedShim> result = absl::UnknownError("not read");
  std::vector<LaunchedShim> told;  // what on_init got
};

// Feeds `chunks` to ReadShimReport through a pipe, one write each, then EOF.
Read ReportOf(const std::vector<std::string>& chunks) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  UniqueFd rd(fds[0]);
  UniqueFd wr(fds[1]);
  for (const std::string& chunk : chunks) {
    EXPECT_EQ(::write(wr.get(), chunk.data(), chunk.size()), static_cast<ssize_t>(chunk.size()));
  }
  wr.Reset();
  Read read;
  read.result = ReadShimReport(rd.get(), [&](const LaunchedShim& init) { read.told.push_back(init); });
  return read;
}

TEST(ShimReport, ThePidLineTellsBeforeTheFinalLine) {
  Read r = ReportOf({"pid 42 777\n", "ok 42 777\n"});
  ASSERT_TRUE(r.result.ok()) << r.result.status();
  EXPECT_EQ(r.result->init_pid, 42);
  EXPECT_EQ(r.result->init_start_time, 777u);
  ASSERT_EQ(r.told.size(), 1u);
  EXPECT_EQ(r.told[0].init_pid, 42);
  EXPECT_EQ(r.told[0].init_start_time, 777u);
}

TEST(ShimReport, BothLinesInOneReadAndALineInPieces) {
  Read r = ReportOf({"pid 7 8\nok 7", " 8\n"});
  ASSERT_TRUE(r.result.ok()) << r.result.status();
  EXPECT_EQ(r.result->init_pid, 7);
  EXPECT_EQ(r.told.size(), 1u);
}

TEST(ShimReport, AFinalLineAloneStillTells) {
  Read r = ReportOf({"ok 9 10\n"});
  ASSERT_TRUE(r.result.ok()) << r.result.status();
  ASSERT_EQ(r.told.size(), 1u);
  EXPECT_EQ(r.told[0].init_pid, 9);
}

TEST(ShimReport, AnErrorBeforeInitExistsNeverTells) {
  Read r = ReportOf({"error 5 bundle: no such file\n"});
  EXPECT_TRUE(absl::IsNotFound(r.result.status())) << r.result.status();
  EXPECT_EQ(r.result.status().message(), "bundle: no such file");
  EXPECT_TRUE(r.told.empty());
}

TEST(ShimReport, AnErrorAfterThePidLineIsTheResult) {
  Read r = ReportOf({"pid 3 4\n", "error 9 create container: mount proc: Operation not permitted\n"});
  EXPECT_TRUE(absl::IsFailedPrecondition(r.result.status())) << r.result.status();
  EXPECT_EQ(r.told.size(), 1u);
}

TEST(ShimReport, BadLinesAndSilenceAreErrors) {
  Read bad_pid = ReportOf({"pid x 4\n", "ok 3 4\n"});
  EXPECT_TRUE(absl::IsInternal(bad_pid.result.status())) << bad_pid.result.status();
  EXPECT_TRUE(bad_pid.told.empty());
  Read nothing = ReportOf({});
  EXPECT_TRUE(absl::IsInternal(nothing.result.status())) << nothing.result.status();
  EXPECT_TRUE(nothing.told.empty());
}

}  // namespace
}  // namespace berth::agent
