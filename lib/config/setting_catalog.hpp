#pragma once

#include <cstdint>
#include <string_view>

namespace gw::config {

/// Value type of a reader setting, as in `/1.0/config/{title}/{type}` (API.md section 9).
enum class SettingKind { kBool, kInt, kFloat, kString };
const char* SettingKindName(SettingKind kind);

/// One known reader setting: its type, range and whether the reader refuses writes to it.
struct SettingSpec {
  std::string_view title;
  SettingKind kind = SettingKind::kInt;
  bool ranged = false;  ///< int only: min..max (the firmware answers 417 outside it)
  std::int64_t min = 0;
  std::int64_t max = 0;
  bool read_only = false;  ///< device information (model, serial number, versions)
};

/// The setting titles of API.md section 9 (ConfigurationProperties.h), with the firmware's
/// aliases (both names are accepted by the reader). nullptr for a title the reader does not
/// know. Pure; thread-safe.
const SettingSpec* FindSettingSpec(std::string_view title);

}  // namespace gw::config
