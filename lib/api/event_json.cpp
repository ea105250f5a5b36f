#include "api/event_json.hpp"

#include <array>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>

#include "common/time.hpp"

namespace gw::api {

namespace json = boost::json;

json::object EventJson(const store::EventRow& e) {
  json::object o;
  o["seq"] = e.seq;
  o["device_id"] = e.device_id;
  o["kind"] = store::KindName(e.kind);
  o["key"] = e.event_key;
  o["revision"] = e.revision;
  o["sources"] = json::array{};
  auto& sources = o["sources"].as_array();
  if (e.sources & static_cast<int>(store::EventSource::kLog)) sources.emplace_back("log");
  if (e.sources & static_cast<int>(store::EventSource::kMatchData)) sources.emplace_back("match");
  if (e.sources & static_cast<int>(store::EventSource::kPoller)) sources.emplace_back("poller");
  o["device_log_id"] = e.device_log_id ? json::value(*e.device_log_id) : nullptr;
  o["log_epoch"] = e.log_epoch;
  auto opt = [](const std::optional<std::string>& s) {
    return s ? json::value(*s) : json::value(nullptr);
  };
  o["encounter_id"] = opt(e.encounter_id);
  o["event_type"] = opt(e.event_type);
  o["info"] = opt(e.info);
  o["additional_data"] = opt(e.additional_data);
  o["user_uuid"] = opt(e.user_uuid);
  o["device_time"] = e.device_time ? json::value(FormatIso8601(*e.device_time)) : nullptr;
  o["received_at"] = FormatIso8601(e.received_at);
  o["stored_at"] = FormatIso8601(e.stored_at);
  boost::system::error_code ec;
  auto payload = json::parse(e.payload, ec);
  o["payload"] = ec ? json::value(json::object{}) : payload;
  return o;
}

namespace {

void AppendInt(std::string& out, std::int64_t v) {
  std::array<char, 24> buf;
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  (void)ec;  // 24 characters hold any int64
  out.append(buf.data(), end);
}

/// `width` digits of `v` (0 <= v < 10^width) at `at`.
void PutDigits(char* at, std::int64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    at[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

/// "<FormatIso8601(t)>" without snprintf (years 0..9999; others through FormatIso8601).
void AppendTime(std::string& out, Micros t) {
  const auto day = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day ymd{day};
  const int year = static_cast<int>(ymd.year());
  if (year < 0 || year > 9999) {
    out += '"';
    out += FormatIso8601(t);
    out += '"';
    return;
  }
  const std::int64_t us_of_day = (t - day).count();
  const std::int64_t secs = us_of_day / 1'000'000;
  const std::int64_t us = us_of_day % 1'000'000;
  // "YYYY-MM-DDTHH:MM:SS.ffffffZ"
  std::array<char, 29> buf;
  buf[0] = '"';
  PutDigits(&buf[1], year, 4);
  buf[5] = '-';
  PutDigits(&buf[6], static_cast<unsigned>(ymd.month()), 2);
  buf[8] = '-';
  PutDigits(&buf[9], static_cast<unsigned>(ymd.day()), 2);
  buf[11] = 'T';
  PutDigits(&buf[12], secs / 3600, 2);
  buf[14] = ':';
  PutDigits(&buf[15], secs / 60 % 60, 2);
  buf[17] = ':';
  PutDigits(&buf[18], secs % 60, 2);
  std::size_t n = 20;
  if (us != 0) {
    buf[20] = '.';
    PutDigits(&buf[21], us, 6);
    n = 27;
  }
  buf[n++] = 'Z';
  buf[n++] = '"';
  out.append(buf.data(), n);
}

void AppendOptString(std::string& out, const std::optional<std::string>& s) {
  if (s) {
    AppendJsonString(out, *s);
  } else {
    out += "null";
  }
}

/// Copies a JSON object's text into `out` without insignificant whitespace, as long as the
/// result is what boost::json::parse + serialize would write; anything else (see
/// AppendEventJson) makes Copy() return false with `out` unspecified.
class PayloadCompactor {
 public:
  PayloadCompactor(std::string_view in, std::string& out) : in_(in), out_(out) {}

  bool Copy() {
    SkipSpace();
    if (at_ >= in_.size() || in_[at_] != '{' || !Object(1)) return false;
    SkipSpace();
    return at_ == in_.size();
  }

 private:
  static constexpr int kMaxDepth = 24;         // boost::json's parser allows 32
  static constexpr std::size_t kMaxKeys = 32;  // per object; more: through boost::json

  void SkipSpace() {
    while (at_ < in_.size() &&
           (in_[at_] == ' ' || in_[at_] == '\n' || in_[at_] == '\r' || in_[at_] == '\t')) {
      ++at_;
    }
  }
  bool Next(char c) {
    SkipSpace();
    if (at_ >= in_.size() || in_[at_] != c) return false;
    ++at_;
    out_ += c;
    return true;
  }
  bool Value(int depth) {
    SkipSpace();
    if (at_ >= in_.size()) return false;
    switch (in_[at_]) {
      case '{': return Object(depth + 1);
      case '[': return Array(depth + 1);
      case '"': return String();
      case 't': return Literal("true");
      case 'f': return Literal("false");
      case 'n': return Literal("null");
      default: return Number();
    }
  }
  bool Object(int depth) {  // at '{'
    if (depth > kMaxDepth) return false;
    ++at_;
    out_ += '{';
    SkipSpace();
    if (at_ < in_.size() && in_[at_] == '}') {
      ++at_;
      out_ += '}';
      return true;
    }
    // A repeated key (boost::json keeps one of them) goes through boost::json: keys are
    // compared as written, which is as decoded for the strings String() takes.
    std::array<std::string_view, kMaxKeys> keys;
    std::size_t count = 0;
    while (true) {
      SkipSpace();
      const std::size_t key = at_;
      if (at_ >= in_.size() || in_[at_] != '"' || !String() || count == kMaxKeys) return false;
      keys[count] = in_.substr(key, at_ - key);
      for (std::size_t i = 0; i < count; ++i) {
        if (keys[i] == keys[count]) return false;
      }
      ++count;
      if (!Next(':') || !Value(depth)) return false;
      if (Next(',')) continue;
      return Next('}');
    }
  }
  bool Array(int depth) {  // at '['
    if (depth > kMaxDepth) return false;
    ++at_;
    out_ += '[';
    SkipSpace();
    if (at_ < in_.size() && in_[at_] == ']') {
      ++at_;
      out_ += ']';
      return true;
    }
    while (true) {
      if (!Value(depth)) return false;
      if (Next(',')) continue;
      return Next(']');
    }
  }
  /// A string boost::json writes back unchanged: ASCII, escapes only as boost::json writes them
  /// (\" \\ \b \t \n \f \r, \u00xx lowercase for the other control characters).
  bool String() {  // at '"'
    const std::size_t begin = at_++;
    while (at_ < in_.size()) {
      const auto c = static_cast<unsigned char>(in_[at_]);
      if (c == '"') {
        ++at_;
        out_.append(in_.substr(begin, at_ - begin));
        return true;
      }
      if (c >= 0x80 || c < 0x20) return false;
      if (c != '\\') {
        ++at_;
        continue;
      }
      if (at_ + 1 >= in_.size()) return false;
      const char e = in_[at_ + 1];
      if (e == '"' || e == '\\' || e == 'b' || e == 't' || e == 'n' || e == 'f' || e == 'r') {
        at_ += 2;
        continue;
      }
      if (e != 'u' || at_ + 6 > in_.size() || in_[at_ + 2] != '0' || in_[at_ + 3] != '0' ||
          (in_[at_ + 4] != '0' && in_[at_ + 4] != '1')) {
        return false;
      }
      const char lo = in_[at_ + 5];
      int low = 0;
      if (lo >= '0' && lo <= '9') {
        low = lo - '0';
      } else if (lo >= 'a' && lo <= 'f') {
        low = lo - 'a' + 10;
      } else {
        return false;
      }
      const int code = (in_[at_ + 4] - '0') * 16 + low;
      if (code == 0x08 || code == 0x09 || code == 0x0a || code == 0x0c || code == 0x0d) {
        return false;  // boost::json writes these short
      }
      at_ += 6;
    }
    return false;
  }
  bool Literal(std::string_view word) {
    if (in_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    out_ += word;
    return true;
  }
  /// An integer of at most 18 digits (boost::json writes it back as is), not -0.
  bool Number() {
    const std::size_t begin = at_;
    if (in_[at_] == '-') ++at_;
    const std::size_t digits = at_;
    while (at_ < in_.size() && in_[at_] >= '0' && in_[at_] <= '9') ++at_;
    const std::size_t n = at_ - digits;
    if (n == 0 || n > 18 || (in_[digits] == '0' && (n > 1 || digits > begin))) return false;
    if (at_ < in_.size() && (in_[at_] == '.' || in_[at_] == 'e' || in_[at_] == 'E')) return false;
    out_.append(in_.substr(begin, at_ - begin));
    return true;
  }

  std::string_view in_;
  std::string& out_;
  std::size_t at_ = 0;
};

void AppendPayload(std::string& out, const std::string& payload) {
  const std::size_t mark = out.size();
  if (PayloadCompactor(payload, out).Copy()) return;
  out.resize(mark);
  boost::system::error_code ec;
  auto value = json::parse(payload, ec);
  if (ec) {
    out += "{}";
  } else {
    out += json::serialize(value);
  }
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;  // start of the characters not yet appended
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.substr(run, i - run));
    run = i + 1;
    out += '\\';
    switch (c) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '\b': out += 'b'; break;
      case '\t': out += 't'; break;
      case '\n': out += 'n'; break;
      case '\f': out += 'f'; break;
      case '\r': out += 'r'; break;
      default:
        out += "u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
    }
  }
  out.append(s.substr(run));
  out += '"';
}

void AppendEventJson(std::string& out, const store::EventRow& e) {
  out += "{\"seq\":";
  AppendInt(out, e.seq);
  out += ",\"device_id\":";
  AppendJsonString(out, e.device_id);
  out += ",\"kind\":";
  AppendJsonString(out, store::KindName(e.kind));
  out += ",\"key\":";
  AppendJsonString(out, e.event_key);
  out += ",\"revision\":";
  AppendInt(out, e.revision);
  out += ",\"sources\":[";
  bool first = true;
  for (auto [bit, name] : {std::pair{store::EventSource::kLog, "\"log\""},
                           std::pair{store::EventSource::kMatchData, "\"match\""},
                           std::pair{store::EventSource::kPoller, "\"poller\""}}) {
    if (!(e.sources & static_cast<int>(bit))) continue;
    if (!first) out += ',';
    first = false;
    out += name;
  }
  out += "],\"device_log_id\":";
  if (e.device_log_id) {
    AppendInt(out, *e.device_log_id);
  } else {
    out += "null";
  }
  out += ",\"log_epoch\":";
  AppendInt(out, e.log_epoch);
  out += ",\"encounter_id\":";
  AppendOptString(out, e.encounter_id);
  out += ",\"event_type\":";
  AppendOptString(out, e.event_type);
  out += ",\"info\":";
  AppendOptString(out, e.info);
  out += ",\"additional_data\":";
  AppendOptString(out, e.additional_data);
  out += ",\"user_uuid\":";
  AppendOptString(out, e.user_uuid);
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
  AppendPayload(out, e.payload);
  out += '}';
}

std::string EventPageBody(const std::vector<store::EventRow>& events, std::int64_t next) {
  std::string body = "{\"items\":[";
  std::size_t guess = 32;
  for (const auto& e : events) guess += 600 + e.payload.size();
  body.reserve(guess);
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (i > 0) body += ',';
    AppendEventJson(body, events[i]);
  }
  body += "],\"next\":";
  AppendInt(body, next);
  body += '}';
  return body;
}

std::pair<std::size_t, std::size_t> SseFrameData(const std::string& frame) {
  static constexpr std::string_view kData = "\ndata: ";
  auto at = frame.find(kData);
  if (at == std::string::npos) return {0, 0};
  const std::size_t begin = at + kData.size();
  // The frame ends with "\n\n" after the document (serialized JSON has no raw newline).
  const std::size_t end = frame.size() >= begin + 2 ? frame.size() - 2 : begin;
  return {begin, end - begin};
}

void AppendSseFrame(std::string& out, const store::EventRow& e) {
  out += "id: ";
  AppendInt(out, e.seq);
  out += "\nevent: ";
  out += store::KindName(e.kind);
  out += "\ndata: ";
  AppendEventJson(out, e);
  out += "\n\n";
}

std::string SseFrame(const store::EventRow& e) {
  std::string frame;
  frame.reserve(640 + e.payload.size());
  AppendSseFrame(frame, e);
  return frame;
}

}  // namespace gw::api
