#include "bench/bench_observe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "bench/bench_stats.h"
#include "berth/v1/containers.grpc.pb.h"
#include "berth/v1/events.grpc.pb.h"
#include "berth/v1/images.grpc.pb.h"

namespace berth::bench {
namespace {

namespace v1 = berth::v1;

// utime + stime of a process, in clock ticks.
long CpuTicks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime + stime;
}

// GET /metrics on 127.0.0.1:port; the body's size, or -1.
long Scrape(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  long size = -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
    (void)!::write(fd, req, sizeof(req) - 1);
    char buf[65536];
    size = 0;
    for (ssize_t n; (n = ::read(fd, buf, sizeof(buf))) > 0;) size += n;
  }
  ::close(fd);
  return size;
}

std::string CreateAndStart(v1::Containers::Stub& stub, const std::vector<std::string>& args, int64_t log_max = 0) {
  v1::CreateRequest req;
  req.mutable_config()->set_image("busybox");
  req.mutable_config()->set_network("none");
  for (const auto& a : args) req.mutable_config()->add_command(a);
  if (log_max > 0) {
    req.mutable_config()->mutable_log()->set_max_size_bytes(log_max);
    req.mutable_config()->mutable_log()->set_max_files(3);
  }
  v1::CreateResponse resp;
  grpc::ClientContext c1;
  grpc::Status st = stub.Create(&c1, req, &resp);
  if (!st.ok()) throw std::runtime_error("Create: " + st.error_message());
  v1::StartRequest start;
  start.set_id(resp.container().id());
  v1::StartResponse started;
  grpc::ClientContext c2;
  st = stub.Start(&c2, start, &started);
  if (!st.ok()) throw std::runtime_error("Start: " + st.error_message());
  return resp.container().id();
}

void Remove(v1::Containers::Stub& stub, const std::string& id) {
  v1::RemoveRequest req;
  req.set_id(id);
  req.set_force(true);
  v1::RemoveResponse resp;
  grpc::ClientContext ctx;
  (void)stub.Remove(&ctx, req, &resp);
}

// Milliseconds from Start until the container's exit is known (Wait).
double TimeToExit(v1::Containers::Stub& stub, const std::vector<std::string>& args, int64_t log_max) {
  const auto t0 = Clock::now();
  std::string id = CreateAndStart(stub, args, log_max);
  v1::WaitRequest w;
  w.set_id(id);
  v1::WaitResponse wr;
  grpc::ClientContext ctx;
  (void)stub.Wait(&ctx, w, &wr);
  const double ms = MillisBetween(t0, Clock::now());
  Remove(stub, id);
  return ms;
}

}  // namespace

void RunObserveBench(const ObserveInputs& in) {
  auto channel = grpc::CreateChannel("unix://" + in.socket, grpc::InsecureChannelCredentials());
  auto containers = v1::Containers::NewStub(channel);
  std::printf("\nobservability (%d running containers, network none)\n", in.containers);
  std::vector<std::string> ids;
  for (int i = 0; i < in.containers; ++i) ids.push_back(CreateAndStart(*containers, {"sleep", "3600"}));

  std::vector<double> stats_ms;
  for (int i = 0; i < in.stats_calls; ++i) {
    v1::StatsRequest req;
    v1::StatsResponse resp;
    grpc::ClientContext ctx;
    const auto t0 = Clock::now();
    grpc::Status st = containers->Stats(&ctx, req, &resp);
    stats_ms.push_back(MillisBetween(t0, Clock::now()));
    if (!st.ok() || resp.stats_size() < in.containers) {
      throw std::runtime_error("Stats: " + (st.ok() ? std::to_string(resp.stats_size()) + " containers" : st.error_message()));
    }
  }
  std::printf("  %-48s p50 %8.2f ms   p99 %8.2f ms\n", "Stats of every container, one call", Percentile(stats_ms, 50),
              Percentile(stats_ms, 99));

  std::vector<double> scrape_ms;
  long page = 0;
  for (int i = 0; i < 10; ++i) {
    const auto t0 = Clock::now();
    page = Scrape(in.metrics_port);
    scrape_ms.push_back(MillisBetween(t0, Clock::now()));
  }
  std::printf("  %-48s p50 %8.2f ms   (%ld bytes)\n", "GET /metrics", Percentile(scrape_ms, 50), page);

  // The agent's CPU while it only supervises, with a scrape every 10 s.
  const long ticks0 = CpuTicks(in.agent_pid);
  const auto t0 = Clock::now();
  for (int s = 0; s < in.cpu_seconds; ++s) {
    if (s % 10 == 0) (void)Scrape(in.metrics_port);
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  const double wall_s = MillisBetween(t0, Clock::now()) / 1000.0;
  const double cpu_s = static_cast<double>(CpuTicks(in.agent_pid) - ticks0) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::printf("  %-48s %8.3f %% of one core over %.0f s (target < 1%%)\n", "berthd CPU, scraped every 10 s",
              100.0 * cpu_s / wall_s, wall_s);
  for (const auto& id : ids) Remove(*containers, id);

  // Events: a live subscriber counts what arrives while one client tags and untags.
  auto events = v1::Events::NewStub(channel);
  auto images = v1::Images::NewStub(channel);
  grpc::ClientContext sub_ctx;
  v1::SubscribeRequest sub_req;
  sub_req.mutable_filter()->add_types("image");
  auto reader = events->Subscribe(&sub_ctx, sub_req);
  std::atomic<long> received{0};
  std::thread counter([&] {
    v1::Event e;
    while (reader->Read(&e)) received++;
  });
  const int pairs = 500;
  const auto e0 = Clock::now();
  for (int i = 0; i < pairs; ++i) {
    grpc::ClientContext c1, c2;
    v1::TagImageRequest tag;
    tag.set_source("busybox");
    tag.set_target("bench/events:v1");
    v1::TagImageResponse tr;
    (void)images->Tag(&c1, tag, &tr);
    v1::RemoveImageRequest rm;
    rm.set_reference("bench/events:v1");
    v1::RemoveImageResponse rr;
    (void)images->Remove(&c2, rm, &rr);
  }
  while (received.load() < 2 * pairs && MillisBetween(e0, Clock::now()) < 30000) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const double events_s = MillisBetween(e0, Clock::now()) / 1000.0;
  sub_ctx.TryCancel();
  counter.join();
  (void)reader->Finish();
  std::printf("  %-48s %8.0f events/s (%ld delivered; Tag+Remove calls are the limit)\n",
              "events delivered to a subscriber", static_cast<double>(received.load()) / events_s, received.load());

  // A log rotation: 64 MiB of output through 1 MiB files (64 rotations) against one file.
  const std::vector<std::string> writer = {"sh", "-c", "head -c 67108864 /dev/zero | tr '\\0' 'x' | fold -w 100"};
  std::vector<double> rotating, single;
  for (int i = 0; i < 3; ++i) {
    single.push_back(TimeToExit(*containers, writer, int64_t{256} << 20));
    rotating.push_back(TimeToExit(*containers, writer, int64_t{1} << 20));
  }
  const double a = Percentile(rotating, 50), b = Percentile(single, 50);
  std::printf("  %-48s %8.1f ms vs %.1f ms in one file: %.3f ms per rotation\n",
              "64 MiB of log lines, rotated every 1 MiB", a, b, (a - b) / 64.0);
}

}  // namespace berth::bench
