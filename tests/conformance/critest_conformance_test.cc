// cri-tools' critest against a real berthd: the CRI conformance suite, run by `make critest
// CRITEST=/path/to/critest` (critest is built outside this tree from cri-tools' sources; it is
// not part of `make test`).
//
// The agent runs in a test host of its own, like every integration test; critest runs inside
// that network namespace too (its host-port and host-network specs dial 127.0.0.1 there).
// critest's images are built and pushed to a loopback docker-registry (critest_images.h), which
// the agent reaches through --registry-mirror for registry.k8s.io and gcr.io.
//
// The spec passes when every critest spec ran but those the host cannot support, and every
// spec that ran passed but those listed in kExpectedFailures with the reason. The full output
// and ginkgo's JSON reports land in the working directory (critest.log, critest-report.json,
// critest-benchmark-report.json), and a summary in critest-summary.txt, which
// docs/cri-conformance.md quotes.
#include <sys/ipc.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/conformance/critest_images.h"
#include "tests/integration/support/agent_harness.h"
#include "tests/integration/support/registry_support.h"

namespace berth::testing {
namespace {

// Specs that cannot pass on this machine whatever the runtime does, with the reason.
const std::map<std::string, std::string> kExpectedFailures = {
    {"public image with digest should be pulled and removed",
     "pulls gcr.io/k8s-staging-cri-tools/test-image-digest by the digest of the bytes upstream built; offline, "
     "no image made here can have it"},
};

// The shared memory segment ids of this IPC namespace (critest's HostIpc specs make some on
// the node with ipcmk and leave them).
std::set<int> SharedMemoryIds() {
  std::set<int> ids;
  std::istringstream lines(ReadText("/proc/sysvipc/shm"));
  std::string line;
  std::getline(lines, line);  // the header
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    long long key = 0;
    int id = -1;
    if (fields >> key >> id) ids.insert(id);
  }
  return ids;
}

// Detaches every mount at or below `dir`, deepest first.
void UnmountBelow(const std::string& dir) {
  std::vector<std::string> points;
  std::istringstream lines(ReadText("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(lines, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    if (fields.size() > 4 && absl::StartsWith(fields[4], dir + "/")) points.push_back(fields[4]);
  }
  std::sort(points.rbegin(), points.rend());
  for (const std::string& point : points) ::umount2(point.c_str(), MNT_DETACH);
}

struct SpecResult {
  std::string name;   // containers and leaf, as ginkgo prints them
  std::string state;  // passed, failed, skipped, pending, panicked, timedout, ...
  std::string failure;
};

std::vector<SpecResult> ReadReport(const std::string& path, int* total_specs) {
  std::ifstream in(path);
  nlohmann::json report = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  std::vector<SpecResult> out;
  if (!report.is_array()) return out;
  for (const nlohmann::json& suite : report) {
    *total_specs += suite.value("/PreRunStats/TotalSpecs"_json_pointer, 0);
    for (const nlohmann::json& spec : suite.value("SpecReports", nlohmann::json::array())) {
      if (spec.value("LeafNodeType", "") != "It") continue;
      SpecResult r;
      std::vector<std::string> parts;
      for (const nlohmann::json& text : spec.value("ContainerHierarchyTexts", nlohmann::json::array())) {
        parts.push_back(text.get<std::string>());
      }
      parts.push_back(spec.value("LeafNodeText", ""));
      r.name = absl::StrJoin(parts, " ");
      r.state = spec.value("State", "");
      std::string message = spec.value("/Failure/Message"_json_pointer, std::string());
      r.failure = std::string(message.substr(0, message.find('\n')));
      out.push_back(std::move(r));
    }
  }
  return out;
}

std::string ExpectedFailureReason(const std::string& name) {
  for (const auto& [leaf, reason] : kExpectedFailures) {
    if (absl::StrContains(name, leaf)) return reason;
  }
  return "";
}

TEST(CritestConformance, EverySpecTheHostSupportsPasses) {
  const char* critest = ::getenv("CRITEST");
  ASSERT_TRUE(critest != nullptr && ::access(critest, X_OK) == 0)
      << "set CRITEST to a critest binary (cri-tools v1.26, built outside this tree)";

  const char* busybox = ::getenv("CRITEST_BUSYBOX");
  ASSERT_TRUE(busybox != nullptr && ::access(busybox, X_OK) == 0)
      << "set CRITEST_BUSYBOX to Debian's dynamic busybox (make critest unpacks the busybox package)";

  AgentHarness agent;
  TestRegistry registry(agent.netns_fd(), agent.dir() + "/registry");
  ASSERT_TRUE(registry.ok()) << registry.error();
  absl::StatusOr<std::vector<std::string>> images =
      PushCritestImages(registry, {.busybox = busybox, .web_server = BERTH_CRITEST_WEB_PATH,
                                   .nnp = BERTH_CRITEST_NNP_PATH});
  ASSERT_TRUE(images.ok()) << images.status();
  std::vector<std::string> flags;
  for (const char* host : kCritestRegistries) {
    flags.insert(flags.end(), {"--registry-mirror", absl::StrCat(host, "=", registry.url())});
  }
  ASSERT_NO_FATAL_FAILURE(agent.Start(flags));

  // Two passes, as critest has two modes: the validation specs, then (--benchmark) the
  // benchmark specs, which the first pass skips.
  const std::string endpoint = absl::StrCat("unix://", agent.dir(), "/cri.sock");
  const std::set<int> shm_before = SharedMemoryIds();
  absl::Cleanup remove_new_segments = [&] {
    for (int id : SharedMemoryIds()) {
      if (shm_before.count(id) == 0) ::shmctl(id, IPC_RMID, nullptr);
    }
  };
  // critest's temp dirs (pod logs, mount-propagation sources) and its glog files go below
  // the harness's dir; a spec that fails halfway can leave a bind mount there, unmounted here.
  const std::string scratch = agent.dir() + "/critest-tmp";
  ASSERT_EQ(::mkdir(scratch.c_str(), 0755), 0);
  absl::Cleanup unmount_scratch = [&] { UnmountBelow(scratch); };
  std::ofstream log("critest.log");
  std::map<std::string, SpecResult> results;
  int total = 0;
  for (const bool benchmark : {false, true}) {
    const std::string report = benchmark ? "critest-benchmark-report.json" : "critest-report.json";
    std::vector<std::string> argv = {critest, "--runtime-endpoint", endpoint, "--image-endpoint", endpoint,
                                     "--ginkgo.no-color", "--ginkgo.json-report", report};
    if (benchmark) {
      // Without counts critest skips its lifecycle benchmarks; these keep the pass short.
      std::ofstream("critest-benchmark.yaml") << "containersNumber: 20\ncontainersNumberParallel: 2\n"
                                              << "podsNumber: 20\npodsNumberParallel: 2\n"
                                              << "imagesNumber: 5\nimagesNumberParallel: 1\n";
      argv.insert(argv.end(), {"--benchmark", "--benchmarking-params-file", "critest-benchmark.yaml"});
    }
    CliResult run = RunProgram(argv, "", 3600, {"TMPDIR=" + scratch}, agent.netns_fd());
    log << "$ " << absl::StrJoin(argv, " ") << "\n" << run.out << run.err;
    int pass_total = 0;
    std::vector<SpecResult> specs = ReadReport(report, &pass_total);
    ASSERT_FALSE(specs.empty()) << "critest exited " << run.exit_code << " without a report:\n" << run.err;
    total = std::max(total, pass_total);
    for (SpecResult& spec : specs) {
      auto [it, inserted] = results.emplace(spec.name, spec);
      if (!inserted && it->second.state == "skipped") it->second = std::move(spec);
    }
  }
  std::vector<SpecResult> specs;
  for (auto& [name, spec] : results) specs.push_back(std::move(spec));
  std::map<std::string, int> counts;
  std::ostringstream summary;
  for (const SpecResult& s : specs) ++counts[s.state];
  const int ran = static_cast<int>(specs.size()) - counts["skipped"] - counts["pending"];
  summary << "critest: " << total << " specs, " << ran << " ran: " << counts["passed"] << " passed, "
          << ran - counts["passed"] << " did not pass; " << counts["skipped"] + counts["pending"]
          << " skipped\n";
  for (const SpecResult& s : specs) {
    if (s.state == "passed") continue;
    summary << "  [" << s.state << "] " << s.name << "\n";
    if (!s.failure.empty()) summary << "      " << s.failure << "\n";
    std::string reason = ExpectedFailureReason(s.name);
    if (!reason.empty()) summary << "      expected: " << reason << "\n";
  }
  std::ofstream("critest-summary.txt") << summary.str();
  std::cout << summary.str();

  for (const SpecResult& s : specs) {
    if (s.state == "passed" || s.state == "skipped") continue;
    EXPECT_FALSE(ExpectedFailureReason(s.name).empty()) << s.state << ": " << s.name << "\n  " << s.failure;
  }
  EXPECT_GE(ran * 100, total * 95) << "fewer than 95% of critest's specs ran";
}

}  // namespace
}  // namespace berth::testing
