#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "store/database.hpp"
#include "store/event.hpp"

// Canonical users and their per-reader sync state (user sync, lib/sync; SCHEMA.md "User sync").
// The store keeps what lib/sync computes (record JSON, fingerprints, cards); it does not look
// inside records. Each operation has a blocking form (libpqxx, only on `db.BlockingPool()`) and,
// where the façade or the reconcilers need one, an awaitable form that runs it there and resumes
// on the caller's executor. Errors: Errc::kDbUnavailable (PostgreSQL unreachable, retry),
// Errc::kBadRequest (PostgreSQL refused the data), Errc::kConflict (a compare-and-set lost).
// Records hold templates: nothing here logs them.

namespace gw::store {

/// A user as lib/sync prepared it for storage.
struct UserWrite {
  std::string user_uuid;
  std::string record;                          ///< canonical JSON document
  std::string digest;                          ///< fingerprint of the record as a reader stores it
  std::string digest_no_templates;             ///< the same without templates
  std::optional<std::int32_t> record_version;  ///< of the templates; nullopt = unknown / none
  std::vector<std::string> groups;             ///< reader groups; empty = every reader
  std::vector<std::string> cards;              ///< every card of the user (by-card lookup)
  std::string source = "api";                  ///< "api" or "device:<id>"
};

/// A stored user (tombstones included where asked).
///
/// Under data keys (DatabaseOptions::keys) the record is sealed before it reaches PostgreSQL and
/// opened when read; `cards` are stored as keyed fingerprints; `digest` and `digest_no_templates`
/// are keyed by their writer (lib/sync). A tombstone keeps no record (erased at deletion).
struct StoredUser {
  std::string user_uuid;
  std::int64_t version = 0;
  bool deleted = false;
  std::string record;        ///< plaintext JSON; empty when it did not open (`record_error`)
  std::string record_error;  ///< why the sealed record did not open (no data, no key material)
  std::string digest;
  std::string digest_no_templates;
  std::optional<std::int32_t> record_version;
  std::vector<std::string> groups;
  std::string source;
  TimePoint updated_at{};
};

/// What the reconcilers compare: a user without its record.
struct UserSummary {
  std::string user_uuid;
  std::int64_t version = 0;
  bool deleted = false;
  std::string digest;
  std::string digest_no_templates;
  std::optional<std::int32_t> record_version;
  std::vector<std::string> groups;
  TimePoint updated_at{};
};

struct PutOutcome {
  std::int64_t version = 0;
  bool created = false;  ///< no row existed (a tombstone counts as existing)
  bool changed = false;  ///< false: same content as the stored live version, nothing written
};

/// Creates or replaces a user. The version grows only when the record, groups or liveness change,
/// so a repeated PUT is a no-op that reconcilers never see.
Result<PutOutcome> PutUserBlocking(Database& db, const UserWrite& user);
boost::asio::awaitable<Result<PutOutcome>> PutUser(Database& db, UserWrite user);

/// Turns a user into a tombstone (version + 1) and erases its record and cards in the same
/// statement. nullopt: no live user with that uuid.
Result<std::optional<PutOutcome>> DeleteUserBlocking(Database& db, const std::string& user_uuid);
boost::asio::awaitable<Result<std::optional<PutOutcome>>> DeleteUser(Database& db,
                                                                     std::string user_uuid);

/// One user, tombstone included (check `deleted`).
Result<std::optional<StoredUser>> GetUserBlocking(Database& db, const std::string& user_uuid);
boost::asio::awaitable<Result<std::optional<StoredUser>>> GetUser(Database& db,
                                                                  std::string user_uuid);

/// Live users ordered by uuid after `after_uuid`, at most `limit` (clamped to 1..1000).
Result<std::vector<StoredUser>> ListUsersPageBlocking(Database& db, const std::string& after_uuid,
                                                      int limit);
boost::asio::awaitable<Result<std::vector<StoredUser>>> ListUsersPage(Database& db,
                                                                      std::string after_uuid,
                                                                      int limit);

/// Live users holding `card` (user info card or one of their cards).
Result<std::vector<StoredUser>> UsersByCardBlocking(Database& db, const std::string& card);
boost::asio::awaitable<Result<std::vector<StoredUser>>> UsersByCard(Database& db, std::string card);

/// Full rows of the listed users (tombstones included), in no particular order.
Result<std::vector<StoredUser>> UsersByUuidBlocking(Database& db,
                                                    const std::vector<std::string>& uuids);
boost::asio::awaitable<Result<std::vector<StoredUser>>> UsersByUuid(Database& db,
                                                                    std::vector<std::string> uuids);

/// Every user (tombstones included), or only those updated at or after `since`.
Result<std::vector<UserSummary>> UserSummariesBlocking(Database& db,
                                                       const std::optional<TimePoint>& since);
boost::asio::awaitable<Result<std::vector<UserSummary>>> UserSummaries(
    Database& db, std::optional<TimePoint> since);

/// A user's sync status on one reader, stored as text in `user_device_state.status` (the names
/// are the stored text and the API's: changing one changes the schema's data, SCHEMA.md).
enum class SyncStatus {
  kPending,  ///< not applied yet (or the gateway won a conflict: to be pushed again)
  kApplied,  ///< the reader holds `applied_version`
  kFailed,   ///< the last attempt failed (`last_error` says why)
};
/// "pending", "applied", "failed".
std::string_view SyncStatusName(SyncStatus status) noexcept;
/// Inverse of SyncStatusName; nullopt for anything else.
std::optional<SyncStatus> ParseSyncStatus(std::string_view name) noexcept;

/// Sync state of one user on one reader.
struct DeviceUserState {
  std::string user_uuid;
  std::string device_id;
  std::optional<std::int64_t> applied_version;
  SyncStatus status = SyncStatus::kPending;
  std::optional<std::string> applied_digest;
  std::optional<std::string> last_error;  ///< the reader's answer or the transport error
  std::optional<std::string> note;        ///< e.g. templates not pushed (record_version)
  int attempts = 0;
  TimePoint updated_at{};
};

/// Every state row of a reader.
Result<std::vector<DeviceUserState>> DeviceStatesOfBlocking(Database& db,
                                                            const std::string& device_id);
boost::asio::awaitable<Result<std::vector<DeviceUserState>>> DeviceStatesOf(Database& db,
                                                                            std::string device_id);
/// Every state row of a user (one per reader it was tried on).
Result<std::vector<DeviceUserState>> UserStatesBlocking(Database& db, const std::string& user_uuid);
boost::asio::awaitable<Result<std::vector<DeviceUserState>>> UserStates(Database& db,
                                                                        std::string user_uuid);

/// One outcome to record. `failed` increments attempts; anything else resets them.
struct StateUpdate {
  std::string user_uuid;
  SyncStatus status = SyncStatus::kPending;
  std::optional<std::int64_t> applied_version;  ///< kept as stored when nullopt and failed
  std::optional<std::string> applied_digest;
  std::optional<std::string> error;
  std::optional<std::string> note;
};

/// Upserts the outcomes of one reader in one transaction (creating its `devices` row if
/// needed). Updates of users that do not exist (never stored) are skipped.
Result<void> RecordStatesBlocking(Database& db, const std::string& device_id,
                                  const std::vector<StateUpdate>& updates);
boost::asio::awaitable<Result<void>> RecordStates(Database& db, std::string device_id,
                                                  std::vector<StateUpdate> updates);

/// Counts of one reader's users in scope (live users whose groups match `reader_groups`, plus
/// tombstones still on the reader): applied at the current version, failed, pending.
struct SyncCounts {
  std::int64_t applied = 0;
  std::int64_t failed = 0;
  std::int64_t pending = 0;
};
Result<SyncCounts> SyncCountsBlocking(Database& db, const std::string& device_id,
                                      const std::vector<std::string>& reader_groups);
/// (The awaitable form has another name: `SyncCounts` is the type.)
boost::asio::awaitable<Result<SyncCounts>> SyncCountsOf(Database& db, std::string device_id,
                                                        std::vector<std::string> reader_groups);

/// A `UserData` log entry of a reader as the pollers stored it (events.kind = 'user_data').
struct UserDataEvent {
  std::int64_t seq = 0;
  std::string user_uuid;
  std::string info;         ///< AddUsers, UpdateUsers, DeleteUsers, ...
  TimePoint occurred_at{};  ///< the reader's time of the entry (else our receive time)
  TimePoint received_at{};  ///< when the gateway stored the entry (our clock)
};

/// The importer's position in a reader's events (0 when it never ran).
Result<std::int64_t> ImportCursorBlocking(Database& db, const std::string& device_id);
boost::asio::awaitable<Result<std::int64_t>> ImportCursor(Database& db, std::string device_id);
/// `user_data` events of a reader after `after_seq`, oldest first, at most `limit`.
Result<std::vector<UserDataEvent>> UserDataEventsBlocking(Database& db,
                                                          const std::string& device_id,
                                                          std::int64_t after_seq, int limit);
boost::asio::awaitable<Result<std::vector<UserDataEvent>>> UserDataEvents(Database& db,
                                                                          std::string device_id,
                                                                          std::int64_t after_seq,
                                                                          int limit);
Result<void> SetImportCursorBlocking(Database& db, const std::string& device_id,
                                     std::int64_t last_seq);
boost::asio::awaitable<Result<void>> SetImportCursor(Database& db, std::string device_id,
                                                     std::int64_t last_seq);

/// One import from a reader, applied atomically if the user is still at `expected_version`
/// (nullopt = must not exist); otherwise Errc::kConflict and nothing changes.
struct ImportWrite {
  std::string device_id;
  std::string user_uuid;
  std::optional<std::int64_t> expected_version;
  std::optional<UserWrite> user;  ///< the new canonical record; nullopt = keep the gateway's
  /// The reader's copy as applied state of `device_id` (at the resulting version).
  std::optional<std::string> applied_digest;
  /// When set, a `user_data` event `SyncConflict` is recorded for the losing change.
  std::optional<std::string> conflict_info;    ///< GatewayWins | ReaderWins
  std::optional<std::string> conflict_detail;  ///< what lost (versions, times), no user data
  std::int64_t source_seq = 0;                 ///< the reader event that triggered the import
};
Result<std::int64_t> ImportUserBlocking(Database& db, const ImportWrite& write);
boost::asio::awaitable<Result<std::int64_t>> ImportUser(Database& db, ImportWrite write);

/// Which data keys the users are stored under (start-up refuses a key id the key file lacks).
struct KeyInventory {
  std::vector<std::string> key_ids;  ///< key ids of live users and of changes held for review
  std::int64_t plaintext = 0;        ///< such rows stored before a key was configured
};
Result<KeyInventory> KeyInventoryBlocking(Database& db);

/// Recomputes what lib/sync derives from a record (digests, cards, record_version) under the
/// current key; nullopt: the record does not parse. The store does not look inside records.
using Reprint = std::function<std::optional<UserWrite>(const std::string& user_uuid,
                                                       const std::string& record)>;

/// One step of `ef45-gatewayd rekey`.
struct RekeyStep {
  int moved = 0;          ///< users now under the current key
  int failed = 0;         ///< records that did not open or parse (left as they were)
  std::string last_uuid;  ///< where the next step starts (empty: the pass is over)
};
/// Moves at most `limit` live users after `after_uuid` (in uuid order) that are not under the
/// current key to it, in one transaction, each row locked: the record is sealed again, the
/// digests, card fingerprints and record fingerprint are recomputed, and no version is added
/// (the content is the same). A reader's applied_digest equal to the old digest follows it;
/// any other is cleared (it no longer compares). Needs data keys.
Result<RekeyStep> RekeyStepBlocking(Database& db, const std::string& after_uuid, int limit,
                                    const Reprint& reprint);

}  // namespace gw::store
