// Templates in the style of Go's text/template, the language of docker's --format, over JSON
// values: parsed once into a tree, then executed against any number of values.
//
// The subset: text and {{ }} actions, {{- and -}} trimming the whitespace beside them,
// {{/* comments */}}; field chains (.A.B, $.A, $x.A, (pipeline).A) on objects, `.` the dot
// and `$` the root; variables ({{$x := p}}, {{$x = p}}); pipelines whose commands after a `|`
// are function calls, the piped value their last argument; string ("..." and `...`), number,
// bool and nil literals; {{if}}, {{else if}}, {{with}}, {{else with}}, {{range}} (arrays and
// objects, with {{range $v := p}} and {{range $k, $v := p}}), {{else}}, {{end}}; the functions
// json index join len upper lower title split print println printf pad truncate and the
// comparisons eq ne lt le gt ge not and or.
//
// Unlike docker's default, a field an object lacks is an error, never "<no value>": a typo in a
// script fails loudly, naming the field and the keys the object does have. (`index` of a key
// an object lacks is not a typo but a question: it gives "" in an object of strings, such as
// labels, as docker's maps of strings do, else nil.) Not supported: define, template, block,
// break, continue, method calls with arguments.
//
// Values print as Go prints them: strings raw, integers without ".0", nil as "<no value>",
// objects "map[k:v]", arrays "[a b]"; `json` gives JSON.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace berth::cli {

namespace go_template {
struct Tree;
}  // namespace go_template

class GoTemplate {
 public:
  // An empty template (it prints nothing).
  GoTemplate();

  // InvalidArgument "template: LINE:COL: ..." naming what was expected where.
  static absl::StatusOr<GoTemplate> Parse(std::string_view text);

  // The output for `dot` (also `$`). InvalidArgument "template: LINE:COL: executing ...".
  absl::StatusOr<std::string> Execute(const nlohmann::json& dot) const;

  // The template's outline, for a table header: its top-level text as it is, each top-level
  // action (or if/with/range block) replaced by `name_of(F)`, F the first field it reads on
  // the dot (".ID" and "$.ID" read "ID"; "" when it reads none).
  std::string RenderOutline(const std::function<std::string(std::string_view field)>& name_of) const;

 private:
  explicit GoTemplate(std::shared_ptr<const go_template::Tree> tree);

  std::shared_ptr<const go_template::Tree> tree_;
};

}  // namespace berth::cli
