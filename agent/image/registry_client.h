// A client of the OCI distribution API v2 (libcurl): manifests and blobs by reference, with
// anonymous and Bearer-token access (WWW-Authenticate realm/service/scope), Basic auth from
// a Docker-style auth file, plain HTTP or unverified TLS for insecure registries (always
// allowed for 127.0.0.0/8, ::1 and localhost, as Docker does), mirrors per registry host,
// redirects (blob storage), and retries with backoff on network errors and 5xx.
// Thread-safe: one client serves concurrent pulls.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/image/reference.h"

namespace berth::image {

// A user name and password given with one request (a CRI PullImage's auth config).
struct RegistryCredentials {
  std::string username;
  std::string password;
};

struct RegistryOptions {
  // Hosts ("host" or "host:port") spoken to over plain HTTP (falling back from HTTPS) and
  // whose TLS certificates are not verified.
  std::vector<std::string> insecure_registries;
  // Registry host → endpoints tried first, in order ("http://127.0.0.1:5000",
  // "https://mirror.example"); the registry itself is tried last. docker.io's real API host
  // is registry-1.docker.io.
  std::map<std::string, std::vector<std::string>> mirrors;
  // Docker's config.json format: {"auths": {"host[:port]": {"auth": base64("user:pass")}}}
  // (also "username"/"password" fields). Missing file: anonymous.
  std::vector<std::string> auth_files;
  // Set: used for every registry this client speaks to, before any auth file.
  std::optional<RegistryCredentials> credentials;
  int max_attempts = 4;         // per request, for network errors and 5xx/429
  int initial_backoff_ms = 200;  // doubled per attempt
  std::string user_agent = "berth";
};

struct FetchedManifest {
  std::string media_type;  // Content-Type
  std::string digest;      // sha256 of body (checked against a requested digest)
  std::string body;
};

// Receives a blob's bytes; Reset() before a retry starts over.
class BlobSink {
 public:
  virtual ~BlobSink() = default;
  virtual absl::Status Write(absl::string_view data) = 0;
  virtual absl::Status Reset() = 0;
};

class RegistryClient {
 public:
  explicit RegistryClient(RegistryOptions options);
  ~RegistryClient();

  // GET /v2/<repo>/manifests/<ref.digest or ref.tag>, accepting OCI and Docker manifest and
  // index types. A body whose digest differs from a requested digest is DATA_LOSS.
  // Errors: UNAUTHENTICATED (no or rejected credentials), PERMISSION_DENIED (403),
  // NOT_FOUND (unknown repository/tag), UNAVAILABLE (cannot connect), with messages naming
  // the registry and what it answered.
  absl::StatusOr<FetchedManifest> GetManifest(const Reference& ref);
  // Same, for another digest of the same repository (a platform's manifest from an index).
  absl::StatusOr<FetchedManifest> GetManifest(const Reference& ref, const std::string& digest);
  // GET /v2/<repo>/blobs/<digest> into `sink`; `progress` gets the bytes done so far. The
  // caller verifies the digest (ContentStore::Writer::Commit).
  absl::Status GetBlob(const Reference& ref, const std::string& digest, BlobSink& sink,
                       const std::function<void(int64_t done)>& progress = nullptr);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::image
