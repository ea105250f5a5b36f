// libFuzzer: every small single-object reply (lock, version, camera, door, settings, ...).
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gw::ef45;
  const std::string text = fuzz::Text(data, size);
  auto plain = [](const auto& v) { return ToJson(v); };
  auto bio = [](const auto& v) { return ToJson(v, Biometrics::kInclude); };
  fuzz::ParseAndRoundTrip<VersionInfo>("version", text, plain);
  fuzz::ParseAndRoundTrip<CameraConfiguration>("camera-get", text, plain);
  fuzz::ParseAndRoundTrip<CameraControlResponse>("camera-start", text, plain);
  fuzz::ParseAndRoundTrip<DoorStatus>("door-status", text, plain);
  fuzz::ParseAndRoundTrip<RecordVersion>("record-version", text, plain);
  fuzz::ParseAndRoundTrip<DuplicateResult>("duplication-check", text, plain);
  fuzz::ParseAndRoundTrip<LegacyConfig>("config-legacy", text, plain);
  fuzz::ParseAndRoundTrip<UploadResult>("update-done", text, plain);
  fuzz::ParseAndRoundTrip<CardData>("card-data", text, plain);
  fuzz::ParseAndRoundTrip<OperationRequest>("operation-get", text, plain);
  fuzz::ParseAndRoundTrip<ImageCaptureList>("imagecapture", text, plain);
  fuzz::ParseAndRoundTrip<FileData>("load-file", text, bio);
  fuzz::ParseAndRoundTrip<PreviewData>("preview", text, bio);
  fuzz::ParseAndRoundTrip<SelectedFacePreview>("selected-face", text, bio);
  std::string body = text;
  (void)fuzz::Parser().Parse<LockResponse>("lock-acquire", body);
  for (auto type :
       {SettingType::kBool, SettingType::kInt, SettingType::kFloat, SettingType::kString}) {
    body = text;
    auto setting = fuzz::Parser().ParseSetting("setting-get", body, type);
    if (setting && TypeOf(setting->value) != type) std::abort();
  }
  body = text;
  (void)fuzz::Parser().Parse<RawJson>("user-list", body);
  return 0;
}
