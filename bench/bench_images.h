// The images part of berth-bench: pulling and unpacking an image from a registry on
// 127.0.0.1, Berth's Images.Pull beside `skopeo copy` + `umoci unpack`, and Containers.Create
// from a cached image.
//
// The test image is made by the bench: the default busybox image, exported through
// Images.Export, gives the base layer (its tar with one marker file appended, so no layer is
// shared with busybox and a pull fetches and unpacks both) and the config; a second layer
// holds one file of random bytes (--image-layer-mb, 100 MB by default); both gzip -1. The new
// OCI layout is pushed with skopeo to Debian's docker-registry, started by the bench on
// 127.0.0.1 (a free port, storage in the temp dir) in the bench's own network namespace.
//
// skopeo keeps a blob info cache, for root in /var/lib/containers/cache. Every skopeo the
// bench starts gets _CONTAINERS_ROOTLESS_UID (containers/image's own variable for the uid a
// rootless process stands for) and XDG_* / HOME / TMPDIR pointing into the temp dir, so the
// cache and its temp files land there; if /var/lib/containers or /run/containers appears
// anyway, what the bench made there is removed at the end.
//
// Failures throw BenchError; Cleanup() never throws and says whether everything is gone.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "bench/bench_berth.h"
#include "bench/bench_stats.h"
#include "berth/v1/images.grpc.pb.h"

namespace berth::bench {

struct ImagesBenchOptions {
  std::string socket;      // berthd's
  std::string store_dir;   // berthd's image store (<root>/images), checked between runs
  std::string work_dir;    // made and removed by the bench
  int runs = 5;            // pulls per side
  int warmup = 1;          // unmeasured pulls per side first
  int create_runs = 20;    // Creates per image
  int layer_mb = 100;      // the random layer, in MB (10^6 bytes)
  std::string registry = "docker-registry";
  std::string skopeo = "skopeo";
  std::string umoci = "umoci";
  std::string base_image = "busybox";
};

struct PullSample {
  double seconds = 0;
  double downloaded = 0;  // Berth: seconds until every layer was downloaded (and verified);
                          // baseline: the skopeo copy alone
};

struct ImagesResult {
  std::string reference;          // 127.0.0.1:PORT/bench/big:v1
  int64_t compressed_bytes = 0;   // both layers as pulled
  int64_t uncompressed_bytes = 0; // both layer tars
  std::vector<PullSample> berth, baseline;
  std::vector<double> create_big, create_base;  // ms
  std::string skopeo_version, umoci_version, registry_version;
};

class ImagesBench {
 public:
  ImagesBench(ImagesBenchOptions options, std::shared_ptr<BerthClient> containers);
  ~ImagesBench() { Cleanup(); }
  ImagesBench(const ImagesBench&) = delete;
  ImagesBench& operator=(const ImagesBench&) = delete;

  // Looks up the tools; throws naming what is missing.
  void CheckTools();
  // Builds the image, starts the registry, pushes the image.
  void Prepare();
  // The measurements, interleaved (each round alternates who goes first).
  ImagesResult Measure();
  static void Print(const ImagesResult& result, int runs, int create_runs);

  // Containers, the image in berthd, the registry (by pid), the work dir, and whatever skopeo
  // left in /var/lib/containers or /run/containers that was not there before. Idempotent.
  bool Cleanup();

 private:
  void BuildImage();
  void StartRegistry();
  void StopRegistry();
  std::vector<std::string> SkopeoEnv(const std::string& dir) const;
  void Run(const std::vector<std::string>& argv, const std::string& what, const std::vector<std::string>& env = {},
           const std::string& stdout_path = "/dev/null");

  // Berth: Remove + Prune, then one timed Pull.
  void ResetBerth();
  PullSample BerthPullOnce();
  // Baseline: skopeo copy into a fresh OCI dir, umoci unpack into a fresh bundle; timed, then removed.
  PullSample BaselineOnce(int iteration);
  int LayerDirCount() const;

  ImagesBenchOptions options_;
  std::shared_ptr<BerthClient> containers_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<berth::v1::Images::Stub> images_;

  std::string registry_path_, skopeo_path_, umoci_path_;
  std::string layout_dir_;  // the test image as an OCI layout
  std::string tag_ = "v1";
  std::string reference_;
  int port_ = 0;
  pid_t registry_pid_ = -1;
  int64_t compressed_bytes_ = 0, uncompressed_bytes_ = 0;
  std::vector<std::string> layer_digests_;  // sha256:<hex>, lowest first
  int base_layer_dirs_ = 0;                 // layer dirs in the store without the test image
  std::string keeper_id_;                   // a created busybox container: Prune keeps busybox

  bool work_made_ = false;
  bool var_lib_containers_existed_ = true, run_containers_existed_ = true;
  bool cache_file_existed_ = true;
  bool cleaned_ = false;
};

}  // namespace berth::bench
