#include "common/time.hpp"

#include <array>
#include <charconv>
#include <cstdio>

namespace gw {
namespace {

bool Digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int value = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    value = value * 10 + (s[i] - '0');
  }
  out = value;
  return true;
}

std::optional<std::chrono::sys_days> Date(int y, int m, int d) {
  std::chrono::year_month_day ymd{std::chrono::year(y),
                                  std::chrono::month(static_cast<unsigned>(m)),
                                  std::chrono::day(static_cast<unsigned>(d))};
  if (!ymd.ok()) return std::nullopt;
  return std::chrono::sys_days(ymd);
}

}  // namespace

std::optional<Micros> ParseIso8601(std::string_view s) {
  int y, mo, d, h, mi, sec;
  if (!Digits(s, 0, 4, y) || s.size() < 19 || s[4] != '-' || !Digits(s, 5, 2, mo) || s[7] != '-' ||
      !Digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !Digits(s, 11, 2, h) || s[13] != ':' || !Digits(s, 14, 2, mi) || s[16] != ':' ||
      !Digits(s, 17, 2, sec)) {
    return std::nullopt;
  }
  if (h > 23 || mi > 59 || sec > 60) return std::nullopt;
  auto day = Date(y, mo, d);
  if (!day) return std::nullopt;
  std::size_t pos = 19;
  std::int64_t micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 6) micros = micros * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (int i = digits; i < 6; ++i) micros *= 10;
  }
  std::int64_t offset_s = 0;
  if (pos < s.size()) {
    if ((s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size()) {
      ++pos;
    } else if ((s[pos] == '+' || s[pos] == '-') && pos + 6 == s.size() && s[pos + 3] == ':') {
      int oh, om;
      if (!Digits(s, pos + 1, 2, oh) || !Digits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
        return std::nullopt;
      }
      offset_s = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
      pos = s.size();
    } else {
      return std::nullopt;
    }
  }
  auto t = std::chrono::time_point_cast<std::chrono::microseconds>(*day) + std::chrono::hours(h) +
           std::chrono::minutes(mi) + std::chrono::seconds(sec) +
           std::chrono::microseconds(micros) - std::chrono::seconds(offset_s);
  return Micros(t);
}

std::string FormatIso8601(Micros time) {
  auto day = std::chrono::floor<std::chrono::days>(time);
  std::chrono::year_month_day ymd{day};
  std::chrono::hh_mm_ss hms{time - day};
  std::array<char, 40> buf{};
  auto us = hms.subseconds().count();
  if (us != 0) {
    std::snprintf(buf.data(), buf.size(), "%04d-%02u-%02uT%02ld:%02ld:%02lld.%06lldZ",
                  static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()), static_cast<long>(hms.hours().count()),
                  static_cast<long>(hms.minutes().count()),
                  static_cast<long long>(hms.seconds().count()), static_cast<long long>(us));
  } else {
    std::snprintf(buf.data(), buf.size(), "%04d-%02u-%02uT%02ld:%02ld:%02lldZ",
                  static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()), static_cast<long>(hms.hours().count()),
                  static_cast<long>(hms.minutes().count()),
                  static_cast<long long>(hms.seconds().count()));
  }
  return buf.data();
}

std::optional<std::chrono::system_clock::time_point> ParseHttpDate(std::string_view s) {
  // "Sun, 06 Nov 1994 08:49:37 GMT"
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() != 29 || s[3] != ',' || s.substr(26) != "GMT") return std::nullopt;
  int d, y, h, mi, sec;
  if (!Digits(s, 5, 2, d) || !Digits(s, 12, 4, y) || !Digits(s, 17, 2, h) ||
      !Digits(s, 20, 2, mi) || !Digits(s, 23, 2, sec)) {
    return std::nullopt;
  }
  int month = 0;
  for (int i = 0; i < 12; ++i) {
    if (s.substr(8, 3) == kMonths[static_cast<std::size_t>(i)]) month = i + 1;
  }
  if (month == 0 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  auto day = Date(y, month, d);
  if (!day) return std::nullopt;
  return std::chrono::system_clock::time_point(*day) + std::chrono::hours(h) +
         std::chrono::minutes(mi) + std::chrono::seconds(sec);
}

}  // namespace gw
