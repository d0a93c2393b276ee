// Who may call what. One table maps every method the agent serves to the role it needs and
// whether it is audited; the checks of a Create's contents for operators (privileged, host
// namespaces, capabilities, devices, seccomp, bind sources) live beside it. A caller with no
// role gets nothing. Refusals are PERMISSION_DENIED naming the identity, the method and what
// was missing. See docs/remote-access.md.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "agent/config.h"
#include "berth/v1/containers.pb.h"

namespace berth::agent {

enum class Role { kNone = 0, kViewer = 1, kOperator = 2, kAdmin = 3 };
absl::string_view RoleName(Role role);

struct CallerIdentity {
  std::string name;  // a certificate's URI SAN or CN, or "uid:1000" on the Unix socket
  Role role = Role::kNone;
  std::string peer;  // where the call came from ("ipv4:10.0.0.5:51234", "unix:uid=1000,pid=42")
};

struct MethodRule {
  Role needs = Role::kAdmin;
  bool audited = false;  // mutating calls, exec and attach
};

// Every method served, by gRPC's full name ("/berth.v1.Containers/Create"). A method missing
// here is refused for everyone (and tests/unit/agent_authz_test.cc fails).
const std::map<std::string, MethodRule>& MethodTable();

class Authorizer {
 public:
  explicit Authorizer(AuthzConfig config);

  Role RoleOfIdentity(const std::string& identity) const;  // TCP clients
  Role RoleOfUid(uint32_t uid) const;                      // the Unix socket (0: admin)

  absl::Status CheckMethod(const CallerIdentity& caller, const std::string& method) const;
  // What an operator may not put in a container. Admins may; viewers never get this far.
  // `method` (Create or Run) is named in a denial.
  absl::Status CheckContainerConfig(const CallerIdentity& caller, const v1::ContainerConfig& config,
                                    absl::string_view method = "/berth.v1.Containers/Create") const;

 private:
  AuthzConfig config_;
  std::set<std::string> admins_, operators_, viewers_;
};

}  // namespace berth::agent
