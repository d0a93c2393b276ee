#include "agent/label_selector.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "runtime/base/quote.h"

namespace berth::agent {

absl::StatusOr<LabelMatcher> ParseLabelSelector(const std::string& selector) {
  struct Term {
    std::string key, value;
    enum { kEq, kNe, kExists } op;
  };
  std::vector<Term> terms;
  for (absl::string_view raw : absl::StrSplit(selector, ',', absl::SkipWhitespace())) {
    std::string t(absl::StripAsciiWhitespace(raw));
    Term term;
    if (size_t p = t.find("!="); p != std::string::npos) {
      term = {t.substr(0, p), t.substr(p + 2), Term::kNe};
    } else if (size_t q = t.find('='); q != std::string::npos) {
      term = {t.substr(0, q), t.substr(q + 1), Term::kEq};
    } else {
      term = {t, "", Term::kExists};
    }
    if (term.key.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("label_selector term ", Quoted(t), " has no key"));
    }
    terms.push_back(term);
  }
  return [terms](const Labels& labels) {
    for (const auto& t : terms) {
      auto it = labels.find(t.key);
      bool has = it != labels.end();
      if (t.op == Term::kExists && !has) return false;
      if (t.op == Term::kEq && (!has || it->second != t.value)) return false;
      if (t.op == Term::kNe && has && it->second == t.value) return false;
    }
    return true;
  };
}

}  // namespace berth::agent
