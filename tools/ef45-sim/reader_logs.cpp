// Logs (API.md section 11) and the match-data buffer (section 10).
// Log ids increase strictly (AUTOINCREMENT-like: deleting the newest rows never makes an id
// come back); only a wipe (fault WipeLogs or DELETE /logs/db) restarts them at 1.
#include <algorithm>
#include <climits>

#include "reader_state.hpp"

namespace ef45sim::detail {

using util::Empty;
using util::Json;

namespace {

/// Index of the first log whose id is >= `id`.
std::size_t LowerIndex(const State& st, std::int64_t id) {
  auto it =
      std::lower_bound(st.logs.begin(), st.logs.end(), id,
                       [](const LogEntry& entry, std::int64_t value) { return entry.id < value; });
  return static_cast<std::size_t>(it - st.logs.begin());
}

/// Upper bound of an entry's serialized size (keys, timestamp, id, the variable strings).
std::size_t LogBytes(const LogEntry& entry) {
  return 160 + entry.user_uuid.size() + entry.info.size() + entry.event_type.size() +
         entry.additional_data.size() +
         (entry.defect == LogDefect::kHuge ? kHugeFaceImageBytes : 0);
}

/// Logs with min <= id <= max, ascending, paged (G3).
Response RangePage(const State& st, std::int64_t min, std::int64_t max, Paging paging) {
  std::size_t begin = LowerIndex(st, min);
  std::size_t end = max == INT64_MAX ? st.logs.size() : LowerIndex(st, max + 1);
  if (end < begin) end = begin;
  return Json(
      200, Collection(
               end - begin, paging,
               [&](std::size_t i, std::string& out) { st.SerializeLog(st.logs[begin + i], out); },
               [&](std::size_t i) { return LogBytes(st.logs[begin + i]); }));
}

bool IsDescending(std::string_view query) {
  auto order = util::QueryValue(query, "order");
  if (!order || order->size() != 4) return false;
  std::string lower;
  for (char c : *order) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "desc";
}

}  // namespace

Response HandleLogs(State& st, const Call& call) {
  const auto& seg = call.seg;
  if (seg.size() == 1) {
    if (call.method == "GET") {
      // G1: every log, `order` asc (default) or desc; paged.
      bool desc = IsDescending(call.query);
      Paging paging = ReadPaging(call.query);
      if (desc && st.phantom_newest && paging.page == 1) {
        // Fault: a made-up newest entry first, once (a broken reader's absurd newest id).
        LogEntry phantom;
        phantom.id = *st.phantom_newest;
        phantom.unix_seconds = st.NowSeconds();
        phantom.event_type = "Recognition";
        phantom.info = "Recog/BioOnly/IrisFail";
        phantom.additional_data = "Denied";
        st.phantom_newest.reset();
        std::size_t n = st.logs.size() + 1;
        return Json(200, Collection(n, paging, [&](std::size_t i, std::string& out) {
                      st.SerializeLog(i == 0 ? phantom : st.logs[n - 1 - i], out);
                    }));
      }
      std::size_t n = st.logs.size();
      return Json(200, Collection(
                           n, paging,
                           [&](std::size_t i, std::string& out) {
                             st.SerializeLog(st.logs[desc ? n - 1 - i : i], out);
                           },
                           [&](std::size_t i) { return LogBytes(st.logs[desc ? n - 1 - i : i]); }));
    }
    if (call.method == "DELETE") {
      // G2: ?min=&max= both required; 404 when nothing lies in the range.
      auto min = util::QueryInt(call.query, "min");
      auto max = util::QueryInt(call.query, "max");
      if (!min || !max || *min > *max) return Empty(400);
      std::size_t begin = LowerIndex(st, *min);
      std::size_t end = LowerIndex(st, static_cast<std::int64_t>(*max) + 1);
      if (begin >= end) return Empty(404);
      st.logs.erase(st.logs.begin() + static_cast<std::ptrdiff_t>(begin),
                    st.logs.begin() + static_cast<std::ptrdiff_t>(end));
      return Empty(204);
    }
    return Empty(405);
  }
  const std::string& key = seg[1];
  if (key == "from") {
    if (call.method != "GET") return Empty(405);
    if (seg.size() >= 3 && seg[2] == "count") {
      // G8: `count` logs starting at id `from`.
      auto from = util::QueryInt(call.query, "from");
      auto count = util::QueryInt(call.query, "count");
      if (!from || !count || *count < 1) return Empty(400);
      Paging paging{1, std::min(*count, 1000)};
      return RangePage(st, *from, INT64_MAX, paging);
    }
    // G3: the firmware checks only the "from" segment. A missing min/max is an open range.
    auto min = util::QueryInt(call.query, "min");
    auto max = util::QueryInt(call.query, "max");
    return RangePage(st, min ? *min : INT64_MIN, max ? *max : INT64_MAX, ReadPaging(call.query));
  }
  if (seg.size() != 2) return Empty(400);
  if (key == "vacuum") return call.method == "POST" ? Empty(200) : Empty(405);
  if (key == "db" && call.method == "DELETE") {
    // G6: the table is dropped and recreated, so ids restart at 1 like a wipe.
    st.WipeLogs();
    return Empty(200);
  }
  if (call.method != "GET" && call.method != "DELETE") return Empty(405);
  auto id = util::ParseStoi(key);
  if (!id) return Empty(400);
  std::size_t index = LowerIndex(st, *id);
  bool found = index < st.logs.size() && st.logs[index].id == *id;
  if (call.method == "GET") {
    // G4: one entry as a bare LogEntry (open question 6: single-object responses are bare
    // everywhere else, and a client asking for one id wants one object). 404 when absent.
    if (!found) return Empty(404);
    std::string body;
    st.SerializeLog(st.logs[index], body);
    return Json(200, std::move(body));
  }
  if (!found) return Empty(404);  // G5
  st.logs.erase(st.logs.begin() + static_cast<std::ptrdiff_t>(index));
  return Empty(204);
}

Response HandleMatchData(State& st, const Call& call) {
  if (call.method == "GET") {
    // M1: extra path segments are ignored by the firmware ([C1] calls /match-data/{uuid}).
    return Json(200,
                Collection(
                    st.match.size(), ReadPaging(call.query),
                    [&](std::size_t i, std::string& out) { st.AppendMatchItem(st.match[i], out); },
                    [&](std::size_t i) { return st.MatchItemBytes(st.match[i]); }));
  }
  if (call.method == "DELETE") {
    // M2: the handler pre-sets 400 and overrides it only when the item was found.
    if (call.seg.size() != 2) return Empty(400);
    auto it = std::find_if(st.match.begin(), st.match.end(),
                           [&](const MatchItem& item) { return item.encounter_id == call.seg[1]; });
    if (it == st.match.end()) return Empty(400);
    st.match.erase(it);
    ++st.stats.match_deleted;
    return Empty(200);
  }
  return Empty(405);
}

}  // namespace ef45sim::detail
