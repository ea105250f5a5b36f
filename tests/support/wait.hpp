#pragma once

#include <chrono>
#include <functional>
#include <string>

namespace gw::test {

/// Polls `condition` every `step` until it is true or `deadline` passes. Returns whether it
/// became true. Tests wait on conditions like this, never on bare sleeps.
bool WaitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds deadline = std::chrono::seconds(10),
             std::chrono::milliseconds step = std::chrono::milliseconds(10));

/// The source tree root ($EF45GW_SOURCE_DIR, set by CTest) and the build tree root.
std::string SourceDir();
std::string BinaryDir();

}  // namespace gw::test
