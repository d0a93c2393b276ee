// The embedded resolver of one user-made network, as Docker has: UDP port 53 on the
// network's gateway address. A and AAAA questions for a container of the network (its name,
// short id or an alias) are answered from DnsRecords; every other question is forwarded to
// the upstream resolvers and their answer relayed back. Only clients inside the network's
// subnet get answers, so it is never an open resolver. One thread per network; the
// destructor stops it.
#pragma once

#include <netinet/in.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/dns_records.h"
#include "agent/dns_message.h"
#include "runtime/base/unique_fd.h"
#include "runtime/network/ipv4.h"

namespace berth::agent {

struct DnsServerOptions {
  std::string network_id;
  net::Ipv4Address listen;                 // the gateway
  uint16_t port = 53;
  net::Ipv4Prefix subnet;                  // who may ask
  std::vector<net::Ipv4Address> upstreams; // tried in turn; none: SERVFAIL for other names
  uint16_t upstream_port = 53;
  std::chrono::milliseconds upstream_timeout{1500};  // per upstream
  uint32_t ttl = 10;                       // seconds: containers come and go
};

class DnsServer {
 public:
  // Binds the socket in the calling thread's netns; FAILED_PRECONDITION naming the address
  // when it is taken.
  static absl::StatusOr<std::unique_ptr<DnsServer>> Start(DnsServerOptions options, const DnsRecords* records);
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

 private:
  struct Pending {
    sockaddr_in client{};
    dns::Question question;         // for the SERVFAIL if nobody answers
    std::vector<uint8_t> query;     // as the client sent it, with our id
    size_t upstream = 0;            // which one was asked last
    std::chrono::steady_clock::time_point deadline;
  };

  DnsServer(DnsServerOptions options, const DnsRecords* records) : options_(std::move(options)), records_(records) {}
  void Run();
  void OnQuery(const uint8_t* data, size_t size, const sockaddr_in& from);
  void OnUpstreamAnswer(const uint8_t* data, size_t size, const sockaddr_in& from);
  void Forward(Pending pending, uint16_t id);
  void ExpirePending();
  void Reply(const sockaddr_in& to, const std::vector<uint8_t>& message);

  DnsServerOptions options_;
  const DnsRecords* records_;
  UniqueFd socket_;     // the clients'
  UniqueFd upstream_;   // to the upstream resolvers
  UniqueFd stop_;       // eventfd
  std::map<uint16_t, Pending> pending_;  // by the id we used upstream; only the thread touches it
  uint16_t next_id_ = 0;
  std::thread thread_;
};

}  // namespace berth::agent
