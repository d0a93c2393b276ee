// berth CLI: image references as shown, the images and system df tables, pull progress
// drawing (terminal and plain), the pull summary, --pull parsing and the image-not-found test.
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "cli/container_flags.h"
#include "cli/flag_definitions.h"
#include "cli/human_format.h"
#include "cli/image_format.h"
#include "cli/pull_progress.h"
#include "cli/table.h"

namespace berth::cli {
namespace {

namespace v1 = berth::v1;

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

std::pair<std::string, std::string> Pair(const std::string& a, const std::string& b) { return {a, b}; }
const std::string kDigestA = "sha256:" + std::string(64, 'a');
const std::string kDigestB = "sha256:0123456789ab" + std::string(52, 'b');

v1::LayerProgress Event(const std::string& digest, const std::string& status, int64_t done, int64_t total) {
  v1::LayerProgress p;
  p.set_digest(digest);
  p.set_status(status);
  p.set_done(done);
  p.set_total(total);
  return p;
}

v1::Image MakeImage(const std::string& id, std::vector<std::string> names, int64_t size, absl::Time created) {
  v1::Image image;
  image.set_id(id);
  for (auto& n : names) image.add_names(n);
  image.set_size(size);
  if (created != absl::InfinitePast()) *image.mutable_created_at() = TimeToProto(created);
  return image;
}

TEST(HumanSize, DockerDecimalUnits) {
  EXPECT_EQ(HumanSize(0), "0B");
  EXPECT_EQ(HumanSize(-3), "0B");
  EXPECT_EQ(HumanSize(999), "999B");
  EXPECT_EQ(HumanSize(1000), "1kB");
  EXPECT_EQ(HumanSize(1500), "1.5kB");
  EXPECT_EQ(HumanSize(30'000'000), "30MB");
  EXPECT_EQ(HumanSize(4'394'000), "4.394MB");
  EXPECT_EQ(HumanSize(1'234'567'890), "1.235GB");
}

TEST(ShortDigest, TwelveHexWithoutAlgorithm) {
  EXPECT_EQ(ShortDigest(kDigestB), "0123456789ab");
  EXPECT_EQ(ShortDigest("0123456789abcdef"), "0123456789ab");
  EXPECT_EQ(ShortDigest("sha256:abc"), "abc");
}

TEST(FamiliarReference, DockerShortForm) {
  EXPECT_EQ(FamiliarReference("busybox"), "busybox:latest");
  EXPECT_EQ(FamiliarReference("busybox:1.36"), "busybox:1.36");
  EXPECT_EQ(FamiliarReference("docker.io/library/busybox"), "busybox:latest");
  EXPECT_EQ(FamiliarReference("index.docker.io/library/busybox:x"), "busybox:x");
  EXPECT_EQ(FamiliarReference("docker.io/me/app"), "me/app:latest");
  EXPECT_EQ(FamiliarReference("library/a/b"), "library/a/b:latest");
  EXPECT_EQ(FamiliarReference("127.0.0.1:5000/a/b"), "127.0.0.1:5000/a/b:latest");
  EXPECT_EQ(FamiliarReference("localhost/app:v2"), "localhost/app:v2");
  EXPECT_EQ(FamiliarReference("registry.example:5000/x@" + kDigestA), "registry.example:5000/x@" + kDigestA);
  EXPECT_EQ(FamiliarReference("x:v1@" + kDigestA), "x:v1@" + kDigestA);
}

TEST(SplitRepositoryTag, PortIsNotATag) {
  EXPECT_EQ(SplitRepositoryTag("busybox:latest"), Pair("busybox", "latest"));
  EXPECT_EQ(SplitRepositoryTag("host:5000/a/b:v1"), Pair("host:5000/a/b", "v1"));
  EXPECT_EQ(SplitRepositoryTag("host:5000/a/b"), Pair("host:5000/a/b", "<none>"));
  EXPECT_EQ(SplitRepositoryTag("a@" + kDigestA), Pair("a", "<none>"));
}

TEST(ImageTable, OneRowPerNameNewestFirst) {
  std::vector<v1::Image> images = {
      MakeImage(kDigestA, {"busybox:latest"}, 1'100'000, kNow - absl::Hours(50)),
      MakeImage(kDigestB, {"127.0.0.1:5000/t/app:v2", "127.0.0.1:5000/t/app:v1"}, 30'000'000,
                kNow - absl::Minutes(3)),
      MakeImage("sha256:" + std::string(64, 'c'), {}, 10, absl::InfinitePast()),
  };
  std::vector<std::vector<std::string>> rows = ImageTableRows(images, false, kNow);
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"127.0.0.1:5000/t/app", "v1", "0123456789ab", "3 minutes ago", "30MB"}));
  EXPECT_EQ(rows[2], (std::vector<std::string>{"127.0.0.1:5000/t/app", "v2", "0123456789ab", "3 minutes ago", "30MB"}));
  EXPECT_EQ(rows[3], (std::vector<std::string>{"busybox", "latest", "aaaaaaaaaaaa", "2 days ago", "1.1MB"}));
  // No creation time sorts last and reads N/A; no name is <none> <none>.
  EXPECT_EQ(rows[4], (std::vector<std::string>{"<none>", "<none>", "cccccccccccc", "N/A", "10B"}));

  std::vector<std::vector<std::string>> full = ImageTableRows(images, true, kNow);
  EXPECT_EQ(full[3][2], kDigestA);

  EXPECT_EQ(ImageIds(images, false), (std::vector<std::string>{"0123456789ab", "aaaaaaaaaaaa", "cccccccccccc"}));

  const std::string text = FormatTable(rows);
  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0].find("TAG"), lines[1].find("v1"));  // aligned columns
  EXPECT_EQ(lines[0].find("IMAGE ID"), lines[3].find("aaaaaaaaaaaa"));
}

TEST(RemovedImages, UntaggedThenDeleted) {
  v1::RemoveImageResponse r;
  r.add_untagged("busybox:latest");
  r.add_deleted(kDigestA);
  EXPECT_EQ(RemovedImagesText(r), "Untagged: busybox:latest\nDeleted: " + kDigestA + "\n");
  EXPECT_EQ(RemovedImagesText(v1::RemoveImageResponse()), "");
}

TEST(DiskUsageTable, RowsAndReclaimableShare) {
  v1::DiskUsageResponse u;
  u.set_images(3);
  u.set_images_size(30'000'000);
  u.set_layers(4);
  u.set_layers_size(70'000'000);
  u.set_containers(2);
  u.set_containers_size(1500);
  u.set_reclaimable_size(25'000'000);
  u.set_volumes(2);
  u.set_volumes_size(8000);
  u.set_volumes_reclaimable_size(2000);
  std::vector<std::vector<std::string>> rows = DiskUsageRows(u);
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"TYPE", "TOTAL", "SIZE", "RECLAIMABLE"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"Images", "3", "30MB", "25MB (25%)"}));
  EXPECT_EQ(rows[2], (std::vector<std::string>{"Layers", "4", "70MB", "-"}));
  EXPECT_EQ(rows[3], (std::vector<std::string>{"Containers", "2", "1.5kB", "-"}));
  EXPECT_EQ(rows[4], (std::vector<std::string>{"Local Volumes", "2", "8kB", "2kB (25%)"}));
  // Nothing stored: no share to show.
  EXPECT_EQ(DiskUsageRows(v1::DiskUsageResponse())[1][3], "0B");
}

TEST(PullPolicy, Parses) {
  EXPECT_EQ(*ParsePullPolicy("missing"), PullPolicy::kMissing);
  EXPECT_EQ(*ParsePullPolicy("always"), PullPolicy::kAlways);
  EXPECT_EQ(*ParsePullPolicy("never"), PullPolicy::kNever);
  absl::StatusOr<PullPolicy> bad = ParsePullPolicy("sometimes");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("sometimes"), std::string_view::npos);
  EXPECT_FALSE(ParsePullPolicy("").ok());
  EXPECT_FALSE(ParsePullPolicy("Always").ok());
}

ContainerFlags ParseRun(std::vector<std::string> args) {
  CLI::App app{"test", "berth"};
  ContainerFlags flags;
  DefineContainerFlags(app.add_subcommand("run"), flags, true);
  args.insert(args.begin(), "run");
  std::reverse(args.begin(), args.end());
  app.parse(args);
  return flags;
}

TEST(PullPolicy, RunFlag) {
  EXPECT_EQ(ParseRun({"busybox"}).pull, "missing");
  EXPECT_EQ(ParseRun({"--pull", "always", "busybox"}).pull, "always");
  EXPECT_EQ(ParseRun({"--pull=never", "busybox", "true"}).pull, "never");
  // After the image it belongs to the container's command.
  ContainerFlags f = ParseRun({"busybox", "--pull", "always"});
  EXPECT_EQ(f.pull, "missing");
  EXPECT_EQ(f.command, (std::vector<std::string>{"--pull", "always"}));
  EXPECT_THROW(ParseRun({"--pull", "sometimes", "busybox"}), CLI::ValidationError);
}

TEST(PullPolicy, ImageNotFoundIsTold) {
  EXPECT_TRUE(IsImageNotFound(absl::StatusCode::kNotFound, "image foo:latest not found; pull or import it first"));
  EXPECT_TRUE(IsImageNotFound(absl::StatusCode::kNotFound, "Image 'x' Not Found"));
  EXPECT_FALSE(IsImageNotFound(absl::StatusCode::kNotFound, "network frob not found"));
  EXPECT_FALSE(IsImageNotFound(absl::StatusCode::kNotFound, "container abc not found"));
  EXPECT_FALSE(IsImageNotFound(absl::StatusCode::kInvalidArgument, "image x not found"));
}

TEST(ProgressBar, Fills) {
  EXPECT_EQ(ProgressBar(0, 100, 12), "[          ]");
  EXPECT_EQ(ProgressBar(50, 100, 12), "[====>     ]");
  EXPECT_EQ(ProgressBar(100, 100, 12), "[==========]");
  EXPECT_EQ(ProgressBar(200, 100, 12), "[==========]");
  EXPECT_EQ(ProgressBar(5, 0, 6), "[    ]");
  EXPECT_EQ(ProgressBar(5, 100, 2), "[]");
}

TEST(LayerStatusText, DockerWords) {
  EXPECT_EQ(LayerStatusText("waiting"), "Waiting");
  EXPECT_EQ(LayerStatusText("downloading"), "Downloading");
  EXPECT_EQ(LayerStatusText("exists"), "Already exists");
  EXPECT_EQ(LayerStatusText("downloaded"), "Download complete");
  EXPECT_EQ(LayerStatusText("unpacking"), "Extracting");
  EXPECT_EQ(LayerStatusText("done"), "Pull complete");
  EXPECT_EQ(LayerStatusText("verifying"), "Verifying");
  EXPECT_EQ(LayerStatusText(""), "");
}

TEST(PullProgressPlain, OneLinePerStatusChange) {
  PullProgressRenderer r(PullProgressRenderer::Mode::kPlain);
  EXPECT_EQ(r.Update(Event(kDigestA, "waiting", 0, 30'000'000)), "aaaaaaaaaaaa: Waiting 0B/30MB\n");
  EXPECT_EQ(r.Update(Event(kDigestB, "exists", 500, 500)), "0123456789ab: Already exists 500B/500B\n");
  EXPECT_EQ(r.Update(Event(kDigestA, "downloading", 1'000'000, 30'000'000)),
            "aaaaaaaaaaaa: Downloading 1MB/30MB\n");
  // More bytes with the same status: nothing.
  EXPECT_EQ(r.Update(Event(kDigestA, "downloading", 2'000'000, 30'000'000)), "");
  EXPECT_EQ(r.Update(Event(kDigestA, "downloading", 30'000'000, 30'000'000)), "");
  EXPECT_EQ(r.Update(Event(kDigestA, "downloaded", 30'000'000, 30'000'000)),
            "aaaaaaaaaaaa: Download complete 30MB/30MB\n");
  EXPECT_EQ(r.Update(Event(kDigestA, "done", 30'000'000, 30'000'000)), "aaaaaaaaaaaa: Pull complete 30MB/30MB\n");
  EXPECT_EQ(r.layer_count(), 2u);
}

TEST(PullProgressTerminal, RedrawsTheLayerLineInPlace) {
  PullProgressRenderer r(PullProgressRenderer::Mode::kTerminal, 120);
  // New layers append a line each; the cursor rests below the last one.
  EXPECT_EQ(r.Update(Event(kDigestA, "waiting", 0, 1000)), "aaaaaaaaaaaa: Waiting 0B/1kB\n");
  EXPECT_EQ(r.Update(Event(kDigestB, "waiting", 0, 2000)), "0123456789ab: Waiting 0B/2kB\n");
  // The first of two lines: up 2, clear, draw, back down 2.
  const std::string first = r.Update(Event(kDigestA, "downloading", 500, 1000));
  EXPECT_EQ(first, "\x1b[2A\r\x1b[2K" + r.LineFor(kDigestA) + "\r\x1b[2B");
  EXPECT_NE(r.LineFor(kDigestA).find("Downloading ["), std::string::npos) << r.LineFor(kDigestA);
  EXPECT_NE(r.LineFor(kDigestA).find("] 500B/1kB"), std::string::npos) << r.LineFor(kDigestA);
  // Byte updates redraw too (the bar moves).
  const std::string second = r.Update(Event(kDigestB, "downloading", 1000, 2000));
  EXPECT_EQ(second, "\x1b[1A\r\x1b[2K" + r.LineFor(kDigestB) + "\r\x1b[1B");
  EXPECT_EQ(r.Update(Event(kDigestB, "done", 2000, 2000)), "\x1b[1A\r\x1b[2K0123456789ab: Pull complete 2kB/2kB\r\x1b[1B");
  EXPECT_EQ(r.layer_count(), 2u);
}

TEST(PullProgressTerminal, LinesNeverWrap) {
  PullProgressRenderer r(PullProgressRenderer::Mode::kTerminal, 30);
  r.Update(Event(kDigestA, "waiting", 0, 1000));
  r.Update(Event(kDigestA, "downloading", 500, 1000));
  EXPECT_EQ(r.LineFor(kDigestA).size(), 29u);
  EXPECT_EQ(r.LineFor("sha256:unknown"), "");
}

TEST(PullSummary, DigestAndFamiliarName) {
  v1::Image image;
  image.set_manifest_digest(kDigestA);
  image.add_names("127.0.0.1:5000/t/app:v1");
  image.add_names("other:latest");
  EXPECT_EQ(PullSummary(image, "127.0.0.1:5000/t/app:v1"), "Digest: " + kDigestA + "\n127.0.0.1:5000/t/app:v1\n");
  // A pull by digest names repo@digest, even when a tag was typed with it.
  v1::Image by_digest;
  by_digest.set_manifest_digest(kDigestA);
  by_digest.add_names("127.0.0.1:5000/t/app@" + kDigestB);
  EXPECT_EQ(PullSummary(by_digest, "127.0.0.1:5000/t/app:v1@" + kDigestB),
            "Digest: " + kDigestA + "\n127.0.0.1:5000/t/app@" + kDigestB + "\n");
  // Docker Hub short names come back short.
  v1::Image hub;
  hub.set_manifest_digest(kDigestA);
  hub.add_names("busybox:latest");
  EXPECT_EQ(PullSummary(hub, "docker.io/library/busybox"), "Digest: " + kDigestA + "\nbusybox:latest\n");
  // The requested name is not among the image's: the image's first name.
  EXPECT_EQ(PullSummary(image, "elsewhere"), "Digest: " + kDigestA + "\n127.0.0.1:5000/t/app:v1\n");
}

}  // namespace
}  // namespace berth::cli
