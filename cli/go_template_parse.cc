// The GoTemplate parser: the lexer's items (go_template_lex.h) into the tree of
// go_template_tree.h. Every error names the line:column and what was expected there.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/go_template_lex.h"
#include "cli/go_template_tree.h"

namespace berth::cli::go_template {
namespace {

std::string Describe(const Token& t) {
  switch (t.kind) {
    case Tok::kField: return EchoName("." + t.text);
    case Tok::kDot: return "\".\"";
    case Tok::kVariable:
    case Tok::kIdent: return EchoName(t.text);
    case Tok::kString: return "string " + Echo(t.value);
    case Tok::kNumber: return "number " + PrintValue(t.value);
    case Tok::kPipe: return "\"|\"";
    case Tok::kLParen: return "\"(\"";
    case Tok::kRParen: return "\")\"";
    case Tok::kDeclare: return "\":=\"";
    case Tok::kAssign: return "\"=\"";
    case Tok::kComma: return "\",\"";
  }
  return "token";
}

// The tokens of one action, read left to right.
class Cursor {
 public:
  explicit Cursor(const Item& item, size_t start = 0) : item_(item), i_(start) {}
  bool done() const { return i_ >= item_.tokens.size(); }
  const Token* peek(size_t ahead = 0) const {
    return i_ + ahead < item_.tokens.size() ? &item_.tokens[i_ + ahead] : nullptr;
  }
  bool at(Tok kind, size_t ahead = 0) const {
    const Token* t = peek(ahead);
    return t != nullptr && t->kind == kind;
  }
  const Token& take() { return item_.tokens[i_++]; }
  size_t pos() const { return done() ? item_.close : item_.tokens[i_].pos; }

 private:
  const Item& item_;
  size_t i_;
};

bool IsKeyword(std::string_view s) {
  return s == "if" || s == "else" || s == "end" || s == "range" || s == "with" || s == "define" ||
         s == "template" || s == "block" || s == "break" || s == "continue";
}

// How deep blocks and parentheses may nest (the parser and the executor recurse).
constexpr int kMaxDepth = 100;

class DepthGuard {
 public:
  explicit DepthGuard(int* depth) : depth_(depth) { ++*depth_; }
  ~DepthGuard() { --*depth_; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;

 private:
  int* depth_;
};

class Parser {
 public:
  Parser(std::string_view src, std::vector<Item> items) : src_(src), items_(std::move(items)) {}

  absl::StatusOr<std::vector<Node>> Run() {
    std::vector<Node> nodes;
    End end = End::kEof;
    const Item* end_item = nullptr;
    if (absl::Status s = ParseList(&nodes, &end, &end_item); !s.ok()) return s;
    if (end != End::kEof) {
      return ErrorAt(src_, end_item->pos,
                     absl::StrCat("unexpected {{", end == End::kEnd ? "end" : "else",
                                  "}}: no {{if}}, {{with}} or {{range}} is open"));
    }
    return nodes;
  }

 private:
  enum class End { kEof, kElse, kEnd };

  absl::Status ParseList(std::vector<Node>* out, End* end, const Item** end_item) {
    while (next_ < items_.size()) {
      const Item& item = items_[next_++];
      if (!item.is_action) {
        if (!item.text.empty()) {
          Node node;
          node.kind = Node::Kind::kText;
          node.pos = item.pos;
          node.text = item.text;
          out->push_back(std::move(node));
        }
        continue;
      }
      if (item.comment) continue;
      if (item.tokens.empty()) return ErrorAt(src_, item.pos, "empty action: expected a value or a command");
      const Token& first = item.tokens[0];
      if (first.kind == Tok::kIdent && IsKeyword(first.text)) {
        if (first.text == "end" || first.text == "else") {
          if (first.text == "end" && item.tokens.size() > 1) {
            return ErrorAt(src_, item.tokens[1].pos,
                           absl::StrCat("unexpected ", Describe(item.tokens[1]), " in {{end}}"));
          }
          *end = first.text == "end" ? End::kEnd : End::kElse;
          *end_item = &item;
          return absl::OkStatus();
        }
        absl::StatusOr<Node> node = ParseKeyword(first.text, item, 1);
        if (!node.ok()) return node.status();
        out->push_back(*std::move(node));
        continue;
      }
      Cursor cursor(item);
      absl::StatusOr<Pipeline> pipe = ParsePipeline(cursor, /*two_vars=*/false, /*in_paren=*/false);
      if (!pipe.ok()) return pipe.status();
      Node node;
      node.kind = Node::Kind::kAction;
      node.pos = item.pos;
      node.pipe = *std::move(pipe);
      out->push_back(std::move(node));
    }
    *end = End::kEof;
    return absl::OkStatus();
  }

  absl::StatusOr<Node> ParseKeyword(const std::string& keyword, const Item& item, size_t first_token) {
    const size_t pos = item.tokens[first_token - 1].pos;
    if (keyword == "if") return ParseControl(Node::Kind::kIf, keyword, item, first_token);
    if (keyword == "with") return ParseControl(Node::Kind::kWith, keyword, item, first_token);
    if (keyword == "range") return ParseControl(Node::Kind::kRange, keyword, item, first_token);
    return ErrorAt(src_, pos, absl::StrCat("{{", keyword, "}} is not supported"));
  }

  // {{if p}} / {{with p}} / {{range p}}, its body, an optional {{else}} (or {{else if}},
  // {{else with}}, which share the one {{end}}) and {{end}}.
  absl::StatusOr<Node> ParseControl(Node::Kind kind, const std::string& keyword, const Item& item,
                                    size_t first_token) {
    DepthGuard guard(&depth_);
    if (depth_ > kMaxDepth) return ErrorAt(src_, item.pos, "nested too deeply");
    const size_t scope = vars_.size();
    Cursor cursor(item, first_token);
    if (cursor.done()) {
      return ErrorAt(src_, item.close, absl::StrCat("missing value for {{", keyword, "}}"));
    }
    Node node;
    node.kind = kind;
    node.pos = item.tokens[first_token - 1].pos;
    absl::StatusOr<Pipeline> pipe = ParsePipeline(cursor, kind == Node::Kind::kRange, false);
    if (!pipe.ok()) return pipe.status();
    node.pipe = *std::move(pipe);
    End end = End::kEof;
    const Item* end_item = nullptr;
    if (absl::Status s = ParseList(&node.body, &end, &end_item); !s.ok()) return s;
    if (end == End::kElse && end_item->tokens.size() > 1) {
      const Token& chained = end_item->tokens[1];
      if (kind == Node::Kind::kRange || chained.kind != Tok::kIdent ||
          (chained.text != "if" && chained.text != "with")) {
        return ErrorAt(src_, chained.pos,
                       absl::StrCat("unexpected ", Describe(chained), " after {{else}}: expected \"}}\"",
                                    kind == Node::Kind::kRange ? "" : ", \"if\" or \"with\""));
      }
      absl::StatusOr<Node> nested = ParseKeyword(chained.text, *end_item, 2);
      if (!nested.ok()) return nested.status();
      node.else_body.push_back(*std::move(nested));
      vars_.resize(scope);
      return node;
    }
    if (end == End::kElse) {
      if (absl::Status s = ParseList(&node.else_body, &end, &end_item); !s.ok()) return s;
      if (end == End::kElse) {
        return ErrorAt(src_, end_item->pos, absl::StrCat("a second {{else}} in {{", keyword, "}}: expected {{end}}"));
      }
    }
    if (end == End::kEof) {
      return ErrorAt(src_, node.pos, absl::StrCat("unclosed {{", keyword, "}}: expected {{end}}"));
    }
    vars_.resize(scope);
    return node;
  }

  absl::StatusOr<Pipeline> ParsePipeline(Cursor& cursor, bool two_vars, bool in_paren) {
    DepthGuard guard(&depth_);
    if (depth_ > kMaxDepth) return ErrorAt(src_, cursor.pos(), "nested too deeply");
    Pipeline pipe;
    pipe.pos = cursor.pos();
    std::vector<std::string> declared;
    if (!in_paren && cursor.at(Tok::kVariable) && (cursor.at(Tok::kDeclare, 1) || cursor.at(Tok::kAssign, 1))) {
      const Token& var = cursor.take();
      pipe.declare = cursor.take().kind == Tok::kDeclare;
      if (!pipe.declare && !IsDeclared(var.text)) {
        return ErrorAt(src_, var.pos, absl::StrCat("undefined variable ", EchoName(var.text)));
      }
      pipe.vars.push_back(var.text);
    } else if (!in_paren && two_vars && cursor.at(Tok::kVariable) && cursor.at(Tok::kComma, 1) &&
               cursor.at(Tok::kVariable, 2) && cursor.at(Tok::kDeclare, 3)) {
      pipe.vars.push_back(cursor.take().text);
      cursor.take();
      pipe.vars.push_back(cursor.take().text);
      cursor.take();
      pipe.declare = true;
    }
    while (true) {
      absl::StatusOr<Command> command = ParseCommand(cursor);
      if (!command.ok()) return command.status();
      if (!pipe.commands.empty() && command->args[0].kind != Operand::Kind::kFunction) {
        return ErrorAt(src_, command->pos, "after \"|\" a function must follow (the piped value is its last argument)");
      }
      pipe.commands.push_back(*std::move(command));
      if (!cursor.at(Tok::kPipe)) break;
      cursor.take();
    }
    if (in_paren) {
      if (!cursor.at(Tok::kRParen)) return ErrorAt(src_, cursor.pos(), "unclosed \"(\": expected \")\"");
      cursor.take();
    } else if (!cursor.done()) {
      return ErrorAt(src_, cursor.pos(), absl::StrCat("unexpected ", Describe(*cursor.peek()), ": expected \"}}\""));
    }
    if (pipe.declare) {
      for (const std::string& v : pipe.vars) vars_.push_back(v);
    }
    return pipe;
  }

  absl::StatusOr<Command> ParseCommand(Cursor& cursor) {
    Command command;
    command.pos = cursor.pos();
    while (!cursor.done() && !cursor.at(Tok::kPipe) && !cursor.at(Tok::kRParen)) {
      if (!command.args.empty() && !cursor.peek()->spaced) {
        return ErrorAt(src_, cursor.pos(),
                       absl::StrCat("missing space before ", Describe(*cursor.peek())));
      }
      absl::StatusOr<Operand> operand = ParseOperand(cursor);
      if (!operand.ok()) return operand.status();
      command.args.push_back(*std::move(operand));
    }
    if (command.args.empty()) {
      return ErrorAt(src_, command.pos,
                     cursor.done() ? "missing value: expected a value or a function"
                                   : absl::StrCat("unexpected ", Describe(*cursor.peek()),
                                                  ": expected a value or a function"));
    }
    const Operand& head = command.args[0];
    if (head.kind == Operand::Kind::kLiteral && head.literal.is_null()) {
      return ErrorAt(src_, head.pos, "nil is not a command");
    }
    if (command.args.size() > 1 && head.kind != Operand::Kind::kFunction) {
      return ErrorAt(src_, command.args[1].pos,
                     "unexpected argument: only a function takes arguments (a field does not)");
    }
    return command;
  }

  absl::StatusOr<Operand> ParseOperand(Cursor& cursor) {
    const Token& t = cursor.take();
    Operand op;
    op.pos = t.pos;
    bool chains = false;  // fields may follow right after it
    switch (t.kind) {
      case Tok::kField:
        op.kind = Operand::Kind::kDot;
        op.fields.push_back(t.text);
        chains = true;
        break;
      case Tok::kDot:
        op.kind = Operand::Kind::kDot;
        break;
      case Tok::kVariable:
        if (!IsDeclared(t.text)) return ErrorAt(src_, t.pos, absl::StrCat("undefined variable ", EchoName(t.text)));
        op.kind = Operand::Kind::kVariable;
        op.name = t.text;
        chains = true;
        break;
      case Tok::kString:
      case Tok::kNumber:
        op.kind = Operand::Kind::kLiteral;
        op.literal = t.value;
        break;
      case Tok::kIdent:
        if (t.text == "true" || t.text == "false") {
          op.kind = Operand::Kind::kLiteral;
          op.literal = t.text == "true";
        } else if (t.text == "nil") {
          op.kind = Operand::Kind::kLiteral;
        } else if (IsFunction(t.text)) {
          op.kind = Operand::Kind::kFunction;
          op.name = t.text;
        } else if (IsKeyword(t.text)) {
          return ErrorAt(src_, t.pos, absl::StrCat("unexpected ", EchoName(t.text), ": expected a value"));
        } else {
          return ErrorAt(src_, t.pos, absl::StrCat("function ", EchoName(t.text), " not defined"));
        }
        break;
      case Tok::kLParen: {
        absl::StatusOr<Pipeline> sub = ParsePipeline(cursor, false, /*in_paren=*/true);
        if (!sub.ok()) return sub.status();
        op.kind = Operand::Kind::kParen;
        op.sub = std::make_shared<Pipeline>(*std::move(sub));
        chains = true;
        break;
      }
      default:
        return ErrorAt(src_, t.pos, absl::StrCat("unexpected ", Describe(t), ": expected a value"));
    }
    while (chains && cursor.at(Tok::kField) && !cursor.peek()->spaced) op.fields.push_back(cursor.take().text);
    return op;
  }

  bool IsDeclared(const std::string& name) const {
    for (const std::string& v : vars_) {
      if (v == name) return true;
    }
    return false;
  }

  std::string_view src_;
  std::vector<Item> items_;
  size_t next_ = 0;
  int depth_ = 0;
  std::vector<std::string> vars_ = {"$"};
};

}  // namespace

absl::Status ErrorAt(std::string_view source, size_t pos, std::string_view message) {
  if (pos > source.size()) pos = source.size();
  size_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < pos; ++i) {
    if (source[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat("template: ", line, ":", pos - line_start + 1, ": ", std::string(message)));
}

absl::StatusOr<std::vector<Node>> ParseNodes(std::string_view text) {
  absl::StatusOr<std::vector<Item>> items = Lex(text);
  if (!items.ok()) return items.status();
  return Parser(text, *std::move(items)).Run();
}

}  // namespace berth::cli::go_template
