#include "tests/integration/support/registry_support.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "runtime/network/netns.h"
#include "tests/integration/support/agent_harness.h"

namespace berth::testing {

namespace {

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t CollectHeader(char* data, size_t size, size_t n, void* user) {
  absl::string_view line(data, size * n);
  if (absl::StartsWithIgnoreCase(line, "location:")) {
    *static_cast<std::string*>(user) = std::string(absl::StripAsciiWhitespace(line.substr(9)));
  }
  return size * n;
}

size_t CollectBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

}  // namespace

int FreePortIn(int netns_fd) {
  int port = 0;
  absl::Status st = net::RunInNetns(netns_fd, [&]() -> absl::Status {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return absl::InternalError("socket");
    sockaddr_in addr = Loopback(0);
    socklen_t len = sizeof(addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    ::close(fd);
    return absl::OkStatus();
  });
  return st.ok() ? port : 0;
}

bool CanConnectIn(int netns_fd, int port) {
  bool ok = false;
  (void)net::RunInNetns(netns_fd, [&]() -> absl::Status {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = Loopback(port);
    ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    return absl::OkStatus();
  });
  return ok;
}

// ---- TestRegistry ------------------------------------------------------------------------------

TestRegistry::TestRegistry(int netns_fd, std::string dir, RegistryConfig config)
    : netns_fd_(netns_fd), dir_(std::move(dir)), config_(std::move(config)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_ + "/storage", ec);
  port_ = FreePortIn(netns_fd_);
  if (port_ == 0) {
    error_ = "no free port in the test host namespace";
    return;
  }
  std::string yaml = absl::StrCat("version: 0.1\n", "log:\n  level: info\n  accesslog:\n    disabled: true\n",
                                  "storage:\n  filesystem:\n    rootdirectory: ", dir_, "/storage\n",
                                  "  delete:\n    enabled: true\n", "http:\n  addr: 127.0.0.1:", port_,
                                  "\n  secret: berth-images-test\n");
  if (config_.tls) {
    CliResult r = RunProgram({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                              "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                              dir_ + "/key.pem", "-out", dir_ + "/cert.pem"},
                             "", 60);
    if (r.exit_code != 0) {
      error_ = "openssl req: " + r.err;
      return;
    }
    absl::StrAppend(&yaml, "  tls:\n    certificate: ", dir_, "/cert.pem\n    key: ", dir_, "/key.pem\n");
  }
  if (!config_.user.empty()) {
    CliResult r = RunProgram({"/usr/bin/htpasswd", "-Bbn", config_.user, config_.password}, "", 30);
    if (r.exit_code != 0) {
      error_ = "htpasswd: " + r.err;
      return;
    }
    WriteText(dir_ + "/htpasswd", r.out);
    absl::StrAppend(&yaml, "auth:\n  htpasswd:\n    realm: berth-images-test\n    path: ", dir_, "/htpasswd\n");
  }
  WriteText(dir_ + "/config.yml", yaml);

  const std::string config_path = dir_ + "/config.yml";
  const std::string log_path = dir_ + "/registry.log";
  int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_ = ::fork();
  if (pid_ == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a crashed test leaves no registry behind
    if (::dup2(null, 0) < 0 || ::dup2(log, 1) < 0 || ::dup2(log, 2) < 0) ::_exit(126);
    if (::setns(netns_fd_, CLONE_NEWNET) != 0) ::_exit(125);
    const char* argv[] = {"/usr/bin/docker-registry", "serve", config_path.c_str(), nullptr};
    ::execv(argv[0], const_cast<char* const*>(argv));
    ::_exit(127);
  }
  ::close(log);
  ::close(null);
  if (pid_ < 0) {
    error_ = absl::StrCat("fork: ", std::strerror(errno));
    return;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!CanConnectIn(netns_fd_, port_)) {
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      error_ = "docker-registry exited at start:\n" + Log();
      return;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      error_ = "docker-registry does not accept connections after 20 s:\n" + Log();
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

TestRegistry::~TestRegistry() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (::waitpid(pid_, nullptr, WNOHANG) != pid_) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  pid_ = -1;
}

std::string TestRegistry::host() const { return absl::StrCat("127.0.0.1:", port_); }

std::string TestRegistry::url() const { return absl::StrCat(config_.tls ? "https://" : "http://", host()); }

std::string TestRegistry::BlobDataPath(const std::string& digest) const {
  const std::string hex = DigestHex(digest);
  return absl::StrCat(dir_, "/storage/docker/registry/v2/blobs/sha256/", hex.substr(0, 2), "/", hex, "/data");
}

std::string TestRegistry::Log() const { return ReadText(dir_ + "/registry.log"); }

absl::Status TestRegistry::Send(const std::string& method, const std::string& url, const std::string& body,
                                std::vector<std::string> headers, long want_status, std::string* location) {
  InitCurlOnce();
  long status = 0;
  std::string error, answer, where;
  // The socket must be made inside the test host namespace: a thread of its own enters it.
  absl::Status ran = net::RunInNetns(netns_fd_, [&]() -> absl::Status {
    CURL* h = curl_easy_init();
    curl_slist* list = nullptr;
    for (const std::string& line : headers) list = curl_slist_append(list, line.c_str());
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
    if (!config_.user.empty()) {
      curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
      curl_easy_setopt(h, CURLOPT_USERNAME, config_.user.c_str());
      curl_easy_setopt(h, CURLOPT_PASSWORD, config_.password.c_str());
    }
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &CollectHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &where);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &CollectBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &answer);
    CURLcode code = curl_easy_perform(h);
    if (code != CURLE_OK) error = curl_easy_strerror(code);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(list);
    curl_easy_cleanup(h);
    return absl::OkStatus();
  });
  if (!ran.ok()) return ran;
  if (!error.empty()) return absl::UnavailableError(absl::StrCat(method, " ", url, ": ", error));
  if (status != want_status) {
    return absl::InternalError(absl::StrCat(method, " ", url, ": HTTP ", status, " (want ", want_status, "): ", answer));
  }
  if (location != nullptr) *location = where;
  return absl::OkStatus();
}

absl::Status TestRegistry::PushBlob(const std::string& repo, const std::string& data) {
  std::string location;
  if (absl::Status st = Send("POST", absl::StrCat(url(), "/v2/", repo, "/blobs/uploads/"), "", {}, 202, &location);
      !st.ok()) {
    return st;
  }
  std::string target = absl::StartsWith(location, "/") ? url() + location : location;
  absl::StrAppend(&target, absl::StrContains(target, "?") ? "&" : "?", "digest=", Sha256Digest(data));
  return Send("PUT", target, data, {"Content-Type: application/octet-stream"}, 201, nullptr);
}

absl::Status TestRegistry::PushManifest(const std::string& repo, const std::string& reference,
                                        const std::string& media_type, const std::string& body) {
  return Send("PUT", absl::StrCat(url(), "/v2/", repo, "/manifests/", reference), body,
              {"Content-Type: " + media_type}, 201, nullptr);
}

absl::Status TestRegistry::PushImage(const std::string& repo, const std::string& tag, const Image& image) {
  if (absl::Status st = PushBlob(repo, image.config_bytes); !st.ok()) return st;
  for (const Layer& layer : image.layers) {
    if (absl::Status st = PushBlob(repo, layer.blob); !st.ok()) return st;
  }
  return PushManifest(repo, tag, kOciManifestType, image.manifest_bytes);
}

absl::StatusOr<std::string> TestRegistry::PushIndex(const std::string& repo, const std::string& tag,
                                                    const std::vector<IndexEntry>& entries) {
  for (const IndexEntry& e : entries) {
    if (absl::Status st = PushImage(repo, e.image->manifest_digest(), *e.image); !st.ok()) return st;
  }
  const std::string index = MakeIndex(entries);
  if (absl::Status st = PushManifest(repo, tag, kOciIndexType, index); !st.ok()) return st;
  return Sha256Digest(index);
}

// ---- ThrottledProxy ----------------------------------------------------------------------------

ThrottledProxy::ThrottledProxy(int netns_fd, int upstream_port, size_t bytes_per_second)
    : netns_fd_(netns_fd), upstream_port_(upstream_port), bytes_per_second_(bytes_per_second) {
  if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) return;
  (void)net::RunInNetns(netns_fd_, [&]() -> absl::Status {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = Loopback(0);
    socklen_t len = sizeof(addr);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 16) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      if (fd >= 0) ::close(fd);
      return absl::InternalError("listen");
    }
    listen_fd_ = fd;
    port_ = ntohs(addr.sin_port);
    return absl::OkStatus();
  });
  if (listen_fd_ >= 0) acceptor_ = std::thread([this] { AcceptLoop(); });
}

ThrottledProxy::~ThrottledProxy() {
  stopping_ = true;
  if (stop_pipe_[1] >= 0) (void)!::write(stop_pipe_[1], "x", 1);
  if (acceptor_.joinable()) acceptor_.join();
  for (std::thread& t : pumps_) t.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  for (int fd : stop_pipe_) {
    if (fd >= 0) ::close(fd);
  }
}

std::string ThrottledProxy::host() const { return absl::StrCat("127.0.0.1:", port_); }

void ThrottledProxy::AcceptLoop() {
  while (!stopping_) {
    struct pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (::poll(p, 2, -1) < 0 && errno != EINTR) return;
    if (p[1].revents) return;
    if (!(p[0].revents & POLLIN)) continue;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    pumps_.emplace_back([this, client] { Pump(client); });
  }
}

void ThrottledProxy::Pump(int client) {
  int upstream = -1;
  (void)net::RunInNetns(netns_fd_, [&]() -> absl::Status {
    upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = Loopback(upstream_port_);
    if (::connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(upstream);
      upstream = -1;
    }
    return absl::OkStatus();
  });
  if (upstream < 0) {
    ::close(client);
    return;
  }
  // Answers go in slices of a twentieth of a second's worth, each followed by its share of time.
  const size_t slice = std::max<size_t>(bytes_per_second_ / 20, 512);
  std::string buf(std::max<size_t>(slice, 64 << 10), '\0');
  auto send_all = [](int fd, const char* data, size_t n) {
    while (n > 0) {
      ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      data += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  };
  while (!stopping_) {
    struct pollfd p[3] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (::poll(p, 3, -1) < 0 && errno != EINTR) break;
    if (p[2].revents) break;
    if (p[0].revents) {
      ssize_t n = ::recv(client, buf.data(), buf.size(), 0);
      if (n <= 0 || !send_all(upstream, buf.data(), static_cast<size_t>(n))) break;
    }
    if (p[1].revents) {
      ssize_t n = ::recv(upstream, buf.data(), slice, 0);
      if (n <= 0 || !send_all(client, buf.data(), static_cast<size_t>(n))) break;
      bytes_sent_ += static_cast<uint64_t>(n);
      std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(n) * 1'000'000 /
                                                            static_cast<int64_t>(bytes_per_second_)));
    }
  }
  ::close(upstream);
  ::close(client);
}

}  // namespace berth::testing
