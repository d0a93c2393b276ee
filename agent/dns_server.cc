#include "agent/dns_server.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"

namespace berth::agent {
namespace {

constexpr size_t kMaxMessage = 4096;  // EDNS answers from upstreams can exceed 512
constexpr size_t kMaxPending = 1024;  // queries waiting for an upstream, per network

sockaddr_in SocketAddress(net::Ipv4Address address, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = address.NetworkOrder();
  return a;
}

bool SameAddress(const sockaddr_in& a, const sockaddr_in& b) {
  return a.sin_addr.s_addr == b.sin_addr.s_addr && a.sin_port == b.sin_port;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DnsServer>> DnsServer::Start(DnsServerOptions options, const DnsRecords* records) {
  std::unique_ptr<DnsServer> server(new DnsServer(std::move(options), records));
  const std::string where = absl::StrCat(server->options_.listen.ToString(), ":", server->options_.port);
  server->socket_ = UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!server->socket_) return ErrnoToStatus("dns: socket");
  // Beside a node resolver bound to the wildcard address with SO_REUSEADDR (dnsmasq's
  // default), the gateway's own address can still be taken.
  int one = 1;
  (void)::setsockopt(server->socket_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr = SocketAddress(server->options_.listen, server->options_.port);
  if (::bind(server->socket_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno == EADDRINUSE) {
      return absl::FailedPreconditionError(absl::StrCat("dns: ", where, " is in use by another program"));
    }
    return ErrnoToStatus(absl::StrCat("dns: bind ", where));
  }
  server->upstream_ = UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!server->upstream_) return ErrnoToStatus("dns: upstream socket");
  server->stop_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!server->stop_) return ErrnoToStatus("dns: eventfd");
  uint16_t seed = 0;
  if (::getrandom(&seed, sizeof(seed), 0) == sizeof(seed)) server->next_id_ = seed;
  DnsServer* self = server.get();
  server->thread_ = std::thread([self] { self->Run(); });
  spdlog::info("dns resolver listening network={} address={} upstreams={}", server->options_.network_id, where,
               server->options_.upstreams.size());
  return server;
}

DnsServer::~DnsServer() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!::write(stop_.get(), &one, sizeof(one));
    thread_.join();
  }
}

void DnsServer::Run() {
  uint8_t buf[kMaxMessage];
  for (;;) {
    pollfd fds[3] = {{socket_.get(), POLLIN, 0}, {upstream_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    int timeout_ms = pending_.empty() ? -1 : 100;
    int n = ::poll(fds, 3, timeout_ms);
    if (n < 0 && errno != EINTR) {
      spdlog::error("dns resolver network={} poll error=\"{}\"", options_.network_id, std::strerror(errno));
      return;
    }
    if (fds[2].revents != 0) return;
    // Drain each socket: one wake-up may stand for many datagrams.
    for (int which = 0; which < 2; ++which) {
      if (fds[which].revents == 0) continue;
      for (;;) {
        sockaddr_in from{};
        socklen_t len = sizeof(from);
        ssize_t got = ::recvfrom(fds[which].fd, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (got < 0) break;  // EAGAIN, or an ICMP error queued on the socket
        if (which == 0) {
          OnQuery(buf, static_cast<size_t>(got), from);
        } else {
          OnUpstreamAnswer(buf, static_cast<size_t>(got), from);
        }
      }
    }
    ExpirePending();
  }
}

void DnsServer::OnQuery(const uint8_t* data, size_t size, const sockaddr_in& from) {
  auto question = dns::ParseQuery(data, size);
  net::Ipv4Address source{ntohl(from.sin_addr.s_addr)};
  if (!options_.subnet.Contains(source)) {
    // Not one of this network's containers: a short no (as large as the question, so it
    // amplifies nothing) rather than silence that looks like a dead server.
    if (question.ok()) Reply(from, dns::BuildResponse(*question, dns::kRcodeRefused, {}, 0));
    return;
  }
  if (!question.ok()) {
    // An id is enough to tell the client no; anything less is dropped.
    if (auto id = dns::MessageId(data, size); id && !dns::IsResponse(data, size)) {
      dns::Question q;
      q.id = *id;
      Reply(from, dns::BuildResponse(q, 1 /* FORMERR */, {}, 0));
    }
    return;
  }
  if (question->opcode != 0) {
    Reply(from, dns::BuildResponse(*question, dns::kRcodeNotImp, {}, 0));
    return;
  }
  if (question->qclass == dns::kClassIN && (question->type == dns::kTypeA || question->type == dns::kTypeAAAA)) {
    std::vector<std::vector<uint8_t>> v4, v6;
    if (records_->Lookup(options_.network_id, question->name, &v4, &v6)) {
      const auto& addresses = question->type == dns::kTypeA ? v4 : v6;
      Reply(from, dns::BuildResponse(*question, dns::kRcodeNoError, addresses, options_.ttl));
      return;
    }
  }
  if (options_.upstreams.empty() || pending_.size() >= kMaxPending) {
    Reply(from, dns::BuildResponse(*question, dns::kRcodeServFail, {}, 0));
    return;
  }
  Pending pending;
  pending.client = from;
  pending.question = *question;
  pending.query.assign(data, data + size);
  uint16_t id = next_id_;
  while (pending_.count(id) != 0) ++id;
  next_id_ = static_cast<uint16_t>(id + 1);
  Forward(std::move(pending), id);
}

void DnsServer::Forward(Pending pending, uint16_t id) {
  dns::SetMessageId(pending.query, id);
  sockaddr_in to = SocketAddress(options_.upstreams[pending.upstream], options_.upstream_port);
  (void)::sendto(upstream_.get(), pending.query.data(), pending.query.size(), 0, reinterpret_cast<sockaddr*>(&to),
                 sizeof(to));
  pending.deadline = std::chrono::steady_clock::now() + options_.upstream_timeout;
  pending_[id] = std::move(pending);
}

void DnsServer::OnUpstreamAnswer(const uint8_t* data, size_t size, const sockaddr_in& from) {
  auto id = dns::MessageId(data, size);
  if (!id || !dns::IsResponse(data, size)) return;
  auto it = pending_.find(*id);
  if (it == pending_.end()) return;
  // Only the upstream that was asked may answer (no spoofing from elsewhere).
  sockaddr_in asked = SocketAddress(options_.upstreams[it->second.upstream], options_.upstream_port);
  if (!SameAddress(from, asked)) return;
  std::vector<uint8_t> answer(data, data + size);
  dns::SetMessageId(answer, it->second.question.id);
  Reply(it->second.client, answer);
  pending_.erase(it);
}

void DnsServer::ExpirePending() {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    Pending pending = std::move(it->second);
    uint16_t id = it->first;
    it = pending_.erase(it);
    if (++pending.upstream < options_.upstreams.size()) {
      Forward(std::move(pending), id);  // the next upstream, under the same id
      it = pending_.upper_bound(id);
      continue;
    }
    Reply(pending.client, dns::BuildResponse(pending.question, dns::kRcodeServFail, {}, 0));
  }
}

void DnsServer::Reply(const sockaddr_in& to, const std::vector<uint8_t>& message) {
  (void)::sendto(socket_.get(), message.data(), message.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof(to));
}

}  // namespace berth::agent
