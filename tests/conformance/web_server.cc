// berth-critest-web: the web servers of critest's images, which cannot be pulled offline and
// are built here instead (critest_images.cc). One static program under two names:
//
//   nginx   takes nginx's master-process title (the pid-namespace specs read /proc/1/cmdline
//           and look for "master process"), writes /var/run/nginx.pid, serves port 80
//   httpd   logs httpd's startup line (a log spec looks for "httpd -D FOREGROUND"), serves
//           port 80
//
// BERTH_WEB_PORT overrides the port (the host-network image listens on 12003). Every request
// gets a 200 page. SIGTERM, SIGINT and SIGQUIT end it: it often runs as PID 1, where a signal
// without a handler is ignored.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>

namespace {

constexpr char kNginxTitle[] = "nginx: master process nginx -g daemon off;";

void Exit(int) { _exit(0); }

// A listening socket on every address, IPv6 and IPv4 alike when the kernel has IPv6.
int Listen(int port) {
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int on = 1, off = 0;
  if (fd >= 0) {
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(static_cast<uint16_t>(port));
    a.sin6_addr = in6addr_any;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 && listen(fd, 64) == 0) return fd;
    close(fd);
  }
  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || listen(fd, 64) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Reads the request head (a client that sends nothing is dropped after 5 s), answers, closes.
void Answer(int fd, const std::string& page) {
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string head;
  char buf[2048];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    head.append(buf, static_cast<size_t>(n));
  }
  std::string reply = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: " +
                      std::to_string(page.size()) + "\r\nConnection: close\r\n\r\n" + page;
  size_t done = 0;
  while (done < reply.size()) {
    ssize_t n = write(fd, reply.data() + done, reply.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string arg0 = argc > 0 ? argv[0] : "";
  const std::string name = arg0.substr(arg0.rfind('/') + 1);
  const bool nginx = arg0.rfind("nginx: ", 0) == 0;
  if (!nginx && name == "nginx") {
    // Started as nginx: again under nginx's title. The path keeps the process name "nginx".
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
      perror("readlink /proc/self/exe");
      return 1;
    }
    self[n] = '\0';
    char* args[] = {const_cast<char*>(kNginxTitle), nullptr};
    execv(self, args);
    perror("execv");
    return 1;
  }
  if (!nginx && name != "httpd") {
    fprintf(stderr, "berth-critest-web: run me as nginx or httpd, not %s\n", name.c_str());
    return 2;
  }
  struct sigaction sa{};
  sa.sa_handler = Exit;
  for (int sig : {SIGTERM, SIGINT, SIGQUIT}) sigaction(sig, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  const char* port_env = getenv("BERTH_WEB_PORT");
  const int port = port_env != nullptr ? atoi(port_env) : 80;
  int listener = Listen(port);
  if (listener < 0) {
    fprintf(stderr, "listen on port %d: %s\n", port, strerror(errno));
    return 1;
  }
  std::string page;
  if (nginx) {
    FILE* pid_file = fopen("/var/run/nginx.pid", "w");
    if (pid_file != nullptr) {
      fprintf(pid_file, "%d\n", static_cast<int>(getpid()));
      fclose(pid_file);
    }
    page = "<!DOCTYPE html>\n<html><body><h1>Welcome to nginx!</h1></body></html>\n";
  } else {
    fprintf(stderr, "[mpm_event:notice] AH00489: httpd configured -- resuming normal operations\n");
    fprintf(stderr, "[core:notice] AH00094: Command line: 'httpd -D FOREGROUND'\n");
    page = "<html><body><h1>It works!</h1></body></html>\n";
  }
  for (;;) {
    int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      perror("accept");
      return 1;
    }
    Answer(fd, page);
  }
}
