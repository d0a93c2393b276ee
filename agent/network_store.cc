#include "agent/network_store.h"

#include <stdio.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "runtime/base/quote.h"
#include "agent/ids.h"
#include "agent/logging.h"
#include "agent/message_file.h"
#include "runtime/base/errno_status.h"
#include "runtime/base/file_util.h"

namespace berth::agent {

namespace {

constexpr char kRecordName[] = "network.json";

absl::StatusOr<v1::Network> ReadNetwork(const std::string& path) {
  v1::Network n;
  if (absl::Status st = LoadMessage(path, &n); !st.ok()) return st;
  return n;
}

absl::Status WriteNetwork(const std::string& path, v1::Network n) {
  n.clear_containers();  // derived from the leases, never stored
  return SaveMessage(path, n, Durability::kDurable, /*indent=*/true);
}

}  // namespace

absl::StatusOr<NetworkStore::Entry> NetworkStore::MakeEntry(const v1::Network& network) {
  Entry e;
  e.network = network;
  auto subnet = net::ParseIpv4Prefix(network.subnet(), "subnet");
  if (!subnet.ok()) return subnet.status();
  auto gateway = net::ParseIpv4(network.gateway(), "gateway");
  if (!gateway.ok()) return gateway.status();
  e.subnet = subnet->Network();
  e.gateway = *gateway;
  return e;
}

absl::Status NetworkStore::Load() {
  if (absl::Status st = MakeDirs(dir_, 0700); !st.ok()) return st;
  std::lock_guard<std::mutex> lock(mu_);
  by_id_.clear();
  for (const std::string& name : ListDirectory(dir_)) {
    if (absl::StartsWith(name, ".trash-")) {
      (void)RemoveTree(dir_ + "/" + name);
      continue;
    }
    if (!IsFullId(name)) continue;
    auto network = ReadNetwork(NetworkDir(name) + "/" + kRecordName);
    if (!network.ok()) {
      // Created but never recorded (a crash between mkdir and the record): nothing uses it.
      if (absl::IsNotFound(network.status())) {
        (void)RemoveTree(NetworkDir(name));
        continue;
      }
      return network.status();
    }
    auto entry = MakeEntry(*network);
    if (!entry.ok()) return Annotate(entry.status(), absl::StrCat("network ", network->name()));
    for (const std::string& lease : ListDirectory(LeaseDir(name))) {
      auto address = net::ParseIpv4(lease);
      if (!address.ok()) {
        (void)::unlink((LeaseDir(name) + "/" + lease).c_str());  // a temp file of an interrupted write
        continue;
      }
      auto owner = ReadFile(LeaseDir(name) + "/" + lease);
      entry->leases[*address] = owner.ok() ? std::string(absl::StripAsciiWhitespace(*owner)) : "";
      entry->last_allocated = std::max(entry->last_allocated, address->value);
    }
    by_id_[name] = std::move(*entry);
  }
  return absl::OkStatus();
}

absl::Status NetworkStore::Add(const v1::Network& network) {
  auto entry = MakeEntry(network);
  if (!entry.ok()) return entry.status();
  if (absl::Status st = MakeDirs(LeaseDir(network.id()), 0700); !st.ok()) return st;
  if (absl::Status st = WriteNetwork(NetworkDir(network.id()) + "/" + kRecordName, network); !st.ok()) {
    (void)RemoveTree(NetworkDir(network.id()));
    return st;
  }
  std::lock_guard<std::mutex> lock(mu_);
  by_id_[network.id()] = std::move(*entry);
  return absl::OkStatus();
}

absl::Status NetworkStore::Update(const v1::Network& network) {
  auto entry = MakeEntry(network);
  if (!entry.ok()) return entry.status();
  if (absl::Status st = WriteNetwork(NetworkDir(network.id()) + "/" + kRecordName, network); !st.ok()) return st;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_id_.find(network.id());
  if (it == by_id_.end()) return absl::NotFoundError(absl::StrCat("network ", network.name(), " not found"));
  entry->leases = std::move(it->second.leases);
  entry->last_allocated = it->second.last_allocated;
  it->second = std::move(*entry);
  return absl::OkStatus();
}

absl::Status NetworkStore::Delete(const std::string& id) {
  // Rename first: a crash mid-way leaves a trash dir that Load() finishes, never half a network.
  std::string trash = absl::StrCat(dir_, "/.trash-", id);
  if (::rename(NetworkDir(id).c_str(), trash.c_str()) != 0) return ErrnoToStatus(absl::StrCat("remove network ", id));
  {
    std::lock_guard<std::mutex> lock(mu_);
    by_id_.erase(id);
  }
  return RemoveTree(trash);
}

v1::Network NetworkStore::WithContainers(const Entry& e) const {
  v1::Network n = e.network;
  n.clear_containers();
  for (const auto& [address, owner] : e.leases) n.add_containers(owner);
  return n;
}

absl::StatusOr<v1::Network> NetworkStore::Find(const std::string& ref) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (ref.empty()) return absl::InvalidArgumentError("network name or id is required");
  if (ref.size() > 256) {
    return absl::InvalidArgumentError(absl::StrCat("network name or id ", Quoted(ref), " is ", ref.size(),
                                                   " bytes; ids are 64 and names at most 128"));
  }
  if (auto it = by_id_.find(ref); it != by_id_.end()) return WithContainers(it->second);
  for (const auto& [id, e] : by_id_) {
    if (e.network.name() == ref) return WithContainers(e);
  }
  const Entry* match = nullptr;
  for (const auto& [id, e] : by_id_) {
    if (absl::StartsWith(id, ref)) {
      if (match != nullptr) return absl::InvalidArgumentError(absl::StrCat("network id prefix ", Quoted(ref), " is ambiguous"));
      match = &e;
    }
  }
  if (match == nullptr) return absl::NotFoundError(absl::StrCat("network ", Quoted(ref), " not found"));
  return WithContainers(*match);
}

std::optional<v1::Network> NetworkStore::FindByName(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, e] : by_id_) {
    if (e.network.name() == name) return WithContainers(e);
  }
  return std::nullopt;
}

std::vector<v1::Network> NetworkStore::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<v1::Network> out;
  for (const auto& [id, e] : by_id_) out.push_back(WithContainers(e));
  std::sort(out.begin(), out.end(), [](const v1::Network& a, const v1::Network& b) { return a.name() < b.name(); });
  return out;
}

absl::StatusOr<net::Ipv4Address> NetworkStore::Allocate(const std::string& network_id,
                                                        const std::string& container_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_id_.find(network_id);
  if (it == by_id_.end()) return absl::NotFoundError(absl::StrCat("network ", network_id, " not found"));
  Entry& e = it->second;
  const uint32_t first = e.subnet.address.value + 1;
  const uint32_t last = e.subnet.Broadcast().value - 1;
  if (last < first) {
    return absl::ResourceExhaustedError(absl::StrCat("network ", e.network.name(), " (", e.network.subnet(),
                                                     ") has no addresses for containers"));
  }
  const uint32_t count = last - first + 1;
  uint32_t start = (e.last_allocated >= first && e.last_allocated <= last) ? e.last_allocated + 1 : first;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t candidate = first + (start - first + i) % count;
    net::Ipv4Address a{candidate};
    if (a == e.gateway || e.leases.count(a)) continue;
    std::string path = LeaseDir(network_id) + "/" + a.ToString();
    if (absl::Status st = WriteFileAtomic(path, container_id + "\n", 0600, Durability::kProcessCrashSafe);
        !st.ok()) {
      return Annotate(st, "record address lease");
    }
    e.leases[a] = container_id;
    e.last_allocated = candidate;
    return a;
  }
  return absl::ResourceExhaustedError(absl::StrCat("network ", e.network.name(), " (", e.network.subnet(),
                                                   ") has no free address: all ", count - 1,
                                                   " are in use; remove containers or use a larger subnet"));
}

absl::Status NetworkStore::Release(const std::string& network_id, const std::string& container_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_id_.find(network_id);
  if (it == by_id_.end()) return absl::OkStatus();
  Entry& e = it->second;
  absl::Status result;
  for (auto l = e.leases.begin(); l != e.leases.end();) {
    if (l->second != container_id) {
      ++l;
      continue;
    }
    std::string path = LeaseDir(network_id) + "/" + l->first.ToString();
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      result.Update(ErrnoToStatus(absl::StrCat("free address lease ", path)));
      ++l;
      continue;
    }
    l = e.leases.erase(l);
  }
  return result;
}

absl::Status NetworkStore::Restore(const std::string& network_id, net::Ipv4Address address,
                                   const std::string& container_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_id_.find(network_id);
  if (it == by_id_.end()) return absl::NotFoundError(absl::StrCat("network ", network_id, " not found"));
  Entry& e = it->second;
  if (auto l = e.leases.find(address); l != e.leases.end()) {
    if (l->second == container_id) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(address.ToString(), " is leased to ", l->second));
  }
  if (!e.subnet.Contains(address)) {
    return absl::FailedPreconditionError(absl::StrCat(address.ToString(), " is outside ", e.network.subnet()));
  }
  std::string path = LeaseDir(network_id) + "/" + address.ToString();
  if (absl::Status st = WriteFileAtomic(path, container_id + "\n", 0600, Durability::kProcessCrashSafe); !st.ok()) {
    return st;
  }
  e.leases[address] = container_id;
  return absl::OkStatus();
}

std::vector<Lease> NetworkStore::Leases(const std::string& network_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Lease> out;
  auto it = by_id_.find(network_id);
  if (it == by_id_.end()) return out;
  for (const auto& [address, owner] : it->second.leases) out.push_back({address, owner});
  return out;
}

}  // namespace berth::agent
