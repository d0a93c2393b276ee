// The docker-shaped JSON views that `inspect -f` templates read: a container as docker inspect
// shows one (Id, Name, State{Status,...}, Config{...}, HostConfig{...}, NetworkSettings{...},
// Mounts[...]), likewise an image and a network. Only what the berth.v1 message carries is
// filled; what it has no source for is left out. Each view also keeps the message's own
// fields under their proto names (snake_case, so they never collide with docker's PascalCase
// keys): {{.State.Status}} and {{.state}} both work.
#pragma once

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "berth/v1/containers.pb.h"
#include "berth/v1/images.pb.h"
#include "berth/v1/networks.pb.h"
#include "berth/v1/volumes.pb.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"

namespace berth::cli {

// docker's time format (RFC 3339, nanoseconds without trailing zeros, UTC); an unset time is
// Go's zero time "0001-01-01T00:00:00Z", as docker shows a container never started.
std::string DockerTime(const google::protobuf::Timestamp& ts);

// `image`, the container's image when the caller could look it up, lets Config.Entrypoint and
// Config.Cmd be split from the argv when the container overrode neither; without it, and
// with no override to split by, Config.Entrypoint is left out and Config.Cmd is the argv.
nlohmann::json ContainerView(const berth::v1::Container& container, const berth::v1::Image* image);
nlohmann::json ImageView(const berth::v1::Image& image);
nlohmann::json NetworkView(const berth::v1::Network& network);

// The view of a Container, Image or Network message (others: the proto fields alone), the
// proto fields merged in.
absl::StatusOr<nlohmann::json> InspectView(const google::protobuf::Message& message,
                                           const berth::v1::Image* container_image = nullptr);

}  // namespace berth::cli
