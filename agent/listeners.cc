#include "agent/listeners.h"

#include <fcntl.h>
#include <grp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/server_posix.h>
#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"

namespace berth::agent {

bool SocketInUse(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
}

namespace {

constexpr int kCertRefreshSeconds = 1;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

absl::StatusOr<std::unique_ptr<X509, X509Free>> ReadCertificate(const std::string& path, const char* what) {
  absl::StatusOr<std::string> pem = ReadFile(path);
  if (!pem.ok()) return Annotate(pem.status(), what);
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return absl::InvalidArgumentError(absl::StrCat(what, " ", path, " holds no PEM certificate"));
  return cert;
}

}  // namespace

absl::StatusOr<std::unique_ptr<UnixListener>> UnixListener::Open(const std::string& path, const std::string& group) {
  std::unique_ptr<UnixListener> l(new UnixListener());
  l->path_ = path;
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("socket path ", path.substr(0, 200), " is longer than ",
                                                   sizeof(addr.sun_path) - 1, " bytes"));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  gid_t gid = 0;
  if (!group.empty()) {
    struct group* g = ::getgrnam(group.c_str());
    if (g == nullptr) return absl::InvalidArgumentError(absl::StrCat("socket_group: no group ", group.substr(0, 64)));
    gid = g->gr_gid;
  }
  l->listen_fd_.Reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!l->listen_fd_) return ErrnoToStatus("socket");
  ::unlink(path.c_str());
  // Created 0600: nobody else may connect in the moment before a group gets it.
  mode_t old = ::umask(0177);
  int rc = ::bind(l->listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int err = errno;
  ::umask(old);
  if (rc != 0) return ErrnoStatus(err, absl::StrCat("bind ", path));
  if (!group.empty() && (::chown(path.c_str(), 0, gid) != 0 || ::chmod(path.c_str(), 0660) != 0)) {
    return ErrnoToStatus(absl::StrCat("give ", path, " to group ", group));
  }
  if (::listen(l->listen_fd_.get(), 128) != 0) return ErrnoToStatus(absl::StrCat("listen ", path));
  l->wake_fd_.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!l->wake_fd_) return ErrnoToStatus("eventfd");
  return l;
}

UnixListener::~UnixListener() { Stop(); }

void UnixListener::Serve(grpc::Server* server, UnixPeers* peers) {
  thread_ = std::thread([this, server, peers] { Loop(server, peers); });
}

void UnixListener::Stop() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  (void)!::write(wake_fd_.get(), &one, sizeof(one));
  thread_.join();
  ::unlink(path_.c_str());
}

void UnixListener::Loop(grpc::Server* server, UnixPeers* peers) {
  for (;;) {
    struct pollfd p[2] = {{listen_fd_.get(), POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("socket {}: poll: {}", path_, std::strerror(errno));
      return;
    }
    if (p[1].revents & POLLIN) return;
    for (;;) {
      int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) break;  // EAGAIN: all taken; ECONNABORTED and such: that client is gone
      struct ucred cred = {};
      socklen_t len = sizeof(cred);
      if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        ::close(fd);
        continue;
      }
      // Recorded before gRPC sees the fd: its calls are named "fd:<fd>", and this entry is
      // what that name means until the number is reused by the next connection.
      peers->Add(fd, cred);
      grpc::AddInsecureChannelFromFd(server, fd);
    }
  }
}

absl::Status CheckTlsFiles(const std::string& cert_path, const std::string& key_path, const std::string& ca_path) {
  auto cert = ReadCertificate(cert_path, "tls_cert");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key_pem = ReadFile(key_path);
  if (!key_pem.ok()) return Annotate(key_pem.status(), "tls_key");
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(key_pem->data(), static_cast<int>(key_pem->size())));
  std::unique_ptr<EVP_PKEY, KeyFree> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return absl::InvalidArgumentError(absl::StrCat("tls_key ", key_path, " holds no PEM private key"));
  if (X509_check_private_key(cert->get(), key.get()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("tls_key ", key_path, " is not the key of tls_cert ", cert_path));
  }
  auto ca = ReadCertificate(ca_path, "tls_client_ca");
  if (!ca.ok()) return ca.status();
  if (X509_check_ca(ca->get()) == 0) {
    return absl::InvalidArgumentError(absl::StrCat("tls_client_ca ", ca_path, " is not a CA certificate"));
  }
  if (X509_cmp_current_time(X509_get0_notAfter(cert->get())) < 0) {
    spdlog::warn("tls_cert {} has expired: clients will refuse it", cert_path);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MutualTlsCredentials(const std::string& cert,
                                                                              const std::string& key,
                                                                              const std::string& client_ca) {
  if (absl::Status st = CheckTlsFiles(cert, key, client_ca); !st.ok()) return st;
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(key, cert, client_ca,
                                                                                       kCertRefreshSeconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::experimental::TlsServerCredentials(options);
  if (creds == nullptr) return absl::InternalError("gRPC refused the TLS options");
  return creds;
}

}  // namespace berth::agent
