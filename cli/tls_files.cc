#include "cli/tls_files.h"

#include <filesystem>
#include <memory>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "cli/file_util.h"

namespace berth::cli {
namespace {

// Far above any real certificate bundle; a bigger file is not what the user meant.
constexpr size_t kMaxTlsFileSize = 1 << 20;

constexpr char kCaName[] = "--tlscacert (BERTH_TLS_CACERT)";
constexpr char kCertName[] = "--tlscert (BERTH_TLS_CERT)";
constexpr char kKeyName[] = "--tlskey (BERTH_TLS_KEY)";

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

// Never prompts for a passphrase (OpenSSL's default callback would read the terminal).
int NoPassphrase(char*, int, int, void*) { return -1; }

std::unique_ptr<BIO, BioFree> MemoryBio(const std::string& data) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

// The number of PEM certificates in `pem`; the first one into `first` when asked.
int CountCertificates(const std::string& pem, std::unique_ptr<X509, X509Free>* first) {
  auto bio = MemoryBio(pem);
  int count = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr)) {
    if (count == 0 && first != nullptr) {
      first->reset(cert);
    } else {
      X509_free(cert);
    }
    ++count;
  }
  ERR_clear_error();  // the end of the input reads as an error
  return count;
}

}  // namespace

std::vector<std::string> MissingTlsFiles(const TlsFiles& files) {
  std::vector<std::string> out;
  if (files.ca.empty()) out.push_back(kCaName);
  if (files.cert.empty()) out.push_back(kCertName);
  if (files.key.empty()) out.push_back(kKeyName);
  return out;
}

std::vector<std::string> GivenTlsFiles(const TlsFiles& files) {
  std::vector<std::string> out;
  if (!files.ca.empty()) out.push_back(kCaName);
  if (!files.cert.empty()) out.push_back(kCertName);
  if (!files.key.empty()) out.push_back(kKeyName);
  return out;
}

TlsFiles AbsoluteTlsFiles(const TlsFiles& files) {
  auto absolute = [](const std::string& path) {
    if (path.empty()) return path;
    std::error_code ec;
    std::filesystem::path p = std::filesystem::absolute(path, ec);
    if (ec) return path;
    return p.lexically_normal().string();
  };
  return TlsFiles{absolute(files.ca), absolute(files.cert), absolute(files.key)};
}

absl::StatusOr<TlsMaterial> LoadTlsMaterial(const TlsFiles& files) {
  if (!files.complete()) {
    std::string missing;
    for (const std::string& name : MissingTlsFiles(files)) {
      absl::StrAppend(&missing, missing.empty() ? "" : ", ", name);
    }
    return absl::InvalidArgumentError("missing TLS files: " + missing);
  }
  TlsMaterial m;
  absl::StatusOr<std::string> data = ReadBoundedFile(files.ca, kMaxTlsFileSize, "TLS CA certificate");
  if (!data.ok()) return data.status();
  m.ca_pem = *std::move(data);
  data = ReadBoundedFile(files.cert, kMaxTlsFileSize, "TLS client certificate");
  if (!data.ok()) return data.status();
  m.cert_pem = *std::move(data);
  data = ReadBoundedFile(files.key, kMaxTlsFileSize, "TLS client key");
  if (!data.ok()) return data.status();
  m.key_pem = *std::move(data);

  if (CountCertificates(m.ca_pem, nullptr) == 0) {
    return absl::InvalidArgumentError("the TLS CA certificate " + files.ca +
                                      " holds no PEM certificate");
  }
  std::unique_ptr<X509, X509Free> cert;
  if (CountCertificates(m.cert_pem, &cert) == 0) {
    return absl::InvalidArgumentError("the TLS client certificate " + files.cert +
                                      " holds no PEM certificate");
  }
  auto key_bio = MemoryBio(m.key_pem);
  std::unique_ptr<EVP_PKEY, PkeyFree> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, NoPassphrase, nullptr));
  ERR_clear_error();
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        "the TLS client key " + files.key +
        " holds no PEM private key (an encrypted key cannot be used: there is no passphrase "
        "prompt)");
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("the TLS client key " + files.key +
                                      " does not belong to the certificate in " + files.cert);
  }
  return m;
}

}  // namespace berth::cli
