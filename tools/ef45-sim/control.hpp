#pragma once

// The simulator's control API (`/sim/...`): plain functions over a ControlTarget, no I/O, so
// the HTTP plumbing stays in fleet.cpp (one Beast translation unit).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "reader.hpp"

namespace ef45sim {

/// Standing faults of one reader's HTTP server (POST /sim/readers/{i}/faults). Rates are
/// probabilities per request in [0, 1].
struct StandingFaults {
  std::chrono::milliseconds latency{0};  ///< delay before every answer
  double error_rate = 0.0;               ///< answer 500 (no body) without calling Reader::Handle
  bool hang = false;                     ///< read requests but never answer, until cleared
  double close_mid_response = 0.0;       ///< send the headers and part of the body, then close
  double malformed_json = 0.0;           ///< corrupt a JSON body (Content-Length stays consistent)
  bool down = false;  ///< powered off: listener closed (connection refused), connections closed
};

/// What the server did because of faults, per reader (reported by GET /sim/readers).
struct FaultCounters {
  std::uint64_t delayed = 0;
  std::uint64_t errors = 0;
  std::uint64_t hung = 0;
  std::uint64_t closed_mid_response = 0;
  std::uint64_t malformed_json = 0;
  std::uint64_t reboots = 0;
};

/// The fleet as the control API sees it. Implemented by the fleet server; every call happens on
/// the fleet's io_context thread.
class ControlTarget {
 public:
  virtual ~ControlTarget() = default;
  virtual int ReaderCount() const = 0;
  virtual Reader& ReaderAt(int index) = 0;
  virtual std::uint16_t PortOf(int index) const = 0;
  virtual const std::string& AddressOf(int index) const = 0;
  virtual std::size_t ConnectionsOf(int index) const = 0;
  virtual const StandingFaults& FaultsOf(int index) const = 0;
  virtual const FaultCounters& CountersOf(int index) const = 0;
  /// Replaces the standing faults (wakes connections that hang when `hang` is cleared; closes
  /// or re-opens the listener when `down` changes). Returns an error text when the listener
  /// cannot be bound again (its port was taken meanwhile); empty on success.
  virtual std::string SetFaults(int index, const StandingFaults& faults) = 0;
  /// Reader::Reboot() and closes the reader's open connections.
  virtual void RebootReader(int index) = 0;
  virtual void SetGenerationPaused(bool paused) = 0;
  virtual bool GenerationPaused() const = 0;
  /// Stops the fleet once the current answer has been written.
  virtual void RequestShutdown() = 0;
};

/// Answers one control request: JSON in and out, `application/problem+json` on errors (400 bad
/// input, 404 unknown route or reader index, 405 wrong method). Never throws for bad input.
///
/// Routes (`{i}` is a reader index 0..N-1):
/// - `GET /sim` → `{"readers":N,"generation_paused":bool}`
/// - `GET /sim/readers` → array of reader objects; `GET /sim/readers/{i}` → one: `index`,
///   `address`, `port`, `serial_number`, `mac`, every `Stats` field, `connections` (open now),
///   `faults` (the standing faults + `clock_skew_s`), `injected` (what the faults did: `delayed`,
///   `errors`, `hung`, `closed_mid_response`, `malformed_json`, `reboots`).
/// - `GET /sim/readers/{i}/generated?after=N&limit=M` → `{"index","total","after","next",
///   "has_more","items":[{"seq","log_id","log_epoch","event_type","info","additional_data",
///   "user_uuid","timestamp","encounter_id"}]}`, plus `"poison"` for a spoiled entry and
///   `"match_dropped":true` when a reboot cleared its match-data item before a client deleted it.
///   `after` is an offset into the ledger (entries to skip; `next` is the value for the
///   following page), not a log id: log ids restart after a wipe. `limit` 1..10000, default 1000.
/// - `POST /sim/readers/{i}/faults`, `POST /sim/readers/all/faults`: any of `latency_ms`
///   (0..600000), `error_rate`, `close_mid_response`, `malformed_json` (0..1), `hang`, `down`
///   (bool; down = connection refused, like a reader without power), `clock_skew_s` (int), and the
///   one-shots `reboot`, `steal_lock`, `wipe_logs` (true = do it now), `poison_log` ("nul",
///   "year0" or "huge": the next recognition's log entry carries that defect; its ledger entry
///   says `"poison"`), `skip_log_ids` (n: the next log id is n higher) and
///   `phantom_newest_log_id` (id: the next `GET /logs?order=desc` reports a made-up newest entry
///   with that id first), `firmware_fail` (true: the next firmware image is refused with
///   `{"file":"Upload fail"}` and the version stays; issue 20). Standing faults not named
///   keep their value; `{}` clears them all (and the skew). The whole body is validated before
///   anything changes; unknown keys are a 400.
/// - `POST /sim/readers/{i}/enroll` → `{"user_uuid":..}`.
/// - `GET /sim/readers/{i}/users` → `{"index","items":[bundle...]}`: every user the reader
///   holds, sorted by uuid, as the EnrollUser-shaped bundle (subject and user-info fields,
///   `faces`, `cards`), read without the reader API and its lock.
/// - `POST /sim/readers/{i}/users` with a `POST /1.0/user` body → 201 `{"user_uuid"}`: stores
///   the user without a log entry (a user the gateway cannot know about); 409 if it exists.
///   With `?log=true` it is a change made at the reader instead: it replaces the user if there
///   and writes the reader's `UserData` log entry (AddUsers / UpdateUsers).
/// - `POST /sim/readers/{i}/settings` `{"title","value"}` → 200 `{"title","type","value"}`: a
///   setting changed at the reader's own UI, behind any client's back (type and range checked
///   as the reader's API would: 400; unknown title 404). `GET /sim/readers/{i}/settings?title=`
///   reads one without the reader API and its lock.
/// - `POST /sim/readers/{i}/generate` with `{"recognitions":n,"door_changes":m}` (each
///   0..1000000, default 0) → the reader object after generating exactly that many events.
/// - `POST /sim/generation/pause`, `POST /sim/generation/resume` (the rate-driven tick only).
/// - `POST /sim/shutdown` → `{"stopping":true}`, then the fleet stops.
Response HandleControl(ControlTarget& target, const Request& request);

}  // namespace ef45sim
