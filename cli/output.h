// Writing process output to the CLI's stdout/stderr: unbuffered, whole chunks, in arrival
// order, so the last byte is out before the exit code is acted on.
#pragma once

#include <string_view>

#include "berth/v1/containers.pb.h"

namespace berth::cli {

// Writes all of `data` to `fd`, retrying short writes and EINTR. False on any other error
// (EPIPE when the reader went away).
bool WriteAll(int fd, std::string_view data);

// STDERR chunks go to fd 2, everything else to fd 1.
int FdForStream(berth::v1::Stream stream);

}  // namespace berth::cli
