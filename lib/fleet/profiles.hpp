#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace gw::fleet {

/// One setting a reader should have, and the profile that wants it.
struct DesiredSetting {
  std::string title;
  config::SettingValue value;
  std::string profile;
};

/// What a reader answered for one setting: its value, or why it refused (e.g. a title its
/// firmware does not know).
struct ActualSetting {
  std::optional<config::SettingValue> value;
  std::string error;
};

/// One setting of a reader that is not as desired.
struct SettingDrift {
  std::string title;
  config::SettingValue desired;
  std::optional<config::SettingValue> actual;  ///< empty: the reader refused to read it
  std::string profile;
  std::string error;  ///< why `actual` is empty
  /// Enforcement would write it: the reader answered a value, and it differs.
  bool writable() const { return actual.has_value(); }
};

/// True when the profile applies to a reader of `groups` (no profile groups: every reader).
bool Applies(const config::SettingProfile& profile, const std::vector<std::string>& groups);

/// The settings the profiles want on a reader of `groups`, sorted by title. Profiles that apply
/// never disagree (config validation refuses it); the first one to name a title wins. Pure.
std::vector<DesiredSetting> DesiredFor(const std::vector<config::SettingProfile>& profiles,
                                       const std::vector<std::string>& groups);

/// Equal values of one setting (floats within a relative 1e-9: the reader prints them).
bool SameValue(const config::SettingValue& a, const config::SettingValue& b);

/// The drift of one reader: every desired setting whose actual value differs or could not be
/// read, in the order of `desired`. A desired title missing from `actual` was not read and is
/// not reported. Pure.
std::vector<SettingDrift> ComputeDrift(const std::vector<DesiredSetting>& desired,
                                       const std::map<std::string, ActualSetting>& actual);

}  // namespace gw::fleet
