#include "bench/bench_remote.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>

#include "bench/bench_proc.h"

namespace berth::bench {

namespace {

constexpr char kImage[] = "busybox";
constexpr char kIdentity[] = "bench";  // its URI SAN: spiffe://berth/bench

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw BenchError("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The kernel picks a port that is free now; berthd binds it a moment later.
int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw BenchError("socket failed");
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw BenchError("cannot find a free port on 127.0.0.1");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

void Tool(const std::string& tool, const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> argv = {tool};
  argv.insert(argv.end(), args.begin(), args.end());
  SpawnOptions io;
  io.stdout_path = log;
  io.stderr_path = log;
  int st = RunToCompletion(argv, io);
  if (!ExitedZero(st)) throw BenchError(tool + " " + args[0] + " failed: " + DescribeWaitStatus(st) + "\n" + FileTail(log));
}

RunPhases MedianPhases(const std::vector<RunPhases>& runs) {
  auto median = [&](double RunPhases::*field) {
    std::vector<double> v;
    for (const RunPhases& p : runs) v.push_back(p.*field);
    return Summarize(v).median;
  };
  RunPhases m;
  for (double RunPhases::*f : {&RunPhases::create, &RunPhases::attach, &RunPhases::start, &RunPhases::exit,
                               &RunPhases::close, &RunPhases::remove, &RunPhases::total}) {
    m.*f = median(f);
  }
  return m;
}

std::string StepsText(const RunPhases& p) {
  char buf[200];
  std::snprintf(buf, sizeof(buf), "Create %.2f | Attach %.2f | Start %.2f | to exit code %.2f | end %.2f | Remove %.2f",
                p.create, p.attach, p.start, p.exit, p.close, p.remove);
  return buf;
}

}  // namespace

std::vector<std::string> RemoteSetup::AgentArgs() const {
  return {"--config",   config, "--listen", "tcp://127.0.0.1:" + std::to_string(port), "--tls-cert",
          tls_dir + "/agent.pem", "--tls-key", tls_dir + "/agent-key.pem", "--tls-client-ca", tls_dir + "/ca.pem"};
}

RemoteSetup PrepareRemote(const std::string& tls_tool, const std::string& dir) {
  if (::access(tls_tool.c_str(), X_OK) != 0) throw BenchError("no berth-tls at " + tls_tool + " (give --tls-tool)");
  RemoteSetup s;
  s.tls_dir = dir + "/tls";
  const std::string log = dir + "/berth-tls.log";
  Tool(tls_tool, {"init", s.tls_dir}, log);
  Tool(tls_tool, {"server", s.tls_dir, "agent", "--ip", "127.0.0.1"}, log);
  Tool(tls_tool, {"client", s.tls_dir, kIdentity}, log);
  s.config = dir + "/berthd-remote.toml";
  std::ofstream(s.config) << "[authz]\nadmin = [\"spiffe://berth/" << kIdentity << "\"]\n";
  s.port = FreeLoopbackPort();
  return s;
}

std::shared_ptr<grpc::Channel> TlsChannel(const RemoteSetup& setup) {
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = ReadAll(setup.tls_dir + "/ca.pem");
  o.pem_cert_chain = ReadAll(setup.tls_dir + "/" + kIdentity + ".pem");
  o.pem_private_key = ReadAll(setup.tls_dir + "/" + kIdentity + "-key.pem");
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(setup.port), grpc::SslCredentials(o), args);
}

RemoteResult MeasureRemote(const RemoteInputs& in) {
  BerthClient unix_client(in.socket);
  BerthClient tls_client(TlsChannel(in.setup));
  unix_client.WaitReady(std::chrono::seconds(10));
  tls_client.WaitReady(std::chrono::seconds(10));
  const int total = in.warmup + in.runs;
  std::vector<double> vu, vt, eu, et, ru, rt, cu, ct;
  std::vector<RunPhases> pu, pt;
  auto timed = [](std::vector<double>& out, bool keep, const std::function<void()>& f) {
    auto t0 = Clock::now();
    f();
    if (keep) out.push_back(MillisBetween(t0, Clock::now()));
  };
  Interleaved(total, in.warmup,
              {[&](bool keep) { timed(vu, keep, [&] { unix_client.Version(); }); },
               [&](bool keep) { timed(vt, keep, [&] { tls_client.Version(); }); },
               [&](bool keep) { if (keep) eu.push_back(unix_client.Exec(in.sleeper, {"true"}).total); },
               [&](bool keep) { if (keep) et.push_back(tls_client.Exec(in.sleeper, {"true"}).total); },
               [&](bool keep) {
                 RunPhases p = unix_client.RunToExit(kImage, {"true"}, "none");
                 if (keep) pu.push_back(p);
               },
               [&](bool keep) {
                 RunPhases p = tls_client.RunToExit(kImage, {"true"}, "none");
                 if (keep) pt.push_back(p);
               },
               [&](bool keep) {
                 timed(cu, keep, [&] {
                   grpc::ChannelArguments args;
                   args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
                   BerthClient fresh(grpc::CreateCustomChannel("unix://" + in.socket,
                                                               grpc::InsecureChannelCredentials(), args));
                   fresh.Version();
                 });
               },
               [&](bool keep) { timed(ct, keep, [&] { BerthClient(TlsChannel(in.setup)).Version(); }); }});
  RemoteResult r;
  r.version_unix = Summarize(vu);
  r.version_tls = Summarize(vt);
  r.exec_unix = Summarize(eu);
  r.exec_tls = Summarize(et);
  for (const RunPhases& p : pu) ru.push_back(p.total);
  for (const RunPhases& p : pt) rt.push_back(p.total);
  r.run_unix = Summarize(ru);
  r.run_tls = Summarize(rt);
  r.steps_unix = MedianPhases(pu);
  r.steps_tls = MedianPhases(pt);
  r.connect_unix = Summarize(cu);
  r.connect_tls = Summarize(ct);
  return r;
}

void PrintRemote(const RemoteResult& r, int runs) {
  std::printf("\nRemote API: TCP + mutual TLS on 127.0.0.1 beside the Unix socket (ms, n=%d each, interleaved)\n",
              runs);
  std::printf("  %-48s %8s %8s\n", "", "median", "p95");
  PrintDeltaRow("Version, Unix socket", r.version_unix, r.version_unix, "itself");
  PrintDeltaRow("Version, TCP + mTLS", r.version_tls, r.version_unix, "Unix");
  PrintDeltaRow("exec round-trip, Unix socket", r.exec_unix, r.exec_unix, "itself");
  PrintDeltaRow("exec round-trip, TCP + mTLS", r.exec_tls, r.exec_unix, "Unix");
  PrintDeltaRow("run-to-exit, Unix socket", r.run_unix, r.run_unix, "itself");
  PrintDeltaRow("run-to-exit, TCP + mTLS", r.run_tls, r.run_unix, "Unix");
  std::printf("  run-to-exit steps (median ms), Unix: %s\n", StepsText(r.steps_unix).c_str());
  std::printf("  run-to-exit steps (median ms), mTLS: %s\n", StepsText(r.steps_tls).c_str());
  PrintDeltaRow("new connection + Version, Unix socket", r.connect_unix, r.connect_unix, "itself");
  PrintDeltaRow("new connection + Version, TCP + mTLS", r.connect_tls, r.connect_unix, "Unix");
  const double per_call = r.version_tls.median - r.version_unix.median;
  const double per_exec = r.exec_tls.median - r.exec_unix.median;
  std::printf("  target: <= 1 ms added per call on an established connection: %s (Version %+.2f ms, exec %+.2f ms)\n",
              per_call <= 1.0 && per_exec <= 1.0 ? "MET" : "MISSED", per_call, per_exec);
  std::fflush(stdout);
}

}  // namespace berth::bench
