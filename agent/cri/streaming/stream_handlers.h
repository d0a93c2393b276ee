// The streaming server's protocols over one upgraded connection each; every call returns
// when its session is over. SPDY/3.1 (spdy_*.cc) is what client-go's SPDY executor and
// port-forwarder speak (crictl 1.26, the kubelet); WebSocket (websocket_*.cc) is the
// channel.k8s.io framing.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "agent/container_manager.h"
#include "agent/cri/streaming/byte_stream.h"
#include "agent/cri/streaming/remote_command.h"
#include "runtime/base/unique_fd.h"

namespace berth::agent::cri::streaming {

// A connected TCP socket to `port` on the pod's loopback (its network namespace).
using PortDialer = std::function<absl::StatusOr<UniqueFd>(uint16_t port)>;

void ServeSpdyCommand(ByteStream& connection, ContainerManager& containers, const CommandRequest& request);
void ServeSpdyPortForward(ByteStream& connection, const PortDialer& dial);

// `binary`: v4.channel.k8s.io / channel.k8s.io; otherwise base64.channel.k8s.io.
void ServeWebSocketCommand(ByteStream& connection, bool binary, ContainerManager& containers,
                           const CommandRequest& request);
// portforward.k8s.io over WebSocket: `ports` in the order of the URL's port parameters.
void ServeWebSocketPortForward(ByteStream& connection, const std::vector<uint16_t>& ports, const PortDialer& dial);

}  // namespace berth::agent::cri::streaming
