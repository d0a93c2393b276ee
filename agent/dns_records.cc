#include "agent/dns_records.h"

#include <arpa/inet.h>

#include <algorithm>

#include "absl/strings/ascii.h"

namespace berth::agent {

void DnsRecords::Set(const std::string& container_id, DnsEntry entry) {
  for (std::string& n : entry.names) n = absl::AsciiStrToLower(n);
  std::lock_guard<std::mutex> lock(mu_);
  by_container_[container_id] = std::move(entry);
}

void DnsRecords::Remove(const std::string& container_id) {
  std::lock_guard<std::mutex> lock(mu_);
  by_container_.erase(container_id);
}

void DnsRecords::Rename(const std::string& container_id, const std::string& old_name, const std::string& new_name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_container_.find(container_id);
  if (it == by_container_.end()) return;
  std::vector<std::string>& names = it->second.names;
  names.erase(std::remove(names.begin(), names.end(), absl::AsciiStrToLower(old_name)), names.end());
  names.push_back(absl::AsciiStrToLower(new_name));
}

bool DnsRecords::Lookup(const std::string& network_id, const std::string& name,
                        std::vector<std::vector<uint8_t>>* ipv4, std::vector<std::vector<uint8_t>>* ipv6) const {
  std::lock_guard<std::mutex> lock(mu_);
  bool found = false;
  for (const auto& [id, e] : by_container_) {
    if (e.network_id != network_id || std::find(e.names.begin(), e.names.end(), name) == e.names.end()) continue;
    found = true;
    std::vector<uint8_t> v4(4), v6(16);
    if (::inet_pton(AF_INET, e.ipv4.c_str(), v4.data()) == 1) ipv4->push_back(v4);
    if (!e.ipv6.empty() && ::inet_pton(AF_INET6, e.ipv6.c_str(), v6.data()) == 1) ipv6->push_back(v6);
  }
  return found;
}

}  // namespace berth::agent
