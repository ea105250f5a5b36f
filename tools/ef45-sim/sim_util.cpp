#include "sim_util.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>

namespace ef45sim::util {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::string PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      int hi = HexValue(text[i + 1]);
      int lo = HexValue(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> segments;
  segments.reserve(4);
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view segment = path.substr(start, end - start);
    if (!segment.empty()) {
      if (segment.find('%') == std::string_view::npos) {
        segments.emplace_back(segment);
      } else {
        segments.push_back(PercentDecode(segment));
      }
    }
    start = end + 1;
  }
  return segments;
}

std::optional<std::string_view> QueryValue(std::string_view query, std::string_view name) {
  // The firmware does `uri.find(name + "=")`: a plain substring search, so `xpage=` also
  // matches `page=`. Emulated as is.
  std::size_t pos = 0;
  while ((pos = query.find(name, pos)) != std::string_view::npos) {
    std::size_t eq = pos + name.size();
    if (eq < query.size() && query[eq] == '=') {
      std::size_t begin = eq + 1;
      std::size_t end = query.find('&', begin);
      if (end == std::string_view::npos) end = query.size();
      return query.substr(begin, end - begin);
    }
    pos = eq;
  }
  return std::nullopt;
}

std::optional<int> ParseStoi(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    negative = text[i] == '-';
    ++i;
  }
  std::size_t digits_begin = i;
  long long value = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    value = value * 10 + (text[i] - '0');
    if (value > static_cast<long long>(INT_MAX) + 1) return std::nullopt;  // out_of_range
    ++i;
  }
  if (i == digits_begin) return std::nullopt;  // invalid_argument
  if (negative) value = -value;
  if (value > INT_MAX || value < INT_MIN) return std::nullopt;
  return static_cast<int>(value);
}

std::optional<bool> ParseBool(std::string_view text) {
  // Exact words only: `1`/`0` make the boolalpha extraction fail (API.md 1.3).
  auto equals = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
    }
    return true;
  };
  if (equals(text, "true")) return true;
  if (equals(text, "false")) return false;
  return std::nullopt;
}

std::optional<bool> QueryBool(std::string_view query, std::string_view name) {
  auto value = QueryValue(query, name);
  if (!value) return std::nullopt;
  return ParseBool(*value);
}

std::optional<int> QueryInt(std::string_view query, std::string_view name) {
  auto value = QueryValue(query, name);
  if (!value) return std::nullopt;
  return ParseStoi(*value);
}

Response Empty(int status) { return Response{status, "", "", ""}; }

Response Json(int status, std::string body) {
  return Response{status, "", "application/json", std::move(body)};
}

Response JsonValue(int status, const boost::json::value& value) {
  return Json(status, boost::json::serialize(value));
}

Response NoHandler() {
  // Poco's HTTPServerConnection answers 501 with this page when the factory returns no handler.
  return Response{501, "", "text/html",
                  "<html><head><title>501 Not Implemented</title></head>"
                  "<body><h1>501 Not Implemented</h1></body></html>"};
}

Response ControlResult(int status, bool success, std::string_view text) {
  std::string body;
  body.reserve(32 + text.size());
  body += success ? "{\"success\":true,\"status\":" : "{\"success\":false,\"status\":";
  AppendJsonString(body, text);
  body += '}';
  return Json(status, std::move(body));
}

void AppendJsonString(std::string& out, std::string_view text) {
  out += '"';
  std::size_t run = 0;  // start of the pending run of characters that need no escaping
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        out += "\\u00";
        out += kHex[(c >> 4) & 0xf];
        out += kHex[c & 0xf];
      }
    }
  }
  out.append(text.data() + run, text.size() - run);
  out += '"';
}

void AppendInt(std::string& out, std::int64_t value) {
  char buffer[24];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  (void)ec;
  out.append(buffer, end);
}

void AppendDouble(std::string& out, double value) {
  if (!std::isfinite(value)) value = 0.0;
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  (void)ec;
  out.append(buffer, end);
}

std::optional<boost::json::object> ParseObject(std::string_view body) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(body, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.as_object());
}

void AppendBase64(std::string& out, std::string_view bytes) {
  std::size_t at = out.size();
  out.resize(at + (bytes.size() + 2) / 3 * 4);
  char* p = out.data() + at;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    auto b0 = static_cast<unsigned char>(bytes[i]);
    auto b1 = static_cast<unsigned char>(bytes[i + 1]);
    auto b2 = static_cast<unsigned char>(bytes[i + 2]);
    *p++ = kBase64Alphabet[b0 >> 2];
    *p++ = kBase64Alphabet[((b0 & 0x3) << 4) | (b1 >> 4)];
    *p++ = kBase64Alphabet[((b1 & 0xf) << 2) | (b2 >> 6)];
    *p++ = kBase64Alphabet[b2 & 0x3f];
  }
  if (i + 1 == bytes.size()) {
    auto b0 = static_cast<unsigned char>(bytes[i]);
    *p++ = kBase64Alphabet[b0 >> 2];
    *p++ = kBase64Alphabet[(b0 & 0x3) << 4];
    *p++ = '=';
    *p++ = '=';
  } else if (i + 2 == bytes.size()) {
    auto b0 = static_cast<unsigned char>(bytes[i]);
    auto b1 = static_cast<unsigned char>(bytes[i + 1]);
    *p++ = kBase64Alphabet[b0 >> 2];
    *p++ = kBase64Alphabet[((b0 & 0x3) << 4) | (b1 >> 4)];
    *p++ = kBase64Alphabet[(b1 & 0xf) << 2];
    *p++ = '=';
  }
}

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  AppendBase64(out, bytes);
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + k];
      if (c == '=') {
        // Padding only in the last quantum, only in its last two places, and only trailing.
        if (i + 4 != text.size() || k < 2) return std::nullopt;
        ++pad;
        v[k] = 0;
        continue;
      }
      if (pad > 0) return std::nullopt;
      v[k] = Base64Value(c);
      if (v[k] < 0) return std::nullopt;
    }
    std::uint32_t triple =
        (static_cast<std::uint32_t>(v[0]) << 18) | (static_cast<std::uint32_t>(v[1]) << 12) |
        (static_cast<std::uint32_t>(v[2]) << 6) | static_cast<std::uint32_t>(v[3]);
    out += static_cast<char>((triple >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((triple >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(triple & 0xff);
  }
  return out;
}

std::uint64_t SplitMix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

Prng::Prng(std::uint64_t seed) {
  for (auto& word : s_) word = SplitMix64(seed);
}

std::uint64_t Prng::Next() {
  auto rotl = [](std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

std::uint64_t Prng::Below(std::uint64_t n) { return n == 0 ? 0 : Next() % n; }

bool Prng::Chance(unsigned per_mille) { return Below(1000) < per_mille; }

double Prng::Between(double lo, double hi) {
  double unit = static_cast<double>(Next() >> 11) * (1.0 / 9007199254740992.0);
  return lo + (hi - lo) * unit;
}

std::string Prng::Bytes(std::size_t n) {
  std::string out;
  Fill(out, n);
  return out;
}

void Prng::Fill(std::string& out, std::size_t n) {
  out.resize(n);
  std::size_t i = 0;
  while (i < n) {
    std::uint64_t word = Next();
    for (int k = 0; k < 8 && i < n; ++k, ++i) {
      out[i] = static_cast<char>(word & 0xff);
      word >>= 8;
    }
  }
}

std::string Prng::Uuid4() {
  std::uint64_t hi = Next();
  std::uint64_t lo = Next();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 10
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 15; i >= 0; --i) {
    out += kHex[(hi >> (i * 4)) & 0xf];
    if (i == 8 || i == 4) out += '-';
  }
  out += '-';
  for (int i = 15; i >= 0; --i) {
    out += kHex[(lo >> (i * 4)) & 0xf];
    if (i == 12) out += '-';
  }
  return out;
}

std::string IsoUtc(std::int64_t unix_seconds) {
  // Hand-rolled (no snprintf): the log pages format one timestamp per entry.
  using namespace std::chrono;
  sys_seconds tp{seconds{unix_seconds}};
  sys_days day = floor<days>(tp);
  year_month_day ymd{day};
  hh_mm_ss<seconds> hms{tp - day};
  int year = static_cast<int>(ymd.year());
  if (year < 0 || year > 9999) year = 0;
  char text[] = "0000-00-00T00:00:00Z";
  auto put2 = [&](int pos, unsigned value) {
    text[pos] = static_cast<char>('0' + value / 10 % 10);
    text[pos + 1] = static_cast<char>('0' + value % 10);
  };
  put2(0, static_cast<unsigned>(year / 100));
  put2(2, static_cast<unsigned>(year % 100));
  put2(5, static_cast<unsigned>(ymd.month()));
  put2(8, static_cast<unsigned>(ymd.day()));
  put2(11, static_cast<unsigned>(hms.hours().count()));
  put2(14, static_cast<unsigned>(hms.minutes().count()));
  put2(17, static_cast<unsigned>(hms.seconds().count()));
  return std::string(text, 20);
}

std::optional<std::int64_t> ParseDeviceTime(std::string_view text) {
  // MMddhhmmyyyy.ss (BusyBox `date` syntax, API.md 1.5).
  if (text.size() != 15 || text[12] != '.') return std::nullopt;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == 12) continue;
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
  }
  auto number = [&](std::size_t pos, std::size_t len) {
    int value = 0;
    for (std::size_t i = pos; i < pos + len; ++i) value = value * 10 + (text[i] - '0');
    return value;
  };
  int month = number(0, 2), day = number(2, 2), hour = number(4, 2), minute = number(6, 2);
  int year = number(8, 4), second = number(13, 2);
  using namespace std::chrono;
  year_month_day ymd{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                     std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok() || hour > 23 || minute > 59 || second > 59) return std::nullopt;
  sys_seconds tp = sys_days{ymd} + hours{hour} + minutes{minute} + seconds{second};
  return tp.time_since_epoch().count();
}

bool IsUuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return false;
    } else if (HexValue(text[i]) < 0) {
      return false;
    }
  }
  return true;
}

std::string RandomCard(Prng& rng) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string card;
  for (int i = 0; i < 4; ++i) {
    auto byte = static_cast<unsigned>(rng.Below(256));
    if (i) card += ' ';
    card += kHex[byte >> 4];
    card += kHex[byte & 0xf];
  }
  return card;
}

}  // namespace ef45sim::util
