// The OCI distribution client: endpoints (mirrors, then the registry, with the https → http
// fallback of insecure and loopback registries), the 401 challenge dance (Bearer tokens from a
// realm, Basic from an auth file), retries with backoff, and the mapping of what a registry
// answered onto absl status codes with messages a user can act on.
#include "agent/image/registry_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "agent/image/manifest.h"
#include "nlohmann/json.hpp"
#include "runtime/base/file_util.h"

namespace berth::image {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxManifestBytes = 4 << 20;  // what OCI asks registries to accept at most
constexpr size_t kMaxErrorBodyBytes = 64 << 10;
constexpr size_t kMaxTokenBytes = 1 << 20;
constexpr int kMaxBackoffMs = 30'000;
constexpr int kMaxRetryAfterMs = 10'000;
constexpr long kConnectTimeoutMs = 30'000;
// An https probe of an insecure registry that may only speak http: a plain-HTTP server that
// sits on our ClientHello must not cost the full connect timeout.
constexpr long kProbeConnectTimeoutMs = 5'000;
constexpr long kSmallRequestTimeoutS =
    120;  // manifests and tokens; blobs only have stall detection
constexpr long kStallSeconds = 60;
constexpr char kDockerHubApiHost[] = "registry-1.docker.io";

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(md), static_cast<size_t>(len)));
}

bool IsSha256Digest(absl::string_view digest) {
  if (!absl::ConsumePrefix(&digest, "sha256:") || digest.size() != 64) return false;
  return std::all_of(digest.begin(), digest.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

absl::Status CheckDigest(absl::string_view digest) {
  if (IsSha256Digest(digest)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("digest \"", digest, "\" is not sha256:<64 lowercase hex digits>"));
}

// The repository and tag go into URL paths: refuse anything a parsed Reference cannot hold.
absl::Status CheckRepositoryAndTag(const Reference& ref) {
  const std::string& repo = ref.repository;
  bool ok = !repo.empty() && repo.front() != '/' && repo.back() != '/' &&
            !absl::StrContains(repo, "..") && !absl::StrContains(repo, "//") &&
            std::all_of(repo.begin(), repo.end(), [](char c) {
              return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '.' || c == '_' ||
                     c == '-' || c == '/';
            });
  if (!ok) return absl::InvalidArgumentError(absl::StrCat("invalid repository \"", repo, "\""));
  if (ref.digest.empty()) {
    const std::string& tag = ref.tag;
    ok = !tag.empty() && tag.size() <= 128 && tag.front() != '.' && tag.front() != '-' &&
         std::all_of(tag.begin(), tag.end(), [](char c) {
           return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-';
         });
    if (!ok) return absl::InvalidArgumentError(absl::StrCat("invalid tag \"", tag, "\""));
  } else {
    return CheckDigest(ref.digest);
  }
  return absl::OkStatus();
}

std::string PercentEncode(absl::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// ---- Hosts -----------------------------------------------------------------------------------

// "host", "host:port", "[v6]:port", "v6" → host without brackets.
std::string HostOf(absl::string_view authority) {
  if (absl::StartsWith(authority, "[")) {
    size_t end = authority.find(']');
    return std::string(
        authority.substr(1, end == absl::string_view::npos ? authority.npos : end - 1));
  }
  size_t colon = authority.find(':');
  if (colon != absl::string_view::npos &&
      authority.find(':', colon + 1) == absl::string_view::npos) {
    return std::string(authority.substr(0, colon));  // exactly one colon: host:port
  }
  return std::string(authority);  // no port, or a bare IPv6 address
}

// Docker lets 127.0.0.0/8 and ::1 speak plain HTTP without configuration; "localhost" too.
// Literal addresses only: a DNS answer must not be able to switch TLS verification off.
bool IsLoopbackHost(const std::string& host) {
  if (absl::EqualsIgnoreCase(host, "localhost")) return true;
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

// "10.0.0.0/8" or "fd00::/8" containing the literal address `host`.
bool CidrContains(absl::string_view cidr, const std::string& host) {
  size_t slash = cidr.find('/');
  if (slash == absl::string_view::npos) return false;
  int bits = 0;
  if (!absl::SimpleAtoi(cidr.substr(slash + 1), &bits) || bits < 0) return false;
  std::string net(cidr.substr(0, slash));
  unsigned char a[16], b[16];
  size_t len;
  if (inet_pton(AF_INET, net.c_str(), a) == 1 && inet_pton(AF_INET, host.c_str(), b) == 1) {
    len = 4;
  } else if (inet_pton(AF_INET6, net.c_str(), a) == 1 &&
             inet_pton(AF_INET6, host.c_str(), b) == 1) {
    len = 16;
  } else {
    return false;
  }
  if (bits > static_cast<int>(len * 8)) return false;
  for (int i = 0; i < bits; ++i) {
    int mask = 0x80 >> (i % 8);
    if ((a[i / 8] & mask) != (b[i / 8] & mask)) return false;
  }
  return true;
}

// An entry of insecure_registries or a key of an auth file, as a lowercase host[:port]:
// "https://index.docker.io/v1/" → "index.docker.io".
std::string NormalizeHostKey(absl::string_view key) {
  key = absl::StripAsciiWhitespace(key);
  if (!absl::ConsumePrefix(&key, "https://")) absl::ConsumePrefix(&key, "http://");
  // Keep only the authority; CIDR entries ("10.0.0.0/8") are handled before this is called.
  size_t slash = key.find('/');
  if (slash != absl::string_view::npos) key = key.substr(0, slash);
  return absl::AsciiStrToLower(key);
}

bool IsInsecure(const std::vector<std::string>& insecure, absl::string_view authority) {
  std::string auth = absl::AsciiStrToLower(authority);
  std::string host = HostOf(auth);
  if (IsLoopbackHost(host)) return true;
  for (const std::string& entry : insecure) {
    absl::string_view e = absl::StripAsciiWhitespace(entry);
    if (!absl::StrContains(e, "://") && absl::StrContains(e, '/')) {
      if (CidrContains(e, host)) return true;
      continue;
    }
    std::string key = NormalizeHostKey(e);
    if (key == auth || key == host) return true;  // an entry without a port covers every port
  }
  return false;
}

// ---- Credentials -----------------------------------------------------------------------------

struct Credentials {
  std::string username;
  std::string password;
  std::string source;  // the auth file
};

std::string ExpandHome(const std::string& path) {
  if (absl::StartsWith(path, "~/")) {
    const char* home = std::getenv("HOME");
    if (home != nullptr && *home != '\0') return absl::StrCat(home, path.substr(1));
  }
  return path;
}

// The first entry of the first auth file naming one of `hosts`. Missing files are skipped; a
// file that cannot be read or parsed is an error naming it (a silent anonymous pull would hide
// the typo).
absl::StatusOr<std::optional<Credentials>> FindCredentials(const RegistryOptions& options,
                                                           const std::vector<std::string>& hosts) {
  if (options.credentials.has_value()) {
    return std::optional<Credentials>(
        Credentials{options.credentials->username, options.credentials->password, "the request's credentials"});
  }
  for (const std::string& file : options.auth_files) {
    std::string path = ExpandHome(file);
    absl::StatusOr<std::string> text = ReadFile(path);
    if (absl::IsNotFound(text.status())) continue;
    if (!text.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("auth file ", path, ": ", text.status().message()));
    }
    nlohmann::json doc = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object()) {
      return absl::FailedPreconditionError(
          absl::StrCat("auth file ", path, " is not a JSON object ({\"auths\": {...}})"));
    }
    auto auths = doc.find("auths");
    if (auths == doc.end() || !auths->is_object()) continue;
    for (auto it = auths->begin(); it != auths->end(); ++it) {
      std::string key = NormalizeHostKey(it.key());
      if (std::find(hosts.begin(), hosts.end(), key) == hosts.end()) continue;
      const nlohmann::json& entry = it.value();
      if (!entry.is_object()) continue;
      Credentials creds;
      creds.source = path;
      auto auth = entry.find("auth");
      if (auth != entry.end() && auth->is_string() && !auth->get<std::string>().empty()) {
        std::string decoded;
        size_t colon;
        if (!absl::Base64Unescape(auth->get<std::string>(), &decoded) ||
            (colon = decoded.find(':')) == std::string::npos) {
          return absl::FailedPreconditionError(absl::StrCat(
              "auth file ", path, ": \"auth\" of ", it.key(), " is not base64 of user:password"));
        }
        creds.username = decoded.substr(0, colon);
        creds.password = decoded.substr(colon + 1);
        return std::optional<Credentials>(std::move(creds));
      }
      auto user = entry.find("username");
      auto pass = entry.find("password");
      if (user != entry.end() && user->is_string() && pass != entry.end() && pass->is_string()) {
        creds.username = user->get<std::string>();
        creds.password = pass->get<std::string>();
        return std::optional<Credentials>(std::move(creds));
      }
    }
  }
  return std::optional<Credentials>();
}

// ---- WWW-Authenticate ------------------------------------------------------------------------

struct Challenge {
  std::string scheme;                         // lowercase: "bearer", "basic"
  std::map<std::string, std::string> params;  // lowercase names
};

// `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="..."`;
// several challenges may share one header.
std::vector<Challenge> ParseChallenges(absl::string_view s) {
  std::vector<Challenge> out;
  size_t i = 0, n = s.size();
  auto is_sep = [](char c) { return c == ' ' || c == '\t' || c == ','; };
  for (;;) {
    while (i < n && is_sep(s[i])) ++i;
    if (i >= n) break;
    size_t start = i;
    while (i < n && !is_sep(s[i]) && s[i] != '=') ++i;
    std::string token = absl::AsciiStrToLower(s.substr(start, i - start));
    size_t j = i;
    while (j < n && (s[j] == ' ' || s[j] == '\t')) ++j;
    if (j < n && s[j] == '=' && !out.empty()) {
      i = j + 1;
      while (i < n && (s[i] == ' ' || s[i] == '\t')) ++i;
      std::string value;
      if (i < n && s[i] == '"') {
        for (++i; i < n && s[i] != '"'; ++i) {
          if (s[i] == '\\' && i + 1 < n) ++i;
          value.push_back(s[i]);
        }
        if (i < n) ++i;  // closing quote
      } else {
        start = i;
        while (i < n && !is_sep(s[i])) ++i;
        value = std::string(s.substr(start, i - start));
      }
      out.back().params[token] = std::move(value);
    } else if (j < n && s[j] == '=') {
      while (i < n && s[i] != ',') ++i;  // a parameter before any scheme: skip it
    } else {
      out.push_back(Challenge{std::move(token), {}});
    }
  }
  return out;
}

// ---- HTTP ------------------------------------------------------------------------------------

struct HttpRequest {
  std::string url;
  std::vector<std::string> headers;
  bool verify_tls = true;
  long connect_timeout_ms = kConnectTimeoutMs;
  long timeout_s = 0;  // 0: none (stall detection only)
  // A 2xx body goes here when set, else into HttpResponse::body (at most max_body bytes).
  BlobSink* sink = nullptr;
  const std::function<void(int64_t)>* progress = nullptr;
  size_t max_body = kMaxManifestBytes;
};

struct HttpResponse {
  CURLcode code = CURLE_OK;
  std::string curl_error;  // curl's error buffer
  long status = 0;
  std::multimap<std::string, std::string> headers;  // of the final response; lowercase names
  std::string body;                                 // 2xx without a sink, or an error body
  std::string effective_url;
  absl::Status sink_status;  // a failed Write
  bool body_too_large = false;
  int64_t sink_bytes = 0;

  std::string Header(absl::string_view name) const {
    auto it = headers.find(std::string(name));
    return it == headers.end() ? "" : it->second;
  }
};

struct Transfer {
  const HttpRequest* request;
  HttpResponse* response;
  long status = 0;  // of the response whose headers came last (redirects have their own)
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * count;
  absl::string_view line(data, len);
  line = absl::StripTrailingAsciiWhitespace(line);
  if (absl::StartsWith(line, "HTTP/")) {
    t->response->headers.clear();
    size_t sp = line.find(' ');
    long status = 0;
    if (sp != absl::string_view::npos) {
      absl::string_view code = line.substr(sp + 1, 3);
      int v = 0;
      if (absl::SimpleAtoi(code, &v)) status = v;
    }
    t->status = status;
    return len;
  }
  size_t colon = line.find(':');
  if (colon != absl::string_view::npos) {
    t->response->headers.emplace(absl::AsciiStrToLower(line.substr(0, colon)),
                                 std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  }
  return len;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * count;
  HttpResponse& r = *t->response;
  const HttpRequest& q = *t->request;
  if (t->status >= 300 && t->status < 400) return len;  // a redirect's own body
  if (t->status >= 200 && t->status < 300) {
    if (q.sink != nullptr) {
      absl::Status st = q.sink->Write(absl::string_view(data, len));
      if (!st.ok()) {
        r.sink_status = std::move(st);
        return 0;  // aborts with CURLE_WRITE_ERROR
      }
      r.sink_bytes += static_cast<int64_t>(len);
      if (q.progress != nullptr && *q.progress) (*q.progress)(r.sink_bytes);
      return len;
    }
    if (r.body.size() + len > q.max_body) {
      r.body_too_large = true;
      return 0;
    }
    r.body.append(data, len);
    return len;
  }
  // An error body: keep the start for the message.
  if (r.body.size() < kMaxErrorBodyBytes) {
    r.body.append(data, std::min(len, kMaxErrorBodyBytes - r.body.size()));
  }
  return len;
}

class HandlePool {
 public:
  ~HandlePool() {
    for (CURL* h : idle_) curl_easy_cleanup(h);
  }
  CURL* Acquire() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        CURL* h = idle_.back();
        idle_.pop_back();
        return h;
      }
    }
    return curl_easy_init();
  }
  // Handles keep their connection caches: a pooled handle reuses connections to the registry.
  void Release(CURL* h) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (idle_.size() < kMaxIdle) {
        idle_.push_back(h);
        return;
      }
    }
    curl_easy_cleanup(h);
  }

 private:
  static constexpr size_t kMaxIdle = 8;
  std::mutex mu_;
  std::vector<CURL*> idle_ ABSL_GUARDED_BY(mu_);
};

HttpResponse Perform(HandlePool& pool, const HttpRequest& req) {
  HttpResponse resp;
  CURL* h = pool.Acquire();
  if (h == nullptr) {
    resp.code = CURLE_FAILED_INIT;
    resp.curl_error = "curl_easy_init failed";
    return resp;
  }
  curl_easy_reset(h);
  Transfer transfer{&req, &resp};
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_slist* headers = nullptr;
  for (const std::string& line : req.headers) headers = curl_slist_append(headers, line.c_str());

  curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(h, CURLOPT_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS);
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS);
#endif
  // Blob storage answers with redirects. libcurl drops our Authorization header when the
  // target is another host, port or scheme (CURLOPT_UNRESTRICTED_AUTH stays 0).
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, req.connect_timeout_ms);
  if (req.timeout_s > 0) curl_easy_setopt(h, CURLOPT_TIMEOUT, req.timeout_s);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, kStallSeconds);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, req.verify_tls ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, req.verify_tls ? 2L : 0L);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);

  resp.code = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  resp.status = status;
  char* url = nullptr;
  if (curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url != nullptr) {
    resp.effective_url = url;
  }
  resp.curl_error = errbuf;
  // Unset pointers into this frame before the handle goes back to the pool.
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
  curl_slist_free_all(headers);
  pool.Release(h);
  return resp;
}

std::string CurlErrorText(const HttpResponse& r) {
  std::string text = curl_easy_strerror(r.code);
  if (!r.curl_error.empty() && r.curl_error != text) {
    absl::StrAppend(&text, " (", absl::StripTrailingAsciiWhitespace(r.curl_error), ")");
  }
  return text;
}

// Failures worth another attempt: the network or the server may do better next time.
bool IsRetryableCurlError(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
#if LIBCURL_VERSION_NUM >= 0x074a00
    case CURLE_HTTP3:
#endif
      return true;
    default:
      return false;
  }
}

// Failures of an https attempt after which an insecure registry is tried over plain http: the
// server does not speak TLS (or not on that port).
bool IsFallbackCurlError(CURLcode code) {
  switch (code) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
      return true;
    default:
      return false;
  }
}

bool IsConnectCurlError(CURLcode code) {
  return code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_COULDNT_CONNECT;
}

// "MANIFEST_UNKNOWN: manifest unknown" from the registry's {"errors": [...]}, else the start of
// the body when it is short text, else "".
std::string RegistryErrorText(const HttpResponse& r) {
  nlohmann::json doc = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_discarded() && doc.is_object()) {
    auto errors = doc.find("errors");
    if (errors != doc.end() && errors->is_array()) {
      std::vector<std::string> parts;
      for (const nlohmann::json& e : *errors) {
        if (!e.is_object()) continue;
        std::string code = e.value("code", std::string());
        std::string message = e.value("message", std::string());
        parts.push_back(code.empty()      ? message
                        : message.empty() ? code
                                          : absl::StrCat(code, ": ", message));
      }
      return absl::StrJoin(parts, "; ");
    }
    for (const char* key : {"message", "error", "details"}) {
      auto it = doc.find(key);
      if (it != doc.end() && it->is_string()) return it->get<std::string>();
    }
    return "";
  }
  absl::string_view body = absl::StripAsciiWhitespace(r.body);
  if (body.empty() || body.size() > 200 || absl::StrContains(body, '<')) return "";
  bool printable = std::all_of(body.begin(), body.end(),
                               [](char c) { return absl::ascii_isprint(c) || c == '\n'; });
  return printable ? std::string(body) : "";
}

std::string StatusText(const HttpResponse& r) {
  std::string text = absl::StrCat("HTTP ", r.status);
  std::string detail = RegistryErrorText(r);
  if (!detail.empty()) absl::StrAppend(&text, " (", detail, ")");
  return text;
}

int BackoffMs(const RegistryOptions& options, int attempt) {
  double ms = std::max(1, options.initial_backoff_ms);
  for (int i = 1; i < attempt && ms < kMaxBackoffMs; ++i) ms *= 2;
  ms = std::min<double>(ms, kMaxBackoffMs);
  // Jitter keeps parallel layer downloads from retrying in lockstep.
  thread_local std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  return static_cast<int>(ms * jitter(rng));
}

int RetryAfterMs(const HttpResponse& r) {
  int seconds = 0;
  if (!absl::SimpleAtoi(r.Header("retry-after"), &seconds) || seconds <= 0) return 0;
  return std::min(seconds * 1000, kMaxRetryAfterMs);
}

// Content-Type without parameters; generic JSON types say nothing, so the caller goes by the
// document's own mediaType (ParseManifest with an empty type).
std::string ManifestMediaType(const HttpResponse& r) {
  std::string type = r.Header("content-type");
  size_t semi = type.find(';');
  if (semi != std::string::npos) type.resize(semi);
  type = std::string(absl::StripAsciiWhitespace(type));
  if (type == "application/json" || type == "text/plain" || type == "application/octet-stream") {
    return "";
  }
  return type;
}

std::string ManifestAcceptHeader() {
  return absl::StrCat("Accept: ", kOciManifest, ", ", kOciIndex, ", ", kDockerManifest, ", ",
                      kDockerManifestList);
}

// ---- Endpoints -------------------------------------------------------------------------------

struct Endpoint {
  std::string authority;    // host[:port]: keys the scheme memory and the auth caches
  std::string path_prefix;  // a mirror's path ("https://mirror/prefix"), without a trailing '/'
  std::vector<std::string> schemes;  // tried in order: {"https"}, {"http"}, {"https", "http"}
  bool verify_tls = true;
  bool mirror = false;
  std::vector<std::string> credential_hosts;  // auth-file keys that apply (normalised)
  std::string display;  // "registry docker.io", "mirror http://127.0.0.1:5001"
};

std::vector<std::string> RegistryAliases(const std::string& registry) {
  std::string r = absl::AsciiStrToLower(registry);
  if (r == "docker.io" || r == "index.docker.io" || r == kDockerHubApiHost) {
    return {"docker.io", "index.docker.io", kDockerHubApiHost};
  }
  return {r};
}

}  // namespace

// ---- The client ------------------------------------------------------------------------------

struct RegistryClient::Impl {
  explicit Impl(RegistryOptions o) : options(std::move(o)) {
    if (options.max_attempts < 1) options.max_attempts = 1;
  }

  // What a request is about, for messages: "manifest test/img:v1", "blob sha256:… of test/img".
  struct Target {
    std::string what;
  };

  // A blob download across attempts and endpoints. The sink is Reset() before every retry
  // after a failure, and before any other request once bytes reached it (a scheme fallback,
  // the next endpoint).
  struct BlobState {
    BlobSink* sink = nullptr;
    const std::function<void(int64_t)>* progress = nullptr;
    bool dirty = false;   // bytes written since the last Reset
    absl::Status failed;  // a sink error: final, not something another endpoint can fix
  };

  struct AuthState {
    std::string header;  // "Authorization: ..." or empty
    std::string user;    // whose credentials the header carries ("" when anonymous)
    std::string source;  // the auth file they came from
  };

  struct CachedToken {
    std::string header;
    std::string user;
    std::string source;
    Clock::time_point expiry;
  };

  RegistryOptions options;
  HandlePool pool;
  std::mutex mu;
  // (authority, scope) → a Bearer token from the registry's realm.
  std::map<std::pair<std::string, std::string>, CachedToken> tokens ABSL_GUARDED_BY(mu);
  // authority → Basic credentials, for registries that asked for Basic once.
  std::map<std::string, AuthState> basic ABSL_GUARDED_BY(mu);
  // authority → the scheme that last answered, for endpoints that may use either.
  std::map<std::string, std::string> schemes ABSL_GUARDED_BY(mu);

  std::vector<Endpoint> Endpoints(const Reference& ref) const {
    std::vector<Endpoint> out;
    std::vector<std::string> aliases = RegistryAliases(ref.registry);
    for (const std::string& alias : aliases) {
      auto it = options.mirrors.find(alias);
      if (it == options.mirrors.end()) continue;
      for (const std::string& url : it->second) {
        absl::string_view rest = absl::StripAsciiWhitespace(url);
        Endpoint ep;
        ep.mirror = true;
        std::string scheme;
        if (absl::ConsumePrefix(&rest, "https://")) {
          scheme = "https";
        } else if (absl::ConsumePrefix(&rest, "http://")) {
          scheme = "http";
        }
        size_t slash = rest.find('/');
        ep.authority = absl::AsciiStrToLower(rest.substr(0, slash));
        if (ep.authority.empty()) continue;
        if (slash != absl::string_view::npos) {
          ep.path_prefix = std::string(absl::StripSuffix(rest.substr(slash), "/"));
        }
        bool insecure = IsInsecure(options.insecure_registries, ep.authority);
        if (!scheme.empty()) {
          ep.schemes = {scheme};
        } else {
          ep.schemes = insecure ? std::vector<std::string>{"https", "http"}
                                : std::vector<std::string>{"https"};
        }
        ep.verify_tls = !insecure;
        ep.credential_hosts = {ep.authority};
        ep.display = absl::StrCat("mirror ", scheme.empty() ? "" : scheme + "://", ep.authority,
                                  ep.path_prefix);
        out.push_back(std::move(ep));
      }
      break;
    }
    Endpoint self;
    self.authority = aliases.size() > 1 ? kDockerHubApiHost : aliases.front();
    bool insecure = IsInsecure(options.insecure_registries, ref.registry);
    self.schemes =
        insecure ? std::vector<std::string>{"https", "http"} : std::vector<std::string>{"https"};
    self.verify_tls = !insecure;
    self.credential_hosts = aliases;
    self.display = absl::StrCat("registry ", ref.registry);
    out.push_back(std::move(self));
    return out;
  }

  std::vector<std::string> SchemeOrder(const Endpoint& ep) {
    std::vector<std::string> order = ep.schemes;
    if (order.size() > 1) {
      std::lock_guard<std::mutex> lock(mu);
      auto it = schemes.find(ep.authority);
      if (it != schemes.end()) {
        auto pos = std::find(order.begin(), order.end(), it->second);
        if (pos != order.end()) std::rotate(order.begin(), pos, pos + 1);
      }
    }
    return order;
  }

  void RememberScheme(const Endpoint& ep, const std::string& scheme) {
    if (ep.schemes.size() < 2) return;
    std::lock_guard<std::mutex> lock(mu);
    schemes[ep.authority] = scheme;
  }

  AuthState CachedAuth(const Endpoint& ep, const std::string& scope) {
    std::lock_guard<std::mutex> lock(mu);
    auto t = tokens.find({ep.authority, scope});
    if (t != tokens.end()) {
      if (Clock::now() < t->second.expiry)
        return {t->second.header, t->second.user, t->second.source};
      tokens.erase(t);
    }
    auto b = basic.find(ep.authority);
    if (b != basic.end()) return b->second;
    return {};
  }

  std::string AuthFilesText() const {
    if (options.auth_files.empty()) return "an auth file (auth_files in the agent's config)";
    std::vector<std::string> files;
    for (const std::string& f : options.auth_files) files.push_back(ExpandHome(f));
    return absl::StrJoin(files, " or ");
  }

  absl::Status NeedsCredentials(const Endpoint& ep, const Reference& ref) const {
    return absl::UnauthenticatedError(
        absl::StrCat(ep.display, " needs credentials to pull ", ref.repository,
                     " (or the repository does not exist): add them to ", AuthFilesText(),
                     " in Docker's {\"auths\": {\"", ep.mirror ? ep.authority : ref.registry,
                     "\": {\"auth\": base64(user:password)}}} format"));
  }

  absl::Status Rejected(const Endpoint& ep, const AuthState& auth) const {
    return absl::UnauthenticatedError(absl::StrCat(
        ep.display, " rejected the credentials for user ", auth.user, " (from ", auth.source, ")"));
  }

  // A token from the Bearer realm, with Basic credentials when the auth file has some.
  absl::StatusOr<AuthState> FetchToken(const Endpoint& ep, const Reference& ref,
                                       const Challenge& challenge, const std::string& scope) {
    auto realm_it = challenge.params.find("realm");
    if (realm_it == challenge.params.end() || !(absl::StartsWith(realm_it->second, "https://") ||
                                                absl::StartsWith(realm_it->second, "http://"))) {
      return absl::UnavailableError(absl::StrCat(
          ep.display, " asked for a Bearer token without a usable realm (WWW-Authenticate: ",
          "realm=\"", realm_it == challenge.params.end() ? "" : realm_it->second, "\")"));
    }
    const std::string& realm = realm_it->second;
    absl::StatusOr<std::optional<Credentials>> creds =
        FindCredentials(options, ep.credential_hosts);
    if (!creds.ok()) return creds.status();

    std::string url = realm;
    char sep = absl::StrContains(realm, '?') ? '&' : '?';
    auto service = challenge.params.find("service");
    if (service != challenge.params.end()) {
      absl::StrAppend(&url, std::string(1, sep), "service=", PercentEncode(service->second));
      sep = '&';
    }
    absl::StrAppend(&url, std::string(1, sep), "scope=", PercentEncode(scope));
    AuthState state;
    HttpRequest req;
    req.headers = {absl::StrCat("User-Agent: ", options.user_agent), "Accept: application/json"};
    if (creds->has_value()) {
      const Credentials& c = **creds;
      absl::StrAppend(&url, "&account=", PercentEncode(c.username));
      req.headers.push_back(absl::StrCat(
          "Authorization: Basic ", absl::Base64Escape(absl::StrCat(c.username, ":", c.password))));
      state.user = c.username;
      state.source = c.source;
    }
    req.url = url;
    // The token service is verified unless it is an insecure host itself.
    absl::string_view realm_rest = realm;
    if (!absl::ConsumePrefix(&realm_rest, "https://")) absl::ConsumePrefix(&realm_rest, "http://");
    req.verify_tls =
        !IsInsecure(options.insecure_registries, realm_rest.substr(0, realm_rest.find('/')));
    req.timeout_s = kSmallRequestTimeoutS;
    req.max_body = kMaxTokenBytes;

    HttpResponse resp;
    for (int attempt = 1;; ++attempt) {
      resp = Perform(pool, req);
      bool transient = resp.code != CURLE_OK ? IsRetryableCurlError(resp.code)
                                             : (resp.status == 429 || resp.status >= 500);
      if (!transient || attempt >= options.max_attempts) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(
          std::max(BackoffMs(options, attempt), resp.code == CURLE_OK ? RetryAfterMs(resp) : 0)));
    }
    if (resp.code != CURLE_OK) {
      return absl::UnavailableError(absl::StrCat("cannot get a token for ", ep.display, " from ",
                                                 realm, ": ", CurlErrorText(resp)));
    }
    if (resp.status == 401 || resp.status == 403) {
      if (!state.user.empty()) return Rejected(ep, state);
      return NeedsCredentials(ep, ref);
    }
    if (resp.status / 100 != 2) {
      return absl::UnavailableError(absl::StrCat("token service ", realm, " of ", ep.display,
                                                 " answered ", StatusText(resp)));
    }
    nlohmann::json doc = nlohmann::json::parse(resp.body, nullptr, /*allow_exceptions=*/false);
    std::string token;
    if (!doc.is_discarded() && doc.is_object()) {
      for (const char* key : {"token", "access_token"}) {
        auto it = doc.find(key);
        if (it != doc.end() && it->is_string() && !it->get<std::string>().empty()) {
          token = it->get<std::string>();
          break;
        }
      }
    }
    if (token.empty()) {
      return absl::UnavailableError(
          absl::StrCat("token service ", realm, " of ", ep.display, " answered without a token"));
    }
    int64_t expires_in = 60;  // the distribution spec's default
    if (!doc.is_discarded()) {
      auto it = doc.find("expires_in");
      if (it != doc.end() && it->is_number_integer() && it->get<int64_t>() > 0) {
        expires_in = it->get<int64_t>();
      }
    }
    state.header = absl::StrCat("Authorization: Bearer ", token);
    {
      std::lock_guard<std::mutex> lock(mu);
      // A margin so a token does not expire between the check and the registry's.
      tokens[{ep.authority, scope}] =
          CachedToken{state.header, state.user, state.source,
                      Clock::now() + std::chrono::seconds(std::max<int64_t>(expires_in - 10, 1))};
    }
    return state;
  }

  // The answer to a 401: a Bearer token or Basic credentials.
  absl::StatusOr<AuthState> Authorize(const Endpoint& ep, const Reference& ref,
                                      const std::string& scope, const HttpResponse& resp) {
    {
      std::lock_guard<std::mutex> lock(mu);
      tokens.erase({ep.authority, scope});
      basic.erase(ep.authority);
    }
    std::vector<Challenge> challenges;
    auto range = resp.headers.equal_range("www-authenticate");
    for (auto it = range.first; it != range.second; ++it) {
      for (Challenge& c : ParseChallenges(it->second)) challenges.push_back(std::move(c));
    }
    for (const Challenge& c : challenges) {
      if (c.scheme == "bearer") return FetchToken(ep, ref, c, scope);
    }
    for (const Challenge& c : challenges) {
      if (c.scheme != "basic") continue;
      absl::StatusOr<std::optional<Credentials>> creds =
          FindCredentials(options, ep.credential_hosts);
      if (!creds.ok()) return creds.status();
      if (!creds->has_value()) return NeedsCredentials(ep, ref);
      const Credentials& cr = **creds;
      AuthState state{absl::StrCat("Authorization: Basic ",
                                   absl::Base64Escape(absl::StrCat(cr.username, ":", cr.password))),
                      cr.username, cr.source};
      std::lock_guard<std::mutex> lock(mu);
      basic[ep.authority] = state;
      return state;
    }
    return absl::UnauthenticatedError(absl::StrCat(
        ep.display, " answered 401 without a Bearer or Basic challenge (WWW-Authenticate: \"",
        resp.Header("www-authenticate"), "\")"));
  }

  // GET `path` from one endpoint: scheme fallback, the 401 challenge, retries with backoff.
  // A 2xx response, or the status for what the endpoint answered.
  absl::StatusOr<HttpResponse> Get(const Endpoint& ep, const Reference& ref,
                                   const std::string& path, const std::string& accept,
                                   const Target& target, BlobState* blob) {
    const std::string scope = absl::StrCat("repository:", ref.repository, ":pull");
    AuthState auth = CachedAuth(ep, scope);
    bool challenged = false;
    bool retrying = false;  // the previous attempt failed: this one starts the blob over
    std::vector<std::string> tried;
    for (int attempt = 1;; ++attempt) {
      HttpResponse resp;
      std::vector<std::string> order = SchemeOrder(ep);
      for (size_t i = 0; i < order.size(); ++i) {
        HttpRequest req;
        req.url = absl::StrCat(order[i], "://", ep.authority, ep.path_prefix, path);
        req.verify_tls = ep.verify_tls;
        req.headers.push_back(absl::StrCat("User-Agent: ", options.user_agent));
        if (!accept.empty()) req.headers.push_back(accept);
        if (!auth.header.empty()) req.headers.push_back(auth.header);
        bool more = i + 1 < order.size();
        if (more) req.connect_timeout_ms = kProbeConnectTimeoutMs;
        if (blob != nullptr) {
          if (blob->dirty || retrying) {
            absl::Status st = blob->sink->Reset();
            if (!st.ok()) {
              blob->failed = st;
              return st;
            }
            blob->dirty = false;
            retrying = false;
          }
          req.sink = blob->sink;
          req.progress = blob->progress;
        } else {
          req.timeout_s = kSmallRequestTimeoutS;
        }
        if (std::find(tried.begin(), tried.end(), req.url) == tried.end()) tried.push_back(req.url);
        resp = Perform(pool, req);
        if (blob != nullptr && resp.sink_bytes > 0) blob->dirty = true;
        if (!resp.sink_status.ok()) {
          blob->failed = resp.sink_status;
          return resp.sink_status;
        }
        if (resp.code == CURLE_OK) {
          RememberScheme(ep, order[i]);
          break;
        }
        if (!more || !IsFallbackCurlError(resp.code)) break;
      }

      if (resp.code != CURLE_OK) {
        if (resp.body_too_large) {
          return absl::OutOfRangeError(absl::StrCat(ep.display, " sent a ", target.what,
                                                    " larger than ", kMaxManifestBytes, " bytes"));
        }
        // A mirror that cannot be reached at all is skipped at once rather than retried.
        bool retry = IsRetryableCurlError(resp.code) && attempt < options.max_attempts &&
                     !(ep.mirror && IsConnectCurlError(resp.code));
        if (retry) {
          std::this_thread::sleep_for(std::chrono::milliseconds(BackoffMs(options, attempt)));
          retrying = true;
          continue;
        }
        std::string hint;
        if (resp.code == CURLE_PEER_FAILED_VERIFICATION) {
          hint = absl::StrCat("; if this registry is meant to have an untrusted certificate, add ",
                              ep.authority, " to insecure_registries");
        }
        return absl::UnavailableError(
            absl::StrCat("cannot reach ", ep.display, " (", absl::StrJoin(tried, ", "), ") for ",
                         target.what, ": ", CurlErrorText(resp), " after ", attempt,
                         attempt == 1 ? " attempt" : " attempts", hint));
      }

      if (resp.status == 401) {
        if (challenged) {
          if (auth.user.empty()) return NeedsCredentials(ep, ref);
          if (absl::StartsWith(auth.header, "Authorization: Bearer")) {
            // The token service took the credentials; the registry did not take the token.
            return absl::UnauthenticatedError(absl::StrCat(
                ep.display, " does not let user ", auth.user, " (from ", auth.source, ") pull ",
                ref.repository, ": the repository does not exist or the user has no access"));
          }
          return Rejected(ep, auth);
        }
        challenged = true;
        absl::StatusOr<AuthState> next = Authorize(ep, ref, scope, resp);
        if (!next.ok()) return next.status();
        auth = *std::move(next);
        --attempt;  // answering a challenge is not a failed attempt
        continue;
      }
      if (resp.status == 429 || resp.status >= 500) {
        if (attempt < options.max_attempts) {
          std::this_thread::sleep_for(
              std::chrono::milliseconds(std::max(BackoffMs(options, attempt), RetryAfterMs(resp))));
          retrying = true;
          continue;
        }
        std::string text = absl::StrCat(ep.display, " answered ", StatusText(resp), " for ",
                                        target.what, " (", resp.effective_url, ") after ", attempt,
                                        attempt == 1 ? " attempt" : " attempts");
        return resp.status == 429 ? absl::ResourceExhaustedError(text)
                                  : absl::UnavailableError(text);
      }
      if (resp.status / 100 == 2) return resp;

      std::string user = auth.user.empty() ? "" : absl::StrCat(" (as user ", auth.user, ")");
      switch (resp.status) {
        case 404:
          return absl::NotFoundError(
              absl::StrCat(ep.display, " has no ", target.what, ": ", StatusText(resp)));
        case 403:
          return absl::PermissionDeniedError(absl::StrCat(
              ep.display, " denied access to ", target.what, user, ": ", StatusText(resp)));
        case 400:
          return absl::InvalidArgumentError(absl::StrCat(ep.display, " refused the request for ",
                                                         target.what, ": ", StatusText(resp)));
        default:
          return absl::UnknownError(absl::StrCat(ep.display, " answered ", StatusText(resp),
                                                 " for ", target.what, " (", resp.effective_url,
                                                 ")"));
      }
    }
  }

  // Tries the endpoints in order (mirrors, then the registry); all failing, the registry's
  // status, with what the mirrors said appended.
  template <typename T, typename Fn>
  absl::StatusOr<T> OverEndpoints(const Reference& ref, Fn&& fn) {
    std::vector<std::string> mirror_errors;
    std::vector<Endpoint> endpoints = Endpoints(ref);
    for (size_t i = 0; i < endpoints.size(); ++i) {
      absl::StatusOr<T> result = fn(endpoints[i]);
      if (result.ok() || i + 1 == endpoints.size() ||
          result.status().code() == absl::StatusCode::kAborted) {
        if (result.ok() || mirror_errors.empty()) return result;
        return absl::Status(result.status().code(),
                            absl::StrCat(result.status().message(), " (mirrors tried first: ",
                                         absl::StrJoin(mirror_errors, "; "), ")"));
      }
      mirror_errors.push_back(std::string(result.status().message()));
    }
    return absl::InternalError("no endpoints");  // not reached: the registry is always last
  }

  absl::StatusOr<FetchedManifest> FetchManifest(const Reference& ref, const std::string& digest) {
    absl::Status valid = CheckRepositoryAndTag(ref);
    if (!valid.ok()) return valid;
    if (!digest.empty()) {
      valid = CheckDigest(digest);
      if (!valid.ok()) return valid;
    }
    const std::string& reference = digest.empty() ? ref.tag : digest;
    Target target{absl::StrCat("manifest ", ref.repository, digest.empty() ? ":" : "@", reference)};
    const std::string path = absl::StrCat("/v2/", ref.repository, "/manifests/", reference);
    const std::string accept = ManifestAcceptHeader();
    return OverEndpoints<FetchedManifest>(
        ref, [&](const Endpoint& ep) -> absl::StatusOr<FetchedManifest> {
          absl::StatusOr<HttpResponse> resp = Get(ep, ref, path, accept, target, nullptr);
          if (!resp.ok()) return resp.status();
          FetchedManifest out;
          out.media_type = ManifestMediaType(*resp);
          out.digest = absl::StrCat("sha256:", Sha256Hex(resp->body));
          if (!digest.empty() && out.digest != digest) {
            return absl::DataLossError(absl::StrCat(ep.display, " sent a manifest of digest ",
                                                    out.digest, " when asked for ", target.what));
          }
          std::string claimed = resp->Header("docker-content-digest");
          bool known_type = out.media_type == kOciManifest || out.media_type == kOciIndex ||
                            out.media_type == kDockerManifest ||
                            out.media_type == kDockerManifestList;
          if (known_type && absl::StartsWith(claimed, "sha256:") && claimed != out.digest) {
            return absl::DataLossError(absl::StrCat(ep.display, " sent a body of digest ",
                                                    out.digest, " for ", target.what,
                                                    " but named it ", claimed));
          }
          out.body = std::move(resp->body);
          return out;
        });
  }
};

RegistryClient::RegistryClient(RegistryOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  InitCurlOnce();
}

RegistryClient::~RegistryClient() = default;

absl::StatusOr<FetchedManifest> RegistryClient::GetManifest(const Reference& ref) {
  return impl_->FetchManifest(ref, ref.digest);
}

absl::StatusOr<FetchedManifest> RegistryClient::GetManifest(const Reference& ref,
                                                            const std::string& digest) {
  return impl_->FetchManifest(ref, digest);
}

absl::Status RegistryClient::GetBlob(const Reference& ref, const std::string& digest,
                                     BlobSink& sink,
                                     const std::function<void(int64_t done)>& progress) {
  Reference repo_only = ref;
  repo_only.digest.clear();
  repo_only.tag = "latest";  // only the repository goes into the URL
  absl::Status valid = CheckRepositoryAndTag(repo_only);
  if (!valid.ok()) return valid;
  valid = CheckDigest(digest);
  if (!valid.ok()) return valid;
  Impl::Target target{absl::StrCat("blob ", digest, " of ", ref.repository)};
  const std::string path = absl::StrCat("/v2/", ref.repository, "/blobs/", digest);
  Impl::BlobState blob;
  blob.sink = &sink;
  blob.progress = &progress;
  absl::StatusOr<bool> done =
      impl_->OverEndpoints<bool>(ref, [&](const Endpoint& ep) -> absl::StatusOr<bool> {
        absl::StatusOr<HttpResponse> resp = impl_->Get(ep, ref, path, "", target, &blob);
        if (!blob.failed.ok()) {
          // The sink failed (a local disk): no endpoint can fix that.
          return absl::AbortedError(
              absl::StrCat("write ", target.what, ": ", blob.failed.message()));
        }
        if (!resp.ok()) return resp.status();
        return true;
      });
  if (!blob.failed.ok()) return blob.failed;
  return done.status();
}

}  // namespace berth::image
