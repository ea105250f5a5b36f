#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "store/database.hpp"
#include "store/event.hpp"

// Reads for the façade and the pollers, door state, retention. Each operation has a blocking
// form (`...Blocking`, libpqxx, only on `db.BlockingPool()`) and an awaitable form that runs the
// blocking one there and resumes on the caller's executor. Errors: Errc::kDbUnavailable when
// PostgreSQL cannot be reached, Errc::kBadRequest for arguments PostgreSQL refuses.

namespace gw::store {

/// One stored event as the façade serves it.
struct EventRow {
  std::int64_t seq = 0;  ///< resume cursor: events are served in seq order
  std::string device_id;
  std::string event_key;  ///< stable natural key; an enriched event keeps it and gets a new seq
  EventKind kind = EventKind::kLog;
  int sources = 0;   ///< bit set of EventSource
  int revision = 1;  ///< 1 + number of enrichments
  std::optional<std::int64_t> device_log_id;
  std::int64_t log_epoch = 0;
  std::optional<std::string> encounter_id;
  std::optional<std::string> event_type;
  std::optional<std::string> info;
  std::optional<std::string> additional_data;
  std::optional<std::string> user_uuid;
  std::optional<TimePoint> device_time;
  TimePoint received_at{};
  TimePoint stored_at{};
  std::string payload;  ///< JSON object text
};

/// GET /api/v1/events filters. Keyset pagination on seq.
struct EventQuery {
  std::int64_t after = 0;  ///< only seq > after
  int limit = 100;         ///< clamped to 1..kMaxEventPage
  std::optional<std::string> device_id;
  std::optional<EventKind> kind;
  std::optional<std::string> user_uuid;
  std::optional<TimePoint> since;  ///< occurred_at >= since (reader time, else receive time)
  std::optional<TimePoint> until;  ///< occurred_at < until
};
inline constexpr int kMaxEventPage = 1000;

struct EventPage {
  std::vector<EventRow> events;
  /// Pass as `after` to continue: the last seq returned, or the query's `after` if none. A page
  /// shorter than the limit means "caught up for now" (new events may still come).
  std::int64_t next = 0;
};

Result<EventPage> ListEventsBlocking(Database& db, const EventQuery& query);
/// The seq and reader of each event after `after`, in seq order, at most `limit`: what follows
/// the newest events without reading them (EventFeed while nobody reads its window).
struct EventHead {
  std::int64_t seq = 0;
  std::string device_id;
};
Result<std::vector<EventHead>> EventHeadsBlocking(Database& db, std::int64_t after, int limit);
boost::asio::awaitable<Result<std::vector<EventHead>>> EventHeads(Database& db, std::int64_t after,
                                                                  int limit);
/// The newest committed seq (0 when there is no event). Blocking / on the blocking pool.
Result<std::int64_t> MaxSeqBlocking(Database& db);
boost::asio::awaitable<Result<std::int64_t>> MaxSeq(Database& db);
/// Whether `e` passes the filters of `q` other than `after` and `limit`, exactly as
/// ListEventsBlocking's WHERE clause decides (for events held in memory).
bool Matches(const EventQuery& q, const EventRow& e);
boost::asio::awaitable<Result<EventPage>> ListEvents(Database& db, EventQuery query);

/// The log cursor of one reader (nullopt: nothing stored yet, start from the beginning).
Result<std::optional<Cursor>> ReadCursorBlocking(Database& db, const std::string& device_id);
boost::asio::awaitable<Result<std::optional<Cursor>>> ReadCursor(Database& db,
                                                                 std::string device_id);

/// What the store knows about one reader.
struct DeviceState {
  std::string device_id;
  std::optional<Cursor> cursor;
  std::optional<TimePoint> cursor_updated_at;
  std::optional<DoorState> door;
  std::optional<TimePoint> door_changed_at;
  std::optional<std::int64_t> last_seq;  ///< newest event of this reader
};

/// Every known reader (or one, if `device_id` is set), ordered by id.
Result<std::vector<DeviceState>> DeviceStatesBlocking(Database& db,
                                                      const std::optional<std::string>& device_id);
boost::asio::awaitable<Result<std::vector<DeviceState>>> DeviceStates(
    Database& db, std::optional<std::string> device_id);
/// The readers `ids` (those of them PostgreSQL knows), ordered by id: the API asks only for the
/// readers other instances poll (cluster mode), the rest it has in memory.
Result<std::vector<DeviceState>> DeviceStatesOfBlocking(Database& db,
                                                        const std::vector<std::string>& ids);
boost::asio::awaitable<Result<std::vector<DeviceState>>> DeviceStatesOf(
    Database& db, std::vector<std::string> ids);

/// Stores a door status outside an event batch (the EventWriter takes it inside DeviceBatch too).
/// An older observation than the stored one is ignored.
Result<void> UpsertDoorStateBlocking(Database& db, const std::string& device_id,
                                     const DoorState& state);
boost::asio::awaitable<Result<void>> UpsertDoorState(Database& db, std::string device_id,
                                                     DoorState state);

/// One audit event (kind `audit`): an operator's request through the API.
struct AuditEvent {
  std::string device_id;  ///< the reader, or kNoDevice for requests that name none
  std::string key;        ///< unique per request (the request id): a retry inserts nothing twice
  std::optional<std::string> user_uuid;  ///< the user a user operation is about
  std::string payload;                   ///< JSON object text (actor, role, route, status, ...)
};
/// `events.device_id` of audit events that concern no reader (not a valid reader id).
inline constexpr const char* kNoDevice = "@gateway";

/// Inserts `e` in its own transaction and returns its seq once committed (the same seq order as
/// every other event: it appears in /events, the stream and retention).
Result<std::int64_t> InsertAuditBlocking(Database& db, const AuditEvent& e);
boost::asio::awaitable<Result<std::int64_t>> InsertAudit(Database& db, AuditEvent e);

/// Deletes events received before `cutoff` in transactions of at most `batch_size` rows (each
/// one short: no long locks), until none is left or `max_batches` ran. Returns the count.
Result<std::int64_t> DeleteEventsBeforeBlocking(Database& db, TimePoint cutoff, int batch_size,
                                                int max_batches);
boost::asio::awaitable<Result<std::int64_t>> DeleteEventsBefore(Database& db, TimePoint cutoff,
                                                                int batch_size, int max_batches);

}  // namespace gw::store
