#include "agent/metrics_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "agent/tcp_address.h"
#include "runtime/base/quote.h"
#include "runtime/base/unique_fd.h"

namespace berth::agent {
namespace {

constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

MHD_Result Reply(struct MHD_Connection* connection, unsigned int code, const std::string& body, const char* type) {
  struct MHD_Response* response =
      MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, "Content-Type", type);
  MHD_Result ret = MHD_queue_response(connection, code, response);
  MHD_destroy_response(response);
  return ret;
}

MHD_Result Handle(void* self, struct MHD_Connection* connection, const char* url, const char* method, const char*,
                  const char*, size_t* upload_data_size, void** state) {
  // The first call for a request only announces it; answer on the second (and ignore bodies).
  if (*state == nullptr) {
    *state = connection;
    return MHD_YES;
  }
  if (*upload_data_size != 0) {
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (std::strcmp(method, "GET") != 0 && std::strcmp(method, "HEAD") != 0) {
    return Reply(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET /metrics is served\n", "text/plain");
  }
  if (std::strcmp(url, "/metrics") != 0) {
    return Reply(connection, MHD_HTTP_NOT_FOUND, "not found; the metrics are at /metrics\n", "text/plain");
  }
  return Reply(connection, MHD_HTTP_OK, static_cast<MetricsServer*>(self)->Scrape(), kContentType);
}

absl::StatusOr<sockaddr_storage> ParseAddress(const std::string& address) {
  return ParseTcpAddress(address, "metrics listen address", "127.0.0.1:9338, or none");
}

}  // namespace

absl::Status CheckMetricsAddress(const std::string& address) { return ParseAddress(address).status(); }

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& address, Render render) {
  absl::StatusOr<sockaddr_storage> parsed = ParseAddress(address);
  if (!parsed.ok()) return parsed.status();
  sockaddr_storage storage = *parsed;
  unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
  if (storage.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  const int port = PortOf(storage);
  // A trial bind first, for a message that says why (libmicrohttpd only says it failed).
  {
    UniqueFd probe(::socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    if (probe) (void)::setsockopt(probe.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    const socklen_t len = storage.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    if (!probe || ::bind(probe.get(), reinterpret_cast<sockaddr*>(&storage), len) != 0) {
      return absl::UnavailableError(absl::StrCat("metrics listener on ", Quoted(address), ": ", std::strerror(errno),
                                                 "; choose another with --metrics-listen, or turn it off with "
                                                 "--metrics-listen none"));
    }
  }
  std::unique_ptr<MetricsServer> server(new MetricsServer(std::move(render)));
  server->daemon_ = MHD_start_daemon(
      flags, static_cast<uint16_t>(port), nullptr, nullptr,
      &Handle, server.get(), MHD_OPTION_SOCK_ADDR,
      reinterpret_cast<struct sockaddr*>(&storage), MHD_OPTION_CONNECTION_LIMIT, 32u, MHD_OPTION_CONNECTION_TIMEOUT,
      10u, MHD_OPTION_END);
  if (server->daemon_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("metrics listener on ", Quoted(address),
                                               " could not start (address in use?); choose another with "
                                               "--metrics-listen, or turn it off with --metrics-listen none"));
  }
  const union MHD_DaemonInfo* info = MHD_get_daemon_info(server->daemon_, MHD_DAEMON_INFO_BIND_PORT);
  server->port_ = info != nullptr ? info->port : port;
  return server;
}

MetricsServer::~MetricsServer() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

}  // namespace berth::agent
