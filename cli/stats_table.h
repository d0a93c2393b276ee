// `berth stats`: docker stats' table from two samples of ContainerStats (CPU % is the CPU
// time a container used between them over the wall time between them).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "berth/v1/containers.pb.h"

namespace berth::cli {

// The previous sample of each container, by id; CPU % needs it.
using StatsSamples = std::map<std::string, berth::v1::ContainerStats>;

// CONTAINER ID, NAME, CPU %, MEM USAGE / LIMIT, MEM %, NET I/O, BLOCK I/O, PIDS. A container
// without a previous sample shows 0.00%; one without a memory limit shows "--" for both.
std::string StatsTable(const std::vector<berth::v1::ContainerStats>& current, const StatsSamples& previous);

}  // namespace berth::cli
