// ContainerManager::List: every record that matches, newest first, written once into the
// wire bytes of a berth.v1.ListResponse (the gRPC method sends them as they are; in-process
// callers parse them).
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <iterator>
#include <string_view>

#include "agent/container_manager.h"
#include "agent/container_summary.h"
#include "agent/label_selector.h"
#include "agent/proto_wire.h"

namespace berth::agent {

using google::protobuf::util::TimeUtil;

absl::StatusOr<std::vector<v1::Container>> ContainerManager::List(const std::string& label_selector,
                                                                  const std::vector<v1::ContainerState>& states,
                                                                  v1::ListView view) {
  auto encoded = ListEncoded(label_selector, states, view);
  if (!encoded.ok()) return encoded.status();
  v1::ListResponse listed;
  if (!listed.ParseFromString(*encoded)) return absl::InternalError("a listing the agent wrote does not parse");
  // Moving a message between owners on the heap only swaps its pointers.
  return std::vector<v1::Container>(std::make_move_iterator(listed.mutable_containers()->begin()),
                                    std::make_move_iterator(listed.mutable_containers()->end()));
}

absl::StatusOr<std::string> ContainerManager::ListEncoded(const std::string& label_selector,
                                                          const std::vector<v1::ContainerState>& states,
                                                          v1::ListView view) {
  auto match = ParseLabelSelector(label_selector);
  if (!match.ok()) return match.status();
  std::vector<std::shared_ptr<Entry>> entries;
  {
    std::lock_guard<std::mutex> lock(mu_);
    entries.reserve(by_id_.size());
    for (const auto& [id, e] : by_id_) entries.push_back(e);
  }
  // Each record is written once, as it is, into `bodies`; only the small index is sorted.
  struct Listed {
    int64_t created_ns;
    size_t begin;
    size_t size;
  };
  std::vector<Listed> listed;
  listed.reserve(entries.size());
  std::string bodies;
  for (const auto& e : entries) {
    std::lock_guard<std::mutex> lock(e->mu);
    if (e->removed) continue;
    if (!states.empty() && std::find(states.begin(), states.end(), e->record.state()) == states.end()) continue;
    if (!(*match)(e->record.labels())) continue;
    const size_t begin = bodies.size();
    if (view == v1::LIST_VIEW_SUMMARY) {
      AppendSummary(e->record, &bodies);
    } else {
      e->record.AppendPartialToString(&bodies);
    }
    listed.push_back({TimeUtil::TimestampToNanoseconds(e->record.created_at()), begin, bodies.size() - begin});
  }
  std::sort(listed.begin(), listed.end(), [](const Listed& a, const Listed& b) { return a.created_ns > b.created_ns; });
  // berth.v1.ListResponse: field 1, one record after another, newest first.
  std::string out;
  out.reserve(bodies.size() + listed.size() * 4);
  const std::string_view all(bodies);
  for (const Listed& l : listed) {
    wire::PutBytes(v1::ListResponse::kContainersFieldNumber, all.substr(l.begin, l.size), &out);
  }
  return out;
}

}  // namespace berth::agent
