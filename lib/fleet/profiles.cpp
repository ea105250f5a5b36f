#include "fleet/profiles.hpp"

#include <algorithm>
#include <cmath>

namespace gw::fleet {

bool Applies(const config::SettingProfile& profile, const std::vector<std::string>& groups) {
  if (profile.groups.empty()) return true;
  return std::any_of(profile.groups.begin(), profile.groups.end(), [&](const std::string& g) {
    return std::find(groups.begin(), groups.end(), g) != groups.end();
  });
}

std::vector<DesiredSetting> DesiredFor(const std::vector<config::SettingProfile>& profiles,
                                       const std::vector<std::string>& groups) {
  std::map<std::string, DesiredSetting> by_title;
  for (const auto& profile : profiles) {
    if (!Applies(profile, groups)) continue;
    for (const auto& s : profile.settings) {
      by_title.try_emplace(s.title, DesiredSetting{s.title, s.value, profile.name});
    }
  }
  std::vector<DesiredSetting> out;
  out.reserve(by_title.size());
  for (auto& [title, desired] : by_title) out.push_back(std::move(desired));
  return out;
}

bool SameValue(const config::SettingValue& a, const config::SettingValue& b) {
  if (a.index() != b.index()) return false;
  if (const auto* x = std::get_if<double>(&a)) {
    const double y = std::get<double>(b);
    return std::fabs(*x - y) <= 1e-9 * std::max({1.0, std::fabs(*x), std::fabs(y)});
  }
  return a == b;
}

std::vector<SettingDrift> ComputeDrift(const std::vector<DesiredSetting>& desired,
                                       const std::map<std::string, ActualSetting>& actual) {
  std::vector<SettingDrift> out;
  for (const auto& d : desired) {
    auto it = actual.find(d.title);
    if (it == actual.end()) continue;
    const ActualSetting& a = it->second;
    if (a.value && SameValue(*a.value, d.value)) continue;
    out.push_back(
        SettingDrift{d.title, d.value, a.value, d.profile, a.value ? std::string() : a.error});
  }
  return out;
}

}  // namespace gw::fleet
