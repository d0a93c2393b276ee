// `berth pull` output and the `run`/`create --pull` policy. Pure: the renderer turns the
// agent's LayerProgress events into the bytes to write, so the drawing is unit-tested
// without a terminal.
//
// On a terminal every layer has one line, redrawn in place with ANSI cursor movement:
//   3f2a1b4c5d6e: Downloading [=========>          ]  12.6MB/30MB
// Elsewhere (a pipe, a file) a line is written only when a layer's status changes:
//   3f2a1b4c5d6e: Downloading 0B/30MB
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "berth/v1/images.pb.h"

namespace berth::cli {

// --pull: always pulls before creating; missing (the default) pulls only when the agent
// says the image is not there; never does not pull.
enum class PullPolicy { kMissing, kAlways, kNever };

absl::StatusOr<PullPolicy> ParsePullPolicy(std::string_view text);

// Whether a failed Create means "the image is not on the node" (so --pull missing pulls
// and retries), as opposed to another NOT_FOUND (a network, a container for container:).
bool IsImageNotFound(absl::StatusCode code, std::string_view message);

// The agent's layer status ("downloading") as shown ("Downloading"); unknown ones pass
// through with a capital first letter.
std::string LayerStatusText(std::string_view status);

// "[=====>    ]" `width` characters wide in all (brackets included); `total` <= 0 draws an
// empty bar.
std::string ProgressBar(int64_t done, int64_t total, int width);

class PullProgressRenderer {
 public:
  enum class Mode { kTerminal, kPlain };
  // `columns`: the terminal's width; lines are cut to it so none wraps (which would break
  // the cursor arithmetic).
  explicit PullProgressRenderer(Mode mode, int columns = 80);

  // The bytes to write for one event (maybe none).
  std::string Update(const berth::v1::LayerProgress& layer);

  // The line a layer shows now, without cursor movement.
  std::string LineFor(std::string_view digest) const;
  size_t layer_count() const { return layers_.size(); }

 private:
  struct Layer {
    std::string digest;
    std::string status;
    int64_t done = 0;
    int64_t total = 0;
  };
  std::string Line(const Layer& layer) const;

  Mode mode_;
  int columns_;
  std::vector<Layer> layers_;  // in order of first appearance: the lines on screen
};

// The lines after the last event: "Digest: sha256:…" and the image's name as the user
// would type it again (the familiar form of `requested`, or the image's first name).
std::string PullSummary(const berth::v1::Image& image, std::string_view requested);

}  // namespace berth::cli
