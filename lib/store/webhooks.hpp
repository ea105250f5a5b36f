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
#include "store/queries.hpp"

// Webhook subscriptions (migrations/0009_webhooks.sql, issue 19). Every `...Blocking` function
// blocks (libpqxx): call it on `db.BlockingPool()`; the awaitable forms do that. Errors:
// Errc::kDbUnavailable when PostgreSQL cannot be reached, Errc::kBadRequest for values it
// refuses. The secrets in WebhookRow are credentials: never log them.

namespace gw::store {

struct WebhookRow {
  std::string id;
  std::string url;
  std::vector<std::string> kinds;    ///< empty: every kind
  std::vector<std::string> devices;  ///< empty: every reader
  std::string description;
  int batch_max = 1;
  std::string secret;                          ///< `whsec_...`
  std::optional<std::string> previous_secret;  ///< still signing until the expiry below
  std::optional<TimePoint> previous_secret_expires_at;
  std::string state = "active";  ///< active | failing | paused | disabled
  std::int64_t cursor_seq = 0;   ///< the last seq delivered (2xx) or skipped by the filters
  std::int64_t revision = 1;     ///< grows at every change through the API
  std::optional<std::string> last_error;
  std::optional<TimePoint> last_success_at;
  std::optional<TimePoint> next_attempt_at;
  std::optional<TimePoint> failing_since;
  std::optional<std::string> owner;  ///< the node delivering it (its lease may have expired)
  std::int64_t lease_epoch = 0;
  TimePoint created_at{};
  TimePoint updated_at{};
};

/// POST /api/v1/webhooks, validated by the caller.
struct WebhookSpec {
  std::string id;
  std::string url;
  std::vector<std::string> kinds;
  std::vector<std::string> devices;
  std::string description;
  int batch_max = 1;
  std::string secret;
  std::optional<std::int64_t> after;  ///< start after this seq; default: the newest seq now
};

/// PATCH: only the fields that are set change. `state` is "active" (resume) or "paused".
struct WebhookPatch {
  std::optional<std::string> url;
  std::optional<std::vector<std::string>> kinds;
  std::optional<std::vector<std::string>> devices;
  std::optional<std::string> description;
  std::optional<int> batch_max;
  std::optional<std::string> state;
};

Result<WebhookRow> CreateWebhookBlocking(Database& db, const WebhookSpec& spec);
Result<std::vector<WebhookRow>> ListWebhooksBlocking(Database& db);
Result<std::optional<WebhookRow>> GetWebhookBlocking(Database& db, const std::string& id);
/// nullopt: no such subscription. Resuming (state "active") clears the failure record.
Result<std::optional<WebhookRow>> UpdateWebhookBlocking(Database& db, const std::string& id,
                                                        const WebhookPatch& patch);
/// The number deleted (0: no such subscription).
Result<std::int64_t> DeleteWebhookBlocking(Database& db, const std::string& id);
/// Moves the cursor to `after` (back or forward). nullopt: no such subscription.
Result<std::optional<WebhookRow>> ReplayWebhookBlocking(Database& db, const std::string& id,
                                                        std::int64_t after);
/// `new_secret` signs from now on; the current one keeps signing for `overlap`.
Result<std::optional<WebhookRow>> RotateWebhookSecretBlocking(Database& db, const std::string& id,
                                                              const std::string& new_secret,
                                                              std::chrono::milliseconds overlap);
/// The newest seq overall (for lag), at the time of the call.
Result<std::int64_t> WebhookMaxSeqBlocking(Database& db);

boost::asio::awaitable<Result<WebhookRow>> CreateWebhook(Database& db, WebhookSpec spec);
boost::asio::awaitable<Result<std::vector<WebhookRow>>> ListWebhooks(Database& db);
boost::asio::awaitable<Result<std::optional<WebhookRow>>> GetWebhook(Database& db, std::string id);
boost::asio::awaitable<Result<std::optional<WebhookRow>>> UpdateWebhook(Database& db,
                                                                        std::string id,
                                                                        WebhookPatch patch);
boost::asio::awaitable<Result<std::int64_t>> DeleteWebhook(Database& db, std::string id);
boost::asio::awaitable<Result<std::optional<WebhookRow>>> ReplayWebhook(Database& db,
                                                                        std::string id,
                                                                        std::int64_t after);
boost::asio::awaitable<Result<std::optional<WebhookRow>>> RotateWebhookSecret(
    Database& db, std::string id, std::string new_secret, std::chrono::milliseconds overlap);

// --- Delivery (lib/webhook). Every write below is fenced by (owner, lease_epoch): a node that
// lost a subscription's lease changes nothing.

/// A subscription this node holds.
struct WebhookLease {
  std::string id;
  std::int64_t epoch = 0;
};

/// Claims every subscription whose lease is free or expired (or already ours), renews ours for
/// `lease`, and returns what this node holds now.
Result<std::vector<WebhookLease>> ClaimWebhooksBlocking(Database& db, const std::string& node,
                                                        std::chrono::milliseconds lease);
/// Gives every lease of `node` back (shutdown): another node takes over at once.
Result<void> ReleaseWebhooksBlocking(Database& db, const std::string& node);

/// What to send next for one subscription.
struct WebhookWork {
  std::optional<WebhookRow> row;  ///< nullopt: deleted, or the lease is no longer ours
  std::vector<EventRow> events;   ///< up to batch_max matching events after the cursor
  /// Events retention deleted before this subscription got them: (gap_from, gap_to] is missing
  /// (gap_to > 0). Sent on its own, before the events after it.
  std::int64_t gap_from = 0;
  std::int64_t gap_to = 0;
  /// Where the cursor may go once `events` are delivered: the last event's seq, or, when fewer
  /// than batch_max matched, the newest seq committed at the time of the read (nothing between
  /// can still appear: commit order = seq order).
  std::int64_t advance_to = 0;
  std::int64_t max_seq = 0;  ///< the newest seq overall (lag)
  /// The cursor `events` follow: row->cursor_seq, or the caller's `after` (see below).
  std::int64_t from = 0;
};
/// With `after` (the cursor of the last 2xx, whose commit may still be on its way) and the
/// subscription still at `revision`, reads after `after` instead of the stored cursor (which
/// lags it); otherwise (no `after`, or the subscription changed) after the stored cursor.
/// `messages` > 1 reads ahead: up to batch_max × messages events (at most 1,000); advance_to is
/// then where the cursor may go once all of them are delivered.
Result<WebhookWork> NextWebhookWorkBlocking(Database& db, const std::string& id,
                                            const std::string& node, std::int64_t epoch,
                                            std::optional<std::int64_t> after = std::nullopt,
                                            std::int64_t revision = 0, int messages = 1);

/// After a 2xx (or nothing to send): cursor → `to`, state active, failure record cleared.
/// 1, or 0 when the lease was lost or the subscription changed (revision) since it was read.
Result<std::int64_t> CommitWebhookCursorBlocking(Database& db, const std::string& id,
                                                 const std::string& node, std::int64_t epoch,
                                                 std::int64_t revision, std::int64_t from,
                                                 std::int64_t to);
/// One cursor move of CommitWebhookCursorsBlocking: like CommitWebhookCursorBlocking's arguments.
struct WebhookCursorCommit {
  std::string id;
  std::int64_t epoch = 0;
  std::int64_t revision = 0;
  std::int64_t from = 0;
  std::int64_t to = 0;
};
/// Several subscriptions' cursor moves in one statement (one transaction), each fenced as in
/// CommitWebhookCursorBlocking. Returns the ids that moved (the others: lease lost, changed
/// since read, or the cursor is not at `from`).
Result<std::vector<std::string>> CommitWebhookCursorsBlocking(
    Database& db, const std::string& node, const std::vector<WebhookCursorCommit>& commits);

/// After a failed attempt: state failing (or disabled when `gone` or failing for longer than
/// `disable_after`), the error and the next attempt time. Returns the new state ("" if the
/// lease was lost).
Result<std::string> RecordWebhookFailureBlocking(Database& db, const std::string& id,
                                                 const std::string& node, std::int64_t epoch,
                                                 const std::string& error, bool gone,
                                                 std::chrono::milliseconds retry_in,
                                                 std::chrono::milliseconds disable_after);

/// `rekey` for the signing secrets: every subscription whose secrets are not sealed under the
/// current data key is sealed again under it, in one transaction. Returns how many moved.
/// (With data keys the secrets are stored sealed, context "webhook:<id>".)
Result<int> RekeyWebhooksBlocking(Database& db);

}  // namespace gw::store
