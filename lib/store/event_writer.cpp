#include "store/event_writer.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "common/log.hpp"
#include "common/run_blocking.hpp"
#include "common/strand.hpp"
#include "common/task_failure.hpp"
#include "store/pg.hpp"

// Not in <pqxx/pqxx> (deprecated in pqxx 6): see WriteOnce.
#include <pqxx/tablewriter>

namespace gw::store {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

// Length of the UTF-8 sequence at p (1-4), or 0 if it is NUL or not valid UTF-8: what a
// PostgreSQL UTF8 database refuses in text.
std::size_t ValidSequence(const unsigned char* p, const unsigned char* end) {
  unsigned char c = *p;
  int extra;
  if (c == 0) return 0;
  if (c < 0x80) {
    extra = 0;
  } else if ((c & 0xE0) == 0xC0 && c >= 0xC2) {
    extra = 1;
  } else if ((c & 0xF0) == 0xE0) {
    extra = 2;
  } else if ((c & 0xF8) == 0xF0 && c <= 0xF4) {
    extra = 3;
  } else {
    return 0;
  }
  if (end - p <= extra) return 0;
  for (int i = 1; i <= extra; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
  }
  if (extra == 2 && c == 0xE0 && p[1] < 0xA0) return 0;   // overlong
  if (extra == 2 && c == 0xED && p[1] >= 0xA0) return 0;  // surrogates
  if (extra == 3 && c == 0xF0 && p[1] < 0x90) return 0;   // overlong
  if (extra == 3 && c == 0xF4 && p[1] >= 0x90) return 0;  // > U+10FFFF
  return static_cast<std::size_t>(extra) + 1;
}

bool ValidText(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    std::size_t n = ValidSequence(p, end);
    if (n == 0) return false;
    p += n;
  }
  return true;
}

// The original of a sanitised field, as storable text: "\xNN" for each byte ValidText refuses,
// "\\" for a backslash (so the escapes are unambiguous), everything else as it was.
std::string EscapeBytes(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 8);
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    std::size_t n = ValidSequence(p, end);
    if (n == 0) {
      out += "\\x";
      out += kHex[*p >> 4];
      out += kHex[*p & 0xF];
      ++p;
    } else if (*p == '\\') {
      out += "\\\\";
      ++p;
    } else {
      out.append(reinterpret_cast<const char*>(p), n);
      p += n;
    }
  }
  return out;
}

// `s` with each byte ValidText refuses replaced by U+FFFD.
std::string ReplaceBadBytes(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    std::size_t n = ValidSequence(p, end);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++p;
    } else {
      out.append(reinterpret_cast<const char*>(p), n);
      p += n;
    }
  }
  return out;
}

// A time of any year as "YYYY-MM-DD HH:MM:SS.ffffff" (FormatTime's strftime does not pad years
// below 1000 nor handle negative ones): the original of a sanitised device time.
std::string FormatAnyTime(TimePoint t) {
  using namespace std::chrono;
  auto day = floor<days>(t);
  year_month_day ymd{sys_days(day)};
  hh_mm_ss<microseconds> hms{t - day};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02d:%02d:%02d.%06lld",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()),
                static_cast<long long>(hms.subseconds().count()));
  return buf;
}

// PostgreSQL's timestamptz has no year 0 and FormatTime writes four-digit years.
bool StorableTime(TimePoint t) {
  using namespace std::chrono;
  static const auto kMin = time_point_cast<microseconds>(sys_days(year{1} / January / 1));
  static const auto kEnd = time_point_cast<microseconds>(sys_days(year{10000} / January / 1));
  return t >= kMin && t < kEnd;
}

bool ValidOpt(const std::optional<std::string>& s) { return !s || ValidText(std::string_view(*s)); }

// Checks a payload without building it: jsonb refuses NUL in strings (as text, \u0000) and in
// keys, so every string and key (unescaped) is looked at; everything else is the JSON grammar.
// A DOM per event was ~3 us and a dozen allocations at 2,000 events/s (issue 18).
struct PayloadCheck {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);
  bool nul = false;

  bool Text(boost::json::string_view s) {
    nul = nul || s.find('\0') != boost::json::string_view::npos;
    return true;
  }
  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_array_begin(error_code&) { return true; }
  bool on_array_end(std::size_t, error_code&) { return true; }
  bool on_object_begin(error_code&) { return true; }
  bool on_object_end(std::size_t, error_code&) { return true; }
  bool on_string_part(boost::json::string_view s, std::size_t, error_code&) { return Text(s); }
  bool on_string(boost::json::string_view s, std::size_t, error_code&) { return Text(s); }
  bool on_key_part(boost::json::string_view s, std::size_t, error_code&) { return Text(s); }
  bool on_key(boost::json::string_view s, std::size_t, error_code&) { return Text(s); }
  bool on_number_part(boost::json::string_view, error_code&) { return true; }
  bool on_int64(std::int64_t, boost::json::string_view, error_code&) { return true; }
  bool on_uint64(std::uint64_t, boost::json::string_view, error_code&) { return true; }
  bool on_double(double, boost::json::string_view, error_code&) { return true; }
  bool on_bool(bool, error_code&) { return true; }
  bool on_null(error_code&) { return true; }
  bool on_comment_part(boost::json::string_view, error_code&) { return true; }
  bool on_comment(boost::json::string_view, error_code&) { return true; }
};

bool ValidPayload(const std::string& payload) {
  // An object: the first character that is not JSON white space opens one.
  const auto first = payload.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || payload[first] != '{') return false;
  // The limits of boost::json::parse (depth 32), which this check stands for.
  boost::json::basic_parser<PayloadCheck> parser{boost::json::parse_options{}};
  error_code ec;
  const auto n = parser.write_some(false, payload.data(), payload.size(), ec);
  return !ec && n == payload.size() && parser.done() && !parser.handler().nul;
}

// Adds `sanitized` (field names) and `original` (escaped originals) to an event's payload
// object. `payload` must parse as an object.
std::string WithOriginals(const std::string& payload, const boost::json::array& fields,
                          const boost::json::object& originals) {
  auto o = boost::json::parse(payload).as_object();
  auto& list = o["sanitized"];
  if (!list.is_array()) list = boost::json::array();
  for (const auto& f : fields) list.as_array().push_back(f);
  auto& orig = o["original"];
  if (!orig.is_object()) orig = boost::json::object();
  for (const auto& kv : originals) orig.as_object()[kv.key()] = kv.value();
  return boost::json::serialize(o);
}

// The event reduced to its natural key, everything else kept escaped in the payload: what is
// stored when PostgreSQL refused the event as it was.
Event Stripped(const Event& e) {
  Event s;
  s.kind = e.kind;
  s.source = e.source;
  s.device_log_id = e.device_log_id;
  s.log_epoch = e.log_epoch;
  s.encounter_id = e.encounter_id;
  s.natural_key = e.natural_key;
  s.received_at = e.received_at;
  boost::json::array fields;
  boost::json::object originals;
  auto keep = [&](const char* name, const std::optional<std::string>& v) {
    if (!v) return;
    fields.emplace_back(name);
    originals[name] = EscapeBytes(*v);
  };
  keep("event_type", e.event_type);
  keep("info", e.info);
  keep("additional_data", e.additional_data);
  keep("user_uuid", e.user_uuid);
  if (e.device_time) {
    fields.emplace_back("device_time");
    originals["device_time"] = FormatAnyTime(*e.device_time);
  }
  if (e.payload != "{}") {
    fields.emplace_back("payload");
    originals["payload"] = EscapeBytes(e.payload);
  }
  s.payload =
      boost::json::serialize(boost::json::object{{"sanitized", std::move(fields)},
                                                 {"original", std::move(originals)},
                                                 {"quarantine_reason", "refused by PostgreSQL"}});
  return s;
}

// A gap event in place of an event that PostgreSQL refused even stripped (its key is the
// problem): it names the log id (or the escaped key) so the loss is on record.
Event QuarantineGap(const Event& e) {
  Event g;
  g.kind = EventKind::kGap;
  g.source = EventSource::kPoller;
  g.event_type = "gap";
  g.info = "entry refused by PostgreSQL";
  g.log_epoch = e.log_epoch;
  g.received_at = e.received_at;
  boost::json::object p{{"reason", "entry refused by PostgreSQL"}, {"log_epoch", e.log_epoch}};
  if (e.device_log_id) {
    g.natural_key = std::to_string(e.log_epoch) + ":" + std::to_string(*e.device_log_id) + "-" +
                    std::to_string(*e.device_log_id);
    p["from_log_id"] = *e.device_log_id;
    p["to_log_id"] = *e.device_log_id;
  } else {
    std::string key = EventKey(e);
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016zx", std::hash<std::string>{}(key));
    g.natural_key = std::string("quarantined:") + hash;
    p["event_key"] = EscapeBytes(std::string_view(key).substr(0, 256));
  }
  if (e.encounter_id)
    p["encounter_id"] = EscapeBytes(std::string_view(*e.encounter_id).substr(0, 256));
  g.payload = boost::json::serialize(p);
  return g;
}

// Two reports of the same natural key in one transaction become one row before it reaches SQL
// (ON CONFLICT cannot touch a row twice in one statement).
void MergeInto(Event& into, int& into_sources, const Event& from) {
  auto fill = [](auto& a, const auto& b) {
    if (!a && b) a = b;
  };
  if (into.kind == EventKind::kLog) into.kind = from.kind;
  fill(into.device_log_id, from.device_log_id);
  fill(into.encounter_id, from.encounter_id);
  fill(into.event_type, from.event_type);
  fill(into.info, from.info);
  fill(into.additional_data, from.additional_data);
  fill(into.user_uuid, from.user_uuid);
  fill(into.device_time, from.device_time);
  fill(into.received_at, from.received_at);
  into_sources |= static_cast<int>(from.source);
  if (into.payload == "{}" || into.payload.empty()) {
    // A recognition's log entry carries no payload of its own, the usual case: the item's is
    // the merge (no parse and re-serialisation, 5 % of the gateway's CPU at 1,000 readers).
    if (!from.payload.empty()) into.payload = from.payload;
  } else if (from.payload != "{}" && from.payload != into.payload) {
    auto a = boost::json::parse(into.payload).as_object();
    const auto b = boost::json::parse(from.payload).as_object();
    for (const auto& kv : b) {
      if (!a.contains(kv.key())) a[kv.key()] = kv.value();
    }
    into.payload = boost::json::serialize(a);
  }
}

// One row of the transaction: a batch's event as it is, or (two reports of one key) their merge.
// A copy is made only for a merge: copying every event was a quarter of the writer's time.
struct Row {
  const std::string* device_id;
  std::string key;
  const Event* event;
  std::optional<Event> merged;
  int sources;
  const Event& Get() const { return merged ? *merged : *event; }
};

// Merges the rows COPY put in the connection's staging table (see ConnectionPool) into events:
// new keys insert, a new source enriches (new seq), a replayed source changes nothing.
constexpr const char* kMergeStaged = R"sql(
INSERT INTO events AS e (device_id, event_key, kind, sources, device_log_id, log_epoch,
                         encounter_id, event_type, info, additional_data, user_uuid,
                         device_time, received_at, payload)
SELECT t.dev, t.k, t.kd, t.src, t.lid, t.ep, t.enc, t.et, t.inf, t.ad, t.uu,
       t.dt, coalesce(t.ra, now()), t.p
FROM gw_stage t
ORDER BY t.ord
ON CONFLICT ON CONSTRAINT events_natural_key DO UPDATE SET
  seq = gw_next_event_seq(),
  revision = e.revision + 1,
  sources = e.sources | EXCLUDED.sources,
  kind = CASE WHEN e.kind = 'log' THEN EXCLUDED.kind ELSE e.kind END,
  device_log_id = coalesce(e.device_log_id, EXCLUDED.device_log_id),
  encounter_id = coalesce(e.encounter_id, EXCLUDED.encounter_id),
  event_type = coalesce(e.event_type, EXCLUDED.event_type),
  info = coalesce(e.info, EXCLUDED.info),
  additional_data = coalesce(e.additional_data, EXCLUDED.additional_data),
  user_uuid = coalesce(e.user_uuid, EXCLUDED.user_uuid),
  device_time = coalesce(e.device_time, EXCLUDED.device_time),
  payload = EXCLUDED.payload || e.payload,
  stored_at = now()
WHERE (e.sources | EXCLUDED.sources) <> e.sources
RETURNING (xmax = 0) AS inserted, e.device_id, e.seq
)sql";

// The readers' rows of a transaction: the reader, its newest log cursor and door state. One
// statement, run with the merge in one round trip; the foreign keys to devices are checked at
// its end, after the devices CTE has inserted.
constexpr const char* kUpsertState = R"sql(
WITH dv AS (
  INSERT INTO devices (device_id, last_seen_at)
  SELECT d, now() FROM unnest($1::text[]) AS d
  ON CONFLICT (device_id) DO NOTHING
), cu AS (
  INSERT INTO device_cursors AS c (device_id, log_epoch, last_log_id, updated_at)
  SELECT t.dev, t.ep, t.lid, now()
  FROM unnest($2::text[], $3::int8[], $4::int8[]) AS t(dev, ep, lid)
  ON CONFLICT (device_id) DO UPDATE SET
    log_epoch = EXCLUDED.log_epoch, last_log_id = EXCLUDED.last_log_id, updated_at = now()
  WHERE (EXCLUDED.log_epoch, EXCLUDED.last_log_id) > (c.log_epoch, c.last_log_id)
)
INSERT INTO door_state AS d (device_id, door_sensor, relay, tamper, rte, observed_at, changed_at)
SELECT t.dev, t.ds, t.re, t.ta, t.rt, t.obs::timestamptz, t.obs::timestamptz
FROM unnest($5::text[], $6::int4[], $7::int4[], $8::int4[], $9::int4[], $10::text[])
     AS t(dev, ds, re, ta, rt, obs)
ON CONFLICT (device_id) DO UPDATE SET
  door_sensor = EXCLUDED.door_sensor, relay = EXCLUDED.relay, tamper = EXCLUDED.tamper,
  rte = EXCLUDED.rte, observed_at = EXCLUDED.observed_at,
  changed_at = CASE WHEN (d.door_sensor, d.relay, d.tamper, d.rte) IS DISTINCT FROM
                         (EXCLUDED.door_sensor, EXCLUDED.relay, EXCLUDED.tamper, EXCLUDED.rte)
                    THEN EXCLUDED.observed_at ELSE d.changed_at END
WHERE EXCLUDED.observed_at >= d.observed_at
)sql";

// The lease fence (cluster mode): the (reader, epoch) pairs this node still holds unexpired on
// the database clock. FOR SHARE keeps the rows until commit, so no other node can claim them
// while this transaction writes; rows are locked in device_id order, as the lease renewal does.
constexpr const char* kLeaseFence = R"sql(
SELECT l.device_id, l.epoch
FROM device_leases l
JOIN unnest($2::text[], $3::int8[]) AS f(dev, ep) ON l.device_id = f.dev AND l.epoch = f.ep
WHERE l.owner = $1 AND l.expires_at > clock_timestamp()
ORDER BY l.device_id
FOR SHARE OF l
)sql";

// COPY's text format (PostgreSQL "COPY", File Formats): a field's backslash, newline, carriage
// return and tab are escaped. Runs between them are found by strcspn (SIMD in glibc) and copied
// whole; JSON payloads have a backslash now and then, the other three hardly ever.
void AppendCopyText(std::string& out, const std::string& v) {
  const char* p = v.c_str();
  const char* const end = p + v.size();
  while (true) {
    const char* stop = p + std::strcspn(p, "\\\n\r\t");  // at `end`'s NUL at the latest
    out.append(p, static_cast<std::size_t>(stop - p));
    if (stop >= end) return;
    switch (*stop) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: out += '\0'; break;  // a NUL inside: refused before here, never cut short
    }
    p = stop + 1;
  }
}

// One COPY line per row (into gw_stage): ord, device_id, event_key, kind, sources, device_log_id,
// log_epoch, encounter_id, event_type, info, additional_data, user_uuid, device_time, received_at,
// payload. `default_received_at` fills a missing received_at when the target column has no default.
// The lines are escaped here and handed to libpq in chunks of ~8 KB, within libpq's own 16 KB
// output buffer (a larger chunk grows that buffer for the connection's life). pqxx's stream_to
// escaped each field a byte at a time into temporary strings: ~38,000 instructions per row for a
// 700-byte payload (issue 18).
void CopyRows(pqxx::tablewriter& copy, const std::vector<Row>& rows,
              const std::string& default_received_at) {
  constexpr std::size_t kChunk = 8 * 1024;
  std::string text;
  text.reserve(kChunk + 2048);
  std::array<char, 24> number;
  auto put_int = [&](std::int64_t value) {
    auto end = std::to_chars(number.data(), number.data() + number.size(), value).ptr;
    text.append(number.data(), static_cast<std::size_t>(end - number.data()));
  };
  auto field = [&](const std::string& value) {
    AppendCopyText(text, value);
    text += '\t';
  };
  auto opt = [&](const std::optional<std::string>& value) {
    if (value) {
      AppendCopyText(text, *value);
    } else {
      text += "\\N";
    }
    text += '\t';
  };
  auto time = [&](const std::optional<TimePoint>& t, std::string_view fallback) {
    if (t) {
      detail::TimeText buf;
      text.append(buf.data(), detail::FormatTimeTo(*t, buf));
    } else if (!fallback.empty()) {
      text += fallback;
    } else {
      text += "\\N";
    }
    text += '\t';
  };
  std::int64_t n = 0;
  for (const Row& r : rows) {
    const Event& e = r.Get();
    if (!text.empty()) text += '\n';
    put_int(++n);
    text += '\t';
    field(*r.device_id);
    field(r.key);
    text += KindName(e.kind);  // an identifier: nothing to escape
    text += '\t';
    put_int(r.sources);
    text += '\t';
    if (e.device_log_id) {
      put_int(*e.device_log_id);
    } else {
      text += "\\N";
    }
    text += '\t';
    put_int(e.log_epoch);
    text += '\t';
    opt(e.encounter_id);
    opt(e.event_type);
    opt(e.info);
    opt(e.additional_data);
    opt(e.user_uuid);
    time(e.device_time, {});
    time(e.received_at, default_received_at);
    AppendCopyText(text, e.payload);
    if (text.size() >= kChunk) {
      copy.write_raw_line(text);  // adds the last line's newline
      text.clear();
    }
  }
  if (!text.empty()) copy.write_raw_line(text);
}

// What one transaction writes: the batches' events merged per natural key, the newest cursor
// and door state per reader.
struct Collected {
  std::vector<Row> rows;
  std::map<std::string, Cursor> cursors;
  std::map<std::string, DoorState> doors;
  std::vector<std::string> devices;  // sorted, unique
};

Collected Collect(const std::vector<const DeviceBatch*>& batches) {
  Collected c;
  std::size_t events = 0;
  for (const DeviceBatch* b : batches) events += b->events.size();
  // Reserved: the index points at the rows' keys, which must not move.
  c.rows.reserve(events);
  struct Key {
    std::string_view device_id, key;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
      std::hash<std::string_view> h;
      return h(k.device_id) * 31 + h(k.key);
    }
  };
  std::unordered_map<Key, std::size_t, KeyHash> index;
  index.reserve(events);
  for (const DeviceBatch* b : batches) {
    c.devices.push_back(b->device_id);
    for (const Event& e : b->events) {
      c.rows.push_back({&b->device_id, EventKey(e), &e, std::nullopt, static_cast<int>(e.source)});
      auto [it, fresh] = index.try_emplace(Key{b->device_id, c.rows.back().key}, c.rows.size() - 1);
      if (!fresh) {
        c.rows.pop_back();
        Row& r = c.rows[it->second];
        if (!r.merged) r.merged = *r.event;
        MergeInto(*r.merged, r.sources, e);
      }
    }
    if (b->cursor) {
      auto [it, fresh] = c.cursors.emplace(b->device_id, *b->cursor);
      const Cursor& next = *b->cursor;
      if (!fresh && std::pair(next.log_epoch, next.last_log_id) >
                        std::pair(it->second.log_epoch, it->second.last_log_id)) {
        it->second = next;
      }
    }
    if (b->door_state) {
      auto [it, fresh] = c.doors.emplace(b->device_id, *b->door_state);
      if (!fresh && b->door_state->observed_at >= it->second.observed_at) {
        it->second = *b->door_state;
      }
    }
  }
  std::sort(c.devices.begin(), c.devices.end());
  c.devices.erase(std::unique(c.devices.begin(), c.devices.end()), c.devices.end());
  return c;
}

// Cluster mode: the batches whose lease this node still holds (their rows stay locked until
// commit); the others go to counts.fenced.
std::vector<const DeviceBatch*> Fence(pqxx::connection& conn, pqxx::work& tx,
                                      const std::vector<const DeviceBatch*>& all,
                                      const std::string& fence_owner, WriteCounts& counts) {
  detail::ArrayLiteral dev, ep;
  for (const DeviceBatch* b : all) {
    dev.Add(b->device_id);
    ep.AddInt(b->lease_epoch);
  }
  conn.prepare("gw_lease_fence", kLeaseFence);
  std::set<std::pair<std::string, std::int64_t>> held;
  for (const auto& r : tx.exec_prepared("gw_lease_fence", fence_owner, dev.Finish(), ep.Finish())) {
    held.emplace(r[0].as<std::string>(), r[1].as<std::int64_t>());
  }
  std::vector<const DeviceBatch*> kept;
  for (const DeviceBatch* b : all) {
    if (held.count({b->device_id, b->lease_epoch})) {
      kept.push_back(b);
    } else {
      counts.fenced.push_back(b->device_id);
    }
  }
  return kept;
}

bool WriteOnce(pqxx::connection& conn, const std::vector<const DeviceBatch*>& all,
               const std::string& fence_owner, WriteCounts& counts);

WriteCounts WriteBlocking(pqxx::connection& conn, std::vector<const DeviceBatch*> all,
                          const std::string& fence_owner) {
  WriteCounts counts;
  // A fenced batch is rare (a lease lost): the transaction then starts again without it, so the
  // stage holds exactly what is written.
  while (true) {
    auto fenced = counts.fenced.size();
    if (WriteOnce(conn, all, fence_owner, counts)) return counts;
    std::vector<const DeviceBatch*> kept;
    for (const DeviceBatch* b : all) {
      if (std::find(counts.fenced.begin() + static_cast<std::ptrdiff_t>(fenced),
                    counts.fenced.end(), b->device_id) == counts.fenced.end()) {
        kept.push_back(b);
      }
    }
    if (kept.empty()) return counts;
    all = std::move(kept);
  }
}

/// One attempt: false (rolled back) when the fence dropped some of the batches.
bool WriteOnce(pqxx::connection& conn, const std::vector<const DeviceBatch*>& all,
               const std::string& fence_owner, WriteCounts& counts) {
  pqxx::work tx(conn);
  Collected w = Collect(all);
  // Every row reaches the server before any shared lock is taken. A backend waiting for COPY
  // data services only termination, not statement_timeout: a process paused mid-COPY while
  // holding the lease fence or the commit-order lock would stall every other writer and every
  // lease claim until it resumed. The staging table is this session's own; from here on the
  // transaction runs statements only (statement_timeout, then
  // idle_in_transaction_session_timeout, bound how long a stalled client keeps its locks).
  if (!w.rows.empty()) {
    std::string now = detail::FormatTime(
        std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now()));
    // tablewriter, deprecated in pqxx 6 in favour of stream_to, is the one public way to hand
    // libpq lines escaped by us (stream_to's write_raw_line is private). Its warning about
    // multibyte encodings is about client encodings where a backslash byte can sit inside a
    // character; our connections are UTF-8, where it cannot.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    pqxx::tablewriter copy(tx, "gw_stage");
#pragma GCC diagnostic pop
    CopyRows(copy, w.rows, now);
    copy.complete();
  }
  if (!fence_owner.empty() && Fence(conn, tx, all, fence_owner, counts).size() != all.size()) {
    return false;  // the rollback releases the row locks and empties the stage
  }
  // The readers' rows (devices, cursors, door states), as EXECUTE arguments.
  detail::ArrayLiteral ids, cur_dev, cur_ep, cur_lid, door_dev, ds, re, ta, rt, obs;
  for (const auto& d : w.devices) ids.Add(d);
  for (const auto& [d, c] : w.cursors) {
    cur_dev.Add(d);
    cur_ep.AddInt(c.log_epoch);
    cur_lid.AddInt(c.last_log_id);
  }
  for (const auto& [d, s] : w.doors) {
    door_dev.Add(d);
    ds.AddInt(std::int64_t{s.door_sensor});
    re.AddInt(std::int64_t{s.relay});
    ta.AddInt(std::int64_t{s.tamper});
    rt.AddInt(std::int64_t{s.rte});
    obs.Add(detail::FormatTime(s.observed_at));
  }
  std::string state = "EXECUTE gw_upsert_state(";
  bool first = true;
  for (auto* a : {&ids, &cur_dev, &cur_ep, &cur_lid, &door_dev, &ds, &re, &ta, &rt, &obs}) {
    if (!first) state += ',';
    first = false;
    state += tx.quote(a->Finish());
  }
  state += ')';
  // Prepared now, not at a first exec_prepared: the statements are run by SQL EXECUTE.
  conn.prepare("gw_upsert_state", kUpsertState);
  conn.prepare_now("gw_upsert_state");
  if (w.rows.empty()) {
    tx.exec(state);
  } else {
    // One round trip: the commit-order lock first (gw_next_event_seq would take it at the first
    // row anyway): while we hold it no other writer can add or re-sequence events, and every
    // row lock is taken under it. Then the readers' rows, then the merge, whose result (the
    // last statement's) is what comes back: new keys insert (seq in row order), a new source
    // enriches (new seq), a replayed source changes nothing.
    conn.prepare("gw_merge_staged", kMergeStaged);
    conn.prepare_now("gw_merge_staged");
    const auto merged =
        tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(detail::kSeqLockKey) + "); " +
                state + "; EXECUTE gw_merge_staged");
    for (const auto& r : merged) {
      if (r[0].as<bool>()) {
        ++counts.inserted;
      } else {
        ++counts.enriched;
      }
      auto seq = r[2].as<std::int64_t>();
      auto [it, fresh] = counts.last_seq.try_emplace(r[1].as<std::string>(), seq);
      if (!fresh) it->second = std::max(it->second, seq);
    }
    counts.ignored = static_cast<std::int64_t>(w.rows.size()) - counts.inserted - counts.enriched;
  }
  tx.commit();
  return true;
}

log::RateLimit& FenceLogLimit() {
  static log::RateLimit limit(5, std::chrono::seconds(60));
  return limit;
}

log::RateLimit& RefusedLogLimit() {
  static log::RateLimit limit(5, std::chrono::seconds(60));
  return limit;
}

log::RateLimit& QuarantineLogLimit() {
  static log::RateLimit limit(5, std::chrono::seconds(60));
  return limit;
}

log::RateLimit& OutageLogLimit() {
  static log::RateLimit limit(3, std::chrono::seconds(60));
  return limit;
}

std::string Suppressed(long suppressed) {
  return suppressed ? " (" + std::to_string(suppressed) + " suppressed)" : std::string();
}

/// The lease fence left readers out of a commit (rate-limited).
void LogFenced(const std::vector<std::string>& fenced) {
  long suppressed = 0;
  if (fenced.empty() || !FenceLogLimit().Allow(suppressed)) return;
  GW_LOG(kWarn, "store") << "lease lost: refused the batches of " << fenced.size()
                         << " reader(s), first " << fenced.front() << Suppressed(suppressed);
}

/// PostgreSQL refused a commit's data: the caller isolates the entry (rate-limited).
void LogRefused(std::size_t batches) {
  long suppressed = 0;
  if (!RefusedLogLimit().Allow(suppressed)) return;
  GW_LOG(kWarn, "store") << "PostgreSQL refused a batch of " << batches
                         << " reader batch(es); isolating the refused entry"
                         << Suppressed(suppressed);
}

/// A commit failed and is retried after `backoff` (rate-limited).
void LogRetry(const boost::system::error_code& error, std::chrono::milliseconds backoff) {
  long suppressed = 0;
  if (!OutageLogLimit().Allow(suppressed)) return;
  GW_LOG(kWarn, "store") << "event commit failed (" << ReasonName(error) << "), retrying in "
                         << backoff.count() << " ms" << Suppressed(suppressed);
}

}  // namespace

std::vector<std::string> SanitizeBatch(DeviceBatch& batch) {
  std::vector<std::string> reasons;
  for (Event& e : batch.events) {
    boost::json::array fields;
    boost::json::object originals;
    const char* reason = nullptr;
    auto text = [&](const char* name, std::string& v) {
      if (ValidText(std::string_view(v))) return;
      fields.emplace_back(name);
      originals[name] = EscapeBytes(v);
      v = ReplaceBadBytes(v);
      if (!reason) reason = "bad_text";
    };
    auto opt = [&](const char* name, std::optional<std::string>& v) {
      if (v) text(name, *v);
    };
    opt("encounter_id", e.encounter_id);
    opt("event_type", e.event_type);
    opt("info", e.info);
    opt("additional_data", e.additional_data);
    opt("user_uuid", e.user_uuid);
    if (!e.natural_key.empty()) text("natural_key", e.natural_key);
    if (e.device_time && !StorableTime(*e.device_time)) {
      fields.emplace_back("device_time");
      originals["device_time"] = FormatAnyTime(*e.device_time);
      e.device_time.reset();
      if (!reason) reason = "bad_time";
    }
    if (!ValidPayload(e.payload)) {
      fields.emplace_back("payload");
      originals["payload"] = EscapeBytes(e.payload);
      e.payload = "{}";
      if (!reason) reason = "bad_payload";
    }
    if (!reason) continue;
    e.payload = WithOriginals(e.payload, fields, originals);
    reasons.emplace_back(reason);
  }
  return reasons;
}

namespace {

// ValidateBatch without the text and payload checks SanitizeBatch has just made true (each
// payload is parsed once on the way in, not twice).
std::string ValidateShape(const DeviceBatch& batch) {
  if (batch.device_id.empty() || batch.device_id.size() > 64 ||
      !ValidText(std::string_view(batch.device_id))) {
    return "device_id must be 1-64 characters of UTF-8";
  }
  for (std::size_t i = 0; i < batch.events.size(); ++i) {
    const Event& e = batch.events[i];
    std::string where = "event " + std::to_string(i) + ": ";
    if (EventKey(e).empty()) return where + "no natural key (log id, encounter id or key)";
    if (e.log_epoch < 0) return where + "negative log_epoch";
  }
  if (batch.cursor && batch.cursor->log_epoch < 0) return "negative cursor log_epoch";
  return {};
}

}  // namespace

std::string ValidateBatch(const DeviceBatch& batch) {
  if (batch.device_id.empty() || batch.device_id.size() > 64 ||
      !ValidText(std::string_view(batch.device_id))) {
    return "device_id must be 1-64 characters of UTF-8";
  }
  for (std::size_t i = 0; i < batch.events.size(); ++i) {
    const Event& e = batch.events[i];
    std::string where = "event " + std::to_string(i) + ": ";
    if (EventKey(e).empty()) return where + "no natural key (log id, encounter id or key)";
    if (!ValidOpt(e.encounter_id) || !ValidOpt(e.event_type) || !ValidOpt(e.info) ||
        !ValidOpt(e.additional_data) || !ValidOpt(e.user_uuid) ||
        !ValidText(std::string_view(e.natural_key))) {
      return where + "text field is not UTF-8 or contains NUL";
    }
    if (!ValidPayload(e.payload)) return where + "payload is not a JSON object";
    if (e.log_epoch < 0) return where + "negative log_epoch";
  }
  if (batch.cursor && batch.cursor->log_epoch < 0) return "negative cursor log_epoch";
  return {};
}

Result<WriteCounts> WriteBatchesBlocking(Database& db,
                                         const std::vector<const DeviceBatch*>& batches,
                                         const std::string& fence_owner) {
  return detail::WithConnectionBlocking<WriteCounts>(db.Connections(), [&](pqxx::connection& conn) {
    return WriteBlocking(conn, batches, fence_owner);
  });
}

EventWriter::EventWriter(asio::any_io_executor executor, Database& db, WriterOptions options)
    : db_(db), options_(options), strand_(MakeStrand(executor)), wake_(strand_), running_() {
  options_.max_batch_events = std::max(1, options_.max_batch_events);
  options_.queue_capacity = std::max(options_.max_batch_events, options_.queue_capacity);
  options_.max_in_flight = std::max(1, options_.max_in_flight);
}

EventWriter::~EventWriter() = default;

void EventWriter::Start() {
  running_.Add();  // now, not on the strand: a Stop() right after Start() waits for Run()
  asio::post(strand_, [this] {
    started_ = true;
    asio::co_spawn(strand_, Run(), [this](std::exception_ptr e) {
      ReportTaskFailure("store", "event writer", e);
      finished_ = true;
      running_.Done();
    });
  });
}

asio::awaitable<error_code> EventWriter::Write(DeviceBatch batch) {
  auto [ec, last_seq] = co_await AsyncWrite(std::move(batch), asio::as_tuple(asio::use_awaitable));
  co_return ec;
}

asio::awaitable<WriteAck> EventWriter::WriteAcked(DeviceBatch batch) {
  auto [ec, last_seq] = co_await AsyncWrite(std::move(batch), asio::as_tuple(asio::use_awaitable));
  co_return WriteAck{ec, last_seq};
}

std::int64_t EventWriter::TakeLastSeq(const std::string& device_id) {
  auto it = last_seq_.find(device_id);
  if (it == last_seq_.end()) return 0;
  auto seq = it->second;
  last_seq_.erase(it);
  return seq;
}

void EventWriter::Enqueue(PendingPtr item) {
  item->quarantined = SanitizeBatch(item->batch);
  std::string problem = ValidateShape(item->batch);
  if (!problem.empty()) {
    ++rejected_;
    GW_LOG(kWarn, "store") << "refused a batch from reader " << item->batch.device_id << ": "
                           << problem;
    item->done->Complete(Errc::kBadRequest, 0);
    return;
  }
  if (!options_.fence_owner.empty() && item->batch.lease_epoch == 0) {
    // Stamp the epoch now: a batch produced under a lease this node has since lost (and maybe
    // re-claimed with a newer epoch) must not commit under the new one.
    auto epoch = options_.lease_epoch ? options_.lease_epoch(item->batch.device_id) : std::nullopt;
    if (!epoch) {
      ++fenced_;
      item->done->Complete(Errc::kLeaseLost, 0);
      return;
    }
    item->batch.lease_epoch = *epoch;
  }
  item->events = item->batch.events.size();
  asio::post(strand_, [this, item = std::move(item)]() mutable {
    if (stopping_ || finished_) {
      item->done->Complete(Errc::kCancelled, 0);
      return;
    }
    item->enqueued = Clock::now();
    waiting_.push_back(std::move(item));
    // Run waits for a first batch, or for a transaction to fill until its deadline: wake it
    // for the first or a full one only, not for every reader's batch (issue 18).
    const bool was_empty = queue_.empty();
    Admit();
    if (was_empty || queue_events_ >= static_cast<std::size_t>(options_.max_batch_events)) Wake();
  });
}

void EventWriter::Admit() {
  while (!waiting_.empty() &&
         (accepted_events_ == 0 || accepted_events_ + waiting_.front()->events <=
                                       static_cast<std::size_t>(options_.queue_capacity))) {
    accepted_events_ += waiting_.front()->events;
    queue_events_ += waiting_.front()->events;
    queue_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
  queued_events_ = accepted_events_;
  waiting_batches_ = waiting_.size();
}

void EventWriter::Wake() { wake_.cancel(); }

asio::awaitable<void> EventWriter::WaitWake(Clock::time_point until) {
  wake_.expires_at(until);
  co_await wake_.async_wait(asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<void> EventWriter::Run() {
  for (;;) {
    if (stopping_ && Clock::now() >= stop_deadline_) {
      // Out of time: what never reached a transaction fails now; the transactions in flight
      // give up at their next retry.
      for (auto* q : {&queue_, &waiting_}) {
        for (auto& p : *q) {
          accepted_events_ -= q == &queue_ ? p->events : 0;
          p->done->Complete(Errc::kCancelled, 0);
        }
        q->clear();
      }
      queue_events_ = 0;
      if (in_flight_ == 0) break;
      co_await WaitWake(Clock::time_point::max());
      continue;
    }
    if (queue_.empty() || in_flight_ >= options_.max_in_flight) {
      if (stopping_ && queue_.empty() && waiting_.empty() && in_flight_ == 0) break;
      co_await WaitWake(stopping_ ? stop_deadline_ : Clock::time_point::max());
      continue;
    }
    // Wait a little for more batches: one transaction per many readers is what makes
    // 1,000 readers affordable. A full batch or Stop() goes at once.
    auto deadline = queue_.front()->enqueued + options_.max_delay;
    while (!stopping_ && Clock::now() < deadline &&
           queue_events_ < static_cast<std::size_t>(options_.max_batch_events)) {
      co_await WaitWake(deadline);
    }
    std::vector<PendingPtr> batch;
    std::size_t n = 0;
    while (!queue_.empty() &&
           (batch.empty() ||
            n + queue_.front()->events <= static_cast<std::size_t>(options_.max_batch_events))) {
      n += queue_.front()->events;
      queue_events_ -= queue_.front()->events;
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    ++in_flight_;
    asio::co_spawn(strand_, Commit(std::move(batch)), LogFailure("store", "event commit"));
  }
  finished_ = true;
}

asio::awaitable<void> EventWriter::Commit(std::vector<PendingPtr> batch) {
  std::vector<const DeviceBatch*> all;
  std::size_t events = 0;
  for (const auto& p : batch) {
    all.push_back(&p->batch);
    events += p->events;
  }
  std::vector<std::string> fenced;
  // A batch dropped between retries (its lease was given up) completes at once; `done` is then
  // empty.
  auto drop = [this, &batch](const DeviceBatch& b) {
    for (auto& p : batch) {
      if (&p->batch != &b || !p->done) continue;
      ++fenced_;
      p->done->Complete(Errc::kLeaseLost, 0);
      p->done.reset();
    }
  };
  error_code ec = co_await CommitWithRetry(all, fenced, drop);
  auto lost = [&fenced](const DeviceBatch& b) {
    return std::find(fenced.begin(), fenced.end(), b.device_id) != fenced.end();
  };
  if (ec == Errc::kBadRequest) {
    // Something in the transaction was refused: commit each reader's batch on its own, and split
    // a refused one until the refused event is found, so one bad entry holds up nothing.
    for (auto& p : batch) {
      if (!p->done) continue;
      fenced.clear();
      error_code one_ec = Errc::kBadRequest;
      if (batch.size() > 1) {
        std::vector<const DeviceBatch*> one{&p->batch};
        one_ec = co_await CommitWithRetry(one, fenced);
      }
      if (one_ec == Errc::kBadRequest) {
        fenced.clear();
        one_ec = co_await CommitIsolating(p->batch, 0, p->batch.events.size(), true, fenced);
      }
      if (one_ec == Errc::kBadRequest) ++rejected_;
      if (!one_ec && lost(p->batch)) {
        one_ec = Errc::kLeaseLost;
        ++fenced_;
      }
      if (!one_ec) {
        for (const auto& reason : p->quarantined) Quarantined(p->batch.device_id, reason);
      }
      p->done->Complete(one_ec, one_ec ? 0 : TakeLastSeq(p->batch.device_id));
      p->done.reset();
    }
  } else {
    for (auto& p : batch) {
      if (!p->done) continue;
      if (!ec && lost(p->batch)) {
        ++fenced_;
        p->done->Complete(Errc::kLeaseLost, 0);
      } else {
        if (!ec) {
          for (const auto& reason : p->quarantined) Quarantined(p->batch.device_id, reason);
        }
        p->done->Complete(ec, ec ? 0 : TakeLastSeq(p->batch.device_id));
      }
    }
  }
  accepted_events_ -= events;
  --in_flight_;
  Admit();
  Wake();
}

asio::awaitable<error_code> EventWriter::CommitIsolating(const DeviceBatch& whole, std::size_t lo,
                                                         std::size_t hi, bool last,
                                                         std::vector<std::string>& fenced) {
  DeviceBatch part;
  part.device_id = whole.device_id;
  part.lease_epoch = whole.lease_epoch;
  part.events.assign(whole.events.begin() + static_cast<std::ptrdiff_t>(lo),
                     whole.events.begin() + static_cast<std::ptrdiff_t>(hi));
  if (last) {
    // Only the last part moves the cursor: until it commits, a crash replays the whole batch
    // (and the natural keys make the parts already stored a no-op).
    part.cursor = whole.cursor;
    part.door_state = whole.door_state;
  }
  std::vector<const DeviceBatch*> one{&part};
  error_code ec = co_await CommitWithRetry(one, fenced);
  if (ec != Errc::kBadRequest || hi == lo) co_return ec;
  if (hi - lo > 1) {
    std::size_t mid = lo + (hi - lo) / 2;
    ec = co_await CommitIsolating(whole, lo, mid, false, fenced);
    // Fenced or dropped: the rest (with the cursor) must not commit without it.
    if (ec || !fenced.empty()) co_return ec;
    co_return co_await CommitIsolating(whole, mid, hi, last, fenced);
  }
  // The one event PostgreSQL refuses: store what can be stored of it, or say it is gone.
  const Event& bad = whole.events[lo];
  for (int attempt = 0; attempt < 2; ++attempt) {
    part.events = {attempt == 0 ? Stripped(bad) : QuarantineGap(bad)};
    ec = co_await CommitWithRetry(one, fenced);
    if (ec != Errc::kBadRequest) {
      if (!ec && fenced.empty()) {
        long suppressed = 0;
        if (QuarantineLogLimit().Allow(suppressed)) {
          GW_LOG(kWarn, "store") << "reader " << whole.device_id << ": PostgreSQL refused "
                                 << (bad.device_log_id
                                         ? "log entry " + std::to_string(*bad.device_log_id)
                                         : std::string("an event"))
                                 << "; stored " << (attempt == 0 ? "stripped" : "as a gap")
                                 << (suppressed ? " (" + std::to_string(suppressed) + " suppressed)"
                                                : std::string());
        }
        Quarantined(whole.device_id, "db_refused");
      }
      co_return ec;
    }
  }
  co_return ec;
}

void EventWriter::Quarantined(const std::string& device_id, std::string_view reason) {
  ++quarantined_;
  if (options_.on_quarantine) options_.on_quarantine(device_id, reason);
}

std::vector<const DeviceBatch*> EventWriter::DropGivenUp(
    std::vector<const DeviceBatch*>& batches) const {
  std::vector<const DeviceBatch*> dropped;
  if (options_.fence_owner.empty() || !options_.lease_epoch) return dropped;
  std::erase_if(batches, [&](const DeviceBatch* b) {
    auto epoch = options_.lease_epoch(b->device_id);
    if (epoch && *epoch == b->lease_epoch) return false;
    dropped.push_back(b);
    return true;
  });
  if (!dropped.empty()) {
    long suppressed = 0;
    if (FenceLogLimit().Allow(suppressed)) {
      GW_LOG(kWarn, "store") << "lease given up while its commit was retried: dropped the batches "
                             << "of " << dropped.size() << " reader(s), first "
                             << dropped.front()->device_id
                             << (suppressed ? " (" + std::to_string(suppressed) + " suppressed)"
                                            : std::string());
    }
  }
  return dropped;
}

void EventWriter::CountCommit(const WriteCounts& counts,
                              const std::vector<const DeviceBatch*>& committed,
                              std::chrono::steady_clock::time_point start) {
  last_commit_seconds_ = std::chrono::duration<double>(Clock::now() - start).count();
  ++transactions_;
  if (options_.on_commit) {
    std::size_t events = 0;
    for (const auto* b : committed) events += b->events.size();
    options_.on_commit(events, last_commit_seconds_);
  }
  for (const auto& [device, seq] : counts.last_seq) {
    auto [it, fresh] = last_seq_.try_emplace(device, seq);
    if (!fresh) it->second = std::max(it->second, seq);
  }
  inserted_ += static_cast<std::uint64_t>(counts.inserted);
  enriched_ += static_cast<std::uint64_t>(counts.enriched);
  ignored_ += static_cast<std::uint64_t>(counts.ignored);
}

asio::awaitable<error_code> EventWriter::CommitWithRetry(
    const std::vector<const DeviceBatch*>& batches, std::vector<std::string>& fenced,
    const std::function<void(const DeviceBatch&)>& on_dropped) {
  auto backoff = options_.retry_initial;
  asio::steady_timer timer(strand_);
  Database* db = &db_;
  std::vector<const DeviceBatch*> live = batches;
  // Readers whose lease this node gave up (or lost) while the commit waited to be retried.
  std::vector<std::string> dropped;
  for (int attempt = 0;; ++attempt) {
    if (attempt > 0) {
      // PostgreSQL was unreachable, maybe for longer than a lease: the lease manager may have
      // given some of these readers up and stopped their pollers, and another node may poll them
      // once PostgreSQL is back. Their batches must not be written then, even where the lease
      // row has not expired yet and the fence below would let them through; the pollers
      // acknowledged nothing, so the next owner reads the entries again from the cursor.
      for (const DeviceBatch* b : DropGivenUp(live)) {
        dropped.push_back(b->device_id);
        // At once, not when the rest commits: the reader's poller is being stopped and waits.
        if (on_dropped) on_dropped(*b);
      }
      if (live.empty()) {
        fenced = dropped;
        co_return error_code();
      }
    }
    auto start = Clock::now();
    const std::string* fence = &options_.fence_owner;
    Result<WriteCounts> r = co_await RunBlocking(
        db->BlockingPool(), [db, &live, fence] { return WriteBatchesBlocking(*db, live, *fence); });
    if (r) {
      fenced = r->fenced;
      LogFenced(fenced);
      fenced.insert(fenced.end(), dropped.begin(), dropped.end());
      CountCommit(*r, live, start);
      co_return error_code();
    }
    if (r.error() == Errc::kBadRequest) {
      LogRefused(batches.size());
      fenced = dropped;
      co_return r.error();
    }
    ++failed_attempts_;
    LogRetry(r.error(), backoff);
    if (stopping_ && Clock::now() >= stop_deadline_) {
      fenced = dropped;
      co_return Errc::kCancelled;
    }
    auto until = Clock::now() + backoff;
    if (stopping_) until = std::min(until, stop_deadline_);
    timer.expires_at(until);
    backoffs_.push_back(&timer);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    std::erase(backoffs_, &timer);
    backoff = std::min(options_.retry_max, backoff * 2);
  }
}

asio::awaitable<void> EventWriter::Stop(std::chrono::milliseconds deadline) {
  auto on_strand = [](EventWriter* self, std::chrono::milliseconds limit) -> asio::awaitable<void> {
    self->MarkStopping(limit);
    if (!self->started_) {
      for (auto* q : {&self->queue_, &self->waiting_}) {
        for (auto& p : *q) p->done->Complete(Errc::kCancelled, 0);
        q->clear();
      }
      self->queue_events_ = 0;
      self->finished_ = true;
    }
    self->Wake();
    for (auto* t : self->backoffs_) t->cancel();  // flush now rather than after the back-off
    co_await self->running_.Wait();
  };
  co_await asio::co_spawn(strand_, on_strand(this, deadline), asio::use_awaitable);
}

void EventWriter::MarkStopping(std::chrono::milliseconds deadline) {
  if (stopping_) return;  // the first deadline holds
  stopping_ = true;
  stop_deadline_ = Clock::now() + deadline;
}

void EventWriter::BeginStop(std::chrono::milliseconds deadline) {
  asio::post(strand_, [this, deadline] {
    MarkStopping(deadline);
    Wake();
    for (auto* t : backoffs_) t->cancel();  // a retry waiting out its back-off looks again now
  });
}

void EventWriter::LeasesChanged() {
  // A retry waiting out its back-off looks at the leases now (CommitWithRetry drops the batches
  // of the readers given up); a cut back-off only costs one early attempt.
  asio::post(strand_, [this] {
    for (auto* t : backoffs_) t->cancel();
  });
}

WriterStats EventWriter::Stats() const {
  WriterStats s;
  s.transactions = transactions_;
  s.failed_attempts = failed_attempts_;
  s.rejected_batches = rejected_;
  s.fenced_batches = fenced_;
  s.events_quarantined = quarantined_;
  s.events_inserted = inserted_;
  s.events_enriched = enriched_;
  s.events_ignored = ignored_;
  s.queued_events = queued_events_;
  s.waiting_batches = waiting_batches_;
  s.last_commit_seconds = last_commit_seconds_;
  return s;
}

}  // namespace gw::store
