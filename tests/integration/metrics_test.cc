// The Prometheus endpoint of a real agent: the exposition text parsed and every container
// figure checked against the container's cgroup files (the container paused, so they cannot
// move), the agent's request counters and histograms, 404s, and a bad address refused at
// start.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <regex>
#include <set>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/integration/support/agent_harness.h"

namespace berth::testing {
namespace {

constexpr int kPort = 19338;

// GET `path` on 127.0.0.1:kPort inside the test host: the status line and the body.
absl::StatusOr<std::pair<std::string, std::string>> HttpGet(const AgentHarness& agent, const std::string& path) {
  std::string response;
  absl::Status st = agent.RunInHostNetns([&]() -> absl::Status {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return absl::InternalError("socket");
    struct sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(kPort);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd);
      return absl::UnavailableError(absl::StrCat("connect: ", std::strerror(errno)));
    }
    std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    (void)!::write(fd, request.data(), request.size());
    char buf[65536];
    for (ssize_t n; (n = ::read(fd, buf, sizeof(buf))) > 0;) response.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  size_t eol = response.find("\r\n");
  size_t body = response.find("\r\n\r\n");
  if (eol == std::string::npos || body == std::string::npos) return absl::DataLossError("no HTTP response: " + response);
  return std::make_pair(response.substr(0, eol), response.substr(body + 4));
}

// Samples by "name{labels}" as written, after checking every line's shape and that each
// metric's TYPE comes before its samples.
std::map<std::string, std::string> ParseExposition(const std::string& text) {
  static const std::regex kSample(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (\S+)$)");
  std::map<std::string, std::string> samples;
  std::set<std::string> typed;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "# TYPE ")) {
      std::vector<std::string> f = absl::StrSplit(line, ' ');
      EXPECT_EQ(f.size(), 4u) << line;
      if (f.size() == 4) {
        EXPECT_TRUE(f[3] == "counter" || f[3] == "gauge" || f[3] == "histogram") << line;
        EXPECT_TRUE(typed.insert(f[2]).second) << "a second TYPE for " << f[2];
      }
      continue;
    }
    if (absl::StartsWith(line, "# HELP ")) continue;
    std::string l(line);
    std::smatch m;
    if (!std::regex_match(l, m, kSample)) {
      ADD_FAILURE() << "not an exposition line: " << l;
      continue;
    }
    std::string name = m[1];
    std::string family = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (absl::EndsWith(name, suffix) && typed.count(name.substr(0, name.size() - std::strlen(suffix)))) {
        family = name.substr(0, name.size() - std::strlen(suffix));
      }
    }
    EXPECT_TRUE(typed.count(family)) << "sample before its TYPE: " << l;
    double v = 0;
    EXPECT_TRUE(absl::SimpleAtod(m[m.size() - 1].str(), &v) || m[m.size() - 1] == "+Inf") << l;
    samples[l.substr(0, l.rfind(' '))] = m[m.size() - 1];
  }
  return samples;
}

std::string File(const std::string& path) { return std::string(absl::StripAsciiWhitespace(ReadText(path))); }

uint64_t Keyed(const std::string& text, const std::string& key) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    uint64_t v = 0;
    if (f.size() == 2 && f[0] == key && absl::SimpleAtoi(f[1], &v)) return v;
  }
  return 0;
}

TEST(Metrics, ScrapeMatchesTheCgroupFilesAndCountsRequests) {
  AgentHarness agent;
  agent.Start({"--metrics-listen", absl::StrCat("127.0.0.1:", kPort)});
  if (agent.CgroupDriverName() != "v1") GTEST_SKIP() << "the cgroup files read here are v1's";
  auto config = Busybox({"sh", "-c", "head -c 2000000 /dev/zero > /tmp/f; touch /tmp/done; exec sleep 1000"});
  config.set_name("scraped");
  config.mutable_resources()->set_memory_limit_bytes(80 << 20);
  auto c = agent.Run(config);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(Eventually([&] {
    auto done = agent.Exec(c->id(), {"test", "-f", "/tmp/done"});
    return done.ok() && done->exit_code == 0;
  }));
  EXPECT_EQ(agent.Inspect("no-such-container").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(agent.Pause(c->id()).ok());

  const std::string mem = agent.CgroupDir(c->id(), "memory");
  // The page is a snapshot taken between these two reads of the usage.
  const int64_t usage_before = std::stoll(File(mem + "/memory.usage_in_bytes"));
  auto page = HttpGet(agent, "/metrics");
  const int64_t usage_after = std::stoll(File(mem + "/memory.usage_in_bytes"));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(absl::EndsWith(page->first, " 200 OK")) << page->first;
  std::map<std::string, std::string> s = ParseExposition(page->second);

  const std::string labels = absl::StrCat("{id=\"", c->id(), "\",name=\"scraped\",image=\"busybox\"}");
  auto metric = [&](const std::string& name, const std::string& extra = "") {
    std::string key = name + (extra.empty() ? labels : labels.substr(0, labels.size() - 1) + "," + extra + "}");
    auto it = s.find(key);
    EXPECT_NE(it, s.end()) << "no " << key;
    return it == s.end() ? std::string() : it->second;
  };
  const std::string cpuacct = agent.CgroupDir(c->id(), "cpuacct");
  const uint64_t cpu_ns = std::stoull(File(cpuacct + "/cpuacct.usage"));
  EXPECT_EQ(metric("container_cpu_usage_seconds_total"),
            absl::StrFormat("%d.%09d", cpu_ns / 1000000000, cpu_ns % 1000000000));
  // v1 usage_in_bytes includes pages charged ahead in per-CPU batches (64 pages each), which
  // the kernel hands back when it likes (and kernel objects of exited processes uncharged
  // late), so it can move even while the cgroup is frozen: the page's value lies within the
  // two reads around it, give or take a batch per CPU. memory.stat's counts are exact.
  const int64_t slack = 64 * 4096 * ::sysconf(_SC_NPROCESSORS_ONLN);
  const int64_t low = std::min(usage_before, usage_after) - slack;
  const int64_t high = std::max(usage_before, usage_after) + slack;
  const int64_t usage_metric = std::stoll(metric("container_memory_usage_bytes"));
  EXPECT_TRUE(usage_metric >= low && usage_metric <= high)
      << usage_metric << " outside [" << low << ", " << high << "]";
  const std::string memstat = ReadText(mem + "/memory.stat");
  EXPECT_EQ(metric("container_memory_rss"), std::to_string(Keyed(memstat, "total_rss")));
  EXPECT_EQ(metric("container_memory_cache"), std::to_string(Keyed(memstat, "total_cache")));
  const int64_t inactive_file = static_cast<int64_t>(Keyed(memstat, "total_inactive_file"));
  const int64_t working_set = std::stoll(metric("container_memory_working_set_bytes"));
  EXPECT_TRUE(working_set >= low - inactive_file && working_set <= high - inactive_file)
      << working_set << " outside [" << low - inactive_file << ", " << high - inactive_file << "]";
  EXPECT_GE(std::stoull(metric("container_memory_cache")), 2000000u) << "the file it wrote";
  EXPECT_EQ(metric("container_spec_memory_limit_bytes"), File(mem + "/memory.limit_in_bytes"));
  EXPECT_EQ(metric("container_memory_failcnt"), File(mem + "/memory.failcnt"));
  EXPECT_EQ(metric("container_processes"), File(agent.CgroupDir(c->id(), "pids") + "/pids.current"));
  EXPECT_FALSE(metric("container_network_receive_bytes_total", "interface=\"eth0\"").empty());
  EXPECT_FALSE(metric("container_network_transmit_packets_total", "interface=\"eth0\"").empty());

  EXPECT_EQ(s["berth_containers{state=\"paused\"}"], "1");
  EXPECT_EQ(s["berth_containers{state=\"running\"}"], "0");
  EXPECT_EQ(s["berth_grpc_requests_total{method=\"/berth.v1.Containers/Inspect\",code=\"NOT_FOUND\"}"], "1");
  EXPECT_EQ(s["berth_grpc_requests_total{method=\"/berth.v1.Containers/Pause\",code=\"OK\"}"], "1");
  EXPECT_EQ(s["berth_grpc_request_duration_seconds_count{method=\"/berth.v1.Containers/Create\"}"], "1");
  EXPECT_EQ(s["berth_grpc_request_duration_seconds_bucket{method=\"/berth.v1.Containers/Create\",le=\"+Inf\"}"], "1");
  EXPECT_TRUE(s.count("berth_image_pull_bytes_total"));
  EXPECT_TRUE(s.count("berth_attach_dropped_bytes_total"));

  auto missing = HttpGet(agent, "/nothing");
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(absl::StrContains(missing->first, "404")) << missing->first;
  ASSERT_TRUE(agent.Resume(c->id()).ok());
}

TEST(Metrics, OffWithNoneAndABadAddressStopsTheAgentEarly) {
  AgentHarness agent;
  agent.Start({"--metrics-listen", "none"});
  EXPECT_EQ(HttpGet(agent, "/metrics").status().code(), absl::StatusCode::kUnavailable) << "nothing listens";
  // Run in the test host: a berthd that got past its checks would make bridges there.
  CliResult bad = agent.RunInHost({BERTHD_PATH, "--root", agent.dir() + "/other-root", "--socket",
                                   agent.dir() + "/other.sock", "--metrics-listen", "localhost:http"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(bad.err, "metrics listen address \"localhost:http\"")) << bad.err;
}

}  // namespace
}  // namespace berth::testing
