// The GoTemplate lexer (internal to the engine): a template's text cut into text and {{ }}
// actions, the whitespace the trim markers remove already gone, each action cut into tokens.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace berth::cli::go_template {

enum class Tok { kField, kDot, kVariable, kIdent, kString, kNumber, kPipe, kLParen, kRParen, kDeclare, kAssign, kComma };

struct Token {
  Tok kind = Tok::kIdent;
  size_t pos = 0;
  bool spaced = false;  // whitespace (or the opening delimiter) right before it
  std::string text;     // field name without '.', variable with '$', identifier, or the source
  nlohmann::json value; // kString, kNumber
};

// A stretch of text, or one {{ }} action.
struct Item {
  bool is_action = false;
  size_t pos = 0;      // of the text, or of the action's "{{"
  size_t close = 0;    // actions: offset of the closing "}}"
  std::string text;
  std::vector<Token> tokens;
  bool trim_left = false;   // "{{- "
  bool trim_right = false;  // " -}}"
  bool comment = false;
};

// The items of `text`, in order; errors as ErrorAt (go_template_tree.h).
absl::StatusOr<std::vector<Item>> Lex(std::string_view text);

}  // namespace berth::cli::go_template
