// The CRI runtime.v1.ImageService over the agent's image store: the kubelet's and crictl's
// view of the same images `berth images` lists.
#pragma once

#include <string>

#include "agent/container_manager.h"
#include "agent/image/image_store.h"
#include "cri/runtime/v1/api.grpc.pb.h"

namespace berth::agent::cri {

class CriImageService final : public ::runtime::v1::ImageService::Service {
 public:
  // `images_dir`: where the store keeps its content and layers (ImageFsInfo measures it).
  CriImageService(image::ImageStore& images, ContainerManager& containers, std::string images_dir)
      : images_(images), containers_(containers), images_dir_(std::move(images_dir)) {}

  grpc::Status ListImages(grpc::ServerContext*, const ::runtime::v1::ListImagesRequest*,
                          ::runtime::v1::ListImagesResponse*) override;
  grpc::Status ImageStatus(grpc::ServerContext*, const ::runtime::v1::ImageStatusRequest*,
                           ::runtime::v1::ImageStatusResponse*) override;
  grpc::Status PullImage(grpc::ServerContext*, const ::runtime::v1::PullImageRequest*,
                         ::runtime::v1::PullImageResponse*) override;
  grpc::Status RemoveImage(grpc::ServerContext*, const ::runtime::v1::RemoveImageRequest*,
                           ::runtime::v1::RemoveImageResponse*) override;
  grpc::Status ImageFsInfo(grpc::ServerContext*, const ::runtime::v1::ImageFsInfoRequest*,
                           ::runtime::v1::ImageFsInfoResponse*) override;

 private:
  image::ImageStore& images_;
  ContainerManager& containers_;
  std::string images_dir_;
};

// An image as the CRI describes it: id, repo tags and digests, size, and the user it runs as.
::runtime::v1::Image ToCriImage(const image::Image& image);

// The credentials of a PullImage's auth config (username and password, or `auth` as base64
// of user:password); none when it carries nothing. INVALID_ARGUMENT for tokens (Berth speaks
// to registries with a user and password only) and a malformed `auth`.
absl::StatusOr<std::optional<image::RegistryCredentials>> CredentialsOf(const ::runtime::v1::AuthConfig& auth);

}  // namespace berth::agent::cri
