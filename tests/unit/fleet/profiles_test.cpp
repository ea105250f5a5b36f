#include "fleet/profiles.hpp"

#include <gtest/gtest.h>

namespace gw::fleet {
namespace {

using config::SettingValue;

config::SettingProfile Profile(std::string name, std::vector<std::string> groups,
                               std::vector<std::pair<std::string, SettingValue>> settings) {
  config::SettingProfile p;
  p.name = std::move(name);
  p.groups = std::move(groups);
  for (auto& [title, value] : settings) p.settings.push_back({title, value, 0});
  return p;
}

const std::vector<config::SettingProfile> kProfiles = {
    Profile("all", {}, {{"launcher.device.volume.devicevolume", std::int32_t{5}}}),
    Profile("lobby", {"lobby", "hall"},
            {{"launcher.device.door.duration", std::int32_t{7}},
             {"launcher.device.bio.iris.fastrecogmode", true}}),
    Profile("garage", {"garage"}, {{"launcher.device.deviceinfo.devicename", std::string("G")}}),
};

TEST(FleetProfiles, DesiredFollowsTheReaderGroups) {
  auto none = DesiredFor(kProfiles, {});
  ASSERT_EQ(none.size(), 1u);
  EXPECT_EQ(none[0].title, "launcher.device.volume.devicevolume");
  EXPECT_EQ(none[0].profile, "all");

  auto hall = DesiredFor(kProfiles, {"hall"});
  ASSERT_EQ(hall.size(), 3u);  // sorted by title
  EXPECT_EQ(hall[0].title, "launcher.device.bio.iris.fastrecogmode");
  EXPECT_EQ(hall[1].title, "launcher.device.door.duration");
  EXPECT_EQ(hall[1].value, SettingValue(std::int32_t{7}));
  EXPECT_EQ(hall[1].profile, "lobby");

  EXPECT_EQ(DesiredFor(kProfiles, {"garage", "lobby"}).size(), 4u);
  EXPECT_TRUE(DesiredFor({}, {"lobby"}).empty());
}

TEST(FleetProfiles, DriftListsDifferencesAndRefusalsOnly) {
  auto desired = DesiredFor(kProfiles, {"lobby"});
  std::map<std::string, ActualSetting> actual;
  actual["launcher.device.volume.devicevolume"] = {SettingValue(std::int32_t{5}), ""};  // as wanted
  actual["launcher.device.door.duration"] = {SettingValue(std::int32_t{3}), ""};        // drifted
  actual["launcher.device.bio.iris.fastrecogmode"] = {std::nullopt, "reader status 404"};

  auto drift = ComputeDrift(desired, actual);
  ASSERT_EQ(drift.size(), 2u);
  EXPECT_EQ(drift[0].title, "launcher.device.bio.iris.fastrecogmode");
  EXPECT_FALSE(drift[0].writable());
  EXPECT_EQ(drift[0].error, "reader status 404");
  EXPECT_EQ(drift[1].title, "launcher.device.door.duration");
  EXPECT_TRUE(drift[1].writable());
  EXPECT_EQ(drift[1].desired, SettingValue(std::int32_t{7}));
  EXPECT_EQ(drift[1].actual, SettingValue(std::int32_t{3}));
  EXPECT_EQ(drift[1].profile, "lobby");

  // Once the reader has the desired values there is no drift; unread titles are not drift.
  actual["launcher.device.door.duration"] = {SettingValue(std::int32_t{7}), ""};
  actual["launcher.device.bio.iris.fastrecogmode"] = {SettingValue(true), ""};
  EXPECT_TRUE(ComputeDrift(desired, actual).empty());
  EXPECT_TRUE(ComputeDrift(desired, {}).empty());
}

TEST(FleetProfiles, ValuesCompareByTypeAndFloatsWithinRounding) {
  EXPECT_TRUE(SameValue(SettingValue(1.0), SettingValue(1.0 + 1e-12)));
  EXPECT_FALSE(SameValue(SettingValue(1.0), SettingValue(1.001)));
  EXPECT_FALSE(SameValue(SettingValue(std::int32_t{1}), SettingValue(true)));
  EXPECT_FALSE(SameValue(SettingValue(std::string("a")), SettingValue(std::string("b"))));
  EXPECT_TRUE(SameValue(SettingValue(false), SettingValue(false)));
}

}  // namespace
}  // namespace gw::fleet
