#include "cli/tls_diagnosis.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <algorithm>
#include <functional>
#include <memory>
#include <vector>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cli/tls_files.h"

namespace berth::cli {
namespace {

using Problem = TlsDiagnosis::Problem;

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* n) const { GENERAL_NAMES_free(n); }
};

class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  Socket(Socket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Socket& operator=(Socket&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

// SIGPIPE is blocked while this lives (OpenSSL may write to a socket the peer closed) and any
// SIGPIPE raised meanwhile in this thread is discarded before the old mask comes back.
class ScopedNoSigpipe {
 public:
  ScopedNoSigpipe() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
    was_blocked_ = sigismember(&old_, SIGPIPE) == 1;
  }
  ~ScopedNoSigpipe() {
    if (was_blocked_) return;
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) == 1) {
      timespec zero{0, 0};
      sigtimedwait(&pipe_, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_blocked_ = false;
};

TlsDiagnosis Result(Problem problem, std::string message) {
  return TlsDiagnosis{problem, std::move(message)};
}

// Text that came from the peer (certificate names): printable ASCII only, capped.
std::string Printable(std::string_view text, size_t max = 200) {
  std::string out;
  for (char c : text) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return out;
}

std::string DurationText(absl::Duration d) {
  if (d >= absl::Seconds(1) && d == absl::Seconds(absl::ToInt64Seconds(d))) {
    return absl::StrCat(absl::ToInt64Seconds(d), "s");
  }
  return absl::FormatDuration(d);
}

// OpenSSL's error queue as one line (and empties it).
std::string DrainOpenSslErrors() {
  std::vector<std::string> parts;
  while (unsigned long e = ERR_get_error()) {
    if (parts.size() < 3) {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof(buf));
      parts.emplace_back(buf);
    }
  }
  return parts.empty() ? std::string("unknown error") : absl::StrJoin(parts, "; ");
}

std::string FormatTime(const ASN1_TIME* time) {
  struct tm tm;
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) return "(unreadable date)";
  char buf[64];
  strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string NameText(const X509_NAME* name) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (name == nullptr ||
      X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) {
    return "(unreadable name)";
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  std::string text = size > 0 ? std::string(data, static_cast<size_t>(size)) : std::string();
  return text.empty() ? std::string("(empty name)") : Printable(text);
}

std::string SubjectOf(X509* cert) { return NameText(X509_get_subject_name(cert)); }
std::string IssuerOf(X509* cert) { return NameText(X509_get_issuer_name(cert)); }

std::string ValidityOf(X509* cert) {
  return absl::StrCat("valid from ", FormatTime(X509_get0_notBefore(cert)), " to ",
                      FormatTime(X509_get0_notAfter(cert)));
}

// "DNS:node-1", "IP:10.99.0.1", ... of the certificate's subjectAltName.
std::vector<std::string> SubjectAltNames(X509* cert) {
  std::vector<std::string> out;
  std::unique_ptr<GENERAL_NAMES, GeneralNamesFree> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_DNS) {
      const ASN1_IA5STRING* dns = name->d.dNSName;
      out.push_back("DNS:" + Printable(std::string_view(
                                 reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                 static_cast<size_t>(ASN1_STRING_length(dns)))));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      char buf[INET6_ADDRSTRLEN] = "?";
      const int len = ASN1_STRING_length(ip);
      if (len == 4 || len == 16) {
        inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(ip), buf, sizeof(buf));
      }
      out.push_back(std::string("IP:") + buf);
    }
  }
  ERR_clear_error();
  return out;
}

// "DNS:a, IP:b" (at most ten), or what the certificate has instead.
std::string NamesOf(X509* cert) {
  std::vector<std::string> names = SubjectAltNames(cert);
  if (names.empty()) {
    return absl::StrCat("no host at all (it has no subjectAltName, and TLS clients ignore its "
                        "subject ", SubjectOf(cert), ")");
  }
  std::string out;
  for (size_t i = 0; i < names.size() && i < 10; ++i) absl::StrAppend(&out, i ? ", " : "", names[i]);
  if (names.size() > 10) absl::StrAppend(&out, " and ", names.size() - 10, " more");
  return out;
}

// What happened during the handshake: the first certificate verification error (with the
// certificate it is about), and whether the agent asked for our certificate.
struct VerifyRecord {
  int error = X509_V_OK;
  int depth = 0;
  X509* cert = nullptr;  // the certificate the error is about
  X509* leaf = nullptr;  // the agent's own certificate
  bool client_cert_requested = false;
  ~VerifyRecord() {
    X509_free(cert);
    X509_free(leaf);
  }
};

// Called when the agent asks for our certificate; the one already configured is sent.
int NoteCertificateRequest(SSL*, void* arg) {
  static_cast<VerifyRecord*>(arg)->client_cert_requested = true;
  return 1;
}

// True when a certificate in `ca_file` has the name `issuer` (so the agent's certificate names
// our CA as its issuer, yet another key signed it).
bool CaFileHasName(const std::string& ca_file, const X509_NAME* issuer) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_file(ca_file.c_str(), "r"));
  bool found = false;
  while (bio != nullptr && !found) {
    X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (ca == nullptr) break;
    found = X509_NAME_cmp(X509_get_subject_name(ca), issuer) == 0;
    X509_free(ca);
  }
  ERR_clear_error();
  return found;
}

int RecordFirstVerifyError(int ok, X509_STORE_CTX* store) {
  if (ok == 1) return ok;
  SSL* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* record = ssl == nullptr ? nullptr : static_cast<VerifyRecord*>(SSL_get_app_data(ssl));
  if (record != nullptr && record->error == X509_V_OK) {
    record->error = X509_STORE_CTX_get_error(store);
    record->depth = X509_STORE_CTX_get_error_depth(store);
    record->cert = X509_STORE_CTX_get_current_cert(store);
    if (record->cert != nullptr) X509_up_ref(record->cert);
    record->leaf = X509_STORE_CTX_get0_cert(store);
    if (record->leaf != nullptr) X509_up_ref(record->leaf);
  }
  return ok;
}

TlsDiagnosis ServerCertProblem(const VerifyRecord& r, const HostAddress& address,
                               const TlsFiles& files) {
  X509* leaf = r.leaf;
  X509* cert = r.cert != nullptr ? r.cert : leaf;
  std::string which = r.depth == 0 ? "the agent's certificate" : "a certificate in the agent's chain";
  if (cert != nullptr) absl::StrAppend(&which, " (", SubjectOf(cert), ")");
  switch (r.error) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE: {
      // About the agent's own certificate, whichever link of the chain failed (an agent may
      // send its CA along).
      X509* agent = leaf != nullptr ? leaf : cert;
      if (agent == nullptr) {
        return Result(Problem::kUnknownCa, "the agent's certificate is not signed by the CA in " +
                                               files.ca);
      }
      std::string message =
          absl::StrCat("the agent's certificate (", SubjectOf(agent), "), issued by ",
                       IssuerOf(agent), ", is not signed by the CA in ", files.ca);
      if (CaFileHasName(files.ca, X509_get_issuer_name(agent))) {
        message += " (the CA there has the same name but another key: was the CA made again?)";
      }
      return Result(Problem::kUnknownCa, std::move(message));
    }
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return Result(Problem::kServerCertExpired,
                    absl::StrCat(which, " expired on ", FormatTime(X509_get0_notAfter(cert)),
                                 " (", ValidityOf(cert), ")"));
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return Result(Problem::kServerCertNotYetValid,
                    absl::StrCat(which, " is not valid until ",
                                 FormatTime(X509_get0_notBefore(cert)), " (", ValidityOf(cert),
                                 "; is a clock wrong?)"));
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return Result(Problem::kNameMismatch, absl::StrCat("the server certificate is for ",
                                                         NamesOf(cert), ", not ", address.host));
    default:
      return Result(Problem::kServerCertInvalid,
                    absl::StrCat(which, " cannot be verified with the CA in ", files.ca, ": ",
                                 X509_verify_cert_error_string(r.error)));
  }
}

// Our client certificate, for messages about it.
std::string ClientCertValidity(SSL* ssl) {
  X509* cert = SSL_get_certificate(ssl);
  return cert == nullptr ? std::string() : ValidityOf(cert);
}

// An error the peer's alert or our TLS stack reported, once the certificate checks passed.
TlsDiagnosis HandshakeProblem(unsigned long error, SSL* ssl, const HostAddress& address,
                              const TlsFiles& files) {
  const int reason = ERR_GET_REASON(error);
  const std::string where = address.HostPort();
  auto refused = [&](std::string why) {
    return Result(Problem::kClientCertRefused,
                  absl::StrCat("the agent refused this client certificate (", files.cert, "): ", why));
  };
  if (ERR_GET_LIB(error) == ERR_LIB_SSL && reason > SSL_AD_REASON_OFFSET &&
      reason < SSL_AD_REASON_OFFSET + 256) {
    const int alert = reason - SSL_AD_REASON_OFFSET;
    switch (alert) {
      case SSL_AD_UNKNOWN_CA:
        return refused("it is not signed by a CA the agent trusts (TLS alert: unknown CA)");
      case SSL_AD_BAD_CERTIFICATE:
        return refused("TLS alert: bad certificate");
      case SSL_AD_CERTIFICATE_EXPIRED:
        return refused(absl::StrCat("it has expired or is not valid yet (TLS alert: certificate "
                                    "expired; it is ", ClientCertValidity(ssl), ")"));
      case SSL_AD_CERTIFICATE_REQUIRED:
        return refused("the agent requires a client certificate (TLS alert: certificate required)");
      case SSL_AD_CERTIFICATE_UNKNOWN:
        return refused("TLS alert: certificate unknown");
      case SSL_AD_UNSUPPORTED_CERTIFICATE:
        return refused(
            "TLS alert: unsupported certificate (is it made for client authentication?)");
      case SSL_AD_CERTIFICATE_REVOKED:
        return refused("it has been revoked (TLS alert: certificate revoked)");
      case SSL_AD_ACCESS_DENIED:
        return refused("TLS alert: access denied");
      case SSL_AD_PROTOCOL_VERSION:
        return Result(Problem::kHandshakeFailed,
                      absl::StrCat(where, " and this client have no TLS version in common (Berth "
                                          "needs TLS 1.2 or newer)"));
      case SSL_AD_HANDSHAKE_FAILURE:
        return Result(Problem::kHandshakeFailed,
                      absl::StrCat("the TLS handshake with ", where,
                                   " failed (TLS alert: handshake failure: no cipher in common, "
                                   "or the agent wanted a client certificate it did not get)"));
      default:
        return Result(Problem::kHandshakeFailed,
                      absl::StrCat("the TLS handshake with ", where, " failed (TLS alert: ",
                                   SSL_alert_desc_string_long(alert), ")"));
    }
  }
  if (ERR_GET_LIB(error) == ERR_LIB_SSL) {
    switch (reason) {
      case SSL_R_WRONG_VERSION_NUMBER:
      case SSL_R_UNKNOWN_PROTOCOL:
      case SSL_R_PACKET_LENGTH_TOO_LONG:
      case SSL_R_RECORD_LENGTH_MISMATCH:
      case SSL_R_BAD_PACKET_LENGTH:
      case SSL_R_HTTP_REQUEST:
        return Result(Problem::kNotTls,
                      absl::StrCat(where, " does not speak TLS: it answered the TLS handshake with "
                                          "something else (a plain TCP service, or an agent "
                                          "without TLS?)"));
      case SSL_R_UNSUPPORTED_PROTOCOL:
      case SSL_R_NO_PROTOCOLS_AVAILABLE:
        return Result(Problem::kHandshakeFailed,
                      absl::StrCat(where, " and this client have no TLS version in common (Berth "
                                          "needs TLS 1.2 or newer)"));
      default:
        break;
    }
  }
  char buf[256];
  ERR_error_string_n(error, buf, sizeof(buf));
  return Result(Problem::kHandshakeFailed,
                absl::StrCat("the TLS handshake with ", where, " failed: ", buf));
}

// The agent asked for our certificate, got it, and hung up without an alert: gRPC servers
// refuse a client certificate that way.
TlsDiagnosis SilentRefusal(SSL* ssl, const TlsFiles& files) {
  return Result(Problem::kClientCertRefused,
                absl::StrCat("the agent refused this client certificate (", files.cert,
                             "): it hung up right after receiving it, without a TLS alert (is it "
                             "signed by the CA the agent trusts for clients, and valid now? it is ",
                             ClientCertValidity(ssl), ")"));
}

// The peer closed the connection without close_notify (OpenSSL 3 reports it as an error).
bool IsUnexpectedEof(unsigned long error) {
  return ERR_GET_LIB(error) == ERR_LIB_SSL &&
         ERR_GET_REASON(error) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

// The first SSL-library error in the queue (else the first error), and empties the queue.
unsigned long TakeSslError() {
  unsigned long chosen = 0;
  while (unsigned long e = ERR_get_error()) {
    if (chosen == 0 || (ERR_GET_LIB(chosen) != ERR_LIB_SSL && ERR_GET_LIB(e) == ERR_LIB_SSL)) {
      chosen = e;
    }
  }
  return chosen;
}

// Waits until `fd` is ready for `events` or `deadline` passes (false).
bool WaitFor(int fd, short events, absl::Time deadline) {
  for (;;) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    pollfd p{fd, events, 0};
    const int n = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return true;  // let the next operation report the error
  }
}

struct SslOutcome {
  int ret = 0;
  int ssl_error = SSL_ERROR_NONE;
  int saved_errno = 0;
  bool timed_out = false;
};

// Runs `op` (SSL_connect, SSL_read) on the non-blocking socket until it completes, fails, or
// `deadline` passes. The OpenSSL error queue is left for the caller.
SslOutcome DriveSsl(SSL* ssl, int fd, absl::Time deadline, const std::function<int()>& op) {
  ERR_clear_error();
  for (;;) {
    errno = 0;
    SslOutcome out;
    out.ret = op();
    if (out.ret > 0) return out;
    out.saved_errno = errno;
    out.ssl_error = SSL_get_error(ssl, out.ret);
    if (out.ssl_error == SSL_ERROR_WANT_READ || out.ssl_error == SSL_ERROR_WANT_WRITE) {
      if (!WaitFor(fd, out.ssl_error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
        out.timed_out = true;
        return out;
      }
      continue;
    }
    return out;
  }
}

struct ConnectResult {
  Socket socket;
  std::string error;  // empty on success
  Problem problem = Problem::kNone;
};

ConnectResult ConnectTcp(const HostAddress& address, absl::Duration timeout) {
  ConnectResult result;
  const std::string where = address.HostPort();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* list = nullptr;
  const std::string port = std::to_string(address.port);
  const int gai = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &list);
  if (gai != 0) {
    result.problem = Problem::kCannotResolve;
    result.error = absl::StrCat("cannot resolve ", address.host, ": ", gai_strerror(gai));
    return result;
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> owner(list, freeaddrinfo);
  const absl::Time deadline = absl::Now() + timeout;
  bool refused = false;
  bool timed_out = false;
  int other_errno = 0;
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    Socket s(socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (s.get() < 0) {
      other_errno = errno;
      continue;
    }
    int err = 0;
    if (connect(s.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        if (!WaitFor(s.get(), POLLOUT, deadline)) {
          timed_out = true;
          continue;
        }
        socklen_t len = sizeof(err);
        if (getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      }
    }
    if (err == 0) {
      result.socket = std::move(s);
      return result;
    }
    if (err == ECONNREFUSED) {
      refused = true;
    } else {
      other_errno = err;
    }
  }
  if (refused) {
    result.problem = Problem::kNothingListens;
    result.error = absl::StrCat("nothing listens on ", where, " (connection refused)");
  } else if (timed_out) {
    result.problem = Problem::kNothingListens;
    result.error = absl::StrCat("nothing listens on ", where, " (no answer within ",
                                DurationText(timeout), ")");
  } else {
    result.problem = Problem::kUnreachable;
    result.error = absl::StrCat("cannot reach ", where, ": ", std::strerror(other_errno));
  }
  return result;
}

// The context with our trust anchor, certificate and key.
TlsDiagnosis LoadContext(const TlsFiles& files, std::unique_ptr<SSL_CTX, SslCtxFree>* out) {
  // The same checks and messages as before connecting (a file may have changed since).
  if (absl::StatusOr<TlsMaterial> material = LoadTlsMaterial(files); !material.ok()) {
    return Result(Problem::kLocalFiles, std::string(material.status().message()));
  }
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (ctx == nullptr) return Result(Problem::kLocalFiles, "cannot set up TLS: " + DrainOpenSslErrors());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_default_passwd_cb(ctx.get(), [](char*, int, int, void*) { return -1; });
  if (SSL_CTX_load_verify_locations(ctx.get(), files.ca.c_str(), nullptr) != 1) {
    return Result(Problem::kLocalFiles, absl::StrCat("cannot use the TLS CA certificate ",
                                                     files.ca, ": ", DrainOpenSslErrors()));
  }
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), files.cert.c_str()) != 1) {
    return Result(Problem::kLocalFiles, absl::StrCat("cannot use the TLS client certificate ",
                                                     files.cert, ": ", DrainOpenSslErrors()));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), files.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Result(Problem::kLocalFiles, absl::StrCat("cannot use the TLS client key ", files.key,
                                                     ": ", DrainOpenSslErrors()));
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    ERR_clear_error();
    return Result(Problem::kLocalFiles, absl::StrCat("the TLS client key ", files.key,
                                                     " does not belong to the certificate in ",
                                                     files.cert));
  }
  *out = std::move(ctx);
  return Result(Problem::kNone, "");
}

}  // namespace

TlsDiagnosis DiagnoseTls(const HostAddress& address, const TlsFiles& files, absl::Duration timeout) {
  if (!address.is_tcp()) return Result(Problem::kNone, "");
  ScopedNoSigpipe no_sigpipe;
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx;
  if (TlsDiagnosis loaded = LoadContext(files, &ctx); loaded.problem != Problem::kNone) {
    return loaded;
  }
  ConnectResult connected = ConnectTcp(address, timeout);
  if (connected.problem != Problem::kNone) return Result(connected.problem, connected.error);
  const int fd = connected.socket.get();

  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  VerifyRecord record;
  if (ssl == nullptr || SSL_set_fd(ssl.get(), fd) != 1) {
    return Result(Problem::kHandshakeFailed, "cannot set up TLS: " + DrainOpenSslErrors());
  }
  SSL_set_app_data(ssl.get(), &record);
  SSL_set_cert_cb(ssl.get(), NoteCertificateRequest, &record);
  SSL_set_verify(ssl.get(), SSL_VERIFY_PEER, RecordFirstVerifyError);
  // The name gRPC checks: the host part of the address, an IP address or a DNS name.
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
  if (address.host_is_ip()) {
    X509_VERIFY_PARAM_set1_ip_asc(param, address.host.c_str());
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    X509_VERIFY_PARAM_set1_host(param, address.host.c_str(), 0);
    SSL_set_tlsext_host_name(ssl.get(), address.host.c_str());
  }
  static const unsigned char kAlpnH2[] = {2, 'h', '2'};
  SSL_set_alpn_protos(ssl.get(), kAlpnH2, sizeof(kAlpnH2));

  const std::string where = address.HostPort();
  const absl::Time deadline = absl::Now() + timeout;
  SslOutcome hs = DriveSsl(ssl.get(), fd, deadline, [&] { return SSL_connect(ssl.get()); });
  if (hs.ret != 1) {
    const unsigned long error = TakeSslError();
    if (record.error != X509_V_OK) {
      return ServerCertProblem(record, address, files);
    }
    if (hs.timed_out) {
      return Result(Problem::kNoHandshakeAnswer,
                    absl::StrCat(where, " accepted the connection but did not answer the TLS "
                                        "handshake within ", DurationText(timeout),
                                 " (is it a TLS server?)"));
    }
    if (hs.ssl_error == SSL_ERROR_SSL && error != 0 && !IsUnexpectedEof(error)) {
      return HandshakeProblem(error, ssl.get(), address, files);
    }
    if (hs.ssl_error == SSL_ERROR_SYSCALL && hs.saved_errno != 0 && hs.saved_errno != ECONNRESET &&
        hs.saved_errno != EPIPE) {
      return Result(Problem::kHandshakeFailed, absl::StrCat("the TLS handshake with ", where,
                                                            " failed: ",
                                                            std::strerror(hs.saved_errno)));
    }
    if (record.client_cert_requested) return SilentRefusal(ssl.get(), files);
    return Result(Problem::kClosedDuringHandshake,
                  absl::StrCat(where, " closed the connection during the TLS handshake without "
                                      "saying why"));
  }
  // TLS 1.3: the client is done before the agent has looked at our certificate, so its verdict
  // (an alert) comes after. gRPC's agent speaks first (HTTP/2 SETTINGS), so data or silence
  // means it accepted us.
  const absl::Time read_deadline = std::min(absl::Now() + timeout, absl::Now() + absl::Seconds(2));
  char byte;
  SslOutcome after =
      DriveSsl(ssl.get(), fd, read_deadline, [&] { return SSL_read(ssl.get(), &byte, 1); });
  if (after.ret > 0 || after.timed_out || after.ssl_error == SSL_ERROR_ZERO_RETURN) {
    ERR_clear_error();
    // gRPC refuses a server that does not choose HTTP/2.
    const unsigned char* alpn = nullptr;
    unsigned int alpn_size = 0;
    SSL_get0_alpn_selected(ssl.get(), &alpn, &alpn_size);
    if (alpn_size != 2 || std::memcmp(alpn, "h2", 2) != 0) {
      return Result(Problem::kNotGrpc,
                    absl::StrCat("the TLS handshake with ", where, " works, but the server there "
                                 "does not speak gRPC (it did not choose HTTP/2 by ALPN): is it a "
                                 "Berth agent?"));
    }
    return Result(Problem::kNone, "");
  }
  const unsigned long error = TakeSslError();
  if (after.ssl_error == SSL_ERROR_SSL && error != 0 && !IsUnexpectedEof(error)) {
    return HandshakeProblem(error, ssl.get(), address, files);
  }
  if (record.client_cert_requested) return SilentRefusal(ssl.get(), files);
  return Result(Problem::kClosedDuringHandshake,
                absl::StrCat(where, " closed the connection right after the TLS handshake without "
                                    "saying why (did it refuse this client certificate, ",
                             files.cert, "?)"));
}

std::string DescribeTlsFailure(const HostAddress& address, const TlsFiles& files,
                               absl::Duration timeout) {
  return DiagnoseTls(address, files, timeout).message;
}

}  // namespace berth::cli
