// RegistryClient against Debian's docker-registry (the distribution server) started on
// 127.0.0.1 with random ports and temp storage — plain HTTP, htpasswd Basic auth, TLS with a
// self-signed certificate, a mirror — and against small in-test HTTP servers for what a real
// registry does not do on demand: Bearer tokens, 503s, cut-off bodies, redirects, bad digests.
// Nothing listens beyond 127.0.0.1 and nothing leaves the host.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/image/registry_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::image {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kOciManifestType[] = "application/vnd.oci.image.manifest.v1+json";

// ---- Small helpers ---------------------------------------------------------------------------

std::string Sha256(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return "sha256:" + absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(md), len));
}

void WriteFileOrDie(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  ASSERT_TRUE(out) << path;
  out << data;
}

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/berth-registry-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs argv (no shell); stdout and stderr into *output. The exit status, or -1.
int Run(const std::vector<std::string>& argv, std::string* output = nullptr) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipefd[1], 1);
    ::dup2(pipefd[1], 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof(buf))) > 0) out.append(buf, n);
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (output != nullptr) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool CanConnect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

class StringSink : public BlobSink {
 public:
  absl::Status Write(absl::string_view data) override {
    data_.append(data.data(), data.size());
    return absl::OkStatus();
  }
  absl::Status Reset() override {
    data_.clear();
    ++resets_;
    return absl::OkStatus();
  }
  const std::string& data() const { return data_; }
  int resets() const { return resets_; }

 private:
  std::string data_;
  int resets_ = 0;
};

Reference Ref(const std::string& registry, const std::string& repository,
              const std::string& tag = "v1", const std::string& digest = "") {
  Reference ref;
  ref.registry = registry;
  ref.repository = repository;
  ref.tag = tag;
  ref.digest = digest;
  return ref;
}

RegistryOptions FastOptions() {
  RegistryOptions options;
  options.max_attempts = 3;
  options.initial_backoff_ms = 10;
  return options;
}

// ---- A test image ----------------------------------------------------------------------------

struct TestImage {
  std::string layer, layer_digest;
  std::string config, config_digest;
  std::string manifest, manifest_digest;
};

// One gzip tar layer (made by tar and gzip), its config and an OCI manifest.
TestImage MakeImage(const std::string& dir) {
  TestImage image;
  std::filesystem::create_directories(dir + "/rootfs/etc");
  WriteFileOrDie(dir + "/rootfs/etc/hello.txt", "hello from berth\n");
  std::string out;
  EXPECT_EQ(Run({"tar", "-C", dir + "/rootfs", "-cf", dir + "/layer.tar", "."}, &out), 0) << out;
  EXPECT_EQ(Run({"gzip", "-n", "-k", dir + "/layer.tar"}, &out), 0) << out;
  std::string tar = ReadFileOrDie(dir + "/layer.tar");
  image.layer = ReadFileOrDie(dir + "/layer.tar.gz");
  image.layer_digest = Sha256(image.layer);
  image.config =
      absl::StrCat(R"({"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/true"]},)",
                   R"("rootfs":{"type":"layers","diff_ids":[")", Sha256(tar), R"("]}})");
  image.config_digest = Sha256(image.config);
  image.manifest = absl::StrCat(
      R"({"schemaVersion":2,"mediaType":")", kOciManifestType, R"(",)",
      R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")",
      image.config_digest, R"(","size":)", image.config.size(), "},",
      R"("layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")",
      image.layer_digest, R"(","size":)", image.layer.size(), "}]}");
  image.manifest_digest = Sha256(image.manifest);
  return image;
}

// ---- Pushing with libcurl (the distribution upload API) ---------------------------------------

struct CurlResult {
  long status = 0;
  std::string location;
  std::string error;
};

size_t CollectHeader(char* data, size_t size, size_t n, void* user) {
  std::string line(data, size * n);
  if (absl::StartsWithIgnoreCase(line, "location:")) {
    *static_cast<std::string*>(user) = std::string(absl::StripAsciiWhitespace(line.substr(9)));
  }
  return size * n;
}

size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

CurlResult CurlSend(const std::string& method, const std::string& url, const std::string& body,
                    const std::vector<std::string>& headers) {
  CurlResult result;
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
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &CollectHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &result.location);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &Discard);
  CURLcode code = curl_easy_perform(h);
  if (code != CURLE_OK) result.error = curl_easy_strerror(code);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &result.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(h);
  return result;
}

// `base` is "http://127.0.0.1:PORT" or "https://..."; `basic` is "user:pass" or empty.
void Push(const std::string& base, const std::string& repo, const std::string& tag,
          const TestImage& image, const std::string& basic = "") {
  std::vector<std::string> auth;
  if (!basic.empty()) auth.push_back("Authorization: Basic " + absl::Base64Escape(basic));
  for (const auto& [blob, digest] :
       {std::pair(image.layer, image.layer_digest), std::pair(image.config, image.config_digest)}) {
    CurlResult start = CurlSend("POST", base + "/v2/" + repo + "/blobs/uploads/", "", auth);
    ASSERT_EQ(start.status, 202) << start.error;
    std::string url = start.location;
    if (absl::StartsWith(url, "/")) url = base + url;
    url += absl::StrContains(url, '?') ? "&" : "?";
    url += "digest=" + digest;
    std::vector<std::string> headers = auth;
    headers.push_back("Content-Type: application/octet-stream");
    CurlResult put = CurlSend("PUT", url, blob, headers);
    ASSERT_EQ(put.status, 201) << put.error;
  }
  std::vector<std::string> headers = auth;
  headers.push_back(std::string("Content-Type: ") + kOciManifestType);
  CurlResult put =
      CurlSend("PUT", base + "/v2/" + repo + "/manifests/" + tag, image.manifest, headers);
  ASSERT_EQ(put.status, 201) << put.error;
}

// ---- docker-registry -------------------------------------------------------------------------

struct RegistrySetup {
  bool tls = false;
  bool htpasswd = false;  // user "user", password "secret"
};

class Registry {
 public:
  Registry(const std::string& dir, RegistrySetup setup) : dir_(dir), setup_(setup) {
    port_ = FreePort();
    std::filesystem::create_directories(dir_ + "/storage");
    std::string config =
        absl::StrCat("version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n",
                     "storage:\n  filesystem:\n    rootdirectory: ", dir_, "/storage\n",
                     "http:\n  addr: 127.0.0.1:", port_, "\n  secret: berth-test\n");
    std::string out;
    if (setup.tls) {
      EXPECT_EQ(Run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                     "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                     dir_ + "/key.pem", "-out", dir_ + "/cert.pem"},
                    &out),
                0)
          << out;
      absl::StrAppend(&config, "  tls:\n    certificate: ", dir_, "/cert.pem\n    key: ", dir_,
                      "/key.pem\n");
    }
    if (setup.htpasswd) {
      EXPECT_EQ(Run({"htpasswd", "-Bbn", "user", "secret"}, &out), 0) << out;
      WriteFileOrDie(dir_ + "/htpasswd", out);
      absl::StrAppend(&config, "auth:\n  htpasswd:\n    realm: berth-test\n    path: ", dir_,
                      "/htpasswd\n");
    }
    WriteFileOrDie(dir_ + "/config.yml", config);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      int log = ::open((dir_ + "/registry.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(log, 1);
      ::dup2(log, 2);
      ::execl("/usr/bin/docker-registry", "docker-registry", "serve",
              (dir_ + "/config.yml").c_str(), nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 200 && !CanConnect(port_); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(CanConnect(port_)) << ReadFileOrDie(dir_ + "/registry.log");
  }

  ~Registry() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }

  int port() const { return port_; }
  std::string authority() const { return absl::StrCat("127.0.0.1:", port_); }
  std::string base() const {
    return absl::StrCat(setup_.tls ? "https://" : "http://", authority());
  }

 private:
  std::string dir_;
  RegistrySetup setup_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// ---- A tiny HTTP server ----------------------------------------------------------------------

struct FakeRequest {
  std::string method;
  std::string target;                          // path?query
  std::map<std::string, std::string> headers;  // lowercase names

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct FakeResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Claims the whole body in Content-Length but sends only this many bytes, then closes.
  size_t cut_after = std::string::npos;
};

// One connection at a time, Connection: close. A TLS ClientHello (the https probe of a
// loopback registry) is answered by closing the connection.
class FakeServer {
 public:
  explicit FakeServer(std::function<FakeResponse(const FakeRequest&)> handler)
      : handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~FakeServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }

  std::string authority() const { return absl::StrCat("127.0.0.1:", port_); }
  std::vector<FakeRequest> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  int CountPrefix(const std::string& prefix) {
    int n = 0;
    for (const FakeRequest& r : requests()) n += absl::StartsWith(r.target, prefix) ? 1 : 0;
    return n;
  }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) continue;
      Serve(conn);
      ::close(conn);
    }
  }

  void Serve(int conn) {
    std::string data;
    char buf[4096];
    while (!absl::StrContains(data, "\r\n\r\n")) {
      pollfd p{conn, POLLIN, 0};
      if (::poll(&p, 1, 2000) <= 0) return;
      ssize_t n = ::read(conn, buf, sizeof(buf));
      if (n <= 0) return;
      data.append(buf, n);
      if (static_cast<unsigned char>(data[0]) == 0x16) return;  // TLS: not spoken here
    }
    FakeRequest req;
    std::vector<std::string> lines = absl::StrSplit(data.substr(0, data.find("\r\n\r\n")), "\r\n");
    std::vector<std::string> first = absl::StrSplit(lines[0], ' ');
    if (first.size() < 2) return;
    req.method = first[0];
    req.target = first[1];
    for (size_t i = 1; i < lines.size(); ++i) {
      size_t colon = lines[i].find(':');
      if (colon == std::string::npos) continue;
      req.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
          std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(req);
    }
    FakeResponse resp = handler_(req);
    std::string out =
        absl::StrCat("HTTP/1.1 ", resp.status, " Fake\r\nContent-Length: ", resp.body.size(),
                     "\r\nConnection: close\r\n");
    for (const auto& [name, value] : resp.headers) absl::StrAppend(&out, name, ": ", value, "\r\n");
    absl::StrAppend(&out, "\r\n", resp.body.substr(0, resp.cut_after));
    size_t off = 0;
    while (off < out.size()) {
      ssize_t n = ::send(conn, out.data() + off, out.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += n;
    }
  }

  std::function<FakeResponse(const FakeRequest&)> handler_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<FakeRequest> requests_;
};

// ---- The fixture: registries started on first use, stopped after the suite ------------------

class RegistryClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    for (const char* var : {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}) {
      ::unsetenv(var);
    }
    dir_ = new TempDir();
    image_ = new TestImage(MakeImage(dir_->path() + "/image"));
  }
  static void TearDownTestSuite() {
    delete plain_;
    delete auth_;
    delete tls_;
    delete empty_;
    plain_ = auth_ = tls_ = empty_ = nullptr;
    delete image_;
    delete dir_;
  }

  static const TestImage& image() { return *image_; }

  // test/img:v1 over plain HTTP.
  static Registry& Plain() {
    if (plain_ == nullptr) {
      plain_ = new Registry(dir_->path() + "/plain", {});
      Push(plain_->base(), "test/img", "v1", image());
    }
    return *plain_;
  }
  // test/img:v1 behind htpasswd (user:secret).
  static Registry& Auth() {
    if (auth_ == nullptr) {
      auth_ = new Registry(dir_->path() + "/auth", {.htpasswd = true});
      Push(auth_->base(), "test/img", "v1", image(), "user:secret");
    }
    return *auth_;
  }
  // test/img:v1 over TLS with a self-signed certificate.
  static Registry& Tls() {
    if (tls_ == nullptr) {
      tls_ = new Registry(dir_->path() + "/tls", {.tls = true});
      Push(tls_->base(), "test/img", "v1", image());
    }
    return *tls_;
  }
  // Nothing pushed.
  static Registry& Empty() {
    if (empty_ == nullptr) empty_ = new Registry(dir_->path() + "/empty", {});
    return *empty_;
  }

  std::string WriteAuthFile(const std::string& name, const std::string& json) {
    std::string path = dir_->path() + "/" + name;
    WriteFileOrDie(path, json);
    return path;
  }

  void ExpectImage(RegistryClient& client, const Reference& ref) {
    absl::StatusOr<FetchedManifest> m = client.GetManifest(ref);
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->body, image().manifest);
    EXPECT_EQ(m->digest, image().manifest_digest);
    StringSink sink;
    absl::Status st = client.GetBlob(ref, image().layer_digest, sink);
    ASSERT_TRUE(st.ok()) << st;
    EXPECT_EQ(Sha256(sink.data()), image().layer_digest);
  }

  static TempDir* dir_;
  static TestImage* image_;
  static Registry* plain_;
  static Registry* auth_;
  static Registry* tls_;
  static Registry* empty_;
};

TempDir* RegistryClientTest::dir_ = nullptr;
TestImage* RegistryClientTest::image_ = nullptr;
Registry* RegistryClientTest::plain_ = nullptr;
Registry* RegistryClientTest::auth_ = nullptr;
Registry* RegistryClientTest::tls_ = nullptr;
Registry* RegistryClientTest::empty_ = nullptr;

// ---- Against docker-registry -----------------------------------------------------------------

TEST_F(RegistryClientTest, ManifestByTagAndByDigest) {
  RegistryClient client(FastOptions());
  Reference ref = Ref(Plain().authority(), "test/img");
  absl::StatusOr<FetchedManifest> by_tag = client.GetManifest(ref);
  ASSERT_TRUE(by_tag.ok()) << by_tag.status();
  EXPECT_EQ(by_tag->media_type, kOciManifestType);
  EXPECT_EQ(by_tag->digest, image().manifest_digest);
  EXPECT_EQ(by_tag->body, image().manifest);

  absl::StatusOr<FetchedManifest> by_digest = client.GetManifest(ref, image().manifest_digest);
  ASSERT_TRUE(by_digest.ok()) << by_digest.status();
  EXPECT_EQ(by_digest->body, image().manifest);

  Reference pinned = Ref(Plain().authority(), "test/img", "", image().manifest_digest);
  absl::StatusOr<FetchedManifest> by_ref_digest = client.GetManifest(pinned);
  ASSERT_TRUE(by_ref_digest.ok()) << by_ref_digest.status();
  EXPECT_EQ(by_ref_digest->digest, image().manifest_digest);
}

TEST_F(RegistryClientTest, BlobsMatchTheirDigestsWithProgress) {
  RegistryClient client(FastOptions());
  Reference ref = Ref(Plain().authority(), "test/img");
  for (const auto& [digest, want] : {std::pair(image().layer_digest, image().layer),
                                     std::pair(image().config_digest, image().config)}) {
    StringSink sink;
    int64_t last = 0;
    absl::Status st = client.GetBlob(ref, digest, sink, [&](int64_t done) { last = done; });
    ASSERT_TRUE(st.ok()) << st;
    EXPECT_EQ(sink.data(), want);
    EXPECT_EQ(Sha256(sink.data()), digest);
    EXPECT_EQ(last, static_cast<int64_t>(want.size()));
    EXPECT_EQ(sink.resets(), 0);
  }
}

TEST_F(RegistryClientTest, ConcurrentBlobDownloadsShareOneClient) {
  RegistryClient client(FastOptions());
  Reference ref = Ref(Plain().authority(), "test/img");
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      const std::string& digest = i % 2 ? image().layer_digest : image().config_digest;
      StringSink sink;
      if (client.GetBlob(ref, digest, sink).ok() && Sha256(sink.data()) == digest) ++good;
      if (client.GetManifest(ref).ok()) ++good;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(good.load(), 16);
}

TEST_F(RegistryClientTest, UnknownTagRepositoryAndBlobAreNotFound) {
  RegistryClient client(FastOptions());
  absl::StatusOr<FetchedManifest> m =
      client.GetManifest(Ref(Plain().authority(), "test/img", "nope"));
  ASSERT_EQ(m.status().code(), absl::StatusCode::kNotFound) << m.status();
  EXPECT_THAT(m.status().message(), HasSubstr("test/img:nope"));
  EXPECT_THAT(m.status().message(), HasSubstr(Plain().authority()));

  m = client.GetManifest(Ref(Plain().authority(), "test/other"));
  EXPECT_EQ(m.status().code(), absl::StatusCode::kNotFound) << m.status();

  StringSink sink;
  std::string missing = Sha256("not a blob");
  absl::Status st = client.GetBlob(Ref(Plain().authority(), "test/img"), missing, sink);
  ASSERT_EQ(st.code(), absl::StatusCode::kNotFound) << st;
  EXPECT_THAT(st.message(), HasSubstr(missing));
}

TEST_F(RegistryClientTest, BadDigestArgumentsAreInvalid) {
  RegistryClient client(FastOptions());
  Reference ref = Ref("127.0.0.1:1", "test/img");
  StringSink sink;
  EXPECT_EQ(client.GetBlob(ref, "sha256:../../etc", sink).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client.GetManifest(ref, "md5:abc").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client.GetManifest(Ref("127.0.0.1:1", "Test/../x")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RegistryClientTest, HtpasswdWithoutCredentialsIsUnauthenticated) {
  RegistryOptions options = FastOptions();
  options.auth_files = {dir_->path() + "/no-such-auth.json"};
  RegistryClient client(options);
  absl::StatusOr<FetchedManifest> m = client.GetManifest(Ref(Auth().authority(), "test/img"));
  ASSERT_EQ(m.status().code(), absl::StatusCode::kUnauthenticated) << m.status();
  EXPECT_THAT(m.status().message(), HasSubstr("needs credentials"));
  EXPECT_THAT(m.status().message(), HasSubstr("no-such-auth.json"));
}

TEST_F(RegistryClientTest, HtpasswdWithWrongPasswordSaysWhoseCredentials) {
  RegistryOptions options = FastOptions();
  options.auth_files = {WriteAuthFile(
      "wrong.json", absl::StrCat(R"({"auths":{")", Auth().authority(), R"(":{"auth":")",
                                 absl::Base64Escape("user:wrong"), R"("}}})"))};
  RegistryClient client(options);
  absl::StatusOr<FetchedManifest> m = client.GetManifest(Ref(Auth().authority(), "test/img"));
  ASSERT_TRUE(m.status().code() == absl::StatusCode::kUnauthenticated ||
              m.status().code() == absl::StatusCode::kPermissionDenied)
      << m.status();
  EXPECT_THAT(m.status().message(), HasSubstr("rejected the credentials for user user"));
  EXPECT_THAT(m.status().message(), HasSubstr("wrong.json"));
}

TEST_F(RegistryClientTest, HtpasswdWithCredentialsFromAuthFiles) {
  // Docker's "auth" form, after a missing file.
  RegistryOptions options = FastOptions();
  options.auth_files = {
      dir_->path() + "/missing.json",
      WriteAuthFile("good.json",
                    absl::StrCat(R"({"auths":{")", Auth().authority(), R"(":{"auth":")",
                                 absl::Base64Escape("user:secret"), R"("}}})"))};
  {
    RegistryClient client(options);
    ExpectImage(client, Ref(Auth().authority(), "test/img"));
  }
  // username/password fields under a URL key.
  options.auth_files = {WriteAuthFile(
      "fields.json", absl::StrCat(R"({"auths":{"http://)", Auth().authority(),
                                  R"(/v2/":{"username":"user","password":"secret"}}})"))};
  RegistryClient client(options);
  ExpectImage(client, Ref(Auth().authority(), "test/img"));
}

TEST_F(RegistryClientTest, MalformedAuthFileIsNamed) {
  RegistryOptions options = FastOptions();
  options.auth_files = {WriteAuthFile("broken.json", "{not json")};
  RegistryClient client(options);
  absl::StatusOr<FetchedManifest> m = client.GetManifest(Ref(Auth().authority(), "test/img"));
  ASSERT_EQ(m.status().code(), absl::StatusCode::kFailedPrecondition) << m.status();
  EXPECT_THAT(m.status().message(), HasSubstr("broken.json"));
}

TEST_F(RegistryClientTest, SelfSignedTlsOnLoopbackNeedsNoConfiguration) {
  RegistryClient client(FastOptions());
  ExpectImage(client, Ref(Tls().authority(), "test/img"));
}

// "127.1" is 127.0.0.1 to the resolver but not a loopback literal to the client, so it stands
// for a remote registry here: verified TLS, and no plain HTTP unless listed as insecure.
TEST_F(RegistryClientTest, UnlistedHostGetsVerifiedTlsAndNoHttpFallback) {
  std::string tls_host = absl::StrCat("127.1:", Tls().port());
  {
    RegistryClient client(FastOptions());
    absl::StatusOr<FetchedManifest> m = client.GetManifest(Ref(tls_host, "test/img"));
    ASSERT_EQ(m.status().code(), absl::StatusCode::kUnavailable) << m.status();
    EXPECT_THAT(m.status().message(), HasSubstr("insecure_registries"));
    EXPECT_THAT(m.status().message(), Not(HasSubstr("http://")));
  }
  {
    RegistryOptions options = FastOptions();
    options.insecure_registries = {tls_host};
    RegistryClient client(options);
    ExpectImage(client, Ref(tls_host, "test/img"));
  }

  std::string plain_host = absl::StrCat("127.1:", Plain().port());
  {
    RegistryClient client(FastOptions());
    absl::StatusOr<FetchedManifest> m = client.GetManifest(Ref(plain_host, "test/img"));
    ASSERT_EQ(m.status().code(), absl::StatusCode::kUnavailable) << m.status();
    EXPECT_THAT(m.status().message(), HasSubstr("https://" + plain_host));
    EXPECT_THAT(m.status().message(), Not(HasSubstr("http://")));
  }
  {
    RegistryOptions options = FastOptions();
    options.insecure_registries = {"127.1"};  // without a port: every port of the host
    RegistryClient client(options);
    ExpectImage(client, Ref(plain_host, "test/img"));
  }
}

TEST_F(RegistryClientTest, MirrorServesAnotherRegistrysImage) {
  Registry& mirror = Plain();
  Registry& origin = Empty();
  RegistryOptions options = FastOptions();
  options.mirrors[origin.authority()] = {"http://" + mirror.authority()};
  // A name that never resolves: the mirror answers, so the registry itself is not asked.
  options.mirrors["registry.invalid:5000"] = {"http://" + mirror.authority() + "/"};
  RegistryClient client(options);
  ExpectImage(client, Ref(origin.authority(), "test/img"));
  ExpectImage(client, Ref("registry.invalid:5000", "test/img"));

  // Not in the mirror, not in the registry: the registry's answer, with the mirror's.
  absl::StatusOr<FetchedManifest> m = client.GetManifest(Ref(origin.authority(), "test/img", "v9"));
  ASSERT_EQ(m.status().code(), absl::StatusCode::kNotFound) << m.status();
  EXPECT_THAT(m.status().message(), HasSubstr("mirror http://" + mirror.authority()));
}

TEST_F(RegistryClientTest, DeadMirrorFallsBackToTheRegistry) {
  RegistryOptions options = FastOptions();
  options.mirrors[Plain().authority()] = {absl::StrCat("http://127.0.0.1:", FreePort())};
  RegistryClient client(options);
  ExpectImage(client, Ref(Plain().authority(), "test/img"));
}

TEST_F(RegistryClientTest, UnreachableRegistryIsUnavailableNamingTheEndpoints) {
  int port = FreePort();
  RegistryOptions options = FastOptions();
  options.max_attempts = 2;
  RegistryClient client(options);
  absl::StatusOr<FetchedManifest> m =
      client.GetManifest(Ref(absl::StrCat("127.0.0.1:", port), "test/img"));
  ASSERT_EQ(m.status().code(), absl::StatusCode::kUnavailable) << m.status();
  EXPECT_THAT(m.status().message(), HasSubstr(absl::StrCat("https://127.0.0.1:", port)));
  EXPECT_THAT(m.status().message(), HasSubstr(absl::StrCat("http://127.0.0.1:", port)));
  EXPECT_THAT(m.status().message(), HasSubstr("2 attempts"));
}

// ---- Against in-test servers -----------------------------------------------------------------

TEST_F(RegistryClientTest, RetriesServiceUnavailableAndResetsTheSink) {
  const std::string blob = "a blob that arrives on the third try";
  std::atomic<int> calls{0};
  FakeServer server([&](const FakeRequest& req) {
    if (req.target == "/v2/test/img/blobs/" + Sha256(blob) && ++calls > 2) {
      return FakeResponse{200, {}, blob};
    }
    return FakeResponse{503, {}, R"({"errors":[{"code":"UNAVAILABLE","message":"busy"}]})"};
  });
  RegistryClient client(FastOptions());
  StringSink sink;
  absl::Status st = client.GetBlob(Ref(server.authority(), "test/img"), Sha256(blob), sink);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(sink.data(), blob);
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(sink.resets(), 2);

  // Always 503: max_attempts requests, then UNAVAILABLE with what the server said.
  calls = -100;
  st = client.GetBlob(Ref(server.authority(), "test/img"), Sha256(blob), sink);
  ASSERT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_THAT(st.message(), HasSubstr("503"));
  EXPECT_THAT(st.message(), HasSubstr("busy"));
  EXPECT_EQ(calls.load(), -97);
}

TEST_F(RegistryClientTest, CutOffBodyIsRetriedFromAResetSink) {
  const std::string blob(100000, 'x');
  std::atomic<int> calls{0};
  FakeServer server([&](const FakeRequest&) {
    FakeResponse resp{200, {}, blob};
    if (++calls == 1) resp.cut_after = 40000;
    return resp;
  });
  RegistryClient client(FastOptions());
  StringSink sink;
  absl::Status st = client.GetBlob(Ref(server.authority(), "test/img"), Sha256(blob), sink);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(sink.data(), blob);
  EXPECT_EQ(calls.load(), 2);
  EXPECT_GE(sink.resets(), 1);
}

TEST_F(RegistryClientTest, NotFoundIsNotRetried) {
  FakeServer server([](const FakeRequest&) { return FakeResponse{404, {}, ""}; });
  RegistryClient client(FastOptions());
  StringSink sink;
  absl::Status st = client.GetBlob(Ref(server.authority(), "test/img"), Sha256("x"), sink);
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound) << st;
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST_F(RegistryClientTest, ForbiddenIsPermissionDenied) {
  FakeServer server([](const FakeRequest&) {
    return FakeResponse{403, {}, R"({"errors":[{"code":"DENIED","message":"no pulls for you"}]})"};
  });
  RegistryClient client(FastOptions());
  absl::StatusOr<FetchedManifest> m = client.GetManifest(Ref(server.authority(), "test/img"));
  ASSERT_EQ(m.status().code(), absl::StatusCode::kPermissionDenied) << m.status();
  EXPECT_THAT(m.status().message(), HasSubstr("no pulls for you"));
}

TEST_F(RegistryClientTest, RedirectToTheRegistrysBlob) {
  Registry& registry = Plain();
  FakeServer server([&](const FakeRequest& req) {
    return FakeResponse{307, {{"Location", registry.base() + req.target}}, ""};
  });
  RegistryClient client(FastOptions());
  StringSink sink;
  absl::Status st = client.GetBlob(Ref(server.authority(), "test/img"), image().layer_digest, sink);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(Sha256(sink.data()), image().layer_digest);
}

// The Bearer flow against a fake registry and token service; the token is cached, sent to the
// registry, and never to the blob storage it redirects to.
TEST_F(RegistryClientTest, BearerTokenFlowAndRedirectWithoutAuthorization) {
  const std::string blob = "blob in storage";
  FakeServer storage([&](const FakeRequest&) { return FakeResponse{200, {}, blob}; });
  std::string realm;
  std::atomic<int> token_calls{0};
  FakeServer registry([&](const FakeRequest& req) {
    if (absl::StartsWith(req.target, "/token?")) {
      ++token_calls;
      if (!absl::StrContains(req.target, "service=fake-registry") ||
          !absl::StrContains(req.target, "scope=repository%3Atest%2Fimg%3Apull")) {
        return FakeResponse{400, {}, "bad token request"};
      }
      if (req.Header("authorization") != "Basic " + absl::Base64Escape("alice:pw")) {
        return FakeResponse{401, {}, ""};
      }
      return FakeResponse{200, {}, R"({"access_token":"tok-123","expires_in":300})"};
    }
    if (req.Header("authorization") != "Bearer tok-123") {
      return FakeResponse{
          401,
          {{"WWW-Authenticate",
            absl::StrCat(R"(Bearer realm=")", realm,
                         R"(",service="fake-registry",scope="repository:test/img:pull")")}},
          R"({"errors":[{"code":"UNAUTHORIZED"}]})"};
    }
    if (absl::StartsWith(req.target, "/v2/test/img/manifests/")) {
      return FakeResponse{200, {{"Content-Type", kOciManifestType}}, image().manifest};
    }
    return FakeResponse{
        307, {{"Location", absl::StrCat("http://", storage.authority(), "/b")}}, ""};
  });
  realm = absl::StrCat("http://", registry.authority(), "/token");

  RegistryOptions options = FastOptions();
  options.auth_files = {
      WriteAuthFile("bearer.json", absl::StrCat(R"({"auths":{")", registry.authority(),
                                                R"(":{"username":"alice","password":"pw"}}})"))};
  RegistryClient client(options);
  Reference ref = Ref(registry.authority(), "test/img");
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<FetchedManifest> m = client.GetManifest(ref);
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->digest, image().manifest_digest);
  }
  StringSink sink;
  absl::Status st = client.GetBlob(ref, Sha256(blob), sink);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(sink.data(), blob);
  EXPECT_EQ(token_calls.load(), 1);
  ASSERT_EQ(storage.requests().size(), 1u);
  EXPECT_EQ(storage.requests()[0].Header("authorization"), "");

  // Without credentials the token service refuses: UNAUTHENTICATED, naming where to add them.
  RegistryClient anonymous(FastOptions());
  absl::StatusOr<FetchedManifest> m = anonymous.GetManifest(ref);
  ASSERT_EQ(m.status().code(), absl::StatusCode::kUnauthenticated) << m.status();
  EXPECT_THAT(m.status().message(), HasSubstr("needs credentials"));
}

TEST_F(RegistryClientTest, ManifestDigestMismatchIsDataLoss) {
  const std::string body = image().manifest;
  FakeServer server([&](const FakeRequest& req) {
    FakeResponse resp{200, {{"Content-Type", kOciManifestType}}, body};
    if (absl::EndsWith(req.target, "/manifests/lying")) {
      resp.headers.push_back({"Docker-Content-Digest", Sha256("something else")});
    }
    return resp;
  });
  RegistryClient client(FastOptions());
  Reference ref = Ref(server.authority(), "test/img");
  std::string other = Sha256("another manifest");
  absl::StatusOr<FetchedManifest> m = client.GetManifest(ref, other);
  ASSERT_EQ(m.status().code(), absl::StatusCode::kDataLoss) << m.status();
  EXPECT_THAT(m.status().message(), HasSubstr(other));

  m = client.GetManifest(Ref(server.authority(), "test/img", "lying"));
  EXPECT_EQ(m.status().code(), absl::StatusCode::kDataLoss) << m.status();

  m = client.GetManifest(ref);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->digest, image().manifest_digest);
}

}  // namespace
}  // namespace berth::image
