#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "agent/image/digest.h"
#include "agent/image/manifest.h"
#include "gtest/gtest.h"

namespace berth::image {
namespace {

// Digests of made-up content, so that every sample is well-formed.
const std::string kConfigDigest = Sha256Of("config");
const std::string kLayer0 = Sha256Of("layer 0");
const std::string kLayer1 = Sha256Of("layer 1");
const std::string kAmd64 = Sha256Of("amd64 manifest");
const std::string kArm64 = Sha256Of("arm64 manifest");
const std::string kArmV7 = Sha256Of("arm v7 manifest");
const std::string kAttest = Sha256Of("attestation");

std::string OciManifest() {
  return absl::StrCat(R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": ")", kConfigDigest, R"(", "size": 1470},
  "layers": [
    {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ")", kLayer0, R"(", "size": 2125264,
     "annotations": {"org.opencontainers.image.title": "base"}},
    {"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "digest": ")", kLayer1, R"(", "size": 32}
  ],
  "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"}
})");
}

std::string DockerManifest() {
  return absl::StrCat(R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
  "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1457, "digest": ")", kConfigDigest, R"("},
  "layers": [
    {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 2152262, "digest": ")", kLayer0, R"("}
  ]
})");
}

std::string OciIndex() {
  return absl::StrCat(R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.index.v1+json",
  "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": ")", kArmV7, R"(", "size": 528,
     "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": ")", kAmd64, R"(", "size": 528,
     "platform": {"architecture": "amd64", "os": "linux"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": ")", kArm64, R"(", "size": 528,
     "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": ")", kAttest, R"(", "size": 840,
     "annotations": {"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": ")", kAmd64, R"("},
     "platform": {"architecture": "unknown", "os": "unknown"}}
  ]
})");
}

std::string DockerManifestList() {
  return absl::StrCat(R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
  "manifests": [
    {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 527, "digest": ")", kArm64, R"(",
     "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
    {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 527, "digest": ")", kAmd64, R"(",
     "platform": {"architecture": "amd64", "os": "linux"}}
  ]
})");
}

std::string Config() {
  return absl::StrCat(R"({
  "architecture": "amd64",
  "os": "linux",
  "created": "2024-05-06T07:08:09.123456789Z",
  "config": {
    "User": "1000:1000",
    "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"],
    "Entrypoint": ["/docker-entrypoint.sh"],
    "Cmd": ["nginx", "-g", "daemon off;"],
    "WorkingDir": "/srv",
    "ExposedPorts": {"80/tcp": {}},
    "Labels": {"maintainer": "someone", "org.opencontainers.image.version": "1.2"},
    "StopSignal": "SIGQUIT"
  },
  "rootfs": {"type": "layers", "diff_ids": [")", kLayer0, R"(", ")", kLayer1, R"("]},
  "history": [{"created": "2024-05-06T07:08:09Z", "created_by": "ADD file in /"}]
})");
}

TEST(MediaTypeTest, Kinds) {
  EXPECT_TRUE(IsManifestType(kOciManifest));
  EXPECT_TRUE(IsManifestType(kDockerManifest));
  EXPECT_FALSE(IsManifestType(kOciIndex));
  EXPECT_TRUE(IsIndexType(kOciIndex));
  EXPECT_TRUE(IsIndexType(kDockerManifestList));
  EXPECT_FALSE(IsIndexType(kDockerManifest));
  for (const char* t : {kOciLayer, kOciLayerGzip, kOciLayerZstd, kDockerLayerGzip}) EXPECT_TRUE(IsLayerType(t)) << t;
  EXPECT_FALSE(IsLayerType("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"));
  EXPECT_FALSE(IsLayerType("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"));
  EXPECT_FALSE(IsLayerType(kOciConfig));
}

TEST(ManifestTest, ParsesOci) {
  absl::StatusOr<Manifest> m = ParseManifest(OciManifest(), kOciManifest);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->media_type, kOciManifest);
  EXPECT_EQ(m->config.media_type, kOciConfig);
  EXPECT_EQ(m->config.digest, kConfigDigest);
  EXPECT_EQ(m->config.size, 1470);
  ASSERT_EQ(m->layers.size(), 2u);
  EXPECT_EQ(m->layers[0].media_type, kOciLayerGzip);
  EXPECT_EQ(m->layers[0].digest, kLayer0);
  EXPECT_EQ(m->layers[0].size, 2125264);
  EXPECT_EQ(m->layers[0].annotations.at("org.opencontainers.image.title"), "base");
  EXPECT_EQ(m->layers[1].media_type, kOciLayerZstd);
  EXPECT_EQ(m->layers[1].digest, kLayer1);
}

TEST(ManifestTest, ParsesDocker) {
  absl::StatusOr<Manifest> m = ParseManifest(DockerManifest(), kDockerManifest);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->media_type, kDockerManifest);
  EXPECT_EQ(m->config.media_type, kDockerConfig);
  EXPECT_EQ(m->config.size, 1457);
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].media_type, kDockerLayerGzip);
  EXPECT_EQ(m->layers[0].size, 2152262);
}

TEST(ManifestTest, MediaTypeFromDocumentHeaderOrShape) {
  // No Content-Type: the document says.
  EXPECT_EQ(ParseManifest(DockerManifest())->media_type, kDockerManifest);
  // A Content-Type with parameters, or a generic one, does not get in the way.
  EXPECT_EQ(ParseManifest(DockerManifest(), std::string(kDockerManifest) + "; charset=utf-8")->media_type,
            kDockerManifest);
  EXPECT_EQ(ParseManifest(OciManifest(), "application/json")->media_type, kOciManifest);
  // Early OCI manifests carry no mediaType: the header decides, else the shape.
  std::string bare =
      absl::StrReplaceAll(OciManifest(), {{R"("mediaType": "application/vnd.oci.image.manifest.v1+json",)", ""}});
  ASSERT_NE(bare, OciManifest());
  EXPECT_EQ(ParseManifest(bare, kOciManifest)->media_type, kOciManifest);
  EXPECT_EQ(ParseManifest(bare)->media_type, kOciManifest);
  EXPECT_EQ(DetectMediaType(bare), kOciManifest);
  EXPECT_EQ(DetectMediaType(DockerManifest()), kDockerManifest);
  EXPECT_EQ(DetectMediaType(DockerManifestList()), kDockerManifestList);
  std::string bare_index =
      absl::StrReplaceAll(OciIndex(), {{R"("mediaType": "application/vnd.oci.image.index.v1+json",)", ""}});
  ASSERT_NE(bare_index, OciIndex());
  EXPECT_EQ(DetectMediaType(bare_index), kOciIndex);
  EXPECT_EQ(ParseIndex(bare_index)->media_type, kOciIndex);
  EXPECT_EQ(DetectMediaType("not json"), "");
  EXPECT_EQ(DetectMediaType("{}"), "");
}

TEST(ManifestTest, RefusesTheOtherKind) {
  for (const std::string& index : {OciIndex(), DockerManifestList()}) {
    absl::StatusOr<Manifest> m = ParseManifest(index);
    ASSERT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(m.status().message(), "index")) << m.status();
  }
  for (const std::string& manifest : {OciManifest(), DockerManifest()}) {
    absl::StatusOr<Index> i = ParseIndex(manifest);
    ASSERT_EQ(i.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(i.status().message(), "manifest")) << i.status();
  }
  // The registry says index, the document says manifest.
  EXPECT_EQ(ParseManifest(OciManifest(), kOciIndex).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseIndex(OciIndex(), kDockerManifest).status().code(), absl::StatusCode::kInvalidArgument);
  // Docker schema 1 is gone.
  absl::StatusOr<Manifest> v1 = ParseManifest(R"({"schemaVersion": 1, "name": "x", "tag": "y", "fsLayers": []})",
                                               "application/vnd.docker.distribution.manifest.v1+prettyjws");
  EXPECT_EQ(v1.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(v1.status().message(), "schema 1")) << v1.status();
  EXPECT_EQ(DetectMediaType(R"({"schemaVersion": 1, "fsLayers": []})"),
            "application/vnd.docker.distribution.manifest.v1+json");
}

TEST(ManifestTest, RejectsMalformed) {
  struct Case {
    std::string json, message;
  };
  std::string good_desc = absl::StrCat(R"({"mediaType": "x", "digest": ")", kLayer0, R"(", "size": 1})");
  auto manifest = [&](const std::string& config, const std::string& layers, const std::string& version = "2") {
    return absl::StrCat(R"({"schemaVersion": )", version, R"(, "mediaType": ")", kOciManifest,
                        R"(", "config": )", config, R"(, "layers": )", layers, "}");
  };
  const Case cases[] = {
      {"", "not valid JSON"},
      {"{", "not valid JSON"},
      {"[]", "not a JSON object"},
      {manifest(good_desc, "[]", "1"), "schemaVersion"},
      {manifest(good_desc, "[]", "\"2\""), "schemaVersion"},
      {absl::StrCat(R"({"mediaType": ")", kOciManifest, R"(", "config": )", good_desc, R"(, "layers": []})"),
       "no schemaVersion"},
      {manifest("[]", "[]"), "config: not an object"},
      {manifest(good_desc, "{}"), "no layers array"},
      {absl::StrCat(R"({"schemaVersion": 2, "mediaType": ")", kOciManifest, R"(", "layers": []})"),
       "no config"},
      {manifest(R"({"mediaType": "x", "digest": "sha256:abc", "size": 1})", "[]"), "config"},
      {manifest(R"({"digest": ")" + kLayer0 + R"(", "size": 1})", "[]"), "no mediaType"},
      {manifest(R"({"mediaType": "x", "digest": ")" + kLayer0 + R"("})", "[]"), "no size"},
      {manifest(R"({"mediaType": "x", "digest": ")" + kLayer0 + R"(", "size": -1})", "[]"), "negative size"},
      {manifest(R"({"mediaType": "x", "digest": ")" + kLayer0 + R"(", "size": "1"})", "[]"), "not an integer"},
      {manifest(R"({"mediaType": "x", "digest": ")" + kLayer0 + R"(", "size": 1.5})", "[]"), "not an integer"},
      {manifest(good_desc, absl::StrCat("[", good_desc, R"(, {"mediaType": "x", "digest": 5, "size": 1}])")),
       "layers[1]"},
      {manifest(good_desc, absl::StrCat(R"([{"mediaType": "x", "digest": "sha512:)", std::string(128, 'a'),
                                        R"(", "size": 1}])")),
       "only sha256"},
      {manifest(good_desc, absl::StrCat(R"([{"mediaType": "x", "digest": ")", kLayer0,
                                        R"(", "size": 1, "annotations": {"a": 1}}])")),
       "annotations"},
      {R"({"schemaVersion": 2, "mediaType": "application/vnd.example+json", "config": {}, "layers": []})",
       "unsupported media type"},
      {R"({"schemaVersion": 2})", "neither"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Manifest> m = ParseManifest(c.json);
    ASSERT_FALSE(m.ok()) << c.json;
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument) << c.json;
    EXPECT_TRUE(absl::StrContains(m.status().message(), c.message)) << c.json << "\n" << m.status();
  }
  absl::StatusOr<Index> i = ParseIndex(absl::StrCat(R"({"schemaVersion": 2, "mediaType": ")", kOciIndex,
                                                    R"(", "manifests": [{"mediaType": "x", "digest": ")", kAmd64,
                                                    R"(", "size": 1, "platform": "linux/amd64"}]})"));
  EXPECT_EQ(i.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(i.status().message(), "manifests[0]")) << i.status();
  EXPECT_EQ(ParseIndex(absl::StrCat(R"({"schemaVersion": 2, "mediaType": ")", kOciIndex, R"("})")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(IndexTest, ParsesOciAndDocker) {
  absl::StatusOr<Index> oci = ParseIndex(OciIndex(), kOciIndex);
  ASSERT_TRUE(oci.ok()) << oci.status();
  EXPECT_EQ(oci->media_type, kOciIndex);
  ASSERT_EQ(oci->manifests.size(), 4u);
  EXPECT_EQ(oci->manifests[0].platform.os, "linux");
  EXPECT_EQ(oci->manifests[0].platform.architecture, "arm");
  EXPECT_EQ(oci->manifests[0].platform.variant, "v7");
  EXPECT_EQ(oci->manifests[1].digest, kAmd64);
  EXPECT_EQ(oci->manifests[1].size, 528);
  EXPECT_EQ(oci->manifests[3].annotations.at("vnd.docker.reference.type"), "attestation-manifest");

  absl::StatusOr<Index> docker = ParseIndex(DockerManifestList(), kDockerManifestList);
  ASSERT_TRUE(docker.ok()) << docker.status();
  EXPECT_EQ(docker->media_type, kDockerManifestList);
  ASSERT_EQ(docker->manifests.size(), 2u);
  EXPECT_EQ(docker->manifests[0].media_type, kDockerManifest);
  EXPECT_EQ(docker->manifests[1].platform.architecture, "amd64");
}

TEST(IndexTest, SelectsPlatform) {
  Index oci = *ParseIndex(OciIndex());
  Index docker = *ParseIndex(DockerManifestList());
  EXPECT_EQ(SelectPlatform(oci)->digest, kAmd64);  // linux/amd64 by default
  EXPECT_EQ(SelectPlatform(docker)->digest, kAmd64);
  EXPECT_EQ(SelectPlatform(oci, "linux", "arm64")->digest, kArm64);
  EXPECT_EQ(SelectPlatform(oci, "linux", "arm64/v8")->digest, kArm64);
  EXPECT_EQ(SelectPlatform(oci, "linux", "arm")->digest, kArmV7);
  EXPECT_EQ(SelectPlatform(oci, "linux", "arm/v7")->digest, kArmV7);
  EXPECT_EQ(SelectPlatform(oci, "linux", "arm/v6").status().code(), absl::StatusCode::kNotFound);

  // arm64 without a variant is v8.
  Index no_variant = docker;
  no_variant.manifests[0].platform.variant.clear();
  EXPECT_EQ(SelectPlatform(no_variant, "linux", "arm64/v8")->digest, kArm64);

  // amd64 prefers the baseline over a micro-architecture level, wherever it is listed...
  Index levels;
  levels.manifests = {docker.manifests[1], docker.manifests[1]};
  levels.manifests[0].digest = Sha256Of("amd64 v3");
  levels.manifests[0].platform.variant = "v3";
  EXPECT_EQ(SelectPlatform(levels)->digest, kAmd64);
  EXPECT_EQ(SelectPlatform(levels, "linux", "amd64/v3")->digest, Sha256Of("amd64 v3"));
  // ...and takes a level when that is all there is.
  levels.manifests.pop_back();
  EXPECT_EQ(SelectPlatform(levels)->digest, Sha256Of("amd64 v3"));
}

TEST(IndexTest, MissingPlatformListsWhatThereIs) {
  Index oci = *ParseIndex(OciIndex());
  absl::StatusOr<Descriptor> d = SelectPlatform(oci, "linux", "s390x");
  ASSERT_EQ(d.status().code(), absl::StatusCode::kNotFound);
  std::string msg(d.status().message());
  EXPECT_TRUE(absl::StrContains(msg, "linux/s390x")) << msg;
  for (const char* p : {"linux/arm/v7", "linux/amd64", "linux/arm64/v8", "unknown/unknown"}) {
    EXPECT_TRUE(absl::StrContains(msg, p)) << msg;
  }
  EXPECT_EQ(SelectPlatform(oci, "windows", "amd64").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(SelectPlatform(Index{}).status().message(), "no platforms"));
}

TEST(ConfigTest, ParsesConfig) {
  absl::StatusOr<ConfigFile> c = ParseConfig(Config());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->os, "linux");
  EXPECT_EQ(c->architecture, "amd64");
  EXPECT_EQ(c->created, "2024-05-06T07:08:09.123456789Z");
  EXPECT_EQ(c->config.user, "1000:1000");
  EXPECT_EQ(c->config.working_dir, "/srv");
  EXPECT_EQ(c->config.entrypoint, std::vector<std::string>{"/docker-entrypoint.sh"});
  EXPECT_EQ(c->config.cmd, (std::vector<std::string>{"nginx", "-g", "daemon off;"}));
  ASSERT_EQ(c->config.env.size(), 2u);
  EXPECT_EQ(c->config.env[1], "LANG=C.UTF-8");
  EXPECT_EQ(c->config.labels.size(), 2u);
  EXPECT_EQ(c->config.labels.at("maintainer"), "someone");
  EXPECT_EQ(c->config.labels.at("org.opencontainers.image.version"), "1.2");
  EXPECT_EQ(c->diff_ids, (std::vector<std::string>{kLayer0, kLayer1}));
}

TEST(ConfigTest, NullsAndMissingConfigAreEmpty) {
  // Docker writes null for unset fields; scratch images have no config at all.
  absl::StatusOr<ConfigFile> c = ParseConfig(absl::StrCat(
      R"({"os": "linux", "architecture": "amd64", "config": {"Entrypoint": null, "Cmd": null, "Env": null,
          "Labels": null, "WorkingDir": ""}, "rootfs": {"type": "layers", "diff_ids": [")",
      kLayer0, R"("]}})"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->config.entrypoint.empty());
  EXPECT_TRUE(c->config.cmd.empty());
  EXPECT_TRUE(c->config.labels.empty());
  absl::StatusOr<ConfigFile> bare = ParseConfig(R"({"rootfs": {"type": "layers", "diff_ids": []}})");
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_TRUE(bare->diff_ids.empty());
}

TEST(ConfigTest, ReadsDockersHealthcheck) {
  // As `docker build` writes HEALTHCHECK --interval=5s --retries=2 CMD-SHELL ...
  absl::StatusOr<ConfigFile> c = ParseConfig(
      R"({"config": {"Healthcheck": {"Test": ["CMD-SHELL", "wget -q localhost"], "Interval": 5000000000,
          "Timeout": 1000000000, "StartPeriod": null, "Retries": 2}}, "rootfs": {"type": "layers", "diff_ids": []}})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->config.healthcheck.test, (std::vector<std::string>{"CMD-SHELL", "wget -q localhost"}));
  EXPECT_EQ(c->config.healthcheck.interval_ns, 5'000'000'000);
  EXPECT_EQ(c->config.healthcheck.timeout_ns, 1'000'000'000);
  EXPECT_EQ(c->config.healthcheck.start_period_ns, 0);
  EXPECT_EQ(c->config.healthcheck.retries, 2);
}

TEST(ConfigTest, RejectsMalformed) {
  struct Case {
    std::string json, message;
  };
  const Case cases[] = {
      {"nope", "not valid JSON"},
      {R"({"os": "linux"})", "rootfs"},
      {R"({"rootfs": {"type": "zfs", "diff_ids": []}})", "not \"layers\""},
      {R"({"rootfs": {"type": "layers"}})", "diff_ids"},
      {R"({"rootfs": {"type": "layers", "diff_ids": ["sha256:abc"]}})", "diff_ids[0]"},
      {R"({"rootfs": {"type": "layers", "diff_ids": [7]}})", "diff_ids[0]"},
      {R"({"config": {"Cmd": "sh"}, "rootfs": {"type": "layers", "diff_ids": []}})", "Cmd"},
      {R"({"config": {"Env": ["A=1", 2]}, "rootfs": {"type": "layers", "diff_ids": []}})", "Env"},
      {R"({"config": {"Labels": {"a": 1}}, "rootfs": {"type": "layers", "diff_ids": []}})", "Labels"},
      {R"({"config": {"User": 0}, "rootfs": {"type": "layers", "diff_ids": []}})", "User"},
      {R"({"config": [], "rootfs": {"type": "layers", "diff_ids": []}})", "config"},
      {R"({"os": 1, "rootfs": {"type": "layers", "diff_ids": []}})", "os"},
      {R"({"config": {"Healthcheck": {"Interval": "5s"}}, "rootfs": {"type": "layers", "diff_ids": []}})", "Interval"},
      {R"({"config": {"Healthcheck": {"Retries": -1}}, "rootfs": {"type": "layers", "diff_ids": []}})", "Retries"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<ConfigFile> r = ParseConfig(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.json;
    EXPECT_TRUE(absl::StrContains(r.status().message(), c.message)) << c.json << "\n" << r.status();
  }
}

TEST(ChainIdTest, FollowsTheOciDefinition) {
  // chain[0] = diff[0]; chain[n] = sha256(chain[n-1] + " " + diff[n]), per the image spec.
  std::vector<std::string> diffs = {Sha256Of("a"), Sha256Of("b"), Sha256Of("c")};
  std::string c1 = Sha256Of(diffs[0] + " " + diffs[1]);
  std::string c2 = Sha256Of(c1 + " " + diffs[2]);
  EXPECT_EQ(ChainIds(diffs), (std::vector<std::string>{diffs[0], c1, c2}));
  EXPECT_EQ(ChainIds({diffs[0]}), std::vector<std::string>{diffs[0]});
  EXPECT_TRUE(ChainIds({}).empty());
  // The chain names the whole stack: same top layer on another base gives another id.
  EXPECT_NE(ChainIds({diffs[1], diffs[1]}).back(), ChainIds({diffs[0], diffs[1]}).back());
  // The config's diff_ids feed it straight.
  EXPECT_EQ(ChainIds(ParseConfig(Config())->diff_ids).back(), Sha256Of(kLayer0 + " " + kLayer1));
}

}  // namespace
}  // namespace berth::image
