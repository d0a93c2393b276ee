#include "cli/image_pull.h"

#include <memory>

#include <sys/ioctl.h>
#include <unistd.h>

#include "cli/output.h"
#include "cli/pull_progress.h"
#include "cli/terminal.h"

namespace berth::cli {

namespace v1 = berth::v1;

namespace {

int ColumnsOf(int fd) {
  struct winsize ws = {};
  if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

}  // namespace

grpc::Status PullWithProgress(AgentClient& client, const std::string& reference, int fd, bool quiet,
                              v1::Image* image) {
  const bool terminal = IsTerminal(fd);
  PullProgressRenderer renderer(
      terminal ? PullProgressRenderer::Mode::kTerminal : PullProgressRenderer::Mode::kPlain,
      terminal ? ColumnsOf(fd) : 0);
  v1::PullRequest request;
  request.set_reference(reference);
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReader<v1::PullResponse>> stream = client.images().Pull(&ctx, request);
  v1::PullResponse response;
  bool got_image = false;
  while (stream->Read(&response)) {
    if (response.has_layer()) {
      if (!quiet) WriteAll(fd, renderer.Update(response.layer()));
    } else if (response.has_image()) {
      *image = response.image();
      got_image = true;
    }
  }
  grpc::Status status = stream->Finish();
  if (!status.ok()) return status;
  if (!got_image) return grpc::Status(grpc::StatusCode::INTERNAL, "the agent ended the pull without an image");
  std::string summary = PullSummary(*image, reference);
  if (quiet) summary = summary.substr(summary.find('\n') + 1);  // the name only
  WriteAll(fd, summary);
  return grpc::Status::OK;
}

}  // namespace berth::cli
