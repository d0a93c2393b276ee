// A listing's share of a container's record (berth.v1.LIST_VIEW_SUMMARY): what `ps` shows,
// without the configuration, environment and effective security that make up most of a
// record's bytes and nearly all of its strings, so a List of a thousand stays cheap to build,
// send and parse.
#pragma once

#include "berth/v1/containers.pb.h"

namespace berth::agent {

// Fills `summary` (expected empty) from `record`.
void CopySummary(const v1::Container& record, v1::Container* summary);

}  // namespace berth::agent
