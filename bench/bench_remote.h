// The API over TCP with mutual TLS beside the Unix socket, for berth-bench: a Version call and
// an exec round-trip on an established connection, run-to-exit, and what a new connection
// costs (TCP + TLS handshake + the first call) against a new Unix-socket connection. The
// bench's berthd listens on 127.0.0.1 with certificates from deploy/berth-tls.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "bench/bench_berth.h"
#include "bench/bench_stats.h"

namespace berth::bench {

struct RemoteSetup {
  std::string tls_dir;  // ca.pem, agent.pem/-key.pem, bench.pem/-key.pem
  std::string config;   // berthd.toml making the bench's client identity admin
  int port = 0;         // on 127.0.0.1
  // berthd's flags for it: --config, --listen, --tls-*.
  std::vector<std::string> AgentArgs() const;
};

// Certificates (with `tls_tool`, deploy/berth-tls) and a config below `dir`, and a free port.
RemoteSetup PrepareRemote(const std::string& tls_tool, const std::string& dir);

// A channel presenting the bench's client certificate. Channels never share a connection
// (each has its own subchannel pool), so a new channel's first call opens a new one.
std::shared_ptr<grpc::Channel> TlsChannel(const RemoteSetup& setup);

struct RemoteInputs {
  RemoteSetup setup;
  std::string socket;  // the Unix socket
  std::string sleeper;  // a running container to exec into
  int runs = 50;
  int warmup = 3;
};

struct RemoteResult {
  Summary version_unix, version_tls;  // established connection
  Summary exec_unix, exec_tls;
  Summary run_unix, run_tls;           // run-to-exit, network none
  RunPhases steps_unix, steps_tls;     // their steps' medians
  Summary connect_unix, connect_tls;   // new channel + Version
};

RemoteResult MeasureRemote(const RemoteInputs& in);
void PrintRemote(const RemoteResult& r, int runs);

}  // namespace berth::bench
