// Fault injection: named crash points at the durable steps of the agent and the shim.
// Compiled in, off unless BERTH_CRASH_AT names the point (or lists it, comma-separated), in
// which case the process says so on stderr and SIGKILLs itself there, as a power cut or the
// OOM killer would: no destructor, no flush. Tests use it to prove that recovery leaves no
// orphan and loses no record (tests/integration/fault_injection_test.cc lists the points).
#pragma once

#include <string_view>

namespace berth {

inline constexpr char kCrashAtVariable[] = "BERTH_CRASH_AT";

// Dies here when BERTH_CRASH_AT names `point`; otherwise returns at once.
void CrashPoint(std::string_view point);

// Whether `list` (BERTH_CRASH_AT's value) names `point`.
bool CrashListNames(std::string_view list, std::string_view point);

}  // namespace berth
