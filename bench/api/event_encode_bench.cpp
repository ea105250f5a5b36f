// event_encode_bench: what one event's JSON costs the façade, and what a direct writer would
// cost (issue 6: the listing and the SSE stream spend most of the gateway's CPU encoding events).
//
//   a. the façade's way, the real encoder (lib/api/event_json.cpp EventJson): a
//      boost::json::object per event, the payload text parsed into it, times through
//      gw::FormatIso8601 (snprintf), then json::serialize;
//   b. the same document written straight into one reserved string: fields appended with JSON
//      escaping, the payload (PostgreSQL's jsonb text, already valid JSON) spliced as is, times
//      through gw::FormatIso8601;
//   c. as b, with times formatted by integer arithmetic instead of snprintf;
//   d. the façade's direct writer (gw::api::AppendEventJson, issue 18): as c, the payload
//      compacted as boost::json writes it; its output must equal a's byte for byte.
// Each variant's output is parsed back and compared with a's (same JSON value), so a faster
// variant cannot be a wrong one. Prints ns per event (best of 9 rounds). Not a test.
#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "api/event_json.hpp"
#include "common/time.hpp"
#include "store/queries.hpp"

namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

/// The columns ListEvents returns for one event.
using Row = gw::store::EventRow;

std::vector<Row> MakeRows(int n) {
  std::vector<Row> rows;
  rows.reserve(static_cast<std::size_t>(n));
  const gw::Micros base{std::chrono::microseconds(1'761'500'000'000'000LL)};
  for (int i = 0; i < n; ++i) {
    Row r;
    r.seq = 500'000 + i;
    r.device_id = "sim-0" + std::to_string(10 + i % 90);
    r.event_key = "log:0:" + std::to_string(5000 + i);
    r.kind = gw::store::EventKind::kRecognition;
    r.sources = 3;
    r.revision = 2;
    r.device_log_id = 5000 + i;
    r.log_epoch = 0;
    r.encounter_id = "71ba464b-4293-02f2-308b-d6cb46bccf" + std::to_string(10 + i % 90);
    r.event_type = "Recognition";
    r.info = "In/BioOnly/IrisOk";
    r.additional_data = i % 10 == 3 ? "Denied" : "Allowed";
    r.user_uuid = "411f9c0d-e395-8856-2f3b-d31f778427" + std::to_string(10 + i % 90);
    r.device_time = base + std::chrono::seconds(i);
    r.received_at = base + std::chrono::microseconds(i * 1'000'123LL + 300'160);
    r.stored_at = r.received_at + std::chrono::milliseconds(20);
    r.payload = "{\"match\": true, \"near_on_face_score\": " + std::to_string(60 + i % 40) +
                ", \"left_eye_quality_ok\": true, \"right_eye_quality_ok\": true, "
                "\"left_eye_quality_score\": 41, \"right_eye_quality_score\": 46, "
                "\"left_eye_usable_iris_area\": 56, \"near_on_face_frontal_score\": 71, "
                "\"right_eye_usable_iris_area\": 51}";
    rows.push_back(std::move(r));
  }
  return rows;
}

// --- a: the façade's encoder ---
void EncodeA(const Row& e, std::string& out) { out += json::serialize(gw::api::EventJson(e)); }

// --- b, c: a direct writer ---
void AppendString(std::string& out, std::string_view s) {
  out += '"';
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  out += '"';
}

void AppendDigits(std::string& out, long long v, int width) {
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0 || n < width);
  while (n > 0) out += buf[--n];
}

/// RFC 3339 UTC with microseconds when non-zero, like gw::FormatIso8601, without snprintf.
void AppendTimeFast(std::string& out, gw::Micros t) {
  auto day = std::chrono::floor<std::chrono::days>(t);
  std::chrono::year_month_day ymd{day};
  auto us_of_day = (t - day).count();
  out += '"';
  AppendDigits(out, static_cast<int>(ymd.year()), 4);
  out += '-';
  AppendDigits(out, static_cast<unsigned>(ymd.month()), 2);
  out += '-';
  AppendDigits(out, static_cast<unsigned>(ymd.day()), 2);
  out += 'T';
  auto secs = us_of_day / 1'000'000;
  AppendDigits(out, secs / 3600, 2);
  out += ':';
  AppendDigits(out, secs / 60 % 60, 2);
  out += ':';
  AppendDigits(out, secs % 60, 2);
  if (auto us = us_of_day % 1'000'000; us != 0) {
    out += '.';
    AppendDigits(out, us, 6);
  }
  out += "Z\"";
}

void AppendTimeSnprintf(std::string& out, gw::Micros t) {
  out += '"';
  out += gw::FormatIso8601(t);
  out += '"';
}

template <void (*AppendTime)(std::string&, gw::Micros)>
void EncodeDirect(const Row& e, std::string& out) {
  auto opt = [&out](const char* key, const std::optional<std::string>& s) {
    out += key;
    if (s) {
      AppendString(out, *s);
    } else {
      out += "null";
    }
  };
  out += "{\"seq\":";
  out += std::to_string(e.seq);
  out += ",\"device_id\":";
  AppendString(out, e.device_id);
  out += ",\"kind\":";
  AppendString(out, gw::store::KindName(e.kind));
  out += ",\"key\":";
  AppendString(out, e.event_key);
  out += ",\"revision\":";
  out += std::to_string(e.revision);
  out += ",\"sources\":[";
  bool first = true;
  for (auto [bit, name] : {std::pair{1, "\"log\""}, {2, "\"match\""}, {4, "\"poller\""}}) {
    if (!(e.sources & bit)) continue;
    if (!first) out += ',';
    out += name;
    first = false;
  }
  out += "],\"device_log_id\":";
  out += e.device_log_id ? std::to_string(*e.device_log_id) : "null";
  out += ",\"log_epoch\":";
  out += std::to_string(e.log_epoch);
  opt(",\"encounter_id\":", e.encounter_id);
  opt(",\"event_type\":", e.event_type);
  opt(",\"info\":", e.info);
  opt(",\"additional_data\":", e.additional_data);
  opt(",\"user_uuid\":", e.user_uuid);
  out += ",\"device_time\":";
  if (e.device_time) {
    AppendTime(out, *e.device_time);
  } else {
    out += "null";
  }
  out += ",\"received_at\":";
  AppendTime(out, e.received_at);
  out += ",\"stored_at\":";
  AppendTime(out, e.stored_at);
  out += ",\"payload\":";
  out += e.payload;  // jsonb's text output is valid JSON
  out += '}';
}

void EncodeD(const Row& e, std::string& out) { gw::api::AppendEventJson(out, e); }

using Encoder = void (*)(const Row&, std::string&);

/// One round: ns per event; the whole page goes into one string as a response would.
double NsPerEvent(Encoder encode, const std::vector<Row>& rows, std::size_t& bytes) {
  std::string out;
  out.reserve(rows.size() * 800);
  auto t0 = Clock::now();
  for (const auto& r : rows) {
    encode(r, out);
    out += '\n';
  }
  auto ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
  bytes = out.size() / rows.size();
  return ns / static_cast<double>(rows.size());
}

}  // namespace

int main() {
  const auto rows = MakeRows(100'000);
  // Every variant must produce the same JSON value as the façade's way.
  for (std::size_t i = 0; i < rows.size(); i += 997) {
    std::string a, b, c, d;
    EncodeA(rows[i], a);
    EncodeD(rows[i], d);
    if (a != d) {
      std::fprintf(stderr, "the writer differs for row %zu:\n%s\n%s\n", i, a.c_str(), d.c_str());
      return 1;
    }
    EncodeDirect<AppendTimeSnprintf>(rows[i], b);
    EncodeDirect<AppendTimeFast>(rows[i], c);
    if (json::parse(a) != json::parse(b) || json::parse(a) != json::parse(c)) {
      std::fprintf(stderr, "variants differ for row %zu:\n%s\n%s\n%s\n", i, a.c_str(), b.c_str(),
                   c.c_str());
      return 1;
    }
  }
  struct Variant {
    const char* name;
    Encoder encode;
  } variants[] = {
      {"a. json::object + parse(payload) + serialize (today)", EncodeA},
      {"b. direct writer, payload spliced, FormatIso8601", EncodeDirect<AppendTimeSnprintf>},
      {"c. direct writer, payload spliced, integer times", EncodeDirect<AppendTimeFast>},
      {"d. gw::api::AppendEventJson (byte-identical to a)", EncodeD},
  };
  // Rounds alternate the variants, so a busy neighbour slows them alike; the best round counts.
  constexpr int kRounds = 9;
  std::vector<double> best(std::size(variants), 1e18);
  std::vector<std::size_t> bytes(std::size(variants), 0);
  for (int round = 0; round < kRounds; ++round) {
    for (std::size_t v = 0; v < std::size(variants); ++v) {
      best[v] = std::min(best[v], NsPerEvent(variants[v].encode, rows, bytes[v]));
    }
  }
  std::printf("%-58s %10s %8s\n", "encoding of one recognition event (100,000 rows, best of 9)",
              "ns/event", "bytes");
  for (std::size_t v = 0; v < std::size(variants); ++v) {
    std::printf("%-58s %10.0f %8zu\n", variants[v].name, best[v], bytes[v]);
  }
  return 0;
}
