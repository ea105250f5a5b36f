#include "config/setting_catalog.hpp"

#include <array>

namespace gw::config {

namespace {

constexpr SettingSpec Ranged(std::string_view title, std::int64_t min, std::int64_t max) {
  return SettingSpec{title, SettingKind::kInt, true, min, max, false};
}
constexpr SettingSpec Int(std::string_view title) {
  return SettingSpec{title, SettingKind::kInt, false, 0, 0, false};
}
constexpr SettingSpec Flag(std::string_view title) {
  return SettingSpec{title, SettingKind::kBool, false, 0, 0, false};
}
constexpr SettingSpec Text(std::string_view title, bool read_only = false) {
  return SettingSpec{title, SettingKind::kString, false, 0, 0, read_only};
}

// API.md section 9, in its order. A key listed there without a range is a switch (bool) unless
// its name says number (ports, pulse widths, bit counts) or text (addresses, names); the doc
// lists no float setting. Aliases follow their key. tools/ef45-sim implements the same table.
constexpr auto kSettings = std::to_array<SettingSpec>({
    Ranged("launcher.device.config.userpositioninterface", 0, 1),
    Ranged("launcher.device.hidden.cameratype", 0, 1),
    Ranged("launcher.device.config.enrolnoticetimeout", 0, 5),
    Ranged("launcher.device.config.motiondetectionwaittime", 0, 10),
    Flag("launcher.device.config.motiondetection"),
    Flag("launcher.device.config.debug"),
    Ranged("launcher.device.bio.securitylevel", 0, 4),
    Ranged("launcher.device.bio.iris.enrolminusablearea", 0, 4),
    Ranged("launcher.device.bio.iris.recogfalseacceptrate", 0, 9),
    Ranged("launcher.device.bio.iris.mindistance", 30, 35),
    Flag("launcher.device.bio.iris.fastrecogmode"),
    Flag("launcher.device.bio.iris.recogeithereye"),
    Flag("launcher.device.bio.iris.enroleithereye"),
    Flag("launcher.device.bio.face.fakeface"),
    Flag("launcher.device.bio.face.facecolorcorrection"),
    Ranged("launcher.device.volume.devicevolume", 0, 10),
    Ranged("launcher.device.volume.micvolume", 0, 10),
    Flag("launcher.device.date.timesync"),
    Ranged("launcher.device.camera.powerlinefrequency", 0, 1),
    Flag("launcher.device.interphone.enable"),
    Text("launcher.device.interphone.ipaddress"),
    Ranged("launcher.device.door.relay", 0, 2),
    Ranged("launcher.device.door.drivenevent", 0, 4),
    Ranged("launcher.device.door.duration", 0, 10),
    Ranged("launcher.device.door.rte", 0, 2),
    Ranged("launcher.device.door.rtetype", 0, 1),
    Ranged("launcher.device.door.doorsensor", 0, 2),
    Ranged("launcher.device.door.doorsensortype", 0, 1),
    Ranged("launcher.device.door.helpopenperiod", 0, 600),
    Ranged("launcher.device.door.locktime", 0, 1),
    Ranged("launcher.device.door.unlocktime", 0, 1),
    Flag("launcher.device.door.tamper"),
    Ranged("launcher.device.door.schedule.locktime", 0, 1),
    Ranged("launcher.device.door.schedule.unlocktime", 0, 1),
    Ranged("launcher.device.door.alarmsensor", 0, 2),
    Ranged("launcher.device.door.alarmsensortype", 0, 1),
    Text("launcher.device.deviceinfo.devicename"),
    Text("launcher.device.deviceinfo.model", true),
    Text("launcher.device.deviceinfo.firmwarefile", true),
    Text("launcher.device.deviceinfo.fwversion", true),
    Text("launcher.device.deviceinfo.serialnumber", true),
    Text("launcher.device.deviceinfo.deviceid", true),
    Text("launcher.device.deviceinfo.kernelversion", true),
    Text("launcher.device.deviceinfo.hwversion", true),
    Text("launcher.device.deviceinfo.mac", true),
    Text("launcher.device.deviceinfo.bootversion", true),
    Text("launcher.device.deviceinfo.rootversion", true),
    Text("launcher.device.deviceinfo.recoveryversion", true),
    Text("launcher.device.deviceinfo.applicationversion", true),
    Text("launcher.device.deviceinfo.fpgaversion", true),
    Ranged("launcher.network.tcpip.lantype", 0, 1),
    Flag("launcher.network.tcpip.dhcp"),
    Text("launcher.network.tcpip.ipaddress"),
    Text("launcher.network.tcpip.gateway"),
    Text("launcher.network.tcpip.subnet"),
    Flag("launcher.network.server.useserver"),
    Text("launcher.network.server.serverip"),
    Ranged("launcher.network.server.port", 0, 65535),
    Flag("launcher.network.server.manualcommand"),
    Flag("launcher.network.server.manualMode"),
    Ranged("launcher.network.server.serverauthentication", 0, 2),
    Ranged("launcher.network.server.auth", 0, 2),
    Ranged("launcher.network.serial.rs485pc", 0, 5),
    Ranged("launcher.network.serial.rs485net", 0, 2),
    Ranged("launcher.network.serial.rs232", 0, 5),
    Flag("launcher.network.usbmemory.enable"),
    Flag("launcher.network.wiegand.enable"),
    Int("launcher.network.wiegand.bits"),
    Int("launcher.network.wiegand.in.bits"),
    Int("launcher.network.wiegand.in.pulse.width"),
    Int("launcher.network.wiegand.in.pulse.interval"),
    Int("launcher.network.wiegand.out.bits"),
    Int("launcher.network.wiegand.out.pulse.width"),
    Int("launcher.network.wiegand.out.pulse.interval"),
    Flag("launcher.network.apb.enable"),
    Ranged("launcher.display.voiceinstruction", 0, 3),
    Flag("launcher.display.centraltimedisplay"),
    Ranged("launcher.display.menutimeout", 0, 4),
    Flag("launcher.display.screensaver"),
    Flag("launcher.display.screensaver.use"),
    Ranged("launcher.display.screensaver.timedisplayposition", 0, 1),
    Ranged("launcher.display.screensaver.timedisplay", 0, 1),
    Ranged("launcher.display.screensaver.waittime", 0, 4),
    Ranged("launcher.display.popuptime", 0, 4),
    Ranged("launcher.display.backlighttimeout", 0, 6),
    Ranged("launcher.display.datedisplay", 0, 1),
    Ranged("launcher.display.language", 0, 6),
    Ranged("launcher.auth.mode.start", 0, 2),
    Ranged("launcher.auth.mode.combi.step1", 0, 4),
    Flag("launcher.auth.ta.enable"),
    Ranged("launcher.auth.ta.manual", 0, 2),
    Ranged("launcher.auth.tamode.mode", 0, 3),
    Ranged("launcher.auth.tamode.value", 0, 3),
    Flag("launcher.mode.operation.faceimagelog"),
    Flag("launcher.mode.operation.facedetection"),
    Flag("launcher.mode.operation.individualmode"),
    Ranged("launcher.mode.operation.dualauthentication", 0, 1),
    Ranged("launcher.mode.operation.matchtimeout", 0, 5),
    Ranged("launcher.mode.operation.cardmode", 0, 1),
    Flag("launcher.mode.operation.cameraevent"),
    Flag("launcher.mode.operation.continuousrecognition"),
    Flag("launcher.mode.operation.continuerecog"),
    Ranged("launcher.mode.wiegand.outputtype", 0, 2),
});

}  // namespace

const char* SettingKindName(SettingKind kind) {
  switch (kind) {
    case SettingKind::kBool: return "bool";
    case SettingKind::kInt: return "int";
    case SettingKind::kFloat: return "float";
    case SettingKind::kString: return "string";
  }
  return "?";
}

const SettingSpec* FindSettingSpec(std::string_view title) {
  for (const auto& spec : kSettings) {
    if (spec.title == title) return &spec;
  }
  return nullptr;
}

}  // namespace gw::config
