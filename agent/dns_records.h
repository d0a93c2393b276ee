// Who answers to which name on which network, for the embedded resolver: a container's name,
// its short id and its --network-alias names, with its v4 (and v6) address. Set when its
// network is connected, dropped when it exits; the resolver of a network only sees its own
// network's entries. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"

namespace berth::agent {

struct DnsEntry {
  std::string network_id;
  std::vector<std::string> names;  // any case; matched without case
  std::string ipv4;                // dotted quad
  std::string ipv6;                // empty on a v4-only network
};

class DnsRecords {
 public:
  void Set(const std::string& container_id, DnsEntry entry);
  void Remove(const std::string& container_id);
  // The container's name changed: its old name stops resolving, the new one starts.
  void Rename(const std::string& container_id, const std::string& old_name, const std::string& new_name);

  // Addresses of `name` (lower case) on `network_id`, 4- or 16-byte each; false when no
  // container there has that name.
  bool Lookup(const std::string& network_id, const std::string& name, std::vector<std::vector<uint8_t>>* ipv4,
              std::vector<std::vector<uint8_t>>* ipv6) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, DnsEntry> by_container_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::agent
