// An exec's output copied to whoever asked for it (berth.v1's Exec stream, the CRI streaming
// server): both streams to their end and the exit from the shim, with a short grace for
// output after the exit, since a background process may hold the streams open (as with
// docker exec).
#pragma once

#include <functional>
#include <optional>
#include <string_view>

#include "berth/v1/containers.pb.h"

namespace berth::agent {

// Reads `out_fd` and `err_fd` (-1: none) into `sink` and waits for kExit on `connection`.
// A sink that returns false gets no more output (the exit is still awaited). Returns the exit
// code (255 when the shim's connection ended without one), or nullopt when `stop` said so
// first.
std::optional<int> PumpExecOutput(int connection, int out_fd, int err_fd,
                                  const std::function<bool(v1::Stream, std::string_view)>& sink,
                                  const std::function<bool()>& stop);

}  // namespace berth::agent
