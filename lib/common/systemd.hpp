#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace gw::systemd {

/// sd_notify wrappers; no-ops (returning false) when not started by systemd (no NOTIFY_SOCKET).
bool NotifyReady();
bool NotifyStopping();
bool NotifyReloading();
bool NotifyStatus(const std::string& status);
bool NotifyWatchdog();

/// The watchdog interval systemd expects pings within (WatchdogSec=), if enabled for us.
std::optional<std::chrono::microseconds> WatchdogInterval();

}  // namespace gw::systemd
