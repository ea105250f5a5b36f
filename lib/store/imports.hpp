#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "store/database.hpp"
#include "store/event.hpp"
#include "store/users.hpp"

// Changes made at a reader held for an admin's review (`sync.import: review`; table
// `sync_imports`, SCHEMA.md "User sync"). The reader's record holds iris templates, face
// features, PINs and cards: it is stored only through EncodeImportRecord, read back only through
// DecodeImportRecord, and never logged. Blocking forms run on `db.BlockingPool()`; awaitable
// forms run them there. Errors: Errc::kDbUnavailable, Errc::kBadRequest (PostgreSQL refused the
// data).

namespace gw::store {

/// The text stored for the pending record of `user_uuid`: sealed under the current data key
/// (context "import:<uuid>"), or the record itself in plaintext mode.
std::string EncodeImportRecord(Database& db, const std::string& user_uuid,
                               const std::string& record);
/// The record back from what EncodeImportRecord stored. Errc::kBadRequest when it cannot be
/// opened (altered, moved to another row, or sealed while no key is configured).
Result<std::string> DecodeImportRecord(Database& db, const std::string& user_uuid,
                                       const std::string& stored);

/// `rekey` for the changes held for review: at most `limit` pending records not sealed under the
/// current key are sealed under it, in one transaction. Returns how many moved (0: none left);
/// `failed` counts records that did not open (left as they were, and not selected again).
Result<int> RekeyImportsStepBlocking(Database& db, int limit, int* failed);

/// The life of a held change (the stored text of `sync_imports.status`).
enum class ImportStatus { kPending, kApproved, kRejected };
std::string_view ImportStatusName(ImportStatus status) noexcept;

/// A change at a reader to hold for review.
struct HeldImport {
  std::string device_id;
  std::string user_uuid;
  std::string record;         ///< the reader's record (canonical JSON); encoded before it is stored
  std::string reader_digest;  ///< Fingerprint of the reader's copy
  std::optional<std::int64_t> base_version;  ///< the gateway version compared; nullopt = new
  std::vector<std::string> changed;          ///< parts that differ (names only)
  std::int64_t source_seq = 0;               ///< the reader's UserData event
  TimePoint occurred_at{};                   ///< the reader's time
  TimePoint received_at{};                   ///< our receive time
};

/// A stored import. `record` is decoded only by GetImport.
struct StoredImport {
  std::int64_t id = 0;
  std::string device_id;
  std::string user_uuid;
  std::string record;
  std::string reader_digest;
  std::optional<std::int64_t> base_version;
  std::vector<std::string> changed;
  std::int64_t source_seq = 0;
  TimePoint occurred_at{};
  TimePoint received_at{};
  ImportStatus status = ImportStatus::kPending;
  std::optional<std::string> decided_by;
  std::optional<TimePoint> decided_at;
};

/// Stores `held` as the pending import of its (reader, user), replacing a pending one there (a
/// newer change at the same reader). Returns the import's id.
Result<std::int64_t> HoldImportBlocking(Database& db, const HeldImport& held);
boost::asio::awaitable<Result<std::int64_t>> HoldImport(Database& db, HeldImport held);

/// Pending imports with id > `after_id`, oldest first, at most `limit` (clamped to 1..1000),
/// without their records.
Result<std::vector<StoredImport>> PendingImportsPageBlocking(Database& db, std::int64_t after_id,
                                                             int limit);
boost::asio::awaitable<Result<std::vector<StoredImport>>> PendingImportsPage(Database& db,
                                                                             std::int64_t after_id,
                                                                             int limit);

/// One import with its decoded record; nullopt when there is none with that id.
Result<std::optional<StoredImport>> GetImportBlocking(Database& db, std::int64_t id);
boost::asio::awaitable<Result<std::optional<StoredImport>>> GetImport(Database& db,
                                                                      std::int64_t id);

/// Users with a pending import from reader `device_id` (sync leaves their copy there alone).
Result<std::vector<std::string>> HeldUsersBlocking(Database& db, const std::string& device_id);
boost::asio::awaitable<Result<std::vector<std::string>>> HeldUsers(Database& db,
                                                                   std::string device_id);

/// Pending imports from reader `device_id`.
Result<std::int64_t> PendingImportCountBlocking(Database& db, const std::string& device_id);
boost::asio::awaitable<Result<std::int64_t>> PendingImportCount(Database& db,
                                                                std::string device_id);

/// How a decision ended.
enum class DecisionOutcome {
  kDone,
  kNotFound,        ///< no import with that id
  kAlreadyDecided,  ///< approved or rejected before
  kStale,           ///< approve: the gateway's user changed since the import was held
};

/// Approves import `id` in one transaction: it must be pending and the user still at the
/// import's base version (`user` was built from that version); `user` becomes the next version,
/// applied at the source reader with the reader's digest; the import is marked approved by
/// `actor` and an `ImportApproved` user_data event is recorded. Returns the outcome and the
/// version written.
struct Decided {
  DecisionOutcome outcome = DecisionOutcome::kDone;
  std::int64_t version = 0;
  std::string user_uuid;  ///< of the import (empty when not found)
  std::string device_id;
};
Result<Decided> ApproveImportBlocking(Database& db, std::int64_t id, const UserWrite& user,
                                      const std::string& actor);
boost::asio::awaitable<Result<Decided>> ApproveImport(Database& db, std::int64_t id, UserWrite user,
                                                      std::string actor);

/// Rejects pending import `id` (marked rejected by `actor`, an `ImportRejected` user_data event
/// recorded). The source reader's reconciler then restores the gateway's record there.
Result<Decided> RejectImportBlocking(Database& db, std::int64_t id, const std::string& actor);
boost::asio::awaitable<Result<Decided>> RejectImport(Database& db, std::int64_t id,
                                                     std::string actor);

/// A rejection not yet carried out at its reader.
struct ToRestore {
  std::int64_t id = 0;
  std::string user_uuid;
};
Result<std::vector<ToRestore>> ImportsToRestoreBlocking(Database& db, const std::string& device_id);
boost::asio::awaitable<Result<std::vector<ToRestore>>> ImportsToRestore(Database& db,
                                                                        std::string device_id);
/// Marks rejections as carried out at their reader.
Result<void> MarkRestoredBlocking(Database& db, const std::vector<std::int64_t>& ids);
boost::asio::awaitable<Result<void>> MarkRestored(Database& db, std::vector<std::int64_t> ids);

}  // namespace gw::store
