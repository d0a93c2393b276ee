// The GoTemplate functions (json, index, join, len, upper, lower, title, split, print,
// println, printf, pad, truncate, eq, ne, lt, le, gt, ge, not, and, or) and how values print.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/go_template_tree.h"
#include "cli/human_format.h"

namespace berth::cli::go_template {
namespace {

using json = nlohmann::json;
using Args = std::vector<json>;
using Function = std::function<absl::StatusOr<json>(const Args&)>;

// How much of a value or name an error message echoes back.
constexpr size_t kEchoWidth = 64;

// Go's %v of a float64: the shortest digits that read back the same, in exponent form below
// 1e-4 and from 1e6 on ("1e+06", fmt's %v rule).
std::string GoFloat(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, end);
  const size_t e = sci.find('e');
  const int exponent = std::stoi(sci.substr(e + 1));
  if (exponent < -4 || exponent >= 6) return sci;  // "1e+06", "1.5e-05": as Go writes them
  auto [fend, fec] = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
  return std::string(buf, fend);
}

std::string TypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "nil";
    case json::value_t::string: return "string";
    case json::value_t::boolean: return "bool";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "int";
    case json::value_t::number_float: return "float";
    case json::value_t::array: return "array";
    case json::value_t::object: return "object";
    default: return "value";
  }
}

absl::Status WrongArgs(const std::string& fn, const std::string& want, size_t got) {
  return absl::InvalidArgumentError(absl::StrCat(fn, ": wants ", want, ", got ", got, " argument", got == 1 ? "" : "s"));
}

absl::StatusOr<std::string> StringArg(const std::string& fn, const json& v, const std::string& what) {
  if (!v.is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(fn, ": ", what, " must be a string, not ", TypeName(v), " ", Echo(v)));
  }
  return v.get<std::string>();
}

absl::StatusOr<int64_t> IntArg(const std::string& fn, const json& v, const std::string& what) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float() && std::trunc(v.get<double>()) == v.get<double>()) {
    return static_cast<int64_t>(v.get<double>());
  }
  return absl::InvalidArgumentError(absl::StrCat(fn, ": ", what, " must be an integer, not ", TypeName(v), " ", Echo(v)));
}

// The n-th code point boundary of s (s.size() when it has fewer).
size_t CodePointOffset(std::string_view s, size_t n) {
  size_t i = 0;
  for (size_t seen = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (seen == n) return i;
      ++seen;
    }
  }
  return s.size();
}

absl::StatusOr<json> Index(const Args& args) {
  if (args.empty()) return WrongArgs("index", "an item and keys", 0);
  json item = args[0];
  for (size_t i = 1; i < args.size(); ++i) {
    const json& key = args[i];
    if (item.is_object()) {
      if (!key.is_string()) {
        return absl::InvalidArgumentError(absl::StrCat("index: an object's key must be a string, not ", Echo(key)));
      }
      auto it = item.find(key.get<std::string>());
      if (it != item.end()) {
        json next = *it;
        item = std::move(next);
        continue;
      }
      // A missing key gives the zero value of the map's values, like Go's index: "" in a map
      // of strings (labels), else no value.
      const bool strings = std::all_of(item.begin(), item.end(), [](const json& v) { return v.is_string(); });
      item = strings ? json("") : json();
    } else if (item.is_array()) {
      absl::StatusOr<int64_t> n = IntArg("index", key, "an array's index");
      if (!n.ok()) return n.status();
      if (*n < 0 || static_cast<size_t>(*n) >= item.size()) {
        return absl::InvalidArgumentError(absl::StrCat("index out of range: ", *n, " (length ", item.size(), ")"));
      }
      json next = item[static_cast<size_t>(*n)];
      item = std::move(next);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("index: can't index ", TypeName(item), " ", Echo(item)));
    }
  }
  return item;
}

absl::StatusOr<json> Len(const Args& args) {
  if (args.size() != 1) return WrongArgs("len", "1 argument", args.size());
  const json& v = args[0];
  if (v.is_string()) return json(v.get_ref<const std::string&>().size());
  if (v.is_array() || v.is_object()) return json(v.size());
  return absl::InvalidArgumentError(absl::StrCat("len of ", TypeName(v), " ", Echo(v)));
}

absl::StatusOr<json> Join(const Args& args) {
  if (args.size() != 2) return WrongArgs("join", "2 arguments (a list, a separator)", args.size());
  if (!args[0].is_array()) {
    return absl::InvalidArgumentError(absl::StrCat("join: wants a list, not ", TypeName(args[0]), " ", Echo(args[0])));
  }
  absl::StatusOr<std::string> sep = StringArg("join", args[1], "the separator");
  if (!sep.ok()) return sep.status();
  std::string out;
  for (size_t i = 0; i < args[0].size(); ++i) {
    if (i > 0) out += *sep;
    out += PrintValue(args[0][i]);
  }
  return json(out);
}

absl::StatusOr<json> Split(const Args& args) {
  if (args.size() != 2) return WrongArgs("split", "2 arguments (a string, a separator)", args.size());
  absl::StatusOr<std::string> s = StringArg("split", args[0], "the text");
  if (!s.ok()) return s.status();
  absl::StatusOr<std::string> sep = StringArg("split", args[1], "the separator");
  if (!sep.ok()) return sep.status();
  json out = json::array();
  if (sep->empty()) {
    for (size_t i = 0; i < s->size();) {
      const size_t next = i + CodePointOffset(std::string_view(*s).substr(i), 1);
      out.push_back(s->substr(i, std::max(next, i + 1) - i));
      i = std::max(next, i + 1);
    }
    return out;
  }
  size_t start = 0;
  while (true) {
    const size_t at = s->find(*sep, start);
    if (at == std::string::npos) break;
    out.push_back(s->substr(start, at - start));
    start = at + sep->size();
  }
  out.push_back(s->substr(start));
  return out;
}

Function StringMap(std::string name, std::function<std::string(std::string)> map) {
  return [name, map](const Args& args) -> absl::StatusOr<json> {
    if (args.size() != 1) return WrongArgs(name, "1 argument", args.size());
    absl::StatusOr<std::string> s = StringArg(name, args[0], "its argument");
    if (!s.ok()) return s.status();
    return json(map(*std::move(s)));
  };
}

std::string Title(std::string s) {
  bool word_start = true;
  for (char& c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    const bool in_word = std::isalnum(u) || c == '_' || u >= 0x80;
    if (in_word && word_start) c = static_cast<char>(std::toupper(u));
    word_start = !in_word;
  }
  return s;
}

// Go's Sprint: a space between operands when neither is a string.
std::string Sprint(const Args& args) {
  std::string out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (i > 0 && !args[i].is_string() && !args[i - 1].is_string()) out += ' ';
    out += PrintValue(args[i]);
  }
  return out;
}

std::string Sprintln(const Args& args) {
  std::string out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (i > 0) out += ' ';
    out += PrintValue(args[i]);
  }
  return out + "\n";
}

std::string Padded(std::string s, size_t width, bool left_align, bool zeros) {
  const size_t w = DisplayWidth(s);
  if (w >= width) return s;
  if (left_align) return s + std::string(width - w, ' ');
  if (zeros && !s.empty() && (s[0] == '-' || s[0] == '+')) {
    return s.substr(0, 1) + std::string(width - w, '0') + s.substr(1);
  }
  return std::string(width - w, zeros ? '0' : ' ') + s;
}

// The widest a printf width or precision may ask for.
constexpr size_t kMaxWidth = 1024;

// printf's verbs %s %v %d %q %t %f (with '-' and '0' flags, width and precision) and %%.
std::string Sprintf(std::string_view format, const Args& args) {
  std::string out;
  size_t next_arg = 0;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out += format[i];
      continue;
    }
    bool left = false;
    bool zeros = false;
    size_t j = i + 1;
    for (; j < format.size() && (format[j] == '-' || format[j] == '0' || format[j] == '+' || format[j] == ' '); ++j) {
      if (format[j] == '-') left = true;
      if (format[j] == '0') zeros = true;
    }
    size_t width = 0;
    for (; j < format.size() && format[j] >= '0' && format[j] <= '9'; ++j) {
      width = std::min<size_t>(width * 10 + static_cast<size_t>(format[j] - '0'), kMaxWidth);
    }
    int precision = -1;
    if (j < format.size() && format[j] == '.') {
      precision = 0;
      for (++j; j < format.size() && format[j] >= '0' && format[j] <= '9'; ++j) {
        precision = std::min<int>(precision * 10 + (format[j] - '0'), static_cast<int>(kMaxWidth));
      }
    }
    if (j >= format.size()) {
      out += "%!(NOVERB)";
      break;
    }
    const char verb = format[j];
    i = j;
    if (verb == '%') {
      out += '%';
      continue;
    }
    if (next_arg >= args.size()) {
      absl::StrAppend(&out, "%!", std::string(1, verb), "(MISSING)");
      continue;
    }
    const json& arg = args[next_arg++];
    std::string text;
    switch (verb) {
      case 'v':
      case 's':
        text = PrintValue(arg);
        if (precision >= 0) text = text.substr(0, CodePointOffset(text, static_cast<size_t>(precision)));
        break;
      case 'q':
        text = Quote(PrintValue(arg));
        break;
      case 't':
        text = arg.is_boolean() ? PrintValue(arg) : absl::StrCat("%!t(", TypeName(arg), "=", PrintValue(arg), ")");
        break;
      case 'd':
        if (arg.is_number_integer()) {
          text = PrintValue(arg);
        } else if (arg.is_number_float() && std::trunc(arg.get<double>()) == arg.get<double>()) {
          text = absl::StrCat(static_cast<int64_t>(arg.get<double>()));
        } else {
          text = absl::StrCat("%!d(", TypeName(arg), "=", PrintValue(arg), ")");
        }
        break;
      case 'f':
        if (arg.is_number()) {
          char buf[128];
          std::snprintf(buf, sizeof buf, "%.*f", precision < 0 ? 6 : std::min(precision, 60), arg.get<double>());
          text = buf;
        } else {
          text = absl::StrCat("%!f(", TypeName(arg), "=", PrintValue(arg), ")");
        }
        break;
      default:
        text = absl::StrCat("%!", std::string(1, verb), "(", TypeName(arg), "=", PrintValue(arg), ")");
    }
    out += Padded(std::move(text), width, left, zeros && !left && verb != 's' && verb != 'q' && verb != 'v');
  }
  if (next_arg < args.size()) {
    out += "%!(EXTRA ";
    for (size_t k = next_arg; k < args.size(); ++k) {
      if (k > next_arg) out += ", ";
      absl::StrAppend(&out, TypeName(args[k]), "=", PrintValue(args[k]));
    }
    out += ")";
  }
  return out;
}

bool IsBasic(const json& v) { return v.is_null() || v.is_string() || v.is_boolean() || v.is_number(); }

// -1, 0, 1; an error when the two cannot be compared (`ordered`: lt and friends, which refuse
// bools and nil).
absl::StatusOr<int> Compare(const std::string& fn, const json& a, const json& b, bool ordered) {
  if (!IsBasic(a) || !IsBasic(b)) {
    return absl::InvalidArgumentError(absl::StrCat(fn, ": can't compare ", TypeName(!IsBasic(a) ? a : b), "s"));
  }
  if (a.is_number() && b.is_number()) {
    if (a.is_number_integer() && b.is_number_integer()) {
      if (a.is_number_unsigned() || b.is_number_unsigned()) {
        // Either may exceed int64; compare as doubles when signs differ.
        const double x = a.get<double>(), y = b.get<double>();
        return x < y ? -1 : x > y ? 1 : 0;
      }
      const int64_t x = a.get<int64_t>(), y = b.get<int64_t>();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    const double x = a.get<double>(), y = b.get<double>();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.type() != b.type()) {
    return absl::InvalidArgumentError(
        absl::StrCat(fn, ": incompatible types for comparison: ", TypeName(a), " and ", TypeName(b)));
  }
  if (ordered && (a.is_boolean() || a.is_null())) {
    return absl::InvalidArgumentError(absl::StrCat(fn, ": ", TypeName(a), "s have no order"));
  }
  if (a.is_string()) {
    const int c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_boolean()) return a.get<bool>() == b.get<bool>() ? 0 : 1;
  return 0;  // both nil
}

Function Ordered(std::string name, std::function<bool(int)> holds) {
  return [name, holds](const Args& args) -> absl::StatusOr<json> {
    if (args.size() != 2) return WrongArgs(name, "2 arguments", args.size());
    absl::StatusOr<int> c = Compare(name, args[0], args[1], true);
    if (!c.ok()) return c.status();
    return json(holds(*c));
  };
}

// eq a b c...: a equals any of the others.
absl::StatusOr<json> Eq(const Args& args) {
  if (args.size() < 2) return WrongArgs("eq", "at least 2 arguments", args.size());
  for (size_t i = 1; i < args.size(); ++i) {
    absl::StatusOr<int> c = Compare("eq", args[0], args[i], false);
    if (!c.ok()) return c.status();
    if (*c == 0) return json(true);
  }
  return json(false);
}

const std::map<std::string, Function, std::less<>>& Functions() {
  static const auto* functions = new std::map<std::string, Function, std::less<>>{
      {"json",
       [](const Args& args) -> absl::StatusOr<json> {
         if (args.size() != 1) return WrongArgs("json", "1 argument", args.size());
         return json(args[0].dump(-1, ' ', false, json::error_handler_t::replace));
       }},
      {"index", Index},
      {"len", Len},
      {"join", Join},
      {"split", Split},
      {"upper", StringMap("upper", [](std::string s) {
         for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
         return s;
       })},
      {"lower", StringMap("lower", [](std::string s) {
         for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
         return s;
       })},
      {"title", StringMap("title", Title)},
      {"print", [](const Args& args) -> absl::StatusOr<json> { return json(Sprint(args)); }},
      {"println", [](const Args& args) -> absl::StatusOr<json> { return json(Sprintln(args)); }},
      {"printf",
       [](const Args& args) -> absl::StatusOr<json> {
         if (args.empty()) return WrongArgs("printf", "a format and values", 0);
         absl::StatusOr<std::string> format = StringArg("printf", args[0], "the format");
         if (!format.ok()) return format.status();
         return json(Sprintf(*format, Args(args.begin() + 1, args.end())));
       }},
      // docker's pad and truncate: spaces around a non-empty text; the first n characters.
      {"pad",
       [](const Args& args) -> absl::StatusOr<json> {
         if (args.size() != 3) return WrongArgs("pad", "3 arguments (text, spaces before, spaces after)", args.size());
         const std::string s = PrintValue(args[0]);
         absl::StatusOr<int64_t> before = IntArg("pad", args[1], "the spaces before");
         if (!before.ok()) return before.status();
         absl::StatusOr<int64_t> after = IntArg("pad", args[2], "the spaces after");
         if (!after.ok()) return after.status();
         if (s.empty()) return json("");
         constexpr int64_t kMaxPad = static_cast<int64_t>(kMaxWidth);
         return json(std::string(static_cast<size_t>(std::clamp<int64_t>(*before, 0, kMaxPad)), ' ') + s +
                     std::string(static_cast<size_t>(std::clamp<int64_t>(*after, 0, kMaxPad)), ' '));
       }},
      {"truncate",
       [](const Args& args) -> absl::StatusOr<json> {
         if (args.size() != 2) return WrongArgs("truncate", "2 arguments (text, length)", args.size());
         const std::string s = PrintValue(args[0]);
         absl::StatusOr<int64_t> n = IntArg("truncate", args[1], "the length");
         if (!n.ok()) return n.status();
         return json(s.substr(0, CodePointOffset(s, static_cast<size_t>(std::max<int64_t>(*n, 0)))));
       }},
      {"eq", Eq},
      {"ne",
       [](const Args& args) -> absl::StatusOr<json> {
         if (args.size() != 2) return WrongArgs("ne", "2 arguments", args.size());
         absl::StatusOr<json> eq = Eq(args);
         if (!eq.ok()) return eq.status();
         return json(!eq->get<bool>());
       }},
      {"lt", Ordered("lt", [](int c) { return c < 0; })},
      {"le", Ordered("le", [](int c) { return c <= 0; })},
      {"gt", Ordered("gt", [](int c) { return c > 0; })},
      {"ge", Ordered("ge", [](int c) { return c >= 0; })},
      {"not",
       [](const Args& args) -> absl::StatusOr<json> {
         if (args.size() != 1) return WrongArgs("not", "1 argument", args.size());
         return json(!IsTrue(args[0]));
       }},
      // and/or give the deciding value itself, as Go's do.
      {"and",
       [](const Args& args) -> absl::StatusOr<json> {
         if (args.empty()) return WrongArgs("and", "at least 1 argument", 0);
         for (const json& a : args) {
           if (!IsTrue(a)) return a;
         }
         return args.back();
       }},
      {"or",
       [](const Args& args) -> absl::StatusOr<json> {
         if (args.empty()) return WrongArgs("or", "at least 1 argument", 0);
         for (const json& a : args) {
           if (IsTrue(a)) return a;
         }
         return args.back();
       }},
  };
  return *functions;
}

}  // namespace

std::string PrintValue(const json& value, bool top) {
  switch (value.type()) {
    case json::value_t::null:
      return top ? "<no value>" : "<nil>";
    case json::value_t::string:
      return value.get<std::string>();
    case json::value_t::boolean:
      return value.get<bool>() ? "true" : "false";
    case json::value_t::number_integer:
      return absl::StrCat(value.get<int64_t>());
    case json::value_t::number_unsigned:
      return absl::StrCat(value.get<uint64_t>());
    case json::value_t::number_float:
      return GoFloat(value.get<double>());
    case json::value_t::array: {
      std::string out = "[";
      for (size_t i = 0; i < value.size(); ++i) {
        if (i > 0) out += ' ';
        out += PrintValue(value[i]);
      }
      return out + "]";
    }
    case json::value_t::object: {
      std::string out = "map[";
      bool first = true;
      for (auto it = value.begin(); it != value.end(); ++it) {
        if (!first) out += ' ';
        first = false;
        absl::StrAppend(&out, it.key(), ":", PrintValue(it.value()));
      }
      return out + "]";
    }
    default:
      return "";
  }
}

bool IsTrue(const json& value) {
  switch (value.type()) {
    case json::value_t::null: return false;
    case json::value_t::boolean: return value.get<bool>();
    case json::value_t::string: return !value.get_ref<const std::string&>().empty();
    case json::value_t::number_integer: return value.get<int64_t>() != 0;
    case json::value_t::number_unsigned: return value.get<uint64_t>() != 0;
    case json::value_t::number_float: return value.get<double>() != 0;
    case json::value_t::array:
    case json::value_t::object: return !value.empty();
    default: return false;
  }
}

std::string Echo(const json& value) { return Quote(Ellipsis(PrintValue(value), kEchoWidth)); }

std::string EchoName(std::string_view name) { return Quote(Ellipsis(name, kEchoWidth)); }

bool IsFunction(std::string_view name) { return Functions().count(name) > 0; }

absl::StatusOr<json> CallFunction(std::string_view name, const std::vector<json>& args) {
  auto it = Functions().find(name);
  if (it == Functions().end()) return absl::InvalidArgumentError(absl::StrCat("function ", EchoName(name), " not defined"));
  return it->second(args);
}

}  // namespace berth::cli::go_template
