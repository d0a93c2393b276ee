// The parsed form of a GoTemplate (cli/go_template.h), shared by its lexer
// (go_template_lex.cc), parser (go_template_parse.cc), executor (go_template.cc) and functions
// (go_template_funcs.cc). Not for use outside the engine.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace berth::cli::go_template {

struct Pipeline;

// One operand of a command: a value, or (first in its command) the function to call.
struct Operand {
  enum class Kind {
    kDot,       // `.` with `fields` applied: ".A.B" is kDot with {"A", "B"}
    kVariable,  // `name` ("$", "$x") with `fields` applied
    kParen,     // `(sub)` with `fields` applied
    kLiteral,   // `literal`: a string, number, bool or nil
    kFunction,  // `name`, a known function
  };
  Kind kind = Kind::kLiteral;
  size_t pos = 0;  // byte offset in the template text
  std::string name;
  std::vector<std::string> fields;
  nlohmann::json literal;
  std::shared_ptr<Pipeline> sub;
};

// A function call (args[0] is a kFunction) or a single operand.
struct Command {
  size_t pos = 0;
  std::vector<Operand> args;
};

struct Pipeline {
  size_t pos = 0;
  // "$x := p" declares, "$x = p" assigns; "range $k, $v := p" declares two.
  std::vector<std::string> vars;
  bool declare = false;
  std::vector<Command> commands;  // a | b | c: the value of each is the last argument of the next
};

struct Node {
  enum class Kind { kText, kAction, kIf, kWith, kRange };
  Kind kind = Kind::kText;
  size_t pos = 0;
  std::string text;  // kText
  Pipeline pipe;     // the others
  std::vector<Node> body;
  std::vector<Node> else_body;
};

struct Tree {
  std::string source;  // for the line:column of errors
  std::vector<Node> nodes;
};

// "template: LINE:COL: message" as InvalidArgument.
absl::Status ErrorAt(std::string_view source, size_t pos, std::string_view message);

// The nodes of `text`; errors as ErrorAt.
absl::StatusOr<std::vector<Node>> ParseNodes(std::string_view text);

// A value as Go's fmt prints it with %v: strings raw, integers without a fraction, floats
// shortest ("2.5", "1e+06"), maps "map[k:v k2:v2]" by key, arrays "[a b]", nil "<nil>" (and
// "<no value>" at `top` level, what an action prints for a missing value).
std::string PrintValue(const nlohmann::json& value, bool top = false);

// Go's truth: false, 0, "", nil, and empty arrays and objects are false.
bool IsTrue(const nlohmann::json& value);

// A value echoed back in an error message: printed, quoted and capped.
std::string Echo(const nlohmann::json& value);
// A name (field, key) echoed back: quoted and capped.
std::string EchoName(std::string_view name);

bool IsFunction(std::string_view name);
// Calls the function `name` (IsFunction) with `args`; the error says what went wrong without
// its position (the caller adds it).
absl::StatusOr<nlohmann::json> CallFunction(std::string_view name, const std::vector<nlohmann::json>& args);

}  // namespace berth::cli::go_template
