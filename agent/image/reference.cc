#include "agent/image/reference.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "runtime/base/quote.h"
#include "absl/strings/str_split.h"
#include "agent/image/digest.h"

namespace berth::image {

namespace {

// Docker's limit on registry + "/" + repository.
constexpr size_t kMaxNameLength = 255;
constexpr size_t kMaxTagLength = 128;

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

absl::Status Invalid(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid reference ", Quoted(text), ": ", why));
}

// One path component: [a-z0-9]+ joined by exactly one of ".", "_", "__" or a run of "-".
bool ValidPathComponent(absl::string_view c) {
  if (c.empty() || !IsLowerAlnum(c.front()) || !IsLowerAlnum(c.back())) return false;
  size_t i = 0;
  while (i < c.size()) {
    if (IsLowerAlnum(c[i])) {
      ++i;
      continue;
    }
    size_t start = i;
    while (i < c.size() && !IsLowerAlnum(c[i])) ++i;
    absl::string_view sep = c.substr(start, i - start);
    bool dashes = sep.find_first_not_of('-') == absl::string_view::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
  }
  return true;
}

// A host name label: [A-Za-z0-9] or [A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9].
bool ValidHostLabel(absl::string_view l) {
  if (l.empty() || !absl::ascii_isalnum(l.front()) || !absl::ascii_isalnum(l.back())) return false;
  for (char c : l) {
    if (!absl::ascii_isalnum(c) && c != '-') return false;
  }
  return true;
}

bool ValidPort(absl::string_view p) {
  if (p.empty() || p.size() > 5) return false;
  for (char c : p) {
    if (!absl::ascii_isdigit(c)) return false;
  }
  return true;
}

// host[:port] with a host of dot-separated labels, or [IPv6][:port].
bool ValidRegistry(absl::string_view r) {
  absl::string_view host = r;
  if (!r.empty() && r.front() == '[') {
    size_t close = r.find(']');
    if (close == absl::string_view::npos || close < 3) return false;
    for (char c : r.substr(1, close - 1)) {
      if (!absl::ascii_isxdigit(c) && c != ':') return false;
    }
    absl::string_view rest = r.substr(close + 1);
    if (rest.empty()) return true;
    return rest.front() == ':' && ValidPort(rest.substr(1));
  }
  size_t colon = r.find(':');
  if (colon != absl::string_view::npos) {
    if (!ValidPort(r.substr(colon + 1))) return false;
    host = r.substr(0, colon);
  }
  if (host.empty()) return false;
  for (absl::string_view label : absl::StrSplit(host, '.')) {
    if (!ValidHostLabel(label)) return false;
  }
  return true;
}

bool ValidTag(absl::string_view t) {
  if (t.empty() || t.size() > kMaxTagLength) return false;
  auto word = [](char c) { return absl::ascii_isalnum(c) || c == '_'; };
  if (!word(t.front())) return false;
  for (char c : t) {
    if (!word(c) && c != '.' && c != '-') return false;
  }
  return true;
}

bool IsHex64(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string Reference::Name() const { return absl::StrCat(registry, "/", repository); }

std::string Reference::String() const {
  std::string out = Name();
  if (!tag.empty()) absl::StrAppend(&out, ":", tag);
  if (!digest.empty()) absl::StrAppend(&out, "@", digest);
  return out;
}

std::string Reference::Familiar() const {
  std::string out;
  if (registry == kDefaultRegistry) {
    absl::string_view repo = repository;
    // Only docker.io's official images lose "library/": "library/a/b" stays as it is.
    if (absl::StartsWith(repo, "library/") && repo.find('/', 8) == absl::string_view::npos) {
      repo.remove_prefix(8);
    }
    out = std::string(repo);
  } else {
    out = Name();
  }
  if (!tag.empty()) absl::StrAppend(&out, ":", tag);
  if (!digest.empty()) absl::StrAppend(&out, "@", digest);
  return out;
}

absl::StatusOr<Reference> ParseReference(absl::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("invalid reference: empty");
  // Docker's limit for a whole reference is the name's 255 plus a tag and a digest.
  if (text.size() > 512) return Invalid(text, absl::StrCat("it is ", text.size(), " bytes long (at most 512)"));
  // Docker refuses a bare 64-hex name: anyone reading it would take it for an image id.
  if (IsHex64(text)) return Invalid(text, "a 64-digit hexadecimal string is an image id, not a repository name");
  Reference ref;

  // name[:tag][@digest]: the name never holds '@', so the first one starts the digest.
  absl::string_view rest = text;
  if (size_t at = rest.find('@'); at != absl::string_view::npos) {
    absl::string_view digest = rest.substr(at + 1);
    if (absl::Status st = ValidateDigest(digest); !st.ok()) return Invalid(text, st.message());
    ref.digest = std::string(digest);
    rest = rest.substr(0, at);
  }
  // A ':' after the last '/' starts the tag; one before it belongs to a registry's port.
  size_t last_slash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != absl::string_view::npos && (last_slash == absl::string_view::npos || colon > last_slash)) {
    absl::string_view tag = rest.substr(colon + 1);
    if (!ValidTag(tag)) {
      return Invalid(text, absl::StrCat("bad tag \"", tag,
                                        "\" (want [A-Za-z0-9_][A-Za-z0-9_.-]*, at most 128 characters)"));
    }
    ref.tag = std::string(tag);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return Invalid(text, "empty name");

  absl::string_view repo = rest;
  size_t slash = rest.find('/');
  if (slash != absl::string_view::npos) {
    absl::string_view first = rest.substr(0, slash);
    if (first.find_first_of(".:") != absl::string_view::npos || first == "localhost") {
      if (!ValidRegistry(first)) return Invalid(text, absl::StrCat("bad registry \"", first, "\""));
      ref.registry = std::string(first);
      repo = rest.substr(slash + 1);
    }
  }
  if (ref.registry.empty() || ref.registry == "index.docker.io") ref.registry = kDefaultRegistry;

  if (repo.empty()) return Invalid(text, "empty repository");
  for (absl::string_view component : absl::StrSplit(repo, '/')) {
    if (ValidPathComponent(component)) continue;
    bool has_upper = false;
    for (char c : component) has_upper |= absl::ascii_isupper(c);
    if (has_upper) return Invalid(text, "repository name must be lowercase");
    if (component.empty()) return Invalid(text, "empty path component in repository");
    return Invalid(text, absl::StrCat("bad repository path component \"", component,
                                      "\" (want [a-z0-9] separated by '.', '_', '__' or '-')"));
  }
  if (rest.size() > kMaxNameLength) {
    return Invalid(text, absl::StrCat("name longer than ", kMaxNameLength, " characters"));
  }
  if (repo.find('/') == absl::string_view::npos && ref.registry == kDefaultRegistry) {
    ref.repository = absl::StrCat("library/", repo);
  } else {
    ref.repository = std::string(repo);
  }
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

}  // namespace berth::image
