// The direct event writer (AppendEventJson, SseFrame, EventPageBody) against the boost::json
// encoding it replaced: byte for byte on many varied events.
#include "api/event_json.hpp"

#include <gtest/gtest.h>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <random>
#include <string>
#include <vector>

#include "common/time.hpp"

namespace gw::api {
namespace {

namespace json = boost::json;

std::string Reference(const store::EventRow& e) { return json::serialize(EventJson(e)); }

std::string Direct(const store::EventRow& e) {
  std::string out;
  AppendEventJson(out, e);
  return out;
}

/// Payload texts: PostgreSQL's jsonb output style and everything boost::json would rewrite.
const std::vector<std::string>& Payloads() {
  static const std::vector<std::string> kPayloads = {
      "{}",
      "{ }",
      "{\"match\": true, \"near_on_face_score\": 71, \"left_eye_quality_ok\": false}",
      "{\"a\": null, \"b\": [1, 2, [3, {\"c\": []}]], \"d\": {}, \"e\": -12, \"f\": 0}",
      "{\"big\": 123456789012345678, \"bigger\": 1234567890123456789}",
      "{\"huge\": 123456789012345678901234567890}",
      "{\"neg\": -9223372036854775808}",
      "{\"u64\": 18446744073709551615}",
      "{\"f\": 1.5, \"g\": 1.50, \"h\": 1e3, \"i\": 2E-2, \"j\": -0.0}",
      "{\"z\": -0}",
      "{\"s\": \"caf\\u00e9 \\u65e5\\u672c\"}",
      "{\"s\": \"café 日本 😀\"}",
      "{\"s\": \"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"}",
      "{\"s\": \"\\u0001\\u001f\\u001F\\u0008\\u000a\\u0000\"}",
      "{\"s\": \"del\x7f\"}",
      "{\"s\": \"raw\ttab\"}",
      "{\"s\": \"bad\xff utf8\"}",
      "[1, 2]",
      "\"text\"",
      "42",
      "",
      "not json",
      "{\"a\": 1} trailing",
      "{\"a\": 1,}",
      "{\"a\" 1}",
      "{\"a\": tru}",
      "{\"a\": 01}",
      "{\"a\": -}",
      "{\"a\": [1, 2,]}",
      "{\"a\": \"unterminated}",
      "\n {\"a\":\n[ 1 ,\t2 ] }\r\n",
      "{\"dup\": 1, \"dup\": 2}",
      std::string("{\"nul\": \"a\0b\"}", 14),
  };
  return kPayloads;
}

std::string Nested(int depth) {
  std::string s;
  for (int i = 0; i < depth; ++i) s += "{\"a\": ";
  s += "1";
  for (int i = 0; i < depth; ++i) s += "}";
  return s;
}

/// A random string: printable ASCII, every character JSON escapes, UTF-8 and invalid bytes.
std::string RandomString(std::mt19937_64& rng) {
  static const std::vector<std::string> kPieces = {"a",
                                                   "Z",
                                                   "0",
                                                   " ",
                                                   "\"",
                                                   "\\",
                                                   "/",
                                                   "\b",
                                                   "\f",
                                                   "\n",
                                                   "\r",
                                                   "\t",
                                                   std::string(1, '\0'),
                                                   "\x01",
                                                   "\x1f",
                                                   "\x7f",
                                                   "é",
                                                   "日本",
                                                   "😀",
                                                   "\xff",
                                                   "\xc3",
                                                   "{",
                                                   "}",
                                                   ":",
                                                   ",",
                                                   "<script>"};
  std::string s;
  const int n = static_cast<int>(rng() % 12);
  for (int i = 0; i < n; ++i) s += kPieces[rng() % kPieces.size()];
  return s;
}

json::value RandomValue(std::mt19937_64& rng, int depth) {
  switch (rng() % (depth > 3 ? 6 : 8)) {
    case 0: return nullptr;
    case 1: return rng() % 2 == 0;
    case 2: return static_cast<std::int64_t>(rng()) >> (rng() % 64);
    case 3:
      return RandomString(rng).size() % 3 == 0
                 ? json::value(1.25 * static_cast<double>(rng() % 100))
                 : json::value(static_cast<std::int64_t>(rng() % 1000));
    case 4:
    case 5: return json::string(RandomString(rng));
    case 6: {
      json::array a;
      for (int i = static_cast<int>(rng() % 4); i > 0; --i)
        a.push_back(RandomValue(rng, depth + 1));
      return a;
    }
    default: {
      json::object o;
      for (int i = static_cast<int>(rng() % 4); i > 0; --i) {
        o[RandomString(rng)] = RandomValue(rng, depth + 1);
      }
      return o;
    }
  }
}

/// Serialised like PostgreSQL's jsonb output: ", " and ": " between members.
std::string JsonbStyle(const json::value& v) {
  std::string s = json::serialize(v);
  std::string out;
  bool in_string = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    out += s[i];
    if (in_string) {
      if (s[i] == '\\') {
        out += s[++i];
      } else if (s[i] == '"') {
        in_string = false;
      }
    } else if (s[i] == '"') {
      in_string = true;
    } else if (s[i] == ',' || s[i] == ':') {
      out += ' ';
    }
  }
  return out;
}

store::EventRow RandomEvent(std::mt19937_64& rng, int i) {
  store::EventRow e;
  e.seq = static_cast<std::int64_t>(rng() >> 1) >> (rng() % 63);
  e.device_id = i % 5 == 0 ? RandomString(rng) : "sim-" + std::to_string(i % 1000);
  e.event_key = i % 3 == 0 ? RandomString(rng) : "log:0:" + std::to_string(i);
  e.kind = static_cast<store::EventKind>(rng() % 7);
  e.sources = static_cast<int>(rng() % 8);
  e.revision = static_cast<int>(rng() % 4) - (i % 50 == 0 ? 5 : 0);
  if (rng() % 4 != 0) e.device_log_id = static_cast<std::int64_t>(rng()) >> (rng() % 64);
  e.log_epoch = static_cast<std::int64_t>(rng() % 1000) - 3;
  auto opt = [&]() -> std::optional<std::string> {
    if (rng() % 3 == 0) return std::nullopt;
    return RandomString(rng);
  };
  e.encounter_id = opt();
  e.event_type = opt();
  e.info = opt();
  e.additional_data = opt();
  e.user_uuid = opt();
  auto time = [&]() {
    // Around now, before 1970, whole seconds, and far outside 0000..9999.
    std::int64_t us =
        1'761'500'000'000'000LL + static_cast<std::int64_t>(rng() % 10'000'000'000'000ULL);
    switch (rng() % 6) {
      case 0: us -= us % 1'000'000; break;
      case 1: us = -us / 7; break;
      case 2: us = static_cast<std::int64_t>(rng() % 1000); break;
      case 3: us = (i % 2 == 0 ? 1 : -1) * 400'000'000'000'000'000LL + (us % 1'000'000); break;
      default: break;
    }
    return Micros(std::chrono::microseconds(us));
  };
  if (rng() % 5 != 0) e.device_time = time();
  e.received_at = time();
  e.stored_at = time();
  const auto& payloads = Payloads();
  switch (rng() % 4) {
    case 0: e.payload = payloads[rng() % payloads.size()]; break;
    case 1: e.payload = Nested(static_cast<int>(rng() % 40)); break;
    default: {
      json::object o;
      for (int k = static_cast<int>(rng() % 6); k > 0; --k)
        o[RandomString(rng)] = RandomValue(rng, 1);
      e.payload = rng() % 2 == 0 ? JsonbStyle(o) : json::serialize(o);
    }
  }
  return e;
}

TEST(EventJson, TheDirectWriterWritesWhatBoostJsonWrote) {
  std::mt19937_64 rng(18);
  int compared = 0;
  for (int i = 0; i < 20000; ++i) {
    const auto e = RandomEvent(rng, i);
    ASSERT_EQ(Direct(e), Reference(e)) << "event " << i << ", payload: " << e.payload;
    ++compared;
  }
  // Every fixed payload, on a plain event.
  store::EventRow e;
  e.seq = 7;
  e.device_id = "r1";
  e.received_at = e.stored_at = Micros(std::chrono::microseconds(1'761'500'000'123'456LL));
  for (const auto& p : Payloads()) {
    e.payload = p;
    EXPECT_EQ(Direct(e), Reference(e)) << "payload: " << p;
  }
  for (int depth : {0, 1, 20, 24, 25, 31, 32, 33, 60}) {
    e.payload = Nested(depth);
    EXPECT_EQ(Direct(e), Reference(e)) << "depth " << depth;
  }
  EXPECT_EQ(compared, 20000);
}

TEST(EventJson, FramesAndPagesCarryTheSameDocument) {
  std::mt19937_64 rng(6);
  std::vector<store::EventRow> events;
  json::array items;
  for (int i = 0; i < 300; ++i) {
    events.push_back(RandomEvent(rng, i));
    items.push_back(EventJson(events.back()));
    const auto frame = SseFrame(events.back());
    EXPECT_EQ(frame, "id: " + std::to_string(events.back().seq) +
                         "\nevent: " + std::string(store::KindName(events.back().kind)) +
                         "\ndata: " + Reference(events.back()) + "\n\n");
    auto [begin, size] = SseFrameData(frame);
    EXPECT_EQ(frame.substr(begin, size), Reference(events.back()));
  }
  EXPECT_EQ(EventPageBody(events, 4711),
            json::serialize(json::object{{"items", items}, {"next", 4711}}));
  EXPECT_EQ(EventPageBody({}, 0), "{\"items\":[],\"next\":0}");
}

TEST(EventJson, StringsAreEscapedAsBoostJsonEscapes) {
  for (int c = 0; c < 256; ++c) {
    const std::string s = "x" + std::string(1, static_cast<char>(c)) + "y";
    std::string out;
    AppendJsonString(out, s);
    EXPECT_EQ(out, json::serialize(json::value(s))) << "character " << c;
  }
}

}  // namespace
}  // namespace gw::api
