// GoTemplate: execution of the parsed tree against a JSON value.
#include "cli/go_template.h"

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/go_template_tree.h"

namespace berth::cli {
namespace {

using json = nlohmann::json;
using go_template::Command;
using go_template::Node;
using go_template::Operand;
using go_template::Pipeline;
using go_template::Tree;

// How many of an object's keys an unknown-field error lists.
constexpr size_t kListedKeys = 10;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// A key close to what was typed: the same but for case, one the prefix of the other, or a
// typo or two away.
bool IsClose(std::string_view typed, std::string_view key) {
  constexpr size_t kLongest = 64;
  if (typed.size() > kLongest || key.size() > kLongest) return false;
  const std::string a = Lower(typed);
  const std::string b = Lower(key);
  if (a == b) return true;
  if (a.size() >= 3 && b.size() >= 3 && (a.rfind(b, 0) == 0 || b.rfind(a, 0) == 0)) return true;
  return a.size() >= 3 && EditDistance(a, b) <= 2;
}

// "no field "Nope" in .State (did you mean "Pid"?); it has "Dead", "Error", … and 5 more"
std::string MissingField(const json& object, const std::string& where, const std::string& field) {
  std::string message = absl::StrCat("no field ", go_template::EchoName(field));
  if (where != ".") absl::StrAppend(&message, " in ", go_template::EchoName(where));
  std::vector<std::string> close;
  std::vector<std::string> listed;
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (close.size() < 3 && IsClose(field, it.key())) close.push_back(go_template::EchoName(it.key()));
    if (listed.size() < kListedKeys) listed.push_back(go_template::EchoName(it.key()));
  }
  if (!close.empty()) absl::StrAppend(&message, " (did you mean ", absl::StrJoin(close, " or "), "?)");
  if (listed.empty()) return message + "; it has no fields";
  absl::StrAppend(&message, "; it has ", absl::StrJoin(listed, ", "));
  if (object.size() > listed.size()) absl::StrAppend(&message, " and ", object.size() - listed.size(), " more");
  return message;
}

std::string KindOf(const json& v) {
  switch (v.type()) {
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a bool";
    case json::value_t::array: return "an array";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return "a number";
    default: return "a value";
  }
}

class Executor {
 public:
  Executor(const Tree& tree, const json& root) : tree_(tree) { vars_.emplace_back("$", root); }

  absl::Status Walk(const std::vector<Node>& nodes, const json& dot, std::string* out) {
    for (const Node& node : nodes) {
      absl::Status status = WalkNode(node, dot, out);
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  }

 private:
  absl::Status WalkNode(const Node& node, const json& dot, std::string* out) {
    if (node.kind == Node::Kind::kText) {
      *out += node.text;
      return absl::OkStatus();
    }
    const size_t scope = vars_.size();
    const bool ranging = node.kind == Node::Kind::kRange;
    absl::StatusOr<json> value = EvalPipeline(node.pipe, dot, /*bind=*/!ranging);
    if (!value.ok()) return value.status();
    absl::Status status;
    switch (node.kind) {
      case Node::Kind::kAction:
        if (node.pipe.vars.empty()) *out += go_template::PrintValue(*value, /*top=*/true);
        return absl::OkStatus();  // a declaration lives on to the end of the enclosing block
      case Node::Kind::kIf:
      case Node::Kind::kWith:
        if (go_template::IsTrue(*value)) {
          status = Walk(node.body, node.kind == Node::Kind::kWith ? *value : dot, out);
        } else {
          status = Walk(node.else_body, dot, out);
        }
        break;
      case Node::Kind::kRange:
        status = Range(node, *value, dot, out);
        break;
      default:
        break;
    }
    vars_.resize(scope);
    return status;
  }

  absl::Status Range(const Node& node, const json& items, const json& dot, std::string* out) {
    if (!items.is_null() && !items.is_array() && !items.is_object()) {
      return Error(node.pos, absl::StrCat("range can't iterate over ", go_template::Echo(items), " (",
                                          KindOf(items), ", not an array or object)"));
    }
    if (items.empty()) return Walk(node.else_body, dot, out);
    const std::vector<std::string>& names = node.pipe.vars;
    size_t index = 0;
    for (auto it = items.begin(); it != items.end(); ++it, ++index) {
      const size_t scope = vars_.size();
      if (names.size() == 2) {
        vars_.emplace_back(names[0], items.is_object() ? json(it.key()) : json(index));
        vars_.emplace_back(names[1], it.value());
      } else if (names.size() == 1) {
        vars_.emplace_back(names[0], it.value());
      }
      absl::Status status = Walk(node.body, it.value(), out);
      vars_.resize(scope);
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<json> EvalPipeline(const Pipeline& pipe, const json& dot, bool bind) {
    json value;
    for (size_t i = 0; i < pipe.commands.size(); ++i) {
      absl::StatusOr<json> next = EvalCommand(pipe.commands[i], dot, i == 0 ? nullptr : &value);
      if (!next.ok()) return next.status();
      value = *std::move(next);
    }
    if (bind && !pipe.vars.empty()) {
      if (pipe.declare) {
        vars_.emplace_back(pipe.vars[0], value);
      } else {
        *Variable(pipe.vars[0]) = value;
      }
    }
    return value;
  }

  absl::StatusOr<json> EvalCommand(const Command& command, const json& dot, const json* piped) {
    const Operand& head = command.args[0];
    if (head.kind != Operand::Kind::kFunction) return EvalOperand(head, dot);
    std::vector<json> args;
    for (size_t i = 1; i < command.args.size(); ++i) {
      absl::StatusOr<json> arg = EvalOperand(command.args[i], dot);
      if (!arg.ok()) return arg.status();
      args.push_back(*std::move(arg));
    }
    if (piped != nullptr) args.push_back(*piped);
    absl::StatusOr<json> result = go_template::CallFunction(head.name, args);
    if (!result.ok()) return Error(head.pos, std::string(result.status().message()));
    return result;
  }

  absl::StatusOr<json> EvalOperand(const Operand& op, const json& dot) {
    switch (op.kind) {
      case Operand::Kind::kDot:
        return Fields(dot, ".", op.fields, op.pos);
      case Operand::Kind::kVariable:
        return Fields(*Variable(op.name), op.name, op.fields, op.pos);
      case Operand::Kind::kParen: {
        absl::StatusOr<json> value = EvalPipeline(*op.sub, dot, /*bind=*/false);
        if (!value.ok()) return value.status();
        return Fields(*value, "(...)", op.fields, op.pos);
      }
      case Operand::Kind::kFunction: {
        absl::StatusOr<json> result = go_template::CallFunction(op.name, {});
        if (!result.ok()) return Error(op.pos, std::string(result.status().message()));
        return result;
      }
      case Operand::Kind::kLiteral:
        break;
    }
    return op.literal;
  }

  // base.F1.F2...: each step must find its key in an object.
  absl::StatusOr<json> Fields(const json& base, std::string where, const std::vector<std::string>& fields,
                              size_t pos) {
    const json* current = &base;
    for (const std::string& field : fields) {
      if (current->is_object()) {
        auto it = current->find(field);
        if (it == current->end()) return Error(pos, MissingField(*current, where, field));
        current = &*it;
        where = where == "." ? "." + field : where + "." + field;
        continue;
      }
      if (current->is_null()) {
        return Error(pos, absl::StrCat("can't read field ", go_template::EchoName(field), " of ",
                                       go_template::EchoName(where), ": it has no value"));
      }
      return Error(pos, absl::StrCat("can't read field ", go_template::EchoName(field), " of ",
                                     go_template::EchoName(where), ": it is ", KindOf(*current), " (",
                                     go_template::Echo(*current), "), not an object"));
    }
    return *current;
  }

  // The innermost variable of that name (the parser saw it declared).
  json* Variable(const std::string& name) {
    for (auto it = vars_.rbegin(); it != vars_.rend(); ++it) {
      if (it->first == name) return &it->second;
    }
    return &vars_.front().second;
  }

  absl::Status Error(size_t pos, std::string_view message) const {
    return go_template::ErrorAt(tree_.source, pos, message);
  }

  const Tree& tree_;
  std::vector<std::pair<std::string, json>> vars_;
};

// The first field read on the dot (or on $) anywhere in a pipeline, or "".
std::string FirstField(const Pipeline& pipe);

std::string FirstField(const std::vector<Node>& nodes);

std::string FirstField(const Operand& op) {
  if ((op.kind == Operand::Kind::kDot || (op.kind == Operand::Kind::kVariable && op.name == "$")) &&
      !op.fields.empty()) {
    return op.fields[0];
  }
  if (op.kind == Operand::Kind::kParen) return FirstField(*op.sub);
  return "";
}

std::string FirstField(const Pipeline& pipe) {
  for (const Command& command : pipe.commands) {
    for (const Operand& op : command.args) {
      if (std::string f = FirstField(op); !f.empty()) return f;
    }
  }
  return "";
}

std::string FirstField(const Node& node) {
  if (node.kind == Node::Kind::kText) return "";
  if (std::string f = FirstField(node.pipe); !f.empty()) return f;
  if (std::string f = FirstField(node.body); !f.empty()) return f;
  return FirstField(node.else_body);
}

std::string FirstField(const std::vector<Node>& nodes) {
  for (const Node& node : nodes) {
    if (std::string f = FirstField(node); !f.empty()) return f;
  }
  return "";
}

}  // namespace

GoTemplate::GoTemplate() : tree_(std::make_shared<Tree>()) {}

GoTemplate::GoTemplate(std::shared_ptr<const Tree> tree) : tree_(std::move(tree)) {}

absl::StatusOr<GoTemplate> GoTemplate::Parse(std::string_view text) {
  absl::StatusOr<std::vector<Node>> nodes = go_template::ParseNodes(text);
  if (!nodes.ok()) return nodes.status();
  auto tree = std::make_shared<Tree>();
  tree->source = std::string(text);
  tree->nodes = *std::move(nodes);
  return GoTemplate(std::move(tree));
}

absl::StatusOr<std::string> GoTemplate::Execute(const json& dot) const {
  std::string out;
  Executor executor(*tree_, dot);
  if (absl::Status status = executor.Walk(tree_->nodes, dot, &out); !status.ok()) return status;
  return out;
}

std::string GoTemplate::RenderOutline(const std::function<std::string(std::string_view field)>& name_of) const {
  std::string out;
  for (const Node& node : tree_->nodes) {
    if (node.kind == Node::Kind::kText) {
      out += node.text;
    } else if (node.kind != Node::Kind::kAction || node.pipe.vars.empty()) {
      out += name_of(FirstField(node));
    }
  }
  return out;
}

}  // namespace berth::cli
