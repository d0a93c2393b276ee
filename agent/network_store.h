// The agent's networks and their address leases, on disk under <root>/networks:
//   <id>/network.json      the berth.v1.Network (durable: a network that was created exists)
//   <id>/leases/<a.b.c.d>  one file per handed-out address, holding the container id; written
//                          (atomically) before the address is used, so no address is given
//                          twice across an agent crash. Not fsynced: the container's record,
//                          which is, holds the address too, and start-up restores from it
//                          whatever lease a host crash lost.
// Thread-safe. Kernel objects (bridges, veths, rules) are NetworkManager's business.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "berth/v1/networks.pb.h"
#include "runtime/network/ipv4.h"

namespace berth::agent {

struct Lease {
  net::Ipv4Address address;
  std::string container_id;
};

class NetworkStore {
 public:
  explicit NetworkStore(std::string dir) : dir_(std::move(dir)) {}

  // Reads every network and lease; finishes removals a crash interrupted.
  absl::Status Load();

  // Persists a new network (id, created_at filled in by the caller).
  absl::Status Add(const v1::Network& network);
  // Replaces a network's definition (the default network follows the agent's config).
  absl::Status Update(const v1::Network& network);
  // Deletes the network and its leases (the caller checked it is unused).
  absl::Status Delete(const std::string& id);

  // Full id, exact name, then unique id prefix. NOT_FOUND / INVALID_ARGUMENT (ambiguous).
  absl::StatusOr<v1::Network> Find(const std::string& ref) const;
  std::optional<v1::Network> FindByName(const std::string& name) const;
  std::vector<v1::Network> List() const;  // sorted by name; `containers` filled from leases

  // Hands out the next free address of the network's subnet (never the network, broadcast
  // or gateway address), round-robin after the last one given so a just-freed address is
  // not reused at once. RESOURCE_EXHAUSTED when the subnet is full.
  absl::StatusOr<net::Ipv4Address> Allocate(const std::string& network_id, const std::string& container_id);
  // Frees every lease of `container_id` in the network. OK when it had none.
  absl::Status Release(const std::string& network_id, const std::string& container_id);
  std::vector<Lease> Leases(const std::string& network_id) const;
  // Makes sure `container_id` holds `address` (re-creating a lease a host crash lost). OK if
  // it does already; FAILED_PRECONDITION if another container holds it; NOT_FOUND for an
  // unknown network.
  absl::Status Restore(const std::string& network_id, net::Ipv4Address address, const std::string& container_id);

 private:
  struct Entry {
    v1::Network network;
    net::Ipv4Prefix subnet;
    net::Ipv4Address gateway;
    std::map<net::Ipv4Address, std::string> leases;  // address -> container id
    uint32_t last_allocated = 0;
  };
  std::string NetworkDir(const std::string& id) const { return dir_ + "/" + id; }
  std::string LeaseDir(const std::string& id) const { return NetworkDir(id) + "/leases"; }
  static absl::StatusOr<Entry> MakeEntry(const v1::Network& network);
  v1::Network WithContainers(const Entry& e) const;

  const std::string dir_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> by_id_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::agent
