// The three files of mutual TLS with a remote agent (--tlscacert, --tlscert, --tlskey), and
// reading them: every file is checked to hold what it should before gRPC sees it, so a wrong
// file is named instead of failing inside a handshake.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::cli {

struct TlsFiles {
  std::string ca;    // PEM CA certificate(s) that sign the agent's certificate (--tlscacert)
  std::string cert;  // PEM client certificate (chain) that the agent checks (--tlscert)
  std::string key;   // PEM private key of that certificate (--tlskey)

  bool empty() const { return ca.empty() && cert.empty() && key.empty(); }
  bool complete() const { return !ca.empty() && !cert.empty() && !key.empty(); }
  bool operator==(const TlsFiles&) const = default;
};

// The names of the files that are not given, as the user names them:
// {"--tlscacert (BERTH_TLS_CACERT)", ...}.
std::vector<std::string> MissingTlsFiles(const TlsFiles& files);
// The names of the files that are given (same form).
std::vector<std::string> GivenTlsFiles(const TlsFiles& files);

// The same files with absolute, normalised paths (relative ones are taken from the current
// directory; symlinks are kept).
TlsFiles AbsoluteTlsFiles(const TlsFiles& files);

// What the files hold, as gRPC's SslCredentialsOptions wants it.
struct TlsMaterial {
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
};

// Reads the three files (regular files of at most 1 MiB each) and checks them: the CA file
// holds at least one certificate, the certificate file a certificate, the key file an
// unencrypted private key that belongs to that certificate. Every error names the file.
absl::StatusOr<TlsMaterial> LoadTlsMaterial(const TlsFiles& files);

}  // namespace berth::cli
