#include "store/webhooks.hpp"

#include <algorithm>

#include "common/run_blocking.hpp"
#include "crypto/data_keys.hpp"
#include "store/event_rows.hpp"
#include "store/pg.hpp"

namespace gw::store {
namespace {

using detail::MicrosOf;

using detail::Opt;
using detail::OptTime;
using detail::Split;

std::string Array(const std::vector<std::string>& items) {
  detail::ArrayLiteral a;
  for (const auto& s : items) a.Add(s);
  return a.Finish();
}

const std::string& Columns() {
  static const std::string kColumns =
      "id, url, array_to_string(kinds, ','), array_to_string(devices, ','), description, "
      "batch_max, secret, previous_secret, " +
      MicrosOf("previous_secret_expires_at") + ", state, cursor_seq, revision, last_error, " +
      MicrosOf("last_success_at") + ", " + MicrosOf("next_attempt_at") + ", " +
      MicrosOf("failing_since") + ", owner, lease_epoch, " + MicrosOf("created_at") + ", " +
      MicrosOf("updated_at");
  return kColumns;
}

/// What authenticates a sealed secret: it opens for this subscription only.
std::string SecretContext(const std::string& id) { return "webhook:" + id; }

/// A signing secret as stored: sealed under the data key (a stolen backup cannot forge the
/// gateway's signatures), or as is in plaintext mode.
std::string SealSecret(const crypto::DataKeys* keys, const std::string& id,
                       const std::string& secret) {
  return keys ? keys->Seal(secret, SecretContext(id)) : secret;
}

/// The secret back; empty when it does not open (deliveries then fail on a bad signature key,
/// which the subscription's last_error shows; never expected after the start-up key check).
std::string OpenSecret(const crypto::DataKeys* keys, const std::string& id,
                       const std::string& stored) {
  if (!crypto::DataKeys::IsSealed(stored)) return stored;
  if (!keys) return {};
  auto opened = keys->Open(stored, SecretContext(id));
  return opened.plaintext ? std::move(*opened.plaintext) : std::string();
}

WebhookRow ReadRow(const crypto::DataKeys* keys, const pqxx::row& r) {
  WebhookRow w;
  w.id = r[0].as<std::string>();
  w.url = r[1].as<std::string>();
  w.kinds = Split(r[2].as<std::string>());
  w.devices = Split(r[3].as<std::string>());
  w.description = r[4].as<std::string>();
  w.batch_max = r[5].as<int>();
  w.secret = OpenSecret(keys, w.id, r[6].as<std::string>());
  w.previous_secret = Opt<std::string>(r[7]);
  if (w.previous_secret) w.previous_secret = OpenSecret(keys, w.id, *w.previous_secret);
  w.previous_secret_expires_at = OptTime(r[8]);
  w.state = r[9].as<std::string>();
  w.cursor_seq = r[10].as<std::int64_t>();
  w.revision = r[11].as<std::int64_t>();
  w.last_error = Opt<std::string>(r[12]);
  w.last_success_at = OptTime(r[13]);
  w.next_attempt_at = OptTime(r[14]);
  w.failing_since = OptTime(r[15]);
  w.owner = Opt<std::string>(r[16]);
  w.lease_epoch = r[17].as<std::int64_t>();
  w.created_at = detail::FromMicros(r[18].as<std::int64_t>());
  w.updated_at = detail::FromMicros(r[19].as<std::int64_t>());
  return w;
}

std::optional<WebhookRow> FirstRow(const crypto::DataKeys* keys, const pqxx::result& rows) {
  if (rows.empty()) return std::nullopt;
  return ReadRow(keys, rows[0]);
}

template <class F>
auto OnPool(Database& db, F fn) {
  return RunBlocking(db.BlockingPool(), std::move(fn));
}

}  // namespace

Result<WebhookRow> CreateWebhookBlocking(Database& db, const WebhookSpec& s) {
  return detail::WithConnectionBlocking<WebhookRow>(db.Connections(), [&](pqxx::connection& c) {
    pqxx::work tx(c);
    // Without `after`: from the newest committed seq (coalesce(max) is exact: commit order = seq).
    auto rows = tx.exec_params(
        "INSERT INTO webhooks (id, url, kinds, devices, description, batch_max, secret, "
        "cursor_seq) VALUES ($1, $2, $3::text[], $4::text[], $5, $6, $7, "
        "coalesce($8::bigint, (SELECT coalesce(max(seq), 0) FROM events))) RETURNING " +
            Columns(),
        s.id, s.url, Array(s.kinds), Array(s.devices), s.description, s.batch_max,
        SealSecret(db.Keys(), s.id, s.secret), s.after ? &*s.after : nullptr);
    tx.commit();
    return ReadRow(db.Keys(), rows[0]);
  });
}

Result<int> RekeyWebhooksBlocking(Database& db) {
  const crypto::DataKeys* keys = db.Keys();
  if (!keys) return boost::system::error_code(Errc::kBadRequest);
  return detail::WithConnectionBlocking<int>(db.Connections(), [&](pqxx::connection& c) {
    pqxx::work tx(c);
    const std::string sealed_now = "gwenc1:" + keys->current_id() + ":%";
    int moved = 0;
    for (const auto& r :
         tx.exec_params("SELECT id, secret, previous_secret FROM webhooks WHERE secret NOT LIKE $1 "
                        "OR previous_secret NOT LIKE $1 FOR UPDATE",
                        sealed_now)) {
      const std::string id = r[0].as<std::string>();
      std::string secret = OpenSecret(keys, id, r[1].as<std::string>());
      if (secret.empty()) continue;  // does not open: left for the operator (start-up says so)
      std::optional<std::string> previous;
      if (!r[2].is_null()) previous = OpenSecret(keys, id, r[2].as<std::string>());
      tx.exec_params(
          "UPDATE webhooks SET secret = $2, previous_secret = $3 WHERE id = $1", id,
          SealSecret(keys, id, secret),
          previous ? std::optional<std::string>(SealSecret(keys, id, *previous)) : std::nullopt);
      ++moved;
    }
    tx.commit();
    return moved;
  });
}

Result<std::vector<WebhookRow>> ListWebhooksBlocking(Database& db) {
  return detail::WithConnectionBlocking<std::vector<WebhookRow>>(
      db.Connections(), [&](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        std::vector<WebhookRow> out;
        for (const auto& r : tx.exec("SELECT " + Columns() + " FROM webhooks ORDER BY id")) {
          out.push_back(ReadRow(db.Keys(), r));
        }
        return out;
      });
}

Result<std::optional<WebhookRow>> GetWebhookBlocking(Database& db, const std::string& id) {
  return detail::WithConnectionBlocking<std::optional<WebhookRow>>(
      db.Connections(), [&](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        return FirstRow(db.Keys(),
                        tx.exec_params("SELECT " + Columns() + " FROM webhooks WHERE id = $1", id));
      });
}

Result<std::optional<WebhookRow>> UpdateWebhookBlocking(Database& db, const std::string& id,
                                                        const WebhookPatch& p) {
  std::optional<std::string> kinds, devices;
  if (p.kinds) kinds = Array(*p.kinds);
  if (p.devices) devices = Array(*p.devices);
  const bool resume = p.state && *p.state == "active";
  return detail::WithConnectionBlocking<std::optional<WebhookRow>>(
      db.Connections(), [&](pqxx::connection& c) {
        pqxx::work tx(c);
        auto rows = tx.exec_params(
            "UPDATE webhooks SET url = coalesce($2, url), "
            "kinds = coalesce($3::text[], kinds), devices = coalesce($4::text[], devices), "
            "description = coalesce($5, description), batch_max = coalesce($6, batch_max), "
            "state = coalesce($7, state), "
            "failing_since = CASE WHEN $8 THEN NULL ELSE failing_since END, "
            "next_attempt_at = CASE WHEN $8 THEN NULL ELSE next_attempt_at END, "
            "revision = revision + 1, updated_at = now() WHERE id = $1 RETURNING " +
                Columns(),
            id, p.url ? p.url->c_str() : nullptr, kinds ? kinds->c_str() : nullptr,
            devices ? devices->c_str() : nullptr, p.description ? p.description->c_str() : nullptr,
            p.batch_max ? &*p.batch_max : nullptr, p.state ? p.state->c_str() : nullptr, resume);
        tx.commit();
        return FirstRow(db.Keys(), rows);
      });
}

Result<std::int64_t> DeleteWebhookBlocking(Database& db, const std::string& id) {
  return detail::WithConnectionBlocking<std::int64_t>(db.Connections(), [&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto r = tx.exec_params("DELETE FROM webhooks WHERE id = $1", id);
    tx.commit();
    return static_cast<std::int64_t>(r.affected_rows());
  });
}

Result<std::optional<WebhookRow>> ReplayWebhookBlocking(Database& db, const std::string& id,
                                                        std::int64_t after) {
  return detail::WithConnectionBlocking<std::optional<WebhookRow>>(
      db.Connections(), [&](pqxx::connection& c) {
        pqxx::work tx(c);
        auto rows = tx.exec_params(
            "UPDATE webhooks SET cursor_seq = $2, revision = revision + 1, updated_at = now() "
            "WHERE id = $1 RETURNING " +
                Columns(),
            id, after);
        tx.commit();
        return FirstRow(db.Keys(), rows);
      });
}

Result<std::optional<WebhookRow>> RotateWebhookSecretBlocking(Database& db, const std::string& id,
                                                              const std::string& new_secret,
                                                              std::chrono::milliseconds overlap) {
  return detail::WithConnectionBlocking<std::optional<WebhookRow>>(
      db.Connections(), [&](pqxx::connection& c) {
        pqxx::work tx(c);
        auto rows = tx.exec_params(
            "UPDATE webhooks SET previous_secret = secret, secret = $2, "
            "previous_secret_expires_at = now() + $3 * interval '1 millisecond', "
            "revision = revision + 1, updated_at = now() WHERE id = $1 RETURNING " +
                Columns(),
            id, SealSecret(db.Keys(), id, new_secret), static_cast<std::int64_t>(overlap.count()));
        tx.commit();
        return FirstRow(db.Keys(), rows);
      });
}

Result<std::int64_t> WebhookMaxSeqBlocking(Database& db) { return MaxSeqBlocking(db); }

boost::asio::awaitable<Result<WebhookRow>> CreateWebhook(Database& db, WebhookSpec spec) {
  Database* d = &db;
  auto fn = [d, s = std::move(spec)] { return CreateWebhookBlocking(*d, s); };
  co_return co_await OnPool(db, std::move(fn));
}

boost::asio::awaitable<Result<std::vector<WebhookRow>>> ListWebhooks(Database& db) {
  Database* d = &db;
  auto fn = [d] { return ListWebhooksBlocking(*d); };
  co_return co_await OnPool(db, std::move(fn));
}

boost::asio::awaitable<Result<std::optional<WebhookRow>>> GetWebhook(Database& db, std::string id) {
  Database* d = &db;
  auto fn = [d, i = std::move(id)] { return GetWebhookBlocking(*d, i); };
  co_return co_await OnPool(db, std::move(fn));
}

boost::asio::awaitable<Result<std::optional<WebhookRow>>> UpdateWebhook(Database& db,
                                                                        std::string id,
                                                                        WebhookPatch patch) {
  Database* d = &db;
  auto fn = [d, i = std::move(id), p = std::move(patch)] {
    return UpdateWebhookBlocking(*d, i, p);
  };
  co_return co_await OnPool(db, std::move(fn));
}

boost::asio::awaitable<Result<std::int64_t>> DeleteWebhook(Database& db, std::string id) {
  Database* d = &db;
  auto fn = [d, i = std::move(id)] { return DeleteWebhookBlocking(*d, i); };
  co_return co_await OnPool(db, std::move(fn));
}

boost::asio::awaitable<Result<std::optional<WebhookRow>>> ReplayWebhook(Database& db,
                                                                        std::string id,
                                                                        std::int64_t after) {
  Database* d = &db;
  auto fn = [d, i = std::move(id), after] { return ReplayWebhookBlocking(*d, i, after); };
  co_return co_await OnPool(db, std::move(fn));
}

boost::asio::awaitable<Result<std::optional<WebhookRow>>> RotateWebhookSecret(
    Database& db, std::string id, std::string new_secret, std::chrono::milliseconds overlap) {
  Database* d = &db;
  auto fn = [d, i = std::move(id), s = std::move(new_secret), overlap] {
    return RotateWebhookSecretBlocking(*d, i, s, overlap);
  };
  co_return co_await OnPool(db, std::move(fn));
}

Result<std::vector<WebhookLease>> ClaimWebhooksBlocking(Database& db, const std::string& node,
                                                        std::chrono::milliseconds lease) {
  return detail::WithConnectionBlocking<std::vector<WebhookLease>>(
      db.Connections(), [&](pqxx::connection& c) {
        pqxx::work tx(c);
        // SKIP LOCKED: two nodes claiming at once never wait for each other nor share a row.
        // A row claimed anew (not a renewal) gets epoch + 1, which fences the previous owner.
        auto rows = tx.exec_params(
            "WITH mine AS (SELECT id FROM webhooks WHERE owner = $1 OR owner IS NULL "
            "  OR lease_expires_at < clock_timestamp() ORDER BY id FOR UPDATE SKIP LOCKED) "
            "UPDATE webhooks w SET "
            "  lease_epoch = CASE WHEN w.owner = $1 AND w.lease_expires_at >= clock_timestamp() "
            "                THEN w.lease_epoch ELSE w.lease_epoch + 1 END, "
            "  owner = $1, "
            "  lease_expires_at = clock_timestamp() + $2 * interval '1 millisecond' "
            "FROM mine WHERE w.id = mine.id RETURNING w.id, w.lease_epoch",
            node, static_cast<std::int64_t>(lease.count()));
        tx.commit();
        std::vector<WebhookLease> out;
        for (const auto& r : rows) out.push_back({r[0].as<std::string>(), r[1].as<std::int64_t>()});
        std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.id < b.id; });
        return out;
      });
}

Result<void> ReleaseWebhooksBlocking(Database& db, const std::string& node) {
  return detail::WithConnectionBlocking<void>(db.Connections(), [&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_params("UPDATE webhooks SET lease_expires_at = NULL, owner = NULL WHERE owner = $1",
                   node);
    tx.commit();
  });
}

Result<WebhookWork> NextWebhookWorkBlocking(Database& db, const std::string& id,
                                            const std::string& node, std::int64_t epoch,
                                            std::optional<std::int64_t> after,
                                            std::int64_t revision, int messages) {
  return detail::WithConnectionBlocking<WebhookWork>(db.Connections(), [&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    WebhookWork work;
    // The row, the bound and the retention mark in one round trip. The bound: every seq at or
    // below it is committed or never will be (commit order = seq order), so reading up to it
    // and moving the cursor there skips nothing.
    auto rows =
        tx.exec_params("SELECT " + Columns() +
                           ", (SELECT coalesce(max(seq), 0) FROM events), "
                           "(SELECT deleted_through_seq FROM events_retention) "
                           "FROM webhooks WHERE id = $1 AND owner = $2 AND lease_epoch = $3 "
                           "AND lease_expires_at > clock_timestamp()",
                       id, node, epoch);
    work.row = FirstRow(db.Keys(), rows);
    if (!work.row) return work;
    const auto& w = *work.row;
    const std::int64_t cursor = after && w.revision == revision ? *after : w.cursor_seq;
    work.from = cursor;
    work.max_seq = rows[0][20].as<std::int64_t>();
    work.advance_to = cursor;
    if (work.max_seq <= cursor) return work;
    const auto deleted_through = rows[0][21].as<std::int64_t>();
    if (deleted_through > cursor) {
      auto next = tx.exec_params("SELECT min(seq) FROM events WHERE seq > $1", cursor);
      std::int64_t first = next[0][0].is_null() ? work.max_seq + 1 : next[0][0].as<std::int64_t>();
      std::int64_t gap_to = std::min(deleted_through, first - 1);
      if (gap_to > cursor) {
        work.gap_from = cursor;
        work.gap_to = gap_to;
        work.advance_to = gap_to;
        return work;
      }
    }
    const int limit = std::max(w.batch_max, std::min(w.batch_max * std::max(messages, 1), 1000));
    auto events =
        tx.exec_params("SELECT " + detail::EventRowColumns() +
                           " FROM events WHERE seq > $1 AND seq <= $2 "
                           "AND (cardinality($3::text[]) = 0 OR kind = ANY($3::text[])) "
                           "AND (cardinality($4::text[]) = 0 OR device_id = ANY($4::text[])) "
                           "ORDER BY seq LIMIT $5",
                       cursor, work.max_seq, Array(w.kinds), Array(w.devices), limit);
    for (const auto& r : events) work.events.push_back(detail::ReadEventRow(r));
    work.advance_to =
        static_cast<int>(work.events.size()) < limit ? work.max_seq : work.events.back().seq;
    return work;
  });
}

Result<std::int64_t> CommitWebhookCursorBlocking(Database& db, const std::string& id,
                                                 const std::string& node, std::int64_t epoch,
                                                 std::int64_t revision, std::int64_t from,
                                                 std::int64_t to) {
  return detail::WithConnectionBlocking<std::int64_t>(db.Connections(), [&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto r = tx.exec_params(
        "UPDATE webhooks SET cursor_seq = $6, "
        "state = CASE WHEN state = 'failing' THEN 'active' ELSE state END, "
        "last_error = NULL, failing_since = NULL, next_attempt_at = NULL, "
        "last_success_at = now() "
        "WHERE id = $1 AND owner = $2 AND lease_epoch = $3 AND revision = $4 AND cursor_seq = $5 "
        "AND lease_expires_at > clock_timestamp()",
        id, node, epoch, revision, from, to);
    tx.commit();
    return static_cast<std::int64_t>(r.affected_rows());
  });
}

Result<std::vector<std::string>> CommitWebhookCursorsBlocking(
    Database& db, const std::string& node, const std::vector<WebhookCursorCommit>& commits) {
  detail::ArrayLiteral ids, epochs, revisions, froms, tos;
  for (const auto& m : commits) {
    ids.Add(m.id);
    epochs.AddInt(m.epoch);
    revisions.AddInt(m.revision);
    froms.AddInt(m.from);
    tos.AddInt(m.to);
  }
  const std::string id_list = ids.Finish();
  return detail::WithConnectionBlocking<std::vector<std::string>>(
      db.Connections(), [&](pqxx::connection& c) {
        pqxx::work tx(c);
        auto r = tx.exec_params(
            "UPDATE webhooks w SET cursor_seq = v.to_seq, "
            "state = CASE WHEN w.state = 'failing' THEN 'active' ELSE w.state END, "
            "last_error = NULL, failing_since = NULL, next_attempt_at = NULL, "
            "last_success_at = now() "
            "FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[]) "
            "  AS v(id, epoch, revision, from_seq, to_seq) "
            "WHERE w.id = v.id AND w.owner = $1 AND w.lease_epoch = v.epoch "
            "AND w.revision = v.revision AND w.cursor_seq = v.from_seq "
            "AND w.lease_expires_at > clock_timestamp() RETURNING w.id",
            node, id_list, epochs.Finish(), revisions.Finish(), froms.Finish(), tos.Finish());
        tx.commit();
        std::vector<std::string> moved;
        for (const auto& row : r) moved.push_back(row[0].as<std::string>());
        return moved;
      });
}

Result<std::string> RecordWebhookFailureBlocking(Database& db, const std::string& id,
                                                 const std::string& node, std::int64_t epoch,
                                                 const std::string& error, bool gone,
                                                 std::chrono::milliseconds retry_in,
                                                 std::chrono::milliseconds disable_after) {
  return detail::WithConnectionBlocking<std::string>(
      db.Connections(), [&](pqxx::connection& c) -> std::string {
        pqxx::work tx(c);
        auto r = tx.exec_params(
            "UPDATE webhooks SET "
            "state = CASE WHEN state IN ('paused', 'disabled') THEN state "
            "  WHEN $5 OR coalesce(failing_since, now()) <= now() - $7 * interval '1 millisecond' "
            "  THEN 'disabled' ELSE 'failing' END, "
            "failing_since = coalesce(failing_since, now()), last_error = left($4, 500), "
            "next_attempt_at = now() + $6 * interval '1 millisecond' "
            "WHERE id = $1 AND owner = $2 AND lease_epoch = $3 RETURNING state",
            id, node, epoch, error, gone, static_cast<std::int64_t>(retry_in.count()),
            static_cast<std::int64_t>(disable_after.count()));
        tx.commit();
        return r.empty() ? std::string() : r[0][0].as<std::string>();
      });
}

}  // namespace gw::store
