// berth CLI over TCP with mutual TLS, against real servers started here: the TLS files check
// (LoadTlsMaterial), the diagnostic handshake (DiagnoseTls) against in-process OpenSSL servers
// (unknown CA, same-name CA, expired and not-yet-valid certificates, name mismatch, a client
// certificate from another CA or expired, TLS 1.2 and 1.3, plain TCP, silence, hang-ups,
// nothing listening), and AgentClient against a gRPC server with mutual TLS: calls work by IP
// and by name, an UNAVAILABLE the agent passes on is printed as is, and connection failures are
// explained. Certificates are made once per run with the openssl tool (`openssl ca` for the
// dated ones) in a temp dir.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "berth/v1/containers.grpc.pb.h"
#include "cli/agent_client.h"
#include "cli/host_target.h"
#include "cli/tls_diagnosis.h"
#include "cli/tls_files.h"

namespace berth::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using Problem = TlsDiagnosis::Problem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// ---- certificates -----------------------------------------------------------------------------

// Everything the tests need, made by the openssl tool into one temp dir.
class Pki {
 public:
  static Pki& Get() {
    static Pki* pki = new Pki();  // made once, removed at exit
    return *pki;
  }

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  // Our trust anchor, and a client certificate it signed.
  TlsFiles ClientFiles() const { return {Path("ca.pem"), Path("client.pem"), Path("client.key")}; }

 private:
  Pki() {
    char dir[] = "/tmp/berth-tls-test-XXXXXX";
    if (mkdtemp(dir) == nullptr) {
      error_ = "mkdtemp failed";
      return;
    }
    dir_ = dir;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(Get().dir_, ec);
    });
    WriteFile(Path("req.cnf"),
              "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n"
              "[ca_ext]\nbasicConstraints = critical,CA:TRUE\n"
              "keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n");
    WriteFile(Path("server.ext"),
              "basicConstraints = CA:FALSE\nsubjectAltName = IP:127.0.0.1,DNS:localhost\n"
              "extendedKeyUsage = serverAuth\n");
    WriteFile(Path("wrong-name.ext"),
              "basicConstraints = CA:FALSE\nsubjectAltName = DNS:node-9.example,IP:10.1.2.3\n"
              "extendedKeyUsage = serverAuth\n");
    WriteFile(Path("client.ext"), "basicConstraints = CA:FALSE\nextendedKeyUsage = clientAuth\n");

    // ca: ours. other-ca: a stranger. twin-ca: a stranger with our CA's name.
    MakeCa("ca", "Berth Test CA");
    MakeCa("other-ca", "Other CA");
    MakeCa("twin-ca", "Berth Test CA");
    Leaf("server", "node-1", "ca", "server.ext");
    Leaf("server-other-ca", "node-1", "other-ca", "server.ext");
    Leaf("server-twin-ca", "node-1", "twin-ca", "server.ext");
    Leaf("server-wrong-name", "node-1", "ca", "wrong-name.ext");
    DatedLeaf("server-expired", "node-1", "ca", "server.ext", "20200101000000Z", "20200201000000Z");
    DatedLeaf("server-future", "node-1", "ca", "server.ext", "20990101000000Z", "20991231000000Z");
    Leaf("client", "admin", "ca", "client.ext");
    Leaf("client-other-ca", "admin", "other-ca", "client.ext");
    DatedLeaf("client-expired", "admin", "ca", "client.ext", "20200101000000Z", "20200201000000Z");
  }

  void Run(const std::string& cmd) {
    if (!error_.empty()) return;
    const std::string full = "cd " + dir_ + " && " + cmd + " >>openssl.log 2>&1";
    if (std::system(full.c_str()) != 0) error_ = cmd + " failed:\n" + ReadFile(Path("openssl.log"));
  }

  static std::string NewKey() {
    return "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -config req.cnf";
  }

  void MakeCa(const std::string& name, const std::string& cn) {
    Run("openssl req -x509 " + NewKey() + " -extensions ca_ext -days 30 -subj '/CN=" + cn +
        "' -keyout " + name + ".key -out " + name + ".pem");
    // A minimal `openssl ca` setup, for certificates with chosen dates.
    std::filesystem::create_directories(Path(name + ".db"));
    WriteFile(Path(name + ".db/index.txt"), "");
    WriteFile(Path(name + ".db/serial"), "1000\n");
    WriteFile(Path(name + ".cnf"),
              "[ca]\ndefault_ca = this_ca\n[this_ca]\ndatabase = " + Path(name + ".db/index.txt") +
                  "\nnew_certs_dir = " + Path(name + ".db") + "\nserial = " +
                  Path(name + ".db/serial") +
                  "\ndefault_md = sha256\npolicy = any\nunique_subject = no\n"
                  "[any]\ncommonName = supplied\n");
  }

  void Csr(const std::string& name, const std::string& cn) {
    Run("openssl req -new " + NewKey() + " -subj '/CN=" + cn + "' -keyout " + name + ".key -out " +
        name + ".csr");
  }

  void Leaf(const std::string& name, const std::string& cn, const std::string& ca,
            const std::string& ext) {
    Csr(name, cn);
    Run("openssl x509 -req -in " + name + ".csr -CA " + ca + ".pem -CAkey " + ca +
        ".key -set_serial " + std::to_string(++serial_) + " -days 30 -extfile " + ext + " -out " +
        name + ".pem");
  }

  // `openssl x509` cannot backdate; `openssl ca -startdate/-enddate` can.
  void DatedLeaf(const std::string& name, const std::string& cn, const std::string& ca,
                 const std::string& ext, const std::string& start, const std::string& end) {
    Csr(name, cn);
    Run("openssl ca -config " + ca + ".cnf -batch -notext -cert " + ca + ".pem -keyfile " + ca +
        ".key -startdate " + start + " -enddate " + end + " -extfile " + ext + " -in " + name +
        ".csr -out " + name + ".pem");
  }

  std::string dir_;
  std::string error_;
  int serial_ = 1;
};

#define REQUIRE_PKI()                                    \
  do {                                                   \
    ASSERT_TRUE(Pki::Get().ok()) << Pki::Get().error();  \
  } while (0)

// ---- servers ----------------------------------------------------------------------------------

void SetTimeouts(int fd, int seconds) {
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

// Reads until the peer closes, an error, or the receive timeout.
void DrainUntilClosed(int fd) {
  char buf[4096];
  while (read(fd, buf, sizeof(buf)) > 0) {
  }
}

// Listens on 127.0.0.1:<ephemeral> and runs `handler` for each connection, one at a time, on
// its own thread, until destroyed.
class TcpTestServer {
 public:
  explicit TcpTestServer(std::function<void(int fd)> handler) : handler_(std::move(handler)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        listen(listen_fd_, 16) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot listen: " << std::strerror(errno);
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }

  ~TcpTestServer() {
    stop_ = true;
    shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
    if (thread_.joinable()) thread_.join();
    close(listen_fd_);
  }

  uint16_t port() const { return port_; }
  HostAddress Address(const std::string& host = "127.0.0.1") const {
    HostAddress a;
    a.kind = HostAddress::Kind::kTcp;
    a.host = host;
    a.port = port_;
    return a;
  }

 private:
  void Loop() {
    while (!stop_) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR) continue;
        return;
      }
      SetTimeouts(fd, 5);
      handler_(fd);
      close(fd);
    }
  }

  std::function<void(int fd)> handler_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct TlsServerOptions {
  std::string cert;       // file names in the Pki dir
  std::string key;
  std::string client_ca;  // set: require a client certificate signed by this CA
  int max_version = 0;    // e.g. TLS1_2_VERSION
  bool alpn_h2 = true;    // choose "h2" when offered, as a gRPC server does
};

// The server certificate `name`.pem with its key `name`.key.
TlsServerOptions ServerOptions(const std::string& name, const std::string& client_ca = "",
                               int max_version = 0, bool alpn_h2 = true) {
  return TlsServerOptions{name + ".pem", name + ".key", client_ca, max_version, alpn_h2};
}

int SelectH2(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
             unsigned int in_len, void*) {
  for (unsigned int i = 0; i < in_len; i += in[i] + 1u) {
    if (in[i] == 2 && i + 3 <= in_len && std::memcmp(in + i + 1, "h2", 2) == 0) {
      *out = in + i + 1;
      *out_len = 2;
      return SSL_TLSEXT_ERR_OK;
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

// A TLS server with OpenSSL: after a good handshake it speaks first (as gRPC's SETTINGS frame
// does), then waits for the client to hang up; after a failed one it closes gently, so that its
// alert is not lost to a reset.
class TlsTestServer {
 public:
  explicit TlsTestServer(const TlsServerOptions& o) {
    const Pki& pki = Pki::Get();
    ctx_ = SSL_CTX_new(TLS_server_method());
    bool ok = ctx_ != nullptr &&
              SSL_CTX_use_certificate_chain_file(ctx_, pki.Path(o.cert).c_str()) == 1 &&
              SSL_CTX_use_PrivateKey_file(ctx_, pki.Path(o.key).c_str(), SSL_FILETYPE_PEM) == 1;
    if (ok && !o.client_ca.empty()) {
      ok = SSL_CTX_load_verify_locations(ctx_, pki.Path(o.client_ca).c_str(), nullptr) == 1;
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      SSL_CTX_set_client_CA_list(ctx_, SSL_load_client_CA_file(pki.Path(o.client_ca).c_str()));
    }
    if (o.max_version != 0) SSL_CTX_set_max_proto_version(ctx_, o.max_version);
    if (o.alpn_h2) SSL_CTX_set_alpn_select_cb(ctx_, SelectH2, nullptr);
    if (!ok) {
      ADD_FAILURE() << "cannot set up the test TLS server";
      ERR_clear_error();
      return;
    }
    server_ = std::make_unique<TcpTestServer>([this](int fd) { Serve(fd); });
  }

  ~TlsTestServer() {
    server_.reset();
    SSL_CTX_free(ctx_);
  }

  HostAddress Address(const std::string& host = "127.0.0.1") const {
    return server_->Address(host);
  }
  int handshakes() const { return handshakes_; }

 private:
  void Serve(int fd) {
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
      ++handshakes_;
      SSL_write(ssl, "hello", 5);
      char buf[256];
      while (SSL_read(ssl, buf, sizeof(buf)) > 0) {
      }
    } else {
      shutdown(fd, SHUT_WR);
      SetTimeouts(fd, 2);
      DrainUntilClosed(fd);
    }
    ERR_clear_error();
    SSL_free(ssl);
  }

  SSL_CTX* ctx_ = nullptr;
  std::atomic<int> handshakes_{0};
  std::unique_ptr<TcpTestServer> server_;
};

// A port nothing listens on: bound once, then closed.
uint16_t FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), len);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

HostAddress Tcp(const std::string& host, uint16_t port) {
  HostAddress a;
  a.kind = HostAddress::Kind::kTcp;
  a.host = host;
  a.port = port;
  return a;
}

const absl::Duration kTimeout = absl::Milliseconds(1500);

namespace v1 = berth::v1;

// The agent's System service, answering Version or passing on an UNAVAILABLE.
class FakeSystem final : public v1::System::Service {
 public:
  grpc::Status Version(grpc::ServerContext*, const v1::VersionRequest*,
                       v1::VersionResponse* response) override {
    if (fail_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "cannot reach registry docker.io");
    response->set_version("test-agent");
    return grpc::Status::OK;
  }
  std::atomic<bool> fail_{false};
};

// ---- LoadTlsMaterial --------------------------------------------------------------------------

TEST(LoadTlsMaterial, ReadsAndChecksTheThreeFiles) {
  REQUIRE_PKI();
  const Pki& pki = Pki::Get();
  absl::StatusOr<TlsMaterial> m = LoadTlsMaterial(pki.ClientFiles());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->ca_pem, ReadFile(pki.Path("ca.pem")));
  EXPECT_EQ(m->cert_pem, ReadFile(pki.Path("client.pem")));
  EXPECT_EQ(m->key_pem, ReadFile(pki.Path("client.key")));
}

TEST(LoadTlsMaterial, ErrorsNameTheFile) {
  REQUIRE_PKI();
  const Pki& pki = Pki::Get();
  auto error = [](const TlsFiles& files) {
    absl::StatusOr<TlsMaterial> m = LoadTlsMaterial(files);
    return m.ok() ? std::string("ok") : std::string(m.status().message());
  };
  TlsFiles f = pki.ClientFiles();
  f.ca = pki.Path("missing.pem");
  EXPECT_EQ(error(f), "cannot read the TLS CA certificate " + f.ca + ": No such file or directory");
  EXPECT_TRUE(absl::IsNotFound(LoadTlsMaterial(f).status()));
  f = pki.ClientFiles();
  f.cert = pki.Path("ca.db");  // a directory
  EXPECT_EQ(error(f), "the TLS client certificate " + f.cert + " is not a regular file");
  f = pki.ClientFiles();
  f.ca = pki.Path("client.key");
  EXPECT_EQ(error(f), "the TLS CA certificate " + f.ca + " holds no PEM certificate");
  f = pki.ClientFiles();
  f.key = pki.Path("server.key");
  EXPECT_EQ(error(f), "the TLS client key " + f.key + " does not belong to the certificate in " +
                          f.cert);
  f = pki.ClientFiles();
  f.key = pki.Path("client.pem");
  EXPECT_THAT(error(f), HasSubstr("the TLS client key " + f.key + " holds no PEM private key"));
  // An encrypted key is refused rather than prompted for.
  const std::string encrypted = pki.Path("client-encrypted.key");
  ASSERT_EQ(std::system(("openssl pkey -in " + pki.Path("client.key") +
                         " -aes256 -passout pass:secret -out " + encrypted + " 2>/dev/null")
                            .c_str()),
            0);
  f = pki.ClientFiles();
  f.key = encrypted;
  EXPECT_THAT(error(f), HasSubstr("an encrypted key cannot be used"));
  // Bounded: a huge "certificate" is not read.
  const std::string big = pki.Path("big.pem");
  WriteFile(big, std::string((1 << 20) + 1, 'A'));
  f = pki.ClientFiles();
  f.ca = big;
  EXPECT_THAT(error(f), HasSubstr("is too big"));
  EXPECT_EQ(error(TlsFiles{pki.Path("ca.pem"), "", ""}),
            "missing TLS files: --tlscert (BERTH_TLS_CERT), --tlskey (BERTH_TLS_KEY)");
}

// ---- DiagnoseTls ------------------------------------------------------------------------------

TEST(DiagnoseTls, AWorkingAgentHasNoProblem) {
  REQUIRE_PKI();
  TlsTestServer server(ServerOptions("server", "ca.pem"));
  TlsDiagnosis d = DiagnoseTls(server.Address(), Pki::Get().ClientFiles(), kTimeout);
  EXPECT_EQ(d.problem, Problem::kNone) << d.message;
  EXPECT_EQ(d.message, "");
  // By name too: the certificate has DNS:localhost.
  d = DiagnoseTls(server.Address("localhost"), Pki::Get().ClientFiles(), kTimeout);
  EXPECT_EQ(d.problem, Problem::kNone) << d.message;
  EXPECT_EQ(server.handshakes(), 2);
  // TLS 1.2 as well.
  TlsTestServer tls12(ServerOptions("server", "ca.pem", TLS1_2_VERSION));
  d = DiagnoseTls(tls12.Address(), Pki::Get().ClientFiles(), kTimeout);
  EXPECT_EQ(d.problem, Problem::kNone) << d.message;
}

TEST(DiagnoseTls, ServerCertificateFromAnotherCa) {
  REQUIRE_PKI();
  const Pki& pki = Pki::Get();
  TlsTestServer server(ServerOptions("server-other-ca"));
  TlsDiagnosis d = DiagnoseTls(server.Address(), pki.ClientFiles(), kTimeout);
  EXPECT_EQ(d.problem, Problem::kUnknownCa);
  EXPECT_EQ(d.message, "the agent's certificate (CN=node-1), issued by CN=Other CA, is not signed "
                       "by the CA in " + pki.Path("ca.pem"));
  EXPECT_EQ(server.handshakes(), 0);
}

TEST(DiagnoseTls, ServerCertificateFromACaWithOurCasName) {
  REQUIRE_PKI();
  const Pki& pki = Pki::Get();
  TlsTestServer server(ServerOptions("server-twin-ca"));
  TlsDiagnosis d = DiagnoseTls(server.Address(), pki.ClientFiles(), kTimeout);
  EXPECT_EQ(d.problem, Problem::kUnknownCa);
  EXPECT_EQ(d.message, "the agent's certificate (CN=node-1), issued by CN=Berth Test CA, is not "
                       "signed by the CA in " + pki.Path("ca.pem") +
                           " (the CA there has the same name but another key: was the CA made "
                           "again?)");
}

TEST(DiagnoseTls, ExpiredServerCertificate) {
  REQUIRE_PKI();
  TlsTestServer server(ServerOptions("server-expired"));
  TlsDiagnosis d = DiagnoseTls(server.Address(), Pki::Get().ClientFiles(), kTimeout);
  EXPECT_EQ(d.problem, Problem::kServerCertExpired);
  EXPECT_EQ(d.message, "the agent's certificate (CN=node-1) expired on 2020-02-01 00:00:00 UTC "
                       "(valid from 2020-01-01 00:00:00 UTC to 2020-02-01 00:00:00 UTC)");
}

TEST(DiagnoseTls, ServerCertificateNotYetValid) {
  REQUIRE_PKI();
  TlsTestServer server(ServerOptions("server-future"));
  TlsDiagnosis d = DiagnoseTls(server.Address(), Pki::Get().ClientFiles(), kTimeout);
  EXPECT_EQ(d.problem, Problem::kServerCertNotYetValid);
  EXPECT_EQ(d.message, "the agent's certificate (CN=node-1) is not valid until 2099-01-01 "
                       "00:00:00 UTC (valid from 2099-01-01 00:00:00 UTC to 2099-12-31 00:00:00 "
                       "UTC; is a clock wrong?)");
}

TEST(DiagnoseTls, NameMismatch) {
  REQUIRE_PKI();
  TlsTestServer server(ServerOptions("server-wrong-name"));
  TlsDiagnosis d = DiagnoseTls(server.Address(), Pki::Get().ClientFiles(), kTimeout);
  EXPECT_EQ(d.problem, Problem::kNameMismatch);
  EXPECT_EQ(d.message, "the server certificate is for DNS:node-9.example, IP:10.1.2.3, not "
                       "127.0.0.1");
  d = DiagnoseTls(server.Address("localhost"), Pki::Get().ClientFiles(), kTimeout);
  EXPECT_EQ(d.problem, Problem::kNameMismatch);
  EXPECT_EQ(d.message, "the server certificate is for DNS:node-9.example, IP:10.1.2.3, not "
                       "localhost");
}

TEST(DiagnoseTls, ClientCertificateFromAnotherCaIsRefused) {
  REQUIRE_PKI();
  const Pki& pki = Pki::Get();
  TlsFiles files = pki.ClientFiles();
  files.cert = pki.Path("client-other-ca.pem");
  files.key = pki.Path("client-other-ca.key");
  const std::string expected = "the agent refused this client certificate (" + files.cert +
                               "): it is not signed by a CA the agent trusts (TLS alert: unknown "
                               "CA)";
  // TLS 1.3: the verdict comes after our side of the handshake is done.
  TlsTestServer tls13(ServerOptions("server", "ca.pem"));
  TlsDiagnosis d = DiagnoseTls(tls13.Address(), files, kTimeout);
  EXPECT_EQ(d.problem, Problem::kClientCertRefused);
  EXPECT_EQ(d.message, expected);
  // TLS 1.2: inside the handshake.
  TlsTestServer tls12(ServerOptions("server", "ca.pem", TLS1_2_VERSION));
  d = DiagnoseTls(tls12.Address(), files, kTimeout);
  EXPECT_EQ(d.problem, Problem::kClientCertRefused);
  EXPECT_EQ(d.message, expected);
}

TEST(DiagnoseTls, ExpiredClientCertificateIsRefused) {
  REQUIRE_PKI();
  const Pki& pki = Pki::Get();
  TlsFiles files = pki.ClientFiles();
  files.cert = pki.Path("client-expired.pem");
  files.key = pki.Path("client-expired.key");
  TlsTestServer server(ServerOptions("server", "ca.pem"));
  TlsDiagnosis d = DiagnoseTls(server.Address(), files, kTimeout);
  EXPECT_EQ(d.problem, Problem::kClientCertRefused);
  EXPECT_EQ(d.message, "the agent refused this client certificate (" + files.cert +
                           "): it has expired or is not valid yet (TLS alert: certificate "
                           "expired; it is valid from 2020-01-01 00:00:00 UTC to 2020-02-01 "
                           "00:00:00 UTC)");
}

TEST(DiagnoseTls, NothingListens) {
  const uint16_t port = FreePort();
  TlsDiagnosis d = DiagnoseTls(Tcp("127.0.0.1", port), TlsFiles{}, kTimeout);
  // Our files are checked first: none is a local problem.
  EXPECT_EQ(d.problem, Problem::kLocalFiles);
  REQUIRE_PKI();
  d = DiagnoseTls(Tcp("127.0.0.1", port), Pki::Get().ClientFiles(), kTimeout);
  EXPECT_EQ(d.problem, Problem::kNothingListens);
  EXPECT_EQ(d.message, "nothing listens on 127.0.0.1:" + std::to_string(port) +
                           " (connection refused)");
  EXPECT_EQ(DescribeTlsFailure(Tcp("127.0.0.1", port), Pki::Get().ClientFiles(), kTimeout),
            d.message);
}

TEST(DiagnoseTls, APlainTcpPeer) {
  REQUIRE_PKI();
  TcpTestServer http([](int fd) {
    char buf[1024];
    (void)!read(fd, buf, sizeof(buf));
    const char reply[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    (void)!write(fd, reply, sizeof(reply) - 1);
    shutdown(fd, SHUT_WR);
    DrainUntilClosed(fd);
  });
  TlsDiagnosis d = DiagnoseTls(http.Address(), Pki::Get().ClientFiles(), kTimeout);
  EXPECT_EQ(d.problem, Problem::kNotTls) << d.message;
  EXPECT_EQ(d.message, "127.0.0.1:" + std::to_string(http.port()) +
                           " does not speak TLS: it answered the TLS handshake with something "
                           "else (a plain TCP service, or an agent without TLS?)");
}

TEST(DiagnoseTls, AnAgentWithoutTls) {
  REQUIRE_PKI();
  FakeSystem system;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&system);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  TlsDiagnosis d = DiagnoseTls(Tcp("127.0.0.1", static_cast<uint16_t>(port)),
                               Pki::Get().ClientFiles(), kTimeout);
  EXPECT_EQ(d.problem, Problem::kNotTls) << d.message;
  server->Shutdown(std::chrono::system_clock::now());
}

TEST(DiagnoseTls, ASilentPeerAndOneThatHangsUp) {
  REQUIRE_PKI();
  TcpTestServer silent([](int fd) { DrainUntilClosed(fd); });
  TlsDiagnosis d = DiagnoseTls(silent.Address(), Pki::Get().ClientFiles(), kTimeout);
  EXPECT_EQ(d.problem, Problem::kNoHandshakeAnswer) << d.message;
  EXPECT_EQ(d.message, "127.0.0.1:" + std::to_string(silent.port()) +
                           " accepted the connection but did not answer the TLS handshake "
                           "within 1.5s (is it a TLS server?)");

  TcpTestServer rude([](int fd) {
    char buf[1024];
    (void)!read(fd, buf, sizeof(buf));  // the ClientHello, then hang up
  });
  d = DiagnoseTls(rude.Address(), Pki::Get().ClientFiles(), kTimeout);
  EXPECT_EQ(d.problem, Problem::kClosedDuringHandshake) << d.message;
  EXPECT_EQ(d.message, "127.0.0.1:" + std::to_string(rude.port()) +
                           " closed the connection during the TLS handshake without saying why");
}

TEST(DiagnoseTls, ATlsServerThatIsNotGrpc) {
  REQUIRE_PKI();
  TlsTestServer server(ServerOptions("server", "", 0, false));
  TlsDiagnosis d = DiagnoseTls(server.Address(), Pki::Get().ClientFiles(), kTimeout);
  EXPECT_EQ(d.problem, Problem::kNotGrpc);
  EXPECT_THAT(d.message, HasSubstr("does not speak gRPC (it did not choose HTTP/2 by ALPN)"));
}

TEST(DiagnoseTls, OurOwnFilesComeFirst) {
  REQUIRE_PKI();
  const Pki& pki = Pki::Get();
  TlsFiles files = pki.ClientFiles();
  files.key = pki.Path("server.key");
  TlsDiagnosis d = DiagnoseTls(Tcp("127.0.0.1", FreePort()), files, kTimeout);
  EXPECT_EQ(d.problem, Problem::kLocalFiles);
  EXPECT_EQ(d.message, "the TLS client key " + files.key + " does not belong to the certificate "
                                                           "in " + files.cert);
  // A unix socket has no TLS to diagnose.
  HostAddress unix_socket;
  unix_socket.socket_path = "/nonexistent.sock";
  EXPECT_EQ(DiagnoseTls(unix_socket, files, kTimeout).problem, Problem::kNone);
}

// ---- AgentClient over gRPC with mutual TLS ----------------------------------------------------

// A gRPC server with the agent's kind of credentials: mutual TLS, client certificates required
// and verified against ca.pem.
class GrpcTlsServer {
 public:
  explicit GrpcTlsServer(const std::string& cert = "server", const std::string& client_ca = "ca") {
    const Pki& pki = Pki::Get();
    grpc::SslServerCredentialsOptions options(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    options.pem_root_certs = ReadFile(pki.Path(client_ca + ".pem"));
    options.pem_key_cert_pairs.push_back(
        {ReadFile(pki.Path(cert + ".key")), ReadFile(pki.Path(cert + ".pem"))});
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(options), &port_);
    builder.RegisterService(&system_);
    server_ = builder.BuildAndStart();
  }
  ~GrpcTlsServer() {
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
  }
  int port() const { return port_; }
  std::string Uri(const std::string& host = "127.0.0.1") const {
    return "tcp://" + host + ":" + std::to_string(port_);
  }
  FakeSystem& system() { return system_; }

 private:
  FakeSystem system_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

std::unique_ptr<AgentClient> OpenClient(const std::string& host, const TlsFiles& tls) {
  absl::StatusOr<AgentEndpoint> endpoint = MakeEndpoint(host, tls, "test");
  EXPECT_TRUE(endpoint.ok()) << endpoint.status();
  if (!endpoint.ok()) return nullptr;
  absl::StatusOr<std::unique_ptr<AgentClient>> client = AgentClient::Open(*endpoint);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

grpc::Status CallVersion(AgentClient& client, v1::VersionResponse* response) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return client.system().Version(&ctx, v1::VersionRequest(), response);
}

TEST(AgentClient, TalksMutualTlsByAddressAndByName) {
  REQUIRE_PKI();
  GrpcTlsServer server;
  ASSERT_NE(server.port(), 0);
  for (const std::string& host : {std::string("127.0.0.1"), std::string("localhost")}) {
    std::unique_ptr<AgentClient> client = OpenClient(server.Uri(host), Pki::Get().ClientFiles());
    ASSERT_NE(client, nullptr);
    EXPECT_EQ(client->address(), server.Uri(host));
    v1::VersionResponse response;
    grpc::Status status = CallVersion(*client, &response);
    ASSERT_TRUE(status.ok()) << host << ": " << status.error_message();
    EXPECT_EQ(response.version(), "test-agent");
    EXPECT_TRUE(client->Connected());
  }
}

TEST(AgentClient, AnUnavailableFromTheAgentIsItsOwnMessage) {
  REQUIRE_PKI();
  GrpcTlsServer server;
  server.system().fail_ = true;
  std::unique_ptr<AgentClient> client = OpenClient(server.Uri(), Pki::Get().ClientFiles());
  ASSERT_NE(client, nullptr);
  v1::VersionResponse response;
  grpc::Status status = CallVersion(*client, &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(RpcErrorMessage(status, *client), "cannot reach registry docker.io");
}

TEST(AgentClient, TlsFailuresAreExplained) {
  REQUIRE_PKI();
  const Pki& pki = Pki::Get();
  auto message = [](const std::string& uri, const TlsFiles& files) {
    std::unique_ptr<AgentClient> client = OpenClient(uri, files);
    if (client == nullptr) return std::string("no client");
    v1::VersionResponse response;
    grpc::Status status = CallVersion(*client, &response);
    EXPECT_FALSE(status.ok());
    EXPECT_FALSE(client->Connected());
    return RpcErrorMessage(status, *client);
  };
  GrpcTlsServer server;
  const std::string prefix = "cannot connect to the Berth agent at " + server.Uri() + ": ";

  // We trust another CA than the one that signed the agent's certificate.
  TlsFiles files = pki.ClientFiles();
  files.ca = pki.Path("other-ca.pem");
  EXPECT_EQ(message(server.Uri(), files),
            prefix + "the agent's certificate (CN=node-1), issued by CN=Berth Test CA, is not "
                     "signed by the CA in " + files.ca);

  // The agent does not trust our certificate's CA. A gRPC server hangs up without an alert.
  files = pki.ClientFiles();
  files.cert = pki.Path("client-other-ca.pem");
  files.key = pki.Path("client-other-ca.key");
  EXPECT_THAT(message(server.Uri(), files),
              StartsWith(prefix + "the agent refused this client certificate (" + files.cert +
                         "): it hung up right after receiving it, without a TLS alert (is it "
                         "signed by the CA the agent trusts for clients, and valid now? it is "
                         "valid from "));
  // Nor an expired one.
  files = pki.ClientFiles();
  files.cert = pki.Path("client-expired.pem");
  files.key = pki.Path("client-expired.key");
  EXPECT_EQ(message(server.Uri(), files),
            prefix + "the agent refused this client certificate (" + files.cert +
                "): it hung up right after receiving it, without a TLS alert (is it signed by "
                "the CA the agent trusts for clients, and valid now? it is valid from 2020-01-01 "
                "00:00:00 UTC to 2020-02-01 00:00:00 UTC)");

  // The agent's certificate is for other names.
  GrpcTlsServer wrong_name("server-wrong-name");
  EXPECT_EQ(message(wrong_name.Uri(), pki.ClientFiles()),
            "cannot connect to the Berth agent at " + wrong_name.Uri() +
                ": the server certificate is for DNS:node-9.example, IP:10.1.2.3, not 127.0.0.1");

  // Expired.
  GrpcTlsServer expired("server-expired");
  EXPECT_THAT(message(expired.Uri(), pki.ClientFiles()),
              HasSubstr("the agent's certificate (CN=node-1) expired on 2020-02-01 00:00:00 UTC"));

  // Nothing there.
  const uint16_t port = FreePort();
  const std::string nobody = "tcp://127.0.0.1:" + std::to_string(port);
  EXPECT_EQ(message(nobody, pki.ClientFiles()),
            "cannot connect to the Berth agent at " + nobody + ": nothing listens on 127.0.0.1:" +
                std::to_string(port) + " (connection refused)");
}

TEST(AgentClient, OpenChecksTheTlsFiles) {
  REQUIRE_PKI();
  TlsFiles files = Pki::Get().ClientFiles();
  files.cert = Pki::Get().Path("nope.pem");
  absl::StatusOr<AgentEndpoint> endpoint = MakeEndpoint("tcp://127.0.0.1:1", files, "--host");
  ASSERT_TRUE(endpoint.ok());
  absl::StatusOr<std::unique_ptr<AgentClient>> client = AgentClient::Open(*endpoint);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().message(),
            "cannot read the TLS client certificate " + files.cert + ": No such file or directory");
}

TEST(AgentClient, UnixSocketAgentErrorsAndAbsentAgents) {
  char dir[] = "/tmp/berth-agent-client-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string socket = std::string(dir) + "/berth.sock";
  FakeSystem system;
  system.fail_ = true;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix://" + socket, grpc::InsecureServerCredentials());
  builder.RegisterService(&system);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);

  std::unique_ptr<AgentClient> client = OpenClient("unix://" + socket, TlsFiles{});
  ASSERT_NE(client, nullptr);
  v1::VersionResponse response;
  grpc::Status status = CallVersion(*client, &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  // Before, this read "cannot connect to the Berth agent at ... (is berthd running?)".
  EXPECT_EQ(RpcErrorMessage(status, *client), "cannot reach registry docker.io");
  server->Shutdown(std::chrono::system_clock::now());
  server.reset();

  std::unique_ptr<AgentClient> absent = OpenClient(std::string(dir) + "/none.sock", TlsFiles{});
  ASSERT_NE(absent, nullptr);
  status = CallVersion(*absent, &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(RpcErrorMessage(status, *absent),
              StartsWith("cannot connect to the Berth agent at unix://" + std::string(dir) +
                         "/none.sock (is berthd running?): "));
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace berth::cli
