#include "cli/pull_progress.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/human_format.h"
#include "cli/image_format.h"

namespace berth::cli {
namespace {

constexpr int kBarWidth = 32;

}  // namespace

absl::StatusOr<PullPolicy> ParsePullPolicy(std::string_view text) {
  if (text == "missing") return PullPolicy::kMissing;
  if (text == "always") return PullPolicy::kAlways;
  if (text == "never") return PullPolicy::kNever;
  return absl::InvalidArgumentError(
      "invalid --pull \"" + std::string(text) + "\": want missing, always or never");
}

bool IsImageNotFound(absl::StatusCode code, std::string_view message) {
  if (code != absl::StatusCode::kNotFound) return false;
  const std::string lower = absl::AsciiStrToLower(std::string(message));
  return absl::StrContains(lower, "image") && absl::StrContains(lower, "not found");
}

std::string LayerStatusText(std::string_view status) {
  if (status == "waiting") return "Waiting";
  if (status == "downloading") return "Downloading";
  if (status == "exists") return "Already exists";
  if (status == "downloaded") return "Download complete";
  if (status == "unpacking") return "Extracting";
  if (status == "done") return "Pull complete";
  std::string out(status);
  if (!out.empty()) out[0] = absl::ascii_toupper(static_cast<unsigned char>(out[0]));
  return out;
}

std::string ProgressBar(int64_t done, int64_t total, int width) {
  const int inner = std::max(width - 2, 0);
  int filled = 0;
  if (total > 0 && done > 0) {
    filled = static_cast<int>(static_cast<double>(std::min(done, total)) / static_cast<double>(total) * inner);
  }
  std::string bar = "[";
  if (filled >= inner) {
    bar.append(inner, '=');
  } else if (filled > 0) {
    bar.append(filled - 1, '=');
    bar += '>';
    bar.append(inner - filled, ' ');
  } else {
    bar.append(inner, ' ');
  }
  bar += ']';
  return bar;
}

PullProgressRenderer::PullProgressRenderer(Mode mode, int columns)
    : mode_(mode), columns_(columns > 0 ? columns : 80) {}

std::string PullProgressRenderer::Line(const Layer& layer) const {
  std::string line = absl::StrCat(ShortDigest(layer.digest), ": ", LayerStatusText(layer.status));
  const std::string bytes = absl::StrCat(HumanSize(layer.done), "/", HumanSize(layer.total));
  if (mode_ == Mode::kPlain) return absl::StrCat(line, " ", bytes);
  if (layer.status == "downloading") absl::StrAppend(&line, " ", ProgressBar(layer.done, layer.total, kBarWidth));
  absl::StrAppend(&line, " ", bytes);
  // One column spare: a line as wide as the terminal wraps on some terminals.
  if (static_cast<int>(line.size()) >= columns_) line.resize(static_cast<size_t>(std::max(columns_ - 1, 0)));
  return line;
}

std::string PullProgressRenderer::LineFor(std::string_view digest) const {
  for (const Layer& layer : layers_) {
    if (layer.digest == digest) return Line(layer);
  }
  return "";
}

std::string PullProgressRenderer::Update(const v1::LayerProgress& event) {
  auto it = std::find_if(layers_.begin(), layers_.end(),
                         [&](const Layer& l) { return l.digest == event.digest(); });
  const bool is_new = it == layers_.end();
  if (is_new) {
    layers_.push_back(Layer{event.digest(), "", 0, 0});
    it = layers_.end() - 1;
  }
  const bool status_changed = is_new || it->status != event.status();
  it->status = event.status();
  it->done = event.done();
  it->total = event.total();

  if (mode_ == Mode::kPlain) return status_changed ? Line(*it) + "\n" : "";
  // Terminal: the cursor rests at the start of the line below the last layer line.
  if (is_new) return Line(*it) + "\n";
  const size_t up = layers_.size() - static_cast<size_t>(it - layers_.begin());
  return absl::StrCat("\x1b[", up, "A\r\x1b[2K", Line(*it), "\r\x1b[", up, "B");
}

std::string PullSummary(const v1::Image& image, std::string_view requested) {
  std::string name = FamiliarReference(requested);
  // A pull by digest is stored as repo@digest, whatever tag was typed with it.
  if (size_t at = name.find('@'); at != std::string::npos) {
    const std::string repo_tag = name.substr(0, at);
    auto [repository, tag] = SplitRepositoryTag(repo_tag);
    if (tag != "<none>") name = repository + name.substr(at);
  }
  const bool known = std::find(image.names().begin(), image.names().end(), name) != image.names().end();
  if (!known && !image.names().empty()) name = image.names(0);
  return absl::StrCat("Digest: ", image.manifest_digest(), "\n", name, "\n");
}

}  // namespace berth::cli
