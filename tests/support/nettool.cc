// berth-nettool: a tiny static TCP/UDP probe for the integration tests. It runs inside
// busybox containers (bind-mounted read-only at /nettool), in the test host namespace and in
// peer namespaces, where busybox nc cannot do UDP. Every mode prints what it saw on stdout,
// one line per event, and exits 0 only when the exchange it was asked for happened.
//
//   udp-recv PORT                   print the first datagram received on PORT and exit
//   udp-send IP PORT MSG            send one datagram
//   udp-serve PORT                  answer every datagram with "MSG from SRC-IP" (forever)
//   udp-ask IP PORT MSG [SECS]      send MSG every 100 ms until an answer arrives; print it
//   tcp-serve PORT                  per connection: read to EOF, answer "MSG from SRC-IP"
//   tcp-ask IP PORT MSG [SECS]      connect (retrying while refused), send MSG, half-close,
//                                   print the answer
//   tcp-connect IP PORT [SECS]      exit 0 when a connection is accepted within SECS
//   dns-serve PORT NAME IPV4        a stand-in upstream resolver on 127.0.0.1: A for NAME is
//                                   IPV4, every other question NXDOMAIN; prints "query NAME
//                                   TYPE" (forever)
//
// SECS defaults to 5. A server prints "listening PORT" once its socket is bound; servers take
// IPv4 and IPv6 alike (an IPv4 peer is printed as a dotted quad), and an IP with a ':' is IPv6.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <string>

namespace {

int Usage() {
  fprintf(stderr,
          "usage: berth-nettool udp-recv PORT | udp-send IP PORT MSG | udp-serve PORT |\n"
          "       udp-ask IP PORT MSG [SECS] | tcp-serve PORT | tcp-ask IP PORT MSG [SECS] |\n"
          "       tcp-connect IP PORT [SECS] | dns-serve PORT NAME IPV4\n");
  return 2;
}

int Fail(const char* what) {
  fprintf(stderr, "berth-nettool: %s: %s\n", what, strerror(errno));
  return 1;
}

double Now() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

bool ParsePort(const char* text, uint16_t* port) {
  char* end = nullptr;
  long v = strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || v < 1 || v > 65535) return false;
  *port = static_cast<uint16_t>(v);
  return true;
}

// An IPv4 or IPv6 socket address.
struct Endpoint {
  sockaddr_storage storage = {};
  socklen_t length = 0;
  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
  uint16_t port() const {
    return ntohs(family() == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port
                                      : reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  }
};

bool ParseAddress(const char* ip, const char* port_text, Endpoint* out) {
  *out = Endpoint();
  uint16_t port;
  if (!ParsePort(port_text, &port)) return false;
  if (strchr(ip, ':') != nullptr) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&out->storage);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    out->length = sizeof(*a);
    return inet_pton(AF_INET6, ip, &a->sin6_addr) == 1;
  }
  auto* a = reinterpret_cast<sockaddr_in*>(&out->storage);
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  out->length = sizeof(*a);
  return inet_pton(AF_INET, ip, &a->sin_addr) == 1;
}

std::string AddressText(const Endpoint& e) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (e.family() == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&e.storage);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], buf, sizeof(buf));
    } else {
      inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
    }
  } else {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&e.storage)->sin_addr, buf, sizeof(buf));
  }
  return buf;
}

int BoundSocket(int type, const char* port_text) {
  uint16_t port;
  if (!ParsePort(port_text, &port)) {
    errno = EINVAL;
    return -1;
  }
  // Dual-stack where the namespace has IPv6, else IPv4 only.
  int fd = socket(AF_INET6, type | SOCK_CLOEXEC, 0);
  int one = 1, zero = 0;
  if (fd >= 0) {
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    sockaddr_in6 a = {};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    a.sin6_addr = in6addr_any;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      close(fd);
      fd = -1;
    }
  }
  if (fd < 0) {
    fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return -1;
  }
  if (type == SOCK_STREAM && listen(fd, 64) != 0) return -1;
  printf("listening %u\n", port);
  fflush(stdout);
  return fd;
}

void SetReceiveTimeout(int fd, double seconds) {
  if (seconds < 0.01) seconds = 0.01;
  timeval tv;
  tv.tv_sec = static_cast<time_t>(seconds);
  tv.tv_usec = static_cast<suseconds_t>((seconds - static_cast<double>(tv.tv_sec)) * 1e6);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

int UdpRecv(const char* port) {
  int fd = BoundSocket(SOCK_DGRAM, port);
  if (fd < 0) return Fail("bind");
  char buf[65536];
  Endpoint from;
  from.length = sizeof(from.storage);
  ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, from.get(), &from.length);
  if (n < 0) return Fail("recvfrom");
  printf("%.*s from %s\n", static_cast<int>(n), buf, AddressText(from).c_str());
  return 0;
}

int UdpSend(const char* ip, const char* port, const char* msg) {
  Endpoint to;
  if (!ParseAddress(ip, port, &to)) return Usage();
  int fd = socket(to.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail("socket");
  if (sendto(fd, msg, strlen(msg), 0, to.get(), to.length) < 0) return Fail("sendto");
  return 0;
}

int UdpServe(const char* port) {
  int fd = BoundSocket(SOCK_DGRAM, port);
  if (fd < 0) return Fail("bind");
  char buf[65536];
  for (;;) {
    Endpoint from;
    from.length = sizeof(from.storage);
    ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, from.get(), &from.length);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail("recvfrom");
    }
    std::string answer = std::string(buf, static_cast<size_t>(n)) + " from " + AddressText(from);
    printf("%s\n", answer.c_str());
    fflush(stdout);
    sendto(fd, answer.data(), answer.size(), 0, from.get(), from.length);
  }
}

int UdpAsk(const char* ip, const char* port, const char* msg, double seconds) {
  Endpoint to;
  if (!ParseAddress(ip, port, &to)) return Usage();
  int fd = socket(to.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail("socket");
  // Not connected: an ICMP port-unreachable (the server not bound yet) must not end the try.
  double deadline = Now() + seconds;
  char buf[65536];
  while (Now() < deadline) {
    sendto(fd, msg, strlen(msg), 0, to.get(), to.length);
    double next = Now() + 0.1;
    while (Now() < next) {
      struct pollfd p = {fd, POLLIN, 0};
      int wait_ms = static_cast<int>((next - Now()) * 1000) + 1;
      if (poll(&p, 1, wait_ms) <= 0) continue;
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n < 0) continue;  // ECONNREFUSED from an earlier datagram
      printf("%.*s\n", static_cast<int>(n), buf);
      return 0;
    }
  }
  fprintf(stderr, "berth-nettool: no answer from %s:%s within %.1f s\n", ip, port, seconds);
  return 1;
}

int TcpServe(const char* port) {
  int fd = BoundSocket(SOCK_STREAM, port);
  if (fd < 0) return Fail("listen");
  for (;;) {
    Endpoint from;
    from.length = sizeof(from.storage);
    int c = accept4(fd, from.get(), &from.length, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return Fail("accept");
    }
    // A client that never half-closes must not stall the others for long.
    SetReceiveTimeout(c, 5);
    std::string msg;
    char buf[4096];
    for (;;) {
      ssize_t n = read(c, buf, sizeof(buf));
      if (n <= 0) break;
      msg.append(buf, static_cast<size_t>(n));
    }
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    std::string answer = msg + " from " + AddressText(from);
    printf("%s\n", answer.c_str());
    fflush(stdout);
    answer += "\n";
    (void)!write(c, answer.data(), answer.size());
    close(c);
  }
}

// A connected TCP socket, retrying while the connection is refused, until the deadline; -1
// when none was made (the last error is printed).
int ConnectBefore(const Endpoint& to, double deadline) {
  const char* last = "timed out";
  while (Now() < deadline) {
    int fd = socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      Fail("socket");
      return -1;
    }
    int rc = connect(fd, to.get(), to.length);
    if (rc != 0 && errno == EINPROGRESS) {
      struct pollfd p = {fd, POLLOUT, 0};
      int wait_ms = static_cast<int>((deadline - Now()) * 1000) + 1;
      if (poll(&p, 1, wait_ms) > 0) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err == 0 ? 0 : -1;
        errno = err;
      } else {
        errno = ETIMEDOUT;
      }
    }
    if (rc == 0) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      return fd;
    }
    last = strerror(errno);
    close(fd);
    usleep(100 * 1000);
  }
  fprintf(stderr, "berth-nettool: connect %s:%u: %s\n", AddressText(to).c_str(), to.port(), last);
  return -1;
}

int TcpAsk(const char* ip, const char* port, const char* msg, double seconds) {
  Endpoint to;
  if (!ParseAddress(ip, port, &to)) return Usage();
  double deadline = Now() + seconds;
  int fd = ConnectBefore(to, deadline);
  if (fd < 0) return 1;
  std::string line = std::string(msg) + "\n";
  if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return Fail("write");
  shutdown(fd, SHUT_WR);
  SetReceiveTimeout(fd, deadline - Now() + 1);
  std::string answer;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  if (answer.empty()) {
    fprintf(stderr, "berth-nettool: no answer from %s:%s\n", ip, port);
    return 1;
  }
  printf("%s", answer.c_str());
  return 0;
}

int TcpConnect(const char* ip, const char* port, double seconds) {
  Endpoint to;
  if (!ParseAddress(ip, port, &to)) return Usage();
  int fd = ConnectBefore(to, Now() + seconds);
  if (fd < 0) return 1;
  printf("connected\n");
  return 0;
}

// Uncompressed question names only: what a forwarding resolver sends.
int DnsServe(const char* port, const char* name, const char* ipv4) {
  in_addr answer_addr;
  uint16_t port_number;
  if (inet_pton(AF_INET, ipv4, &answer_addr) != 1 || !ParsePort(port, &port_number)) return Usage();
  // On 127.0.0.1 only, as a node's local resolver (systemd-resolved, dnsmasq) listens.
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail("socket");
  sockaddr_in local = {};
  local.sin_family = AF_INET;
  local.sin_port = htons(port_number);
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) return Fail("bind");
  printf("listening %u\n", port_number);
  fflush(stdout);
  unsigned char buf[4096];
  for (;;) {
    Endpoint from;
    from.length = sizeof(from.storage);
    ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, from.get(), &from.length);
    if (n < 12) continue;
    std::string qname;
    size_t pos = 12;
    while (pos < static_cast<size_t>(n) && buf[pos] != 0 && buf[pos] < 64) {
      size_t len = buf[pos];
      if (pos + 1 + len >= static_cast<size_t>(n)) break;
      if (!qname.empty()) qname += '.';
      qname.append(reinterpret_cast<char*>(buf + pos + 1), len);
      pos += 1 + len;
    }
    if (pos + 5 > static_cast<size_t>(n) || buf[pos] != 0) continue;
    unsigned type = (buf[pos + 1] << 8) | buf[pos + 2];
    size_t question_end = pos + 5;
    printf("query %s %u\n", qname.c_str(), type);
    fflush(stdout);
    std::string reply(reinterpret_cast<char*>(buf), question_end);
    const bool known = strcasecmp(qname.c_str(), name) == 0;
    reply[2] = static_cast<char>(0x81);                       // QR, RD
    reply[3] = static_cast<char>(known ? 0x80 : 0x83);        // RA; NOERROR or NXDOMAIN
    reply[4] = 0, reply[5] = 1;                               // one question
    reply[6] = 0, reply[7] = (known && type == 1) ? 1 : 0;    // answers
    for (int i = 8; i < 12; ++i) reply[i] = 0;
    if (known && type == 1) {
      const unsigned char rr[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4};
      reply.append(reinterpret_cast<const char*>(rr), sizeof(rr));
      reply.append(reinterpret_cast<const char*>(&answer_addr), 4);
    }
    sendto(fd, reply.data(), reply.size(), 0, from.get(), from.length);
  }
}

double Seconds(int argc, char** argv, int index) {
  if (argc <= index) return 5;
  double v = atof(argv[index]);
  return v > 0 ? v : 5;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc < 3) return Usage();
  std::string mode = argv[1];
  if (mode == "udp-recv" && argc == 3) return UdpRecv(argv[2]);
  if (mode == "udp-send" && argc == 5) return UdpSend(argv[2], argv[3], argv[4]);
  if (mode == "udp-serve" && argc == 3) return UdpServe(argv[2]);
  if (mode == "udp-ask" && (argc == 5 || argc == 6)) return UdpAsk(argv[2], argv[3], argv[4], Seconds(argc, argv, 5));
  if (mode == "tcp-serve" && argc == 3) return TcpServe(argv[2]);
  if (mode == "tcp-ask" && (argc == 5 || argc == 6)) return TcpAsk(argv[2], argv[3], argv[4], Seconds(argc, argv, 5));
  if (mode == "tcp-connect" && (argc == 4 || argc == 5)) return TcpConnect(argv[2], argv[3], Seconds(argc, argv, 4));
  if (mode == "dns-serve" && argc == 5) return DnsServe(argv[2], argv[3], argv[4]);
  return Usage();
}
