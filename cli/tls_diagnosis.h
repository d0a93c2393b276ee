// Why a tcp:// agent cannot be reached. gRPC only says UNAVAILABLE; this does a handshake of
// its own with OpenSSL (TCP connect with a timeout, then TLS 1.2+ with the CA as the only trust
// anchor, our client certificate, and the host name or IP checked against the agent's
// certificate, as gRPC does) and turns what fails into a sentence: nothing listens, not TLS,
// the agent's certificate is from another CA / expired / for another name, the agent refused our
// certificate.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "cli/host_target.h"
#include "cli/tls_files.h"

namespace berth::cli {

struct TlsDiagnosis {
  enum class Problem {
    kNone,                   // the handshake works: the trouble is elsewhere
    kLocalFiles,             // our CA, certificate or key cannot be used
    kCannotResolve,          // the host name does not resolve
    kNothingListens,         // connection refused, or no answer to the TCP connect in time
    kUnreachable,            // no route, network unreachable...
    kNotTls,                 // the peer answered the ClientHello with something that is not TLS
    kNoHandshakeAnswer,      // the peer accepted the connection but said nothing in time
    kClosedDuringHandshake,  // the peer hung up without an alert
    kUnknownCa,              // the agent's certificate is not signed by our CA
    kServerCertExpired,
    kServerCertNotYetValid,
    kNameMismatch,           // the agent's certificate is for other names
    kServerCertInvalid,      // other verification failures
    kClientCertRefused,      // the agent sent an alert about our certificate
    kHandshakeFailed,        // other TLS errors
    kNotGrpc,                // TLS works, but the server did not choose HTTP/2 (ALPN "h2")
  };
  Problem problem = Problem::kNone;
  std::string message;  // a sentence without a final period; empty for kNone
};

// Connects to `address` (tcp) and shakes hands with the TLS `files`. `timeout` bounds the TCP
// connect and, separately, the handshake.
TlsDiagnosis DiagnoseTls(const HostAddress& address, const TlsFiles& files,
                         absl::Duration timeout = absl::Seconds(5));

// DiagnoseTls(...).message: what went wrong, or "" when the handshake works.
std::string DescribeTlsFailure(const HostAddress& address, const TlsFiles& files,
                               absl::Duration timeout = absl::Seconds(5));

}  // namespace berth::cli
