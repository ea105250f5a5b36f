// Parse throughput of the two heaviest replies: a ~5 MB biometric-data page (one capture:
// 2 iris + 5 face images in base64) and a 1,000-entry log page. Prints a table.
// usage: ef45_bench_parse [seconds-per-case]

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "ef45/models.hpp"
#include "ef45/parse.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace gw::ef45;

std::string RandomBase64(std::mt19937_64& rng, std::size_t chars) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out(chars, 'A');
  for (auto& c : out) c = kAlphabet[rng() & 63];
  return out;
}

/// A biometric-data ver2 page shaped like the firmware's: ~5 MB in seven images.
std::string BiometricPage(std::mt19937_64& rng, std::size_t total_bytes) {
  const std::size_t image = total_bytes / 7 / 4 * 4;
  std::string item = R"({"encounter_id":"d7ad792c-04b1-4c17-8815-e841b779a5ec",)"
                     R"("timestamp":"2026-11-25T18:03:14Z","serial_number":"OA1405A000000")";
  for (const char* eye : {"left_eye", "right_eye"}) {
    std::string p = eye;
    item += ",\"" + p + "\":\"" + RandomBase64(rng, image) + "\"";
    item += ",\"" + p + "_duplicate_uuid\":\"\"";
    item += ",\"" + p + "_enrol_template\":\"" + RandomBase64(rng, 1024) + "\"";
    item += ",\"" + p + "_usable_iris_area\":81.5,\"" + p + "_quality_score\":90.1";
    item += ",\"" + p + "_quality_ok\":true";
  }
  for (const char* face : kFaceSlotKeys) {
    std::string p = face;
    item += ",\"" + p + "\":\"" + RandomBase64(rng, image) + "\"";
    item += ",\"" + p + "_duplicate_uuid\":\"\",\"" + p + "_eye_width\":72";
    item += ",\"" + p + "_feature\":\"" + RandomBase64(rng, 2048) + "\"";
    item += ",\"" + p + "_feature_size\":1536,\"" + p + "_frontal_score\":0.93";
    item += ",\"" + p + "_LED_state\":1,\"" + p + "_left_eye_x\":221,\"" + p +
            "_right_eye_x\":297,\"" + p + "_roll\":-1.25,\"" + p + "_score\":0.88";
  }
  item += R"(,"error_message":"","record_version":8976,"server_matching_key":"k"})";
  return R"({"status_code":200,"reason_phrase":"OK","items":[)" + item +
         R"(],"page":1,"page_size":50,"has_more":false,"total":1})";
}

/// A page of 1,000 log entries shaped like the DOC sample.
std::string LogPage(std::size_t entries) {
  std::string items;
  for (std::size_t i = 0; i < entries; ++i) {
    if (i) items += ',';
    items += R"({"id":)" + std::to_string(100000 + i) +
             R"(,"event_type":"Recognition","timestamp":"2026-11-25T18:03:14Z",)"
             R"("user_uuid":"e608ebd2-f9c7-4e71-a620-824ebe091f08","info":"Recog/BioOnly/IrisOk",)"
             R"("additional_data":"Allowed","matched_faceimage_data":""})";
  }
  return R"({"status_code":200,"reason_phrase":"OK","items":[)" + items +
         R"(],"page":1,"page_size":1000,"has_more":true,"total":1000})";
}

struct Result {
  double mb_per_s;
  double ms_per_parse;
  long runs;
};

template <class T>
Result Measure(ResponseParser& parser, std::string body, double seconds, std::size_t expect_items) {
  body.reserve(body.size() + kJsonPadding);
  long runs = 0;
  auto start = Clock::now();
  auto until = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < until) {
    auto page = parser.Parse<T>("bench", body);
    if (!page || page->items.size() != expect_items) {
      std::fprintf(stderr, "parse failed: %s\n", page ? "item count" : page.error().detail.c_str());
      std::exit(1);
    }
    ++runs;
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  double mb = static_cast<double>(body.size()) * runs / 1e6;
  return {mb / elapsed, elapsed * 1e3 / runs, runs};
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 2.0;
  std::mt19937_64 rng(42);
  ResponseParser parser;
  std::string bio = BiometricPage(rng, 5 * 1000 * 1000);
  std::string logs = LogPage(1000);
  Result b = Measure<Collection<BiometricData>>(parser, bio, seconds, 1);
  Result l = Measure<Collection<LogEntry>>(parser, logs, seconds, 1000);
  std::printf("simdjson kernel: %s\n\n", std::string(JsonKernelName()).c_str());
  std::printf("| reply                          | bytes     | parses | ms/parse | MB/s    |\n");
  std::printf("|--------------------------------|-----------|--------|----------|---------|\n");
  std::printf("| biometric-data ver2, 1 capture | %9zu | %6ld | %8.3f | %7.1f |\n", bio.size(),
              b.runs, b.ms_per_parse, b.mb_per_s);
  std::printf("| logs page, 1,000 entries       | %9zu | %6ld | %8.3f | %7.1f |\n", logs.size(),
              l.runs, l.ms_per_parse, l.mb_per_s);
  return 0;
}
