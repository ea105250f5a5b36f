#pragma once

#include <optional>
#include <string>

#include "common/time.hpp"
#include "ef45/models.hpp"
#include "store/event.hpp"

namespace gw::poll {

/// A reader log entry as a store event (natural key: log epoch + log id). `Recognition` entries
/// are kind recognition, `UserData` user_data, anything else log. The matched face image is
/// biometric data: it is not stored, only whether there was one. Pure.
store::Event FromLog(const ef45::LogEntry& entry, std::int64_t log_epoch, Micros received_at);

/// A match-data item as a store event. It carries `log_id`, so it lands in the same row as its
/// log entry (whichever comes first). Scores and quality flags go to the payload; templates
/// and images never do. Pure.
store::Event FromMatch(const ef45::MatchData& item, std::int64_t log_epoch, Micros received_at);

/// A door status change as a store event; nullopt when nothing changed. `previous` is the
/// state before (nullopt: unknown, e.g. first poll with an empty database). Pure.
std::optional<store::Event> FromDoorChange(const std::optional<ef45::DoorStatus>& previous,
                                           const ef45::DoorStatus& current, Micros observed_at);

/// A reader-level event (kind device): `what` is its event_type ("log_reset", "reboot", ...).
store::Event DeviceEvent(std::string what, std::string natural_key, std::string payload_json,
                         Micros at);

/// A gap (kind gap): reader log ids [from, to] of `log_epoch` that can no longer be read.
store::Event GapEvent(std::int64_t log_epoch, std::int64_t from, std::int64_t to,
                      std::string reason, Micros at);

/// A page of logs read after a match-data GET (the batch holds only the page's events): drops
/// the entries from the first recognition past `max_log_id` (the GET's newest item) on, as
/// that recognition's item may have come after the GET, and ends the cursor before it. Returns
/// true when there was none: the page then holds all the reader had up to its newest id.
bool EndBeforeUnmatched(store::DeviceBatch& batch, std::int64_t max_log_id);

}  // namespace gw::poll
