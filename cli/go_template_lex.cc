// The GoTemplate lexer: "{{" opens an action, "}}" (outside a string) closes it; "{{- " and
// " -}}" trim the neighbouring text's whitespace; {{/* */}} comments; tokens for fields,
// variables, identifiers, strings with Go's escapes, numbers and punctuation.
#include "cli/go_template_lex.h"

#include <cctype>
#include <charconv>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "cli/go_template_tree.h"

namespace berth::cli::go_template {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool IsIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xC0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out += static_cast<char>(0xE0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (cp >> 18));
    *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}

  absl::StatusOr<std::vector<Item>> Run() {
    std::vector<Item> items;
    size_t i = 0;
    while (i < src_.size()) {
      const size_t open = src_.find("{{", i);
      if (open == std::string_view::npos) {
        items.push_back(Text(i, src_.size()));
        break;
      }
      if (open > i) items.push_back(Text(i, open));
      absl::StatusOr<Item> action = Action(open, &i);
      if (!action.ok()) return action.status();
      items.push_back(*std::move(action));
    }
    ApplyTrims(items);
    return items;
  }

 private:
  Item Text(size_t begin, size_t end) const {
    Item item;
    item.pos = begin;
    item.text = std::string(src_.substr(begin, end - begin));
    return item;
  }

  // " -}}" or "}}" at p (whitespace first for the trim form): its length, or 0.
  size_t CloseAt(size_t p, bool* trim) const {
    size_t q = p;
    while (q < src_.size() && IsSpace(src_[q])) ++q;
    if (q > p && src_.compare(q, 3, "-}}") == 0) {
      *trim = true;
      return q + 3 - p;
    }
    if (src_.compare(p, 2, "}}") == 0) return 2;
    return 0;
  }

  absl::StatusOr<Item> Action(size_t open, size_t* next) {
    Item item;
    item.is_action = true;
    item.pos = open;
    size_t p = open + 2;
    if (p + 1 < src_.size() && src_[p] == '-' && IsSpace(src_[p + 1])) {
      item.trim_left = true;
      p += 1;
      while (p < src_.size() && IsSpace(src_[p])) ++p;
    }
    if (src_.compare(p, 2, "/*") == 0) {
      const size_t end = src_.find("*/", p + 2);
      if (end == std::string_view::npos) return ErrorAt(src_, open, "unclosed comment: expected \"*/\"");
      const size_t close_len = CloseAt(end + 2, &item.trim_right);
      if (close_len == 0) return ErrorAt(src_, end + 2, "a comment must end right before \"}}\"");
      item.comment = true;
      item.close = end + 2;
      *next = end + 2 + close_len;
      return item;
    }
    bool spaced = true;
    while (true) {
      if (p >= src_.size()) return ErrorAt(src_, open, "unclosed action: expected \"}}\"");
      bool trim = false;
      if (const size_t close_len = CloseAt(p, &trim); close_len > 0) {
        item.trim_right = trim;
        item.close = p;
        *next = p + close_len;
        return item;
      }
      if (IsSpace(src_[p])) {
        while (p < src_.size() && IsSpace(src_[p])) ++p;
        spaced = true;
        continue;
      }
      absl::StatusOr<Token> token = Next(&p);
      if (!token.ok()) return token.status();
      token->spaced = spaced;
      spaced = false;
      item.tokens.push_back(*std::move(token));
    }
  }

  absl::StatusOr<Token> Next(size_t* p) {
    Token t;
    t.pos = *p;
    const char c = src_[*p];
    auto ident_from = [&](size_t from) {
      size_t q = from;
      while (q < src_.size() && IsIdentChar(src_[q])) ++q;
      *p = q;
      return std::string(src_.substr(from, q - from));
    };
    if (c == '.' && *p + 1 < src_.size() && IsIdentStart(src_[*p + 1])) {
      t.kind = Tok::kField;
      t.text = ident_from(*p + 1);
    } else if (c == '.' && !(*p + 1 < src_.size() && IsDigit(src_[*p + 1]))) {
      t.kind = Tok::kDot;
      t.text = ".";
      ++*p;
    } else if (c == '$') {
      t.kind = Tok::kVariable;
      t.text = "$" + ident_from(*p + 1);
    } else if (c == '"') {
      return QuotedString(p);
    } else if (c == '`') {
      const size_t end = src_.find('`', *p + 1);
      if (end == std::string_view::npos) return ErrorAt(src_, *p, "unterminated raw string: expected \"`\"");
      t.kind = Tok::kString;
      t.value = std::string(src_.substr(*p + 1, end - *p - 1));
      *p = end + 1;
    } else if (IsDigit(c) || c == '.' ||
               ((c == '-' || c == '+') && *p + 1 < src_.size() &&
                (IsDigit(src_[*p + 1]) || src_[*p + 1] == '.'))) {
      return Number(p);
    } else if (IsIdentStart(c)) {
      t.kind = Tok::kIdent;
      t.text = ident_from(*p);
    } else if (c == '|') {
      t.kind = Tok::kPipe;
      ++*p;
    } else if (c == '(') {
      t.kind = Tok::kLParen;
      ++*p;
    } else if (c == ')') {
      t.kind = Tok::kRParen;
      ++*p;
    } else if (c == ',') {
      t.kind = Tok::kComma;
      ++*p;
    } else if (c == ':' && *p + 1 < src_.size() && src_[*p + 1] == '=') {
      t.kind = Tok::kDeclare;
      *p += 2;
    } else if (c == '=') {
      t.kind = Tok::kAssign;
      ++*p;
    } else {
      return ErrorAt(src_, *p, absl::StrCat("unexpected ", EchoName(std::string(1, c)), " in action"));
    }
    return t;
  }

  absl::StatusOr<Token> QuotedString(size_t* p) {
    Token t;
    t.kind = Tok::kString;
    t.pos = *p;
    std::string out;
    size_t q = *p + 1;
    auto hex = [&](size_t at, size_t digits, uint32_t* cp) {
      if (at + digits > src_.size()) return false;
      *cp = 0;
      for (size_t k = 0; k < digits; ++k) {
        const char h = src_[at + k];
        if (!std::isxdigit(static_cast<unsigned char>(h))) return false;
        *cp = *cp * 16 + static_cast<uint32_t>(IsDigit(h) ? h - '0' : (std::tolower(h) - 'a' + 10));
      }
      return true;
    };
    while (true) {
      if (q >= src_.size()) return ErrorAt(src_, *p, "unterminated quoted string: expected '\"'");
      const char c = src_[q];
      if (c == '"') break;
      if (c != '\\') {
        out += c;
        ++q;
        continue;
      }
      if (q + 1 >= src_.size()) return ErrorAt(src_, *p, "unterminated quoted string: expected '\"'");
      const char e = src_[q + 1];
      q += 2;
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'v': out += '\v'; break;
        case '\\': out += '\\'; break;
        case '"': out += '"'; break;
        case '\'': out += '\''; break;
        case 'x':
        case 'u':
        case 'U': {
          const size_t digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          uint32_t cp = 0;
          if (!hex(q, digits, &cp) || cp > 0x10FFFF) {
            return ErrorAt(src_, q - 2, absl::StrCat("bad \\", std::string(1, e), " escape in quoted string"));
          }
          if (e == 'x') {
            out += static_cast<char>(cp);
          } else {
            AppendUtf8(cp, &out);
          }
          q += digits;
          break;
        }
        default:
          return ErrorAt(src_, q - 2, absl::StrCat("unknown escape ", EchoName(std::string("\\") + e),
                                                   " in quoted string"));
      }
    }
    t.value = std::move(out);
    *p = q + 1;
    return t;
  }

  absl::StatusOr<Token> Number(size_t* p) {
    Token t;
    t.kind = Tok::kNumber;
    t.pos = *p;
    size_t q = *p;
    if (src_[q] == '-' || src_[q] == '+') ++q;
    bool is_float = false;
    while (q < src_.size() && IsDigit(src_[q])) ++q;
    if (q < src_.size() && src_[q] == '.') {
      is_float = true;
      ++q;
      while (q < src_.size() && IsDigit(src_[q])) ++q;
    }
    if (q < src_.size() && (src_[q] == 'e' || src_[q] == 'E')) {
      is_float = true;
      ++q;
      if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) ++q;
      while (q < src_.size() && IsDigit(src_[q])) ++q;
    }
    // A number runs into the next token only through whitespace or punctuation.
    size_t end = q;
    while (end < src_.size() && (IsIdentChar(src_[end]) || src_[end] == '.')) ++end;
    std::string_view text = src_.substr(*p, end - *p);
    const char* first = text.data() + (text[0] == '+' ? 1 : 0);
    const char* last = text.data() + text.size();
    if (end == q) {
      if (is_float) {
        double d = 0;
        auto [ptr, ec] = std::from_chars(first, last, d);
        if (ec == std::errc() && ptr == last) {
          t.value = d;
          *p = end;
          return t;
        }
      } else {
        int64_t n = 0;
        auto [ptr, ec] = std::from_chars(first, last, n);
        if (ec == std::errc() && ptr == last) {
          t.value = n;
          *p = end;
          return t;
        }
        if (ec == std::errc::result_out_of_range) {
          return ErrorAt(src_, *p, absl::StrCat("number ", EchoName(text), " is out of range"));
        }
      }
    }
    return ErrorAt(src_, *p, absl::StrCat("bad number syntax: ", EchoName(text)));
  }

  // Trim markers remove the whitespace of the neighbouring text.
  static void ApplyTrims(std::vector<Item>& items) {
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_action) continue;
      if (items[i].trim_left && i > 0 && !items[i - 1].is_action) {
        std::string& t = items[i - 1].text;
        while (!t.empty() && IsSpace(t.back())) t.pop_back();
      }
      if (items[i].trim_right && i + 1 < items.size() && !items[i + 1].is_action) {
        std::string& t = items[i + 1].text;
        size_t n = 0;
        while (n < t.size() && IsSpace(t[n])) ++n;
        items[i + 1].pos += n;
        t.erase(0, n);
      }
    }
  }

  std::string_view src_;
};

}  // namespace

absl::StatusOr<std::vector<Item>> Lex(std::string_view text) { return Lexer(text).Run(); }

}  // namespace berth::cli::go_template
