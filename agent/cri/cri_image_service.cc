#include "agent/cri/cri_image_service.h"

#include <chrono>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/grpc_status.h"
#include "agent/image/reference.h"
#include "runtime/base/file_util.h"
#include "runtime/base/quote.h"

namespace berth::agent::cri {

namespace cri = ::runtime::v1;

::runtime::v1::Image ToCriImage(const image::Image& image) {
  cri::Image out;
  out.set_id(image.id);
  for (const std::string& name : image.names) {
    auto ref = image::ParseReference(name);
    if (!ref.ok()) continue;
    if (ref->digest.empty()) {
      out.add_repo_tags(ref->String());
    }
    // Every repository the image is known under, pinned: by the digest it was pulled by (an
    // index's, perhaps), else by the manifest its tag gave.
    std::string digested =
        ref->digest.empty() ? absl::StrCat(ref->Name(), "@", image.manifest_digest) : ref->String();
    if (std::find(out.repo_digests().begin(), out.repo_digests().end(), digested) == out.repo_digests().end()) {
      out.add_repo_digests(digested);
    }
  }
  out.set_size(static_cast<uint64_t>(image.size));
  // The image's USER: a number is a uid, anything else a name the container's passwd resolves.
  std::string user = image.config.config.user;
  std::string uid_part = user.substr(0, user.find(':'));
  int64_t uid = 0;
  if (uid_part.empty()) {
    out.mutable_uid()->set_value(0);
  } else if (absl::SimpleAtoi(uid_part, &uid)) {
    out.mutable_uid()->set_value(uid);
  } else {
    out.set_username(uid_part);
  }
  out.mutable_spec()->set_image(image.id);
  return out;
}

absl::StatusOr<std::optional<image::RegistryCredentials>> CredentialsOf(const cri::AuthConfig& auth) {
  if (!auth.identity_token().empty() || !auth.registry_token().empty()) {
    return absl::InvalidArgumentError(
        "auth: identity_token and registry_token are not supported; give username and password (or auth)");
  }
  if (!auth.auth().empty()) {
    std::string decoded;
    size_t colon;
    if (!absl::Base64Unescape(auth.auth(), &decoded) || (colon = decoded.find(':')) == std::string::npos) {
      return absl::InvalidArgumentError("auth: \"auth\" must be base64 of user:password");
    }
    return std::optional<image::RegistryCredentials>(
        image::RegistryCredentials{decoded.substr(0, colon), decoded.substr(colon + 1)});
  }
  if (!auth.username().empty() || !auth.password().empty()) {
    if (auth.username().empty()) return absl::InvalidArgumentError("auth: a password without a username");
    return std::optional<image::RegistryCredentials>(image::RegistryCredentials{auth.username(), auth.password()});
  }
  return std::optional<image::RegistryCredentials>();
}

grpc::Status CriImageService::ListImages(grpc::ServerContext*, const cri::ListImagesRequest* req,
                                         cri::ListImagesResponse* resp) {
  const std::string& wanted = req->filter().image().image();
  if (!wanted.empty()) {
    auto image = images_.Get(wanted);
    if (absl::IsNotFound(image.status()) || absl::IsInvalidArgument(image.status())) return grpc::Status::OK;
    if (!image.ok()) return ToGrpcStatus(image.status());
    *resp->add_images() = ToCriImage(*image);
    return grpc::Status::OK;
  }
  for (const image::Image& image : images_.List()) *resp->add_images() = ToCriImage(image);
  return grpc::Status::OK;
}

grpc::Status CriImageService::ImageStatus(grpc::ServerContext*, const cri::ImageStatusRequest* req,
                                          cri::ImageStatusResponse* resp) {
  const std::string& ref = req->image().image();
  if (ref.empty()) return ToGrpcStatus(absl::InvalidArgumentError("image.image: an image reference or id is required"));
  auto image = images_.Get(ref);
  // An absent image is an answer, not an error: the kubelet pulls when `image` is unset.
  if (absl::IsNotFound(image.status())) return grpc::Status::OK;
  if (!image.ok()) return ToGrpcStatus(image.status());
  *resp->mutable_image() = ToCriImage(*image);
  if (req->verbose()) {
    (*resp->mutable_info())["info"] = absl::StrCat(
        "{\"manifestDigest\":\"", image->manifest_digest, "\",\"os\":\"", image->config.os,
        "\",\"architecture\":\"", image->config.architecture, "\",\"layers\":", image->layer_blobs.size(), "}");
  }
  return grpc::Status::OK;
}

grpc::Status CriImageService::PullImage(grpc::ServerContext* ctx, const cri::PullImageRequest* req,
                                        cri::PullImageResponse* resp) {
  const std::string& ref = req->image().image();
  if (ref.empty()) return ToGrpcStatus(absl::InvalidArgumentError("image.image: an image reference is required"));
  auto credentials = CredentialsOf(req->auth());
  if (!credentials.ok()) return ToGrpcStatus(credentials.status());
  auto image = images_.Pull(ref, nullptr, [ctx] { return ctx->IsCancelled(); }, *credentials);
  if (!image.ok()) return ToGrpcStatus(image.status());
  resp->set_image_ref(image->id);
  return grpc::Status::OK;
}

grpc::Status CriImageService::RemoveImage(grpc::ServerContext*, const cri::RemoveImageRequest* req,
                                          cri::RemoveImageResponse*) {
  const std::string& ref = req->image().image();
  if (ref.empty()) return ToGrpcStatus(absl::InvalidArgumentError("image.image: an image reference or id is required"));
  // The kubelet names images by id: every reference of the image goes. One already gone is
  // not an error (the call is retried after timeouts).
  auto image = images_.Get(ref);
  if (absl::IsNotFound(image.status())) return grpc::Status::OK;
  if (!image.ok()) return ToGrpcStatus(image.status());
  auto removed = images_.Remove(image->id, /*force=*/false, [this] { return containers_.ImagesInUse(); });
  if (!removed.ok() && !absl::IsNotFound(removed.status())) return ToGrpcStatus(removed.status());
  return grpc::Status::OK;
}

grpc::Status CriImageService::ImageFsInfo(grpc::ServerContext*, const cri::ImageFsInfoRequest*,
                                          cri::ImageFsInfoResponse* resp) {
  TreeUsage usage = DirectoryUsage(images_dir_);
  cri::FilesystemUsage* fs = resp->add_image_filesystems();
  fs->set_timestamp(std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count());
  fs->mutable_fs_id()->set_mountpoint(images_dir_);
  fs->mutable_used_bytes()->set_value(static_cast<uint64_t>(usage.bytes));
  fs->mutable_inodes_used()->set_value(static_cast<uint64_t>(usage.inodes));
  return grpc::Status::OK;
}

}  // namespace berth::agent::cri
