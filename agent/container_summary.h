// A listing's share of a container's record (berth.v1.LIST_VIEW_SUMMARY): what `ps` shows,
// without the configuration, environment and effective security that make up most of a
// record's bytes and nearly all of its strings, so a List of a thousand stays cheap to build,
// send and parse.
#pragma once

#include <string>

#include "berth/v1/containers.pb.h"

namespace berth::agent {

// Appends the summary of `record` to `out` as the wire bytes of a berth.v1.Container (the
// message's body, without a tag or length): written straight from the record, so a listing
// is serialised once rather than copied into messages string by string and then serialised.
void AppendSummary(const v1::Container& record, std::string* out);

}  // namespace berth::agent
