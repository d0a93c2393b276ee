#include "bench/bench_images.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "bench/bench_host.h"
#include "bench/bench_proc.h"
#include "runtime/base/file_util.h"

namespace berth::bench {

namespace v1 = berth::v1;

namespace {

constexpr char kOciLayout[] = R"({"imageLayoutVersion":"1.0.0"})";
constexpr char kOciIndexType[] = "application/vnd.oci.image.index.v1+json";
constexpr char kOciManifestType[] = "application/vnd.oci.image.manifest.v1+json";
constexpr char kOciConfigType[] = "application/vnd.oci.image.config.v1+json";
constexpr char kOciLayerGzipType[] = "application/vnd.oci.image.layer.v1.tar+gzip";
constexpr char kRefNameAnnotation[] = "org.opencontainers.image.ref.name";
constexpr char kRepository[] = "bench/big";
constexpr char kVarLibContainers[] = "/var/lib/containers";
constexpr char kSkopeoCacheFile[] = "/var/lib/containers/cache/blob-info-cache-v1.boltdb";
constexpr char kRunContainers[] = "/run/containers";
constexpr auto kPullTimeout = std::chrono::seconds(600);
constexpr auto kCallTimeout = std::chrono::seconds(120);

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

void SetDeadline(grpc::ClientContext& ctx, std::chrono::seconds timeout) {
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
}

void Check(const grpc::Status& status, const std::string& what) {
  if (!status.ok()) {
    throw BenchError(what + ": " + status.error_message() + " (gRPC code " +
                     std::to_string(static_cast<int>(status.error_code())) + ")");
  }
}

// "sha256:<hex>" of a file, and its size.
std::string Sha256File(const std::string& path, int64_t* size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw BenchError("open " + path + ": " + std::strerror(errno));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) {
    ::close(fd);
    EVP_MD_CTX_free(ctx);
    throw BenchError("OpenSSL sha256 init failed");
  }
  std::vector<char> buf(1 << 20);
  int64_t total = 0;
  ssize_t n;
  while ((n = ::read(fd, buf.data(), buf.size())) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      EVP_MD_CTX_free(ctx);
      throw BenchError("read " + path + ": " + std::strerror(err));
    }
    EVP_DigestUpdate(ctx, buf.data(), static_cast<size_t>(n));
    total += n;
  }
  ::close(fd);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  std::string hex = "sha256:";
  char byte[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(byte, sizeof(byte), "%02x", md[i]);
    hex += byte;
  }
  if (size != nullptr) *size = total;
  return hex;
}

std::string Sha256Text(const std::string& text, const std::string& scratch) {
  WriteTextFile(scratch, text);
  std::string digest = Sha256File(scratch, nullptr);
  ::unlink(scratch.c_str());
  return digest;
}

std::string HexOf(const std::string& digest) { return digest.substr(digest.find(':') + 1); }

// `bytes` random bytes (getrandom: as incompressible as data gets) into a new file.
void WriteRandomFile(const std::string& path, int64_t bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw BenchError("create " + path + ": " + std::strerror(errno));
  std::vector<char> buf(1 << 20);
  int64_t left = bytes;
  while (left > 0) {
    size_t want = static_cast<size_t>(std::min<int64_t>(left, static_cast<int64_t>(buf.size())));
    size_t got = 0;
    while (got < want) {
      ssize_t n = ::getrandom(buf.data() + got, want - got, 0);
      if (n < 0 && errno != EINTR) {
        ::close(fd);
        throw BenchError(std::string("getrandom: ") + std::strerror(errno));
      }
      if (n > 0) got += static_cast<size_t>(n);
    }
    size_t written = 0;
    while (written < want) {
      ssize_t n = ::write(fd, buf.data() + written, want - written);
      if (n < 0 && errno != EINTR) {
        ::close(fd);
        throw BenchError("write " + path + ": " + std::strerror(errno));
      }
      if (n > 0) written += static_cast<size_t>(n);
    }
    left -= static_cast<int64_t>(want);
  }
  if (::close(fd) != 0) throw BenchError("close " + path + ": " + std::strerror(errno));
}

nlohmann::json ReadJson(const std::string& path) {
  try {
    return nlohmann::json::parse(ReadTextFile(path));
  } catch (const nlohmann::json::exception& e) {
    throw BenchError("parse " + path + ": " + e.what());
  }
}

int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw BenchError(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    ::close(fd);
    throw BenchError(std::string("bind 127.0.0.1:0: ") + std::strerror(err));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool LoopbackAccepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

std::string NowRfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm = {};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Removes `path` and the directories below it, deepest first, if they hold nothing else
// (a directory the bench did not find before it ran); true if `path` is gone.
bool RemoveNewEmptyDirs(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return true;
  if (!S_ISDIR(st.st_mode)) return false;
  for (const std::string& name : berth::ListDirectory(path)) RemoveNewEmptyDirs(path + "/" + name);
  if (::rmdir(path.c_str()) == 0) {
    std::fprintf(stderr, "berth-bench: removed %s (made while the bench ran)\n", path.c_str());
    return true;
  }
  std::fprintf(stderr, "berth-bench: %s appeared while the bench ran and is not empty; left alone\n", path.c_str());
  return false;
}

double SecondsBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

ImagesBench::ImagesBench(ImagesBenchOptions options, std::shared_ptr<BerthClient> containers)
    : options_(std::move(options)),
      containers_(std::move(containers)),
      channel_(grpc::CreateChannel("unix://" + options_.socket, grpc::InsecureChannelCredentials())),
      images_(v1::Images::NewStub(channel_)) {}

void ImagesBench::CheckTools() {
  struct Tool {
    const std::string& name;
    std::string* path;
  };
  std::string missing;
  for (const Tool& t : {Tool{options_.registry, &registry_path_}, Tool{options_.skopeo, &skopeo_path_},
                        Tool{options_.umoci, &umoci_path_}}) {
    *t.path = FindExecutable(t.name);
    if (t.path->empty()) missing += (missing.empty() ? "" : ", ") + t.name;
  }
  for (const char* tool : {"tar", "gzip"}) {
    if (FindExecutable(tool).empty()) missing += (missing.empty() ? "" : ", ") + std::string(tool);
  }
  if (!missing.empty()) {
    throw BenchError("the images rows need " + missing +
                     " (Debian packages docker-registry, skopeo, umoci; deploy/install-deps.sh installs them), "
                     "or skip them with --no-images");
  }
}

void ImagesBench::Run(const std::vector<std::string>& argv, const std::string& what,
                      const std::vector<std::string>& env, const std::string& stdout_path) {
  SpawnOptions io;
  io.stdout_path = stdout_path;
  io.stderr_path = options_.work_dir + "/commands.log";
  io.env = env;
  ::truncate(io.stderr_path.c_str(), 0);
  int st = RunToCompletion(argv, io);
  if (!ExitedZero(st)) {
    throw BenchError(what + " failed (" + DescribeWaitStatus(st) + "):\n" + FileTail(io.stderr_path));
  }
}

std::vector<std::string> ImagesBench::SkopeoEnv(const std::string& dir) const {
  MakeDir(dir, 0700);
  MakeDir(dir + "/tmp", 0700);
  return {"_CONTAINERS_ROOTLESS_UID=65534", "TMPDIR=" + dir + "/tmp", "HOME=" + dir,
          "XDG_DATA_HOME=" + dir,          "XDG_CONFIG_HOME=" + dir,  "XDG_RUNTIME_DIR=" + dir};
}

void ImagesBench::Prepare() {
  var_lib_containers_existed_ = Exists(kVarLibContainers);
  cache_file_existed_ = Exists(kSkopeoCacheFile);
  run_containers_existed_ = Exists(kRunContainers);
  MakeDir(options_.work_dir, 0700);
  work_made_ = true;
  WriteTextFile(options_.work_dir + "/policy.json", R"({"default":[{"type":"insecureAcceptAnything"}]})");

  // A created (never started) busybox container keeps busybox in use, so the Prune before
  // every pull leaves it (and the crun rootfs on its layer) alone.
  containers_->TimedCreate(options_.base_image, {"true"}, "none", &keeper_id_);
  base_layer_dirs_ = LayerDirCount();

  BuildImage();
  StartRegistry();
  reference_ = "127.0.0.1:" + std::to_string(port_) + "/" + kRepository + ":" + tag_;
  Run({skopeo_path_, "--policy", options_.work_dir + "/policy.json", "copy", "-q", "--dest-tls-verify=false",
       "oci:" + layout_dir_ + ":" + tag_, "docker://" + reference_},
      "skopeo copy (push to the bench registry)", SkopeoEnv(options_.work_dir + "/skopeo-push"));
}

void ImagesBench::BuildImage() {
  const std::string w = options_.work_dir;
  // The base image as Images.Export gives it, unpacked.
  const std::string export_tar = w + "/export.tar";
  {
    grpc::ClientContext ctx;
    SetDeadline(ctx, kCallTimeout);
    v1::ExportRequest req;
    req.add_references(options_.base_image);
    auto reader = images_->Export(&ctx, req);
    std::ofstream out(export_tar, std::ios::binary | std::ios::trunc);
    v1::ExportResponse chunk;
    while (reader->Read(&chunk)) out.write(chunk.chunk().data(), static_cast<std::streamsize>(chunk.chunk().size()));
    Check(reader->Finish(), "Images.Export " + options_.base_image);
    out.close();
    if (!out) throw BenchError("write " + export_tar);
  }
  const std::string exported = w + "/exported";
  MakeDir(exported);
  Run({"tar", "-xf", export_tar, "-C", exported}, "tar -xf (the exported image)");
  ::unlink(export_tar.c_str());
  nlohmann::json index = ReadJson(exported + "/index.json");
  if (!index.contains("manifests") || index["manifests"].empty()) throw BenchError("exported index.json: no manifests");
  auto blob = [&](const std::string& digest) { return exported + "/blobs/sha256/" + HexOf(digest); };
  nlohmann::json manifest = ReadJson(blob(index["manifests"][0]["digest"].get<std::string>()));
  nlohmann::json config = ReadJson(blob(manifest["config"]["digest"].get<std::string>()));
  if (manifest["layers"].size() != 1) {
    throw BenchError("the base image has " + std::to_string(manifest["layers"].size()) + " layers, expected 1");
  }
  const nlohmann::json& base = manifest["layers"][0];
  const std::string base_type = base["mediaType"].get<std::string>();

  layout_dir_ = w + "/layout";
  MakeDir(layout_dir_);
  MakeDir(layout_dir_ + "/blobs");
  MakeDir(layout_dir_ + "/blobs/sha256");
  WriteTextFile(layout_dir_ + "/oci-layout", kOciLayout);

  // Layer 1: the base layer's tar plus /etc/berth-bench-image, so that neither its diff_id
  // nor its blob is busybox's: a pull has both layers to fetch and unpack.
  const std::string base_tar = w + "/base.tar";
  if (base_type.find("gzip") != std::string::npos) {
    Run({"gzip", "-dc", blob(base["digest"].get<std::string>())}, "gzip -dc (base layer)", {}, base_tar);
  } else if (base_type.find("zstd") == std::string::npos) {
    Run({"cp", blob(base["digest"].get<std::string>()), base_tar}, "cp (base layer)");
  } else {
    throw BenchError("base layer type " + base_type + " not handled by the bench");
  }
  MakeDir(w + "/marker");
  MakeDir(w + "/marker/etc");
  WriteTextFile(w + "/marker/etc/berth-bench-image", "berth-bench test image\n");
  Run({"tar", "--numeric-owner", "--owner=0", "--group=0", "-C", w + "/marker", "-rf", base_tar, "etc/berth-bench-image"},
      "tar -rf (marker into the base layer)");

  // Layer 2: one file of random bytes.
  MakeDir(w + "/big");
  MakeDir(w + "/big/bench");
  const int64_t random_bytes = static_cast<int64_t>(options_.layer_mb) * 1000 * 1000;
  WriteRandomFile(w + "/big/bench/random.bin", random_bytes);
  const std::string big_tar = w + "/big.tar";
  Run({"tar", "--numeric-owner", "--owner=0", "--group=0", "-C", w + "/big", "-cf", big_tar, "bench"},
      "tar -cf (random layer)");
  ::unlink((w + "/big/bench/random.bin").c_str());

  nlohmann::json layers = nlohmann::json::array();
  nlohmann::json diff_ids = nlohmann::json::array();
  for (const std::string& tar : {base_tar, big_tar}) {
    int64_t tar_size = 0;
    diff_ids.push_back(Sha256File(tar, &tar_size));
    uncompressed_bytes_ += tar_size;
    const std::string gz = tar + ".gz";
    Run({"gzip", "-1", "-n", "-c", tar}, "gzip -1 " + tar, {}, gz);
    ::unlink(tar.c_str());
    int64_t gz_size = 0;
    const std::string digest = Sha256File(gz, &gz_size);
    compressed_bytes_ += gz_size;
    if (::rename(gz.c_str(), (layout_dir_ + "/blobs/sha256/" + HexOf(digest)).c_str()) != 0) {
      throw BenchError("rename " + gz + ": " + std::strerror(errno));
    }
    layer_digests_.push_back(digest);
    layers.push_back({{"mediaType", kOciLayerGzipType}, {"digest", digest}, {"size", gz_size}});
  }

  const std::string now = NowRfc3339();
  config["created"] = now;
  config["rootfs"] = {{"type", "layers"}, {"diff_ids", diff_ids}};
  config["history"] = nlohmann::json::array(
      {{{"created", now}, {"created_by", "berth-bench: the busybox layer + /etc/berth-bench-image"}},
       {{"created", now},
        {"created_by", "berth-bench: /bench/random.bin, " + std::to_string(random_bytes) + " random bytes"}}});
  auto put_json = [&](const nlohmann::json& doc) {
    const std::string text = doc.dump();
    const std::string digest = Sha256Text(text, w + "/json.tmp");
    WriteTextFile(layout_dir_ + "/blobs/sha256/" + HexOf(digest), text);
    return std::make_pair(digest, static_cast<int64_t>(text.size()));
  };
  auto [config_digest, config_size] = put_json(config);
  nlohmann::json new_manifest = {{"schemaVersion", 2},
                                 {"mediaType", kOciManifestType},
                                 {"config", {{"mediaType", kOciConfigType}, {"digest", config_digest}, {"size", config_size}}},
                                 {"layers", layers}};
  auto [manifest_digest, manifest_size] = put_json(new_manifest);
  nlohmann::json new_index = {
      {"schemaVersion", 2},
      {"mediaType", kOciIndexType},
      {"manifests",
       {{{"mediaType", kOciManifestType},
         {"digest", manifest_digest},
         {"size", manifest_size},
         {"annotations", {{kRefNameAnnotation, tag_}}}}}}};
  WriteTextFile(layout_dir_ + "/index.json", new_index.dump());
  RemoveTree(exported);
  RemoveTree(w + "/marker");
  RemoveTree(w + "/big");
}

void ImagesBench::StartRegistry() {
  const std::string dir = options_.work_dir + "/registry";
  MakeDir(dir, 0700);
  MakeDir(dir + "/storage", 0700);
  port_ = FreeLoopbackPort();
  const std::string config = dir + "/config.yml";
  WriteTextFile(config, "version: 0.1\n"
                        "log:\n"
                        "  level: warn\n"
                        "  accesslog:\n"
                        "    disabled: true\n"
                        "storage:\n"
                        "  filesystem:\n"
                        "    rootdirectory: " + dir + "/storage\n"
                        "  delete:\n"
                        "    enabled: true\n"
                        "  maintenance:\n"
                        "    uploadpurging:\n"
                        "      enabled: false\n"
                        "http:\n"
                        "  addr: 127.0.0.1:" + std::to_string(port_) + "\n"
                        "  secret: berth-bench\n");
  SpawnOptions io;
  io.stdout_path = dir + "/registry.log";
  io.stderr_path = dir + "/registry.log";
  io.own_process_group = true;
  registry_pid_ = Spawn({registry_path_, "serve", config}, io);
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (!LoopbackAccepts(port_)) {
    int status = 0;
    if (::waitpid(registry_pid_, &status, WNOHANG) == registry_pid_) {
      registry_pid_ = -1;
      throw BenchError("docker-registry ended (" + DescribeWaitStatus(status) + "); its log:\n" + FileTail(io.stderr_path));
    }
    ThrowIfInterrupted();
    if (Clock::now() > deadline) throw BenchError("docker-registry did not listen on 127.0.0.1:" + std::to_string(port_));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void ImagesBench::StopRegistry() {
  if (registry_pid_ <= 0) return;
  ::kill(registry_pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 250; ++i) {
    pid_t r = ::waitpid(registry_pid_, &status, WNOHANG);
    if (r == registry_pid_ || (r < 0 && errno == ECHILD)) {
      registry_pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(registry_pid_, SIGKILL);
  while (::waitpid(registry_pid_, &status, 0) < 0 && errno == EINTR) {
  }
  registry_pid_ = -1;
}

int ImagesBench::LayerDirCount() const {
  int n = 0;
  for (const std::string& name : berth::ListDirectory(options_.store_dir + "/layers")) {
    if (!name.empty() && name[0] != '.') ++n;
  }
  return n;
}

void ImagesBench::ResetBerth() {
  {
    grpc::ClientContext ctx;
    SetDeadline(ctx, kCallTimeout);
    v1::RemoveImageRequest req;
    req.set_reference(reference_);
    v1::RemoveImageResponse resp;
    grpc::Status st = images_->Remove(&ctx, req, &resp);
    if (!st.ok() && st.error_code() != grpc::StatusCode::NOT_FOUND) Check(st, "Images.Remove " + reference_);
  }
  {
    grpc::ClientContext ctx;
    SetDeadline(ctx, kCallTimeout);
    v1::PruneImagesResponse resp;
    Check(images_->Prune(&ctx, v1::PruneImagesRequest(), &resp), "Images.Prune");
  }
  // Each pull starts from nothing of the test image: no blob, no layer dir.
  for (const std::string& d : layer_digests_) {
    if (Exists(options_.store_dir + "/content/blobs/sha256/" + HexOf(d))) {
      throw BenchError("layer blob " + d + " still in the store after Remove + Prune");
    }
  }
  if (LayerDirCount() != base_layer_dirs_) {
    throw BenchError("layer dirs in the store after Remove + Prune: " + std::to_string(LayerDirCount()) +
                     ", expected " + std::to_string(base_layer_dirs_));
  }
}

PullSample ImagesBench::BerthPullOnce() {
  std::map<std::string, Clock::time_point> downloaded;
  grpc::ClientContext ctx;
  SetDeadline(ctx, kPullTimeout);
  v1::PullRequest req;
  req.set_reference(reference_);
  auto t0 = Clock::now();
  auto reader = images_->Pull(&ctx, req);
  v1::PullResponse resp;
  bool got_image = false;
  auto t_image = t0;
  v1::Image image;
  while (reader->Read(&resp)) {
    if (resp.has_layer()) {
      const auto& l = resp.layer();
      if ((l.status() == "downloaded" || l.status() == "exists") && !downloaded.count(l.digest())) {
        downloaded[l.digest()] = Clock::now();
      }
    } else if (resp.has_image()) {
      t_image = Clock::now();
      got_image = true;
      image = resp.image();
    }
  }
  Check(reader->Finish(), "Images.Pull " + reference_);
  if (!got_image) throw BenchError("Images.Pull " + reference_ + ": the stream ended without the image");
  std::vector<std::string> got(image.layers().begin(), image.layers().end());
  if (got != layer_digests_) throw BenchError("Images.Pull " + reference_ + ": unexpected layers in the pulled image");
  if (LayerDirCount() != base_layer_dirs_ + 2) {
    throw BenchError("after the pull the store has " + std::to_string(LayerDirCount() - base_layer_dirs_) +
                     " new layer dirs, expected 2");
  }
  PullSample s;
  s.seconds = SecondsBetween(t0, t_image);
  for (const auto& d : layer_digests_) {
    auto it = downloaded.find(d);
    if (it != downloaded.end()) s.downloaded = std::max(s.downloaded, SecondsBetween(t0, it->second));
  }
  return s;
}

PullSample ImagesBench::BaselineOnce(int iteration) {
  const std::string dir = options_.work_dir + "/baseline-" + std::to_string(iteration);
  MakeDir(dir, 0700);
  std::vector<std::string> env = SkopeoEnv(dir + "/skopeo");  // a fresh blob info cache each run
  const std::string oci = dir + "/oci";
  const std::string bundle = dir + "/bundle";
  auto t0 = Clock::now();
  Run({skopeo_path_, "--policy", options_.work_dir + "/policy.json", "copy", "-q", "--src-tls-verify=false",
       "docker://" + reference_, "oci:" + oci + ":" + tag_},
      "skopeo copy (pull)", env);
  auto t1 = Clock::now();
  Run({umoci_path_, "unpack", "--image", oci + ":" + tag_, bundle}, "umoci unpack");
  auto t2 = Clock::now();
  if (::access((bundle + "/rootfs/bench/random.bin").c_str(), F_OK) != 0 ||
      ::access((bundle + "/rootfs/etc/berth-bench-image").c_str(), F_OK) != 0) {
    throw BenchError("umoci unpack left no " + bundle + "/rootfs/bench/random.bin or etc/berth-bench-image");
  }
  if (!RemoveTree(dir)) throw BenchError("cannot remove " + dir);
  return {SecondsBetween(t0, t2), SecondsBetween(t0, t1)};
}

ImagesResult ImagesBench::Measure() {
  ImagesResult r;
  r.reference = reference_;
  r.compressed_bytes = compressed_bytes_;
  r.uncompressed_bytes = uncompressed_bytes_;
  const std::string out = options_.work_dir + "/version.out";
  auto version = [&](const std::vector<std::string>& argv) {
    ::unlink(out.c_str());
    SpawnOptions io;
    io.stdout_path = out;
    io.stderr_path = out;
    RunToCompletion(argv, io);
    std::string text = FileTail(out, 4096);
    size_t nl = text.find('\n');
    if (nl != std::string::npos) text.resize(nl);
    return text;
  };
  r.skopeo_version = version({skopeo_path_, "--version"});
  r.umoci_version = version({umoci_path_, "--version"});
  r.registry_version = version({registry_path_, "--version"});

  // a) + b): pulls, interleaved.
  const int total = options_.warmup + options_.runs;
  for (int i = 0; i < total; ++i) {
    ThrowIfInterrupted();
    auto berth_once = [&] {
      ResetBerth();  // not timed
      PullSample s = BerthPullOnce();
      if (i >= options_.warmup) r.berth.push_back(s);
    };
    auto baseline_once = [&] {
      PullSample s = BaselineOnce(i);
      if (i >= options_.warmup) r.baseline.push_back(s);
    };
    InAlternatingOrder(i, berth_once, baseline_once);
  }

  // c) Create from the cached image (the last pull left it), against busybox; one warm-up each.
  for (int i = 0; i < options_.create_runs + 1; ++i) {
    ThrowIfInterrupted();
    auto create_once = [&](const std::string& image, std::vector<double>* samples) {
      std::string id;
      double ms = containers_->TimedCreate(image, {"true"}, "none", &id);
      containers_->Remove(id, /*force=*/true);  // not timed
      if (i > 0) samples->push_back(ms);
    };
    InAlternatingOrder(
        i, [&] { create_once(reference_, &r.create_big); }, [&] { create_once(options_.base_image, &r.create_base); });
  }
  return r;
}

void ImagesBench::Print(const ImagesResult& r, int runs, int create_runs) {
  auto seconds = [](const std::vector<PullSample>& v, double PullSample::*field) {
    std::vector<double> xs;
    for (const auto& s : v) xs.push_back(s.*field);
    return Summarize(xs);
  };
  const double mb = static_cast<double>(r.compressed_bytes) / 1e6;
  const double umb = static_cast<double>(r.uncompressed_bytes) / 1e6;
  Summary bt = seconds(r.berth, &PullSample::seconds), bd = seconds(r.berth, &PullSample::downloaded);
  Summary st = seconds(r.baseline, &PullSample::seconds), sd = seconds(r.baseline, &PullSample::downloaded);
  std::printf("\nImage pull + unpack: %s, 2 layers, %.1f MB compressed (gzip -1), %.1f MB as tar\n",
              r.reference.c_str(), mb, umb);
  std::printf("  registry  %s (127.0.0.1, the bench's netns, plain HTTP)\n", r.registry_version.c_str());
  std::printf("  baseline  %s + %s\n", r.skopeo_version.c_str(), r.umoci_version.c_str());
  std::printf("  n=%d each, interleaved, from nothing each run (berth: Images.Remove + Prune first; baseline: new "
              "OCI dir and bundle)\n",
              runs);
  std::printf("  %-50s %8s %8s %10s %10s   %s\n", "", "median s", "p95 s", "MB/s", "tar MB/s", "berth/baseline");
  auto row = [&](const char* name, const Summary& s, const Summary* base) {
    char ratio[32] = "";
    if (base != nullptr && base->median > 0) std::snprintf(ratio, sizeof(ratio), "%.2fx", s.median / base->median);
    std::printf("  %-50s %8.2f %8.2f %10.1f %10.1f   %s\n", name, s.median, s.p95, s.median > 0 ? mb / s.median : 0,
                s.median > 0 ? umb / s.median : 0, ratio);
  };
  row("berth Images.Pull (download, verify, unpack)", bt, &st);
  row("skopeo copy docker:// oci: + umoci unpack", st, nullptr);
  std::printf("  split (median s): berth all layers downloaded+verified at %.2f, the rest (unpack) %.2f | "
              "skopeo copy %.2f, umoci unpack %.2f\n",
              bd.median, bt.median - bd.median, sd.median, st.median - sd.median);
  std::printf("  min/max (s): berth %.2f/%.2f, baseline %.2f/%.2f\n", bt.min, bt.max, st.min, st.max);
  std::printf("  (MB/s: compressed bytes of both layers / median time; tar MB/s: the same with the layers' tar "
              "bytes;\n   berth/baseline: ratio of the median times, < 1 means Berth is faster. umoci unpack also "
              "writes an mtree\n   manifest of the rootfs, hashing every file: part of its time.)\n");

  Summary cb = Summarize(r.create_big), cs = Summarize(r.create_base);
  std::printf("\nContainers.Create from a cached image (ms, network \"none\", n=%d each, interleaved)\n", create_runs);
  std::printf("  %-50s %8s %8s   %s\n", "", "median", "p95", "/busybox (med)");
  char big_name[64];
  std::snprintf(big_name, sizeof(big_name), "the pulled image (2 layers, %.0f MB as tar)", umb);
  std::printf("  %-50s %8.2f %8.2f   %.2fx\n", big_name, cb.median, cb.p95, cs.median > 0 ? cb.median / cs.median : 0);
  std::printf("  %-50s %8.2f %8.2f\n", "busybox (1 layer)", cs.median, cs.p95);
  std::printf("  min/max (ms): pulled image %.2f/%.2f, busybox %.2f/%.2f (layers are unpacked once, at pull: the "
              "two should match)\n",
              cb.min, cb.max, cs.min, cs.max);
}

bool ImagesBench::Cleanup() {
  if (cleaned_) return true;
  cleaned_ = true;
  bool ok = true;
  if (!keeper_id_.empty()) {
    try {
      containers_->Remove(keeper_id_, /*force=*/true);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "berth-bench: remove container %s: %s\n", keeper_id_.c_str(), e.what());
      ok = false;
    }
    keeper_id_.clear();
  }
  if (!reference_.empty()) {
    grpc::ClientContext ctx;
    SetDeadline(ctx, kCallTimeout);
    v1::RemoveImageRequest req;
    req.set_reference(reference_);
    req.set_force(true);
    v1::RemoveImageResponse resp;
    grpc::Status st = images_->Remove(&ctx, req, &resp);
    if (!st.ok() && st.error_code() != grpc::StatusCode::NOT_FOUND) {
      std::fprintf(stderr, "berth-bench: Images.Remove %s: %s\n", reference_.c_str(), st.error_message().c_str());
      ok = false;
    }
  }
  StopRegistry();
  if (work_made_ && !RemoveTree(options_.work_dir)) ok = false;
  // skopeo should have written nothing outside the work dir; if it did, remove what is new:
  // its cache file, and directories that were not there before once they are empty.
  if (!cache_file_existed_ && Exists(kSkopeoCacheFile)) {
    std::fprintf(stderr, "berth-bench: skopeo wrote %s; removing it\n", kSkopeoCacheFile);
    ok = ::unlink(kSkopeoCacheFile) == 0 && ok;
  }
  if (!var_lib_containers_existed_) ok = RemoveNewEmptyDirs(kVarLibContainers) && ok;
  if (!run_containers_existed_) ok = RemoveNewEmptyDirs(kRunContainers) && ok;
  return ok;
}

}  // namespace berth::bench
