#include "store/leases.hpp"

#include <algorithm>

#include "common/run_blocking.hpp"
#include "store/pg.hpp"

namespace gw::store {
namespace {

constexpr const char* kHeartbeat = R"sql(
INSERT INTO cluster_nodes AS n (node_id, advertise_url, heartbeat_at, expires_at)
VALUES ($1, $2, now(), now() + $3::int8 * interval '1 millisecond')
ON CONFLICT (node_id) DO UPDATE SET
  advertise_url = EXCLUDED.advertise_url, heartbeat_at = now(), expires_at = EXCLUDED.expires_at
)sql";

constexpr const char* kEnsureDevices = R"sql(
INSERT INTO devices (device_id) SELECT unnest($1::text[]) ON CONFLICT (device_id) DO NOTHING
)sql";

// Epoch 0 and an expiry at -infinity: never claimed; the first claim makes it epoch 1.
constexpr const char* kEnsureLeases = R"sql(
INSERT INTO device_leases (device_id, owner, epoch, expires_at)
SELECT unnest($1::text[]), '', 0, '-infinity'
ON CONFLICT (device_id) DO NOTHING
)sql";

// Rows are locked in device_id order, like the event writer's fence: no deadlock between them.
constexpr const char* kRenew = R"sql(
UPDATE device_leases l
SET expires_at = now() + $4::int8 * interval '1 millisecond', updated_at = now()
FROM (SELECT d.device_id
      FROM device_leases d
      JOIN unnest($2::text[], $3::int8[]) AS h(dev, ep) ON d.device_id = h.dev AND d.epoch = h.ep
      WHERE d.owner = $1
      ORDER BY d.device_id
      FOR UPDATE OF d) AS mine
WHERE l.device_id = mine.device_id
RETURNING l.device_id, l.epoch
)sql";

constexpr const char* kLiveNodes = R"sql(
SELECT count(*) FROM cluster_nodes WHERE expires_at > now()
)sql";

// Free: released (owner ''), expired, or ours from a previous incarnation of this node id. The
// md5 order spreads two nodes' picks; SKIP LOCKED makes concurrent claims disjoint and waitless.
constexpr const char* kClaim = R"sql(
WITH free AS (
  SELECT device_id, owner
  FROM device_leases
  WHERE device_id = ANY($2::text[])
    AND (owner = '' OR expires_at <= now() OR (owner = $1 AND device_id <> ALL($3::text[])))
  ORDER BY md5(device_id || $1)
  LIMIT $4
  FOR UPDATE SKIP LOCKED)
UPDATE device_leases l
SET owner = $1, epoch = l.epoch + 1, expires_at = now() + $5::int8 * interval '1 millisecond',
    claimed_at = now(), updated_at = now()
FROM free
WHERE l.device_id = free.device_id
RETURNING l.device_id, l.epoch, free.owner
)sql";

constexpr const char* kOwners = R"sql(
SELECT l.device_id, n.node_id, n.advertise_url
FROM device_leases l JOIN cluster_nodes n ON n.node_id = l.owner
WHERE l.expires_at > now() AND n.expires_at > now()
ORDER BY l.device_id
)sql";

constexpr const char* kRelease = R"sql(
UPDATE device_leases l SET owner = '', expires_at = now(), updated_at = now()
FROM unnest($2::text[], $3::int8[]) AS r(dev, ep)
WHERE l.device_id = r.dev AND l.epoch = r.ep AND l.owner = $1
)sql";

constexpr const char* kLeave = R"sql(
UPDATE cluster_nodes SET expires_at = now() WHERE node_id = $1
)sql";

std::string Ids(const std::vector<std::string>& ids) {
  detail::ArrayLiteral a;
  for (const auto& id : ids) a.Add(id);
  return a.Finish();
}

}  // namespace

int FairShare(std::size_t readers, int live_nodes) {
  auto nodes = static_cast<std::size_t>(std::max(1, live_nodes));
  return static_cast<int>((readers + nodes - 1) / nodes);
}

Result<LeaseTickResult> LeaseTickBlocking(Database& db, const LeaseTickRequest& q) {
  return detail::WithConnectionBlocking<LeaseTickResult>(
      db.Connections(), [&](pqxx::connection& c) {
        pqxx::work tx(c);
        const auto lease_ms = static_cast<std::int64_t>(q.lease.count());
        LeaseTickResult out;
        tx.exec_params(kHeartbeat, q.node_id, q.advertise_url, lease_ms);
        std::string readers = Ids(q.readers);
        if (q.ensure_rows && !q.readers.empty()) {
          tx.exec_params(kEnsureDevices, readers);
          tx.exec_params(kEnsureLeases, readers);
        }
        std::vector<std::string> held_ids;
        if (!q.held.empty()) {
          detail::ArrayLiteral dev, ep;
          for (const auto& h : q.held) {
            dev.Add(h.device_id);
            ep.AddInt(h.epoch);
            held_ids.push_back(h.device_id);
          }
          for (const auto& r :
               tx.exec_params(kRenew, q.node_id, dev.Finish(), ep.Finish(), lease_ms)) {
            out.renewed.push_back({r[0].as<std::string>(), r[1].as<std::int64_t>()});
          }
        }
        out.live_nodes = std::max(1, tx.exec(kLiveNodes)[0][0].as<int>());
        out.share = FairShare(q.readers.size(), out.live_nodes);
        if (q.claim) {
          // Only renewed leases of configured readers count toward the share: the others are
          // about to be released.
          std::size_t mine = 0;
          for (const auto& h : out.renewed) {
            if (std::find(q.readers.begin(), q.readers.end(), h.device_id) != q.readers.end()) {
              ++mine;
            }
          }
          auto want = static_cast<std::int64_t>(out.share) - static_cast<std::int64_t>(mine);
          if (want > 0) {
            for (const auto& r :
                 tx.exec_params(kClaim, q.node_id, readers, Ids(held_ids), want, lease_ms)) {
              out.claimed.push_back(
                  {r[0].as<std::string>(), r[1].as<std::int64_t>(), r[2].as<std::string>()});
            }
          }
        }
        for (const auto& r : tx.exec(kOwners)) {
          out.owners.push_back(
              {r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>()});
        }
        tx.commit();
        return out;
      });
}

Result<void> ReleaseLeasesBlocking(Database& db, const std::string& node_id,
                                   const std::vector<HeldLease>& leases) {
  if (leases.empty()) return {};
  return detail::WithConnectionBlocking<void>(db.Connections(), [&](pqxx::connection& c) {
    detail::ArrayLiteral dev, ep;
    for (const auto& l : leases) {
      dev.Add(l.device_id);
      ep.AddInt(l.epoch);
    }
    pqxx::work tx(c);
    tx.exec_params(kRelease, node_id, dev.Finish(), ep.Finish());
    tx.commit();
  });
}

Result<void> LeaveClusterBlocking(Database& db, const std::string& node_id) {
  return detail::WithConnectionBlocking<void>(db.Connections(), [&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_params(kLeave, node_id);
    tx.commit();
  });
}

Result<std::vector<LeaseRow>> ListLeasesBlocking(Database& db,
                                                 const std::optional<std::string>& device_id) {
  static const std::string kSql =
      "SELECT l.device_id, l.owner, l.epoch, "
      "CASE WHEN l.expires_at = '-infinity' THEN NULL ELSE " +
      detail::MicrosOf("l.expires_at") +
      " END, l.owner <> '' AND l.expires_at > now(), coalesce(n.advertise_url, '') "
      "FROM device_leases l LEFT JOIN cluster_nodes n ON n.node_id = l.owner "
      "WHERE $1::text IS NULL OR l.device_id = $1 ORDER BY l.device_id";
  return detail::WithConnectionBlocking<std::vector<LeaseRow>>(
      db.Connections(), [&](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        std::vector<LeaseRow> out;
        for (const auto& r : tx.exec_params(
                 kSql, device_id ? device_id->c_str() : static_cast<const char*>(nullptr))) {
          LeaseRow row;
          row.device_id = r[0].as<std::string>();
          row.owner = r[1].as<std::string>();
          row.epoch = r[2].as<std::int64_t>();
          if (!r[3].is_null()) row.expires_at = detail::FromMicros(r[3].as<std::int64_t>());
          row.valid = r[4].as<bool>();
          row.owner_url = r[5].as<std::string>();
          out.push_back(std::move(row));
        }
        return out;
      });
}

boost::asio::awaitable<Result<std::vector<LeaseRow>>> ListLeases(
    Database& db, std::optional<std::string> device_id) {
  Database* d = &db;
  auto fn = [d, id = std::move(device_id)] { return ListLeasesBlocking(*d, id); };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

}  // namespace gw::store
