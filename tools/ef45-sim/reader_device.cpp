// Device settings, door status and relay (API.md section 9), firmware upload (13), manual
// control (14), card input (15), anti-passback (16) and the fw80 operation mode.
#include <algorithm>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cctype>

#include "reader_state.hpp"

namespace ef45sim::detail {

using util::ControlResult;
using util::Empty;
using util::Json;

namespace {

constexpr std::string_view kManualCommand = "launcher.network.server.manualcommand";
constexpr std::string_view kRelaySetting = "launcher.device.door.relay";
constexpr std::string_view kDoorDuration = "launcher.device.door.duration";

std::string_view TypeName(Setting::Type type) {
  switch (type) {
    case Setting::Type::kBool: return "bool";
    case Setting::Type::kInt: return "int";
    case Setting::Type::kFloat: return "float";
    case Setting::Type::kString: return "string";
  }
  return "";
}

std::optional<Setting::Type> ParseType(std::string_view name) {
  if (name == "bool") return Setting::Type::kBool;
  if (name == "int") return Setting::Type::kInt;
  if (name == "float") return Setting::Type::kFloat;
  if (name == "string") return Setting::Type::kString;
  return std::nullopt;
}

}  // namespace

}  // namespace ef45sim::detail

namespace ef45sim {

void Reader::State::InitSettings() {
  using detail::Setting;
  // Keys, aliases and ranges from API.md section 9 (ConfigurationProperties.h). A key listed
  // without a range is a bool switch, except where the name says it is a number or a string
  // (ports, pulse widths, bit counts: int without a range). The doc lists no float setting.
  auto add = [this](std::string name, Setting setting, std::string alias = {}) {
    if (!alias.empty()) setting_alias[alias] = name;
    settings[std::move(name)] = std::move(setting);
  };
  auto ranged = [&](std::string name, std::int64_t min, std::int64_t max, std::int64_t value,
                    std::string alias = {}) {
    Setting s;
    s.type = Setting::Type::kInt;
    s.ranged = true;
    s.min = min;
    s.max = max;
    s.i = value;
    add(std::move(name), std::move(s), std::move(alias));
  };
  auto integer = [&](std::string name, std::int64_t value) {
    Setting s;
    s.type = Setting::Type::kInt;
    s.i = value;
    add(std::move(name), std::move(s));
  };
  auto flag = [&](std::string name, bool value, std::string alias = {}) {
    Setting s;
    s.type = Setting::Type::kBool;
    s.b = value;
    add(std::move(name), std::move(s), std::move(alias));
  };
  auto text = [&](std::string name, std::string value, bool read_only = false,
                  std::string alias = {}) {
    Setting s;
    s.type = Setting::Type::kString;
    s.s = std::move(value);
    s.read_only = read_only;
    add(std::move(name), std::move(s), std::move(alias));
  };

  const std::string d = "launcher.device.";
  ranged(d + "config.userpositioninterface", 0, 1, 0, d + "hidden.cameratype");
  ranged(d + "config.enrolnoticetimeout", 0, 5, 3);
  ranged(d + "config.motiondetectionwaittime", 0, 10, 5);
  flag(d + "config.motiondetection", true);
  flag(d + "config.debug", false);
  ranged(d + "bio.securitylevel", 0, 4, 2);
  ranged(d + "bio.iris.enrolminusablearea", 0, 4, 2);
  ranged(d + "bio.iris.recogfalseacceptrate", 0, 9, 3);
  ranged(d + "bio.iris.mindistance", 30, 35, 32);
  flag(d + "bio.iris.fastrecogmode", false);
  flag(d + "bio.iris.recogeithereye", true);
  flag(d + "bio.iris.enroleithereye", false);
  flag(d + "bio.face.fakeface", false);
  flag(d + "bio.face.facecolorcorrection", true);
  ranged(d + "volume.devicevolume", 0, 10, 5);
  ranged(d + "volume.micvolume", 0, 10, 5);
  flag(d + "date.timesync", false);
  ranged(d + "camera.powerlinefrequency", 0, 1, 0);
  flag(d + "interphone.enable", false);
  text(d + "interphone.ipaddress", "");

  const std::string door = d + "door.";
  ranged(door + "relay", 0, 2, 1);  // 0 = relay disabled (PUT /config/relay answers 417)
  ranged(door + "drivenevent", 0, 4, 0);
  ranged(door + "duration", 0, 10, 3);
  ranged(door + "rte", 0, 2, 0);
  ranged(door + "rtetype", 0, 1, 0);
  ranged(door + "doorsensor", 0, 2, 0);
  ranged(door + "doorsensortype", 0, 1, 0);
  ranged(door + "helpopenperiod", 0, 600, 30);
  ranged(door + "locktime", 0, 1, 0);
  ranged(door + "unlocktime", 0, 1, 0);
  flag(door + "tamper", false);
  ranged(door + "schedule.locktime", 0, 1, 0);
  ranged(door + "schedule.unlocktime", 0, 1, 0);
  ranged(door + "alarmsensor", 0, 2, 0);  // fw80; range assumed like doorsensor
  ranged(door + "alarmsensortype", 0, 1, 0);

  const std::string info = d + "deviceinfo.";
  text(info + "devicename", "EF-45");
  text(info + "model", "EF-45", true);
  text(info + "firmwarefile", "umx-0.1.80", true, info + "fwversion");
  text(info + "serialnumber", serial_text, true, info + "deviceid");
  text(info + "kernelversion", "3.0.35", true);
  text(info + "hwversion", "1.0", true);
  text(info + "mac", mac_text, true);
  text(info + "bootversion", "2013.04", true);
  text(info + "rootversion", "1.0.12", true);
  text(info + "recoveryversion", "1.0.3", true);
  text(info + "applicationversion", "1.2.34", true);
  text(info + "fpgaversion", "1.0", true);

  const std::string net = "launcher.network.";
  ranged(net + "tcpip.lantype", 0, 1, 0);
  flag(net + "tcpip.dhcp", false);
  text(net + "tcpip.ipaddress", "192.168.0.218");
  text(net + "tcpip.gateway", "192.168.0.1");
  text(net + "tcpip.subnet", "255.255.255.0");
  flag(net + "server.useserver", false);
  text(net + "server.serverip", "");
  ranged(net + "server.port", 0, 65535, 9980);
  flag(std::string(detail::kManualCommand), true, net + "server.manualMode");
  ranged(net + "server.serverauthentication", 0, 2, 0, net + "server.auth");
  ranged(net + "serial.rs485pc", 0, 5, 0);
  ranged(net + "serial.rs485net", 0, 2, 0);
  ranged(net + "serial.rs232", 0, 5, 0);
  flag(net + "usbmemory.enable", false);
  flag(net + "wiegand.enable", false);
  integer(net + "wiegand.bits", 26);
  integer(net + "wiegand.in.bits", 26);
  integer(net + "wiegand.in.pulse.width", 100);
  integer(net + "wiegand.in.pulse.interval", 1000);
  integer(net + "wiegand.out.bits", 26);
  integer(net + "wiegand.out.pulse.width", 100);
  integer(net + "wiegand.out.pulse.interval", 1000);
  flag(net + "apb.enable", false);

  const std::string display = "launcher.display.";
  ranged(display + "voiceinstruction", 0, 3, 1);
  flag(display + "centraltimedisplay", false);
  ranged(display + "menutimeout", 0, 4, 2);
  flag(display + "screensaver", true, display + "screensaver.use");
  ranged(display + "screensaver.timedisplayposition", 0, 1, 0, display + "screensaver.timedisplay");
  ranged(display + "screensaver.waittime", 0, 4, 2);
  ranged(display + "popuptime", 0, 4, 1);
  ranged(display + "backlighttimeout", 0, 6, 3);
  ranged(display + "datedisplay", 0, 1, 0);
  ranged(display + "language", 0, 6, 0);

  ranged("launcher.auth.mode.start", 0, 2, 0);
  ranged("launcher.auth.mode.combi.step1", 0, 4, 0);
  flag("launcher.auth.ta.enable", false);
  ranged("launcher.auth.ta.manual", 0, 2, 0);
  ranged("launcher.auth.tamode.mode", 0, 3, 0);
  ranged("launcher.auth.tamode.value", 0, 3, 0);
  const std::string op = "launcher.mode.operation.";
  flag(op + "faceimagelog", false, op + "facedetection");
  flag(op + "individualmode", false);
  ranged(op + "dualauthentication", 0, 1, 0);
  ranged(op + "matchtimeout", 0, 5, 2);
  ranged(op + "cardmode", 0, 1, 0);
  flag(op + "cameraevent", false);
  flag(op + "continuousrecognition", true, op + "continuerecog");
  ranged("launcher.mode.wiegand.outputtype", 0, 2, 0);
}

detail::Setting* Reader::State::FindSetting(std::string_view title) {
  if (auto alias = setting_alias.find(title); alias != setting_alias.end()) title = alias->second;
  auto it = settings.find(title);
  return it == settings.end() ? nullptr : &it->second;
}

std::int64_t Reader::State::IntSetting(std::string_view title, std::int64_t fallback) {
  auto* setting = FindSetting(title);
  return setting && setting->type == detail::Setting::Type::kInt ? setting->i : fallback;
}

std::string Reader::ChangeSettingAtReader(const std::string& body) {
  using detail::Setting;
  auto object = util::ParseObject(body);
  if (!object) return "body must be a JSON object";
  for (const auto& kv : *object) {
    if (kv.key() != "title" && kv.key() != "value") {
      return "unknown key \"" + std::string(kv.key()) + "\" (known: title, value)";
    }
  }
  const auto* title = object->if_contains("title");
  const auto* value = object->if_contains("value");
  if (!title || !title->is_string()) return "title must be a string";
  if (!value) return "value is required";
  Setting* setting = state_->FindSetting(std::string(title->as_string()));
  if (!setting) return "unknown setting";
  if (setting->read_only) return "read-only setting";
  switch (setting->type) {
    case Setting::Type::kBool:
      if (!value->is_bool()) return "value must be true or false (bool setting)";
      setting->b = value->as_bool();
      break;
    case Setting::Type::kInt: {
      if (!value->is_int64()) return "value must be an integer (int setting)";
      const std::int64_t v = value->as_int64();
      if (setting->ranged && (v < setting->min || v > setting->max)) {
        return "value out of range " + std::to_string(setting->min) + ".." +
               std::to_string(setting->max);
      }
      setting->i = v;
      break;
    }
    case Setting::Type::kFloat:
      if (!value->is_number()) return "value must be a number (float setting)";
      setting->f = value->to_number<double>();
      break;
    case Setting::Type::kString:
      if (!value->is_string()) return "value must be a string (string setting)";
      setting->s = std::string(value->as_string());
      break;
  }
  return {};
}

std::string Reader::SettingJson(std::string_view title) const {
  using detail::Setting;
  const Setting* setting = state_->FindSetting(title);
  if (!setting) return {};
  boost::json::object out;
  out["title"] = title;
  out["type"] = detail::TypeName(setting->type);
  switch (setting->type) {
    case Setting::Type::kBool: out["value"] = setting->b; break;
    case Setting::Type::kInt: out["value"] = setting->i; break;
    case Setting::Type::kFloat: out["value"] = setting->f; break;
    case Setting::Type::kString: out["value"] = setting->s; break;
  }
  return boost::json::serialize(out);
}

bool Reader::State::BoolSetting(std::string_view title, bool fallback) {
  auto* setting = FindSetting(title);
  return setting && setting->type == detail::Setting::Type::kBool ? setting->b : fallback;
}

}  // namespace ef45sim

namespace ef45sim::detail {

Response DoorStatus(State& st) {
  char buffer[96];
  int n = std::snprintf(buffer, sizeof buffer,
                        "{\"door_sensor\":%d,\"relay\":%d,\"tamper\":%d,\"rte\":%d}",
                        st.door_sensor, st.Relay(), st.tamper, st.rte);
  return Response{200, "", "application/json", std::string(buffer, static_cast<std::size_t>(n))};
}

namespace {

Response GetSetting(State& st, const std::string& title, Setting::Type type) {
  Setting* setting = st.FindSetting(title);
  if (!setting) return Empty(404);
  if (setting->type != type) return Empty(400);
  boost::json::object out;
  out["title"] = title;
  std::string key(TypeName(type));
  switch (type) {
    case Setting::Type::kBool: out[key] = setting->b; break;
    case Setting::Type::kInt: out[key] = setting->i; break;
    case Setting::Type::kFloat: out[key] = setting->f; break;
    case Setting::Type::kString: out[key] = setting->s; break;
  }
  return util::JsonValue(200, out);
}

Response PutSetting(State& st, const Call& call, const std::string& title, Setting::Type type) {
  Setting* setting = st.FindSetting(title);
  if (!setting) return Empty(404);
  auto body = util::ParseObject(call.body);
  if (!body) return Empty(400);
  const auto* value = body->if_contains(TypeName(type));
  if (!value || setting->type != type) return Empty(400);
  switch (type) {
    case Setting::Type::kBool:
      if (!value->is_bool()) return Empty(400);
      setting->b = value->as_bool();
      break;
    case Setting::Type::kInt: {
      if (!value->is_int64()) return Empty(400);
      std::int64_t v = value->as_int64();
      if (setting->ranged && (v < setting->min || v > setting->max)) return Empty(417);
      setting->i = v;
      break;
    }
    case Setting::Type::kFloat:
      if (!value->is_number()) return Empty(400);
      setting->f = value->to_number<double>();
      break;
    case Setting::Type::kString:
      if (!value->is_string()) return Empty(400);
      // Device-info strings are read-only: the firmware refuses them like an out-of-range value.
      if (setting->read_only) return Empty(417);
      setting->s = std::string(value->as_string());
      break;
  }
  return Empty(204);  // stored and properties saved
}

Response DriveRelay(State& st, const Call& call) {
  // D4: any 2-segment PUT on /config. forced=false releases the relay; otherwise it closes
  // for `duration` seconds (default: launcher.device.door.duration).
  if (st.IntSetting(kRelaySetting, 1) == 0) return Empty(417);
  auto forced = util::QueryBool(call.query, "forced");
  if (forced && !*forced) {
    st.relay_until = {};
    return Empty(200);
  }
  auto duration = util::QueryInt(call.query, "duration");
  std::int64_t seconds = duration ? *duration : st.IntSetting(kDoorDuration, 3);
  if (seconds < 0) return Empty(500);
  st.relay_until = st.Now() + std::chrono::seconds(seconds);
  return Empty(200);
}

}  // namespace

Response HandleConfig(State& st, const Call& call) {
  const auto& seg = call.seg;
  if (seg.size() == 1) {
    if (call.method != "GET") return Empty(405);
    // D5 legacy summary.
    boost::json::object legacy;
    legacy["faceoriris"] = "iris";
    legacy["mode"] = st.camera_mode;
    legacy["delayInterval"] = st.IntSetting(kDoorDuration, 3);
    legacy["threshold"] = 0.5;
    legacy["relay"] = st.IntSetting(kRelaySetting, 1) != 0;
    return util::JsonValue(200, legacy);
  }
  if (seg.size() == 2) {
    if (call.method == "GET") {
      if (seg[1] == "door-status") return DoorStatus(st);
      // D6: any other 2-segment GET.
      std::string body = "{\"cur_door_status\":";
      util::AppendInt(body, st.door_sensor);
      body += '}';
      return Json(200, std::move(body));
    }
    if (call.method == "PUT") return DriveRelay(st, call);
    return Empty(405);
  }
  if (seg.size() == 3) {
    auto type = ParseType(seg[2]);
    if (call.method != "GET" && call.method != "PUT") return Empty(405);
    if (!type) return Empty(400);
    return call.method == "GET" ? GetSetting(st, seg[1], *type)
                                : PutSetting(st, call, seg[1], *type);
  }
  return Empty(400);
}

namespace {

/// Image bytes kept to find the version label in (issue 20); the rest is only counted.
constexpr std::size_t kMaxInstallImage = 64 << 20;
/// The label an image carries: `EF45-FIRMWARE-VERSION=` then 1-64 of A-Z a-z 0-9 . _ + -.
constexpr std::string_view kVersionLabel = "EF45-FIRMWARE-VERSION=";

/// The version label inside `image`, if any (the first one).
std::optional<std::string> ImageVersion(std::string_view image) {
  auto at = image.find(kVersionLabel);
  if (at == std::string_view::npos) return std::nullopt;
  std::string version;
  for (std::size_t i = at + kVersionLabel.size(); i < image.size() && version.size() < 64; ++i) {
    const char c = image[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '+' ||
          c == '-')) {
      break;
    }
    version += c;
  }
  if (version.empty()) return std::nullopt;
  return version;
}

/// Decodes one firmware unit: quotes, backslashes and line breaks are stripped (a JSON string
/// literal works too), the rest must be valid Base64. Returns the decoded size; keeps the
/// bytes in `image` up to kMaxInstallImage.
std::optional<std::size_t> DecodeUnit(std::string_view body, std::string& image) {
  std::string clean;
  clean.reserve(body.size());
  for (char c : body) {
    if (c == '"' || c == '\\' || c == '\r' || c == '\n' || c == ' ' || c == '\t') continue;
    clean += c;
  }
  auto bytes = util::Base64Decode(clean);
  if (!bytes) return std::nullopt;
  if (image.size() < kMaxInstallImage) {
    image.append(*bytes, 0, std::min(bytes->size(), kMaxInstallImage - image.size()));
  }
  return bytes->size();
}

}  // namespace

Response HandleUpdate(State& st, const Call& call) {
  // FW1-FW3 (fw41 scheme): POST = normal upgrade, PUT = forced; identical here.
  if (call.method != "POST" && call.method != "PUT") return Empty(405);
  if (call.seg.size() < 2) return Empty(400);
  const std::string& step = call.seg[1];
  if (step == "start") {
    // Aborts any unfinished transfer and deletes its data.
    st.fw_receiving = true;
    st.fw_failed = false;
    st.fw_bytes = 0;
    st.fw_image.clear();
    return Empty(200);
  }
  auto unit = DecodeUnit(call.body, st.fw_image);
  if (step != "done") {
    if (!unit)
      st.fw_failed = true;
    else
      st.fw_bytes += *unit;
    return Empty(200);
  }
  bool success = st.fw_receiving && !st.fw_failed && unit && st.fw_bytes + *unit > 0;
  st.fw_receiving = false;
  st.fw_failed = false;
  st.fw_bytes = 0;
  std::string image = std::move(st.fw_image);
  st.fw_image.clear();
  // Fault firmware_fail (issue 20): this image is refused, the version stays.
  if (success && st.fail_next_install) {
    st.fail_next_install = false;
    success = false;
  }
  Response response =
      Json(200, success ? R"({"file":"Upload success"})" : R"({"file":"Upload fail"})");
  if (!success) return response;
  // An image with a version label installs it: the fleet takes the reader off the network for
  // the install time, then FinishInstall sets the version and reboots. Without a label the
  // device reboots at once on the firmware it had.
  if (auto version = ImageVersion(image)) {
    st.pending_install = std::move(*version);
  } else {
    st.Reboot();
  }
  return response;
}

namespace {

const std::vector<FieldSpec>& ControlSpec() {
  static const std::vector<FieldSpec> spec = {{"result", FieldType::kBool},
                                              {"recog_start", FieldType::kBool},
                                              {"wav_path", FieldType::kString},
                                              {"uuid", FieldType::kString},
                                              {"last_name", FieldType::kString},
                                              {"card", FieldType::kString},
                                              {"wiegand_facility", FieldType::kInt},
                                              {"wiegand_code", FieldType::kInt},
                                              {"wiegand_custom", FieldType::kString},
                                              {"touch_enable_start", FieldType::kInt},
                                              {"camera_init_position", FieldType::kInt},
                                              {"launcher_show", FieldType::kInt},
                                              {"result_view_img_data", FieldType::kString},
                                              {"result_view_img_width", FieldType::kInt},
                                              {"result_view_img_height", FieldType::kInt}};
  return spec;
}

}  // namespace

Response HandleControl(State& st, const Call& call) {
  const auto& seg = call.seg;
  if (seg.size() == 1) {
    if (call.method != "POST") return Empty(405);
    // X1: needs "Use manual command" and at least one known field.
    auto body = util::ParseObject(call.body);
    if (!body) return Empty(400);
    if (!st.BoolSetting(kManualCommand, false)) return ControlResult(200, false, "Fail");
    bool any = false;
    for (const auto& field : ControlSpec()) {
      if (body->if_contains(field.name)) any = true;
    }
    if (!any || !Normalize(*body, ControlSpec())) return ControlResult(200, false, "Fail");
    return ControlResult(200, true, "Success");
  }
  const std::string& group = seg[1];
  if (group == "card" && seg.size() == 3) {
    const std::string& action = seg[2];
    if (action == "start") {
      if (call.method != "POST") return Empty(405);
      if (st.camera_mode != "Slave") {
        return ControlResult(200, false, "Please first chagne mode to Slave(Enrollment)");  // sic
      }
      // The emulated user taps a card at once.
      st.card_input = true;
      st.card_data = util::RandomCard(st.rng);
      return ControlResult(200, true, "Success");
    }
    if (action == "stop") {
      if (call.method != "POST") return Empty(405);
      st.card_input = false;
      return Empty(200);
    }
    if (action == "data") {
      if (call.method != "GET") return Empty(405);
      std::string body = "{\"card\":";
      util::AppendJsonString(body, st.card_data);
      body += '}';
      return Json(200, std::move(body));
    }
    return Empty(400);
  }
  if (group == "apb") {
    // A1/A2: apb_status = 1 (CLEAR). launcher.network.apb.enable is not enforced: no source
    // says what the firmware answers when APB is off.
    if (seg.size() == 3 && seg[2] == "clearall") {
      if (call.method != "POST") return Empty(405);
      for (auto& [uuid, info] : st.user_info) info["apb_status"] = 1;
      return Empty(200);
    }
    if (seg.size() == 4 && seg[2] == "clear") {
      if (call.method != "POST") return Empty(405);
      auto it = st.user_info.find(seg[3]);
      if (it == st.user_info.end()) return Empty(404);
      it->second["apb_status"] = 1;
      return Empty(200);
    }
    return Empty(400);
  }
  if (group == "operation") {
    if (seg.size() == 2) {
      if (call.method != "GET") return Empty(405);
      boost::json::object op;
      op["op_mode"] = st.op_mode;
      op["host"] = st.op_host;
      op["port"] = st.op_port;
      op["request_uri"] = st.op_request_uri;
      return util::JsonValue(200, op);
    }
    if (seg.size() == 3) {
      if (call.method != "PUT") return Empty(405);
      if (seg[2] != "active" && seg[2] != "in-active") return Empty(400);
      auto body = util::ParseObject(call.body);
      if (!body) return Empty(400);
      static const std::vector<FieldSpec> spec = {{"op_mode", FieldType::kInt},
                                                  {"host", FieldType::kString},
                                                  {"port", FieldType::kInt},
                                                  {"request_uri", FieldType::kString}};
      boost::json::object current;
      current["op_mode"] = st.op_mode;
      current["host"] = st.op_host;
      current["port"] = st.op_port;
      current["request_uri"] = st.op_request_uri;
      auto op = Normalize(*body, spec, current);
      if (!op) return Empty(400);
      st.op_host = std::string((*op)["host"].as_string());
      st.op_port = static_cast<int>((*op)["port"].as_int64());
      st.op_request_uri = std::string((*op)["request_uri"].as_string());
      // The path decides the mode: active = 1, in-active = 0.
      st.op_mode = seg[2] == "active" ? 1 : 0;
      return Empty(200);
    }
  }
  return Empty(400);
}

}  // namespace ef45sim::detail
