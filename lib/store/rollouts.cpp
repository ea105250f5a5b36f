#include "store/rollouts.hpp"

#include <map>

#include "store/pg.hpp"

namespace gw::store {
namespace {

using detail::MicrosOf;
using detail::Opt;
using detail::OptTime;
using detail::Split;

const std::string& ImageColumns() {
  static const std::string kColumns =
      "sha256, version, size_bytes, uploaded_by, " + MicrosOf("created_at");
  return kColumns;
}

FirmwareImageInfo ReadImage(const pqxx::row& r) {
  FirmwareImageInfo i;
  i.sha256 = r[0].as<std::string>();
  i.version = r[1].as<std::string>();
  i.size_bytes = r[2].as<std::int64_t>();
  i.uploaded_by = r[3].as<std::string>();
  i.created_at = detail::FromMicros(r[4].as<std::int64_t>());
  return i;
}

const std::string& RolloutColumns() {
  static const std::string kColumns =
      "id, image, version, array_to_string(groups, ','), canary, batch, health_window_s, "
      "max_failures, state, wave, reason, created_by, " +
      MicrosOf("created_at") + ", " + MicrosOf("updated_at") + ", " + MicrosOf("finished_at");
  return kColumns;
}

RolloutRow ReadRollout(const pqxx::row& r) {
  RolloutRow o;
  o.id = r[0].as<std::int64_t>();
  o.image = r[1].as<std::string>();
  o.version = r[2].as<std::string>();
  o.groups = Split(r[3].as<std::string>());
  o.canary = r[4].as<int>();
  o.batch = r[5].as<int>();
  o.health_window_s = r[6].as<int>();
  o.max_failures = r[7].as<int>();
  o.state = r[8].as<std::string>();
  o.wave = r[9].as<int>();
  o.reason = Opt<std::string>(r[10]);
  o.created_by = r[11].as<std::string>();
  o.created_at = detail::FromMicros(r[12].as<std::int64_t>());
  o.updated_at = detail::FromMicros(r[13].as<std::int64_t>());
  o.finished_at = OptTime(r[14]);
  return o;
}

const std::string& ReaderColumns() {
  static const std::string kColumns =
      "device_id, position, wave, step, error, reported_version, node, claimed, " +
      MicrosOf("deadline") + ", " + MicrosOf("updated_at");
  return kColumns;
}

/// Reads ReaderColumns() starting at column `at`.
RolloutReaderRow ReadReader(const pqxx::row& r, int at = 0) {
  RolloutReaderRow o;
  o.device_id = r[at + 0].as<std::string>();
  o.position = r[at + 1].as<int>();
  o.wave = r[at + 2].as<int>();
  o.step = r[at + 3].as<std::string>();
  o.error = Opt<std::string>(r[at + 4]);
  o.reported_version = Opt<std::string>(r[at + 5]);
  o.node = Opt<std::string>(r[at + 6]);
  o.claimed = r[at + 7].as<bool>();
  o.deadline = OptTime(r[at + 8]);
  o.updated_at = detail::FromMicros(r[at + 9].as<std::int64_t>());
  return o;
}

std::vector<RolloutReaderRow> ReadersOf(pqxx::work& tx, std::int64_t id) {
  auto rows = tx.exec_params("SELECT " + ReaderColumns() +
                                 " FROM fleet_rollout_readers WHERE rollout_id = $1"
                                 " ORDER BY position",
                             id);
  std::vector<RolloutReaderRow> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(ReadReader(r));
  return out;
}

/// Fills each rollout's step_counts.
void CountSteps(pqxx::work& tx, std::vector<RolloutRow>& rollouts) {
  if (rollouts.empty()) return;
  detail::ArrayLiteral ids;
  std::map<std::int64_t, RolloutRow*> by_id;
  for (auto& r : rollouts) {
    ids.AddInt(r.id);
    by_id[r.id] = &r;
  }
  auto rows = tx.exec_params(
      "SELECT rollout_id, step, count(*)::int FROM fleet_rollout_readers"
      " WHERE rollout_id = ANY($1::bigint[]) GROUP BY rollout_id, step ORDER BY rollout_id, step",
      ids.Finish());
  for (const auto& r : rows) {
    by_id[r[0].as<std::int64_t>()]->step_counts.emplace_back(r[1].as<std::string>(),
                                                             r[2].as<int>());
  }
}

}  // namespace

Result<FirmwareImageInfo> PutFirmwareImageBlocking(Database& db, const std::string& sha256,
                                                   const std::string& version,
                                                   const std::string& data,
                                                   const std::string& uploaded_by) {
  return detail::WithConnectionBlocking<FirmwareImageInfo>(
      db.Connections(), [&](pqxx::connection& c) -> Result<FirmwareImageInfo> {
        pqxx::work tx(c);
        const pqxx::binarystring bytes(data.data(), data.size());
        auto rows = tx.exec_params(
            "INSERT INTO firmware_images (sha256, version, size_bytes, data, uploaded_by)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING RETURNING " +
                ImageColumns(),
            sha256, version, static_cast<std::int64_t>(data.size()), bytes, uploaded_by);
        if (!rows.empty()) {
          auto info = ReadImage(rows[0]);
          info.created = true;
          tx.commit();
          return info;
        }
        auto existing = tx.exec_params(
            "SELECT " + ImageColumns() + " FROM firmware_images WHERE sha256 = $1", sha256);
        tx.commit();
        if (existing.empty()) return boost::system::error_code(Errc::kDbUnavailable);  // raced
        auto info = ReadImage(existing[0]);
        if (info.version != version) return boost::system::error_code(Errc::kConflict);
        return info;
      });
}

Result<std::vector<FirmwareImageInfo>> ListFirmwareImagesBlocking(Database& db) {
  return detail::WithConnectionBlocking<std::vector<FirmwareImageInfo>>(
      db.Connections(), [&](pqxx::connection& c) {
        pqxx::work tx(c);
        auto rows =
            tx.exec("SELECT " + ImageColumns() + " FROM firmware_images ORDER BY created_at DESC");
        tx.commit();
        std::vector<FirmwareImageInfo> out;
        for (const auto& r : rows) out.push_back(ReadImage(r));
        return out;
      });
}

Result<std::optional<FirmwareImageInfo>> GetFirmwareImageBlocking(Database& db,
                                                                  const std::string& sha256) {
  return detail::WithConnectionBlocking<std::optional<FirmwareImageInfo>>(
      db.Connections(), [&](pqxx::connection& c) -> std::optional<FirmwareImageInfo> {
        pqxx::work tx(c);
        auto rows = tx.exec_params(
            "SELECT " + ImageColumns() + " FROM firmware_images WHERE sha256 = $1", sha256);
        tx.commit();
        if (rows.empty()) return std::nullopt;
        return ReadImage(rows[0]);
      });
}

Result<std::optional<std::string>> FirmwareImageDataBlocking(Database& db,
                                                             const std::string& sha256) {
  return detail::WithConnectionBlocking<std::optional<std::string>>(
      db.Connections(), [&](pqxx::connection& c) -> std::optional<std::string> {
        pqxx::work tx(c);
        auto rows = tx.exec_params("SELECT data FROM firmware_images WHERE sha256 = $1", sha256);
        tx.commit();
        if (rows.empty()) return std::nullopt;
        const pqxx::binarystring bytes(rows[0][0]);
        return bytes.str();
      });
}

Result<RolloutRow> CreateRolloutBlocking(Database& db, const RolloutSpec& s) {
  return detail::WithConnectionBlocking<RolloutRow>(
      db.Connections(), [&](pqxx::connection& c) -> Result<RolloutRow> {
        pqxx::work tx(c);
        auto image =
            tx.exec_params("SELECT version FROM firmware_images WHERE sha256 = $1", s.image);
        if (image.empty()) return boost::system::error_code(Errc::kNotFound);
        detail::ArrayLiteral groups;
        for (const auto& g : s.groups) groups.Add(g);
        auto rows = tx.exec_params(
            "INSERT INTO fleet_rollouts (image, version, groups, canary, batch, health_window_s,"
            " max_failures, created_by) VALUES ($1, $2, $3::text[], $4, $5, $6, $7, $8)"
            " RETURNING " +
                RolloutColumns(),
            s.image, image[0][0].as<std::string>(), groups.Finish(), s.canary, s.batch,
            s.health_window_s, s.max_failures, s.created_by);
        auto rollout = ReadRollout(rows[0]);
        detail::ArrayLiteral devices;
        detail::ArrayLiteral waves;
        for (const auto& [device, wave] : s.readers) {
          devices.Add(device);
          waves.AddInt(wave);
        }
        tx.exec_params(
            "INSERT INTO fleet_rollout_readers (rollout_id, device_id, position, wave)"
            " SELECT $1, d, p::int - 1, w FROM unnest($2::text[], $3::int[])"
            " WITH ORDINALITY AS t(d, w, p)",
            rollout.id, devices.Finish(), waves.Finish());
        std::vector<RolloutRow> one{rollout};
        CountSteps(tx, one);
        tx.commit();
        return one.front();
      });
}

Result<std::vector<RolloutRow>> ListRolloutsBlocking(Database& db, int limit) {
  return detail::WithConnectionBlocking<std::vector<RolloutRow>>(
      db.Connections(), [&](pqxx::connection& c) {
        pqxx::work tx(c);
        auto rows = tx.exec_params(
            "SELECT " + RolloutColumns() + " FROM fleet_rollouts ORDER BY id DESC LIMIT $1", limit);
        std::vector<RolloutRow> out;
        for (const auto& r : rows) out.push_back(ReadRollout(r));
        CountSteps(tx, out);
        tx.commit();
        return out;
      });
}

Result<std::optional<std::pair<RolloutRow, std::vector<RolloutReaderRow>>>> GetRolloutBlocking(
    Database& db, std::int64_t id) {
  using Out = std::optional<std::pair<RolloutRow, std::vector<RolloutReaderRow>>>;
  return detail::WithConnectionBlocking<Out>(db.Connections(), [&](pqxx::connection& c) -> Out {
    pqxx::work tx(c);
    auto rows =
        tx.exec_params("SELECT " + RolloutColumns() + " FROM fleet_rollouts WHERE id = $1", id);
    if (rows.empty()) return std::nullopt;
    std::vector<RolloutRow> one{ReadRollout(rows[0])};
    CountSteps(tx, one);
    auto readers = ReadersOf(tx, id);
    tx.commit();
    return std::make_pair(std::move(one.front()), std::move(readers));
  });
}

Result<std::optional<RolloutRow>> ChangeRolloutStateBlocking(Database& db, std::int64_t id,
                                                             const std::string& action) {
  using Out = std::optional<RolloutRow>;
  return detail::WithConnectionBlocking<Out>(
      db.Connections(), [&](pqxx::connection& c) -> Result<Out> {
        pqxx::work tx(c);
        auto rows = tx.exec_params("SELECT state FROM fleet_rollouts WHERE id = $1 FOR UPDATE", id);
        if (rows.empty()) return Out{};
        const auto state = rows[0][0].as<std::string>();
        std::string next;
        if (action == "pause" && state == "running") next = "paused";
        if (action == "resume" && (state == "paused" || state == "halted")) next = "running";
        if (action == "abort" && (state == "running" || state == "paused" || state == "halted")) {
          next = "aborted";
        }
        if (next.empty()) return boost::system::error_code(Errc::kConflict);
        if (next != "running") {
          // Not yet begun on its reader: nothing to finish, back in the queue.
          tx.exec_params(
              "UPDATE fleet_rollout_readers SET step = 'pending', deadline = NULL,"
              " updated_at = now() WHERE rollout_id = $1 AND step = 'installing' AND NOT claimed",
              id);
        }
        auto updated = tx.exec_params(
            "UPDATE fleet_rollouts SET state = $2, updated_at = now(),"
            " reason = CASE WHEN $2 = 'running' THEN NULL ELSE reason END,"
            " finished_at = CASE WHEN $2 = 'aborted' THEN now() ELSE NULL END"
            " WHERE id = $1 RETURNING " +
                RolloutColumns(),
            id, next);
        std::vector<RolloutRow> one{ReadRollout(updated[0])};
        CountSteps(tx, one);
        tx.commit();
        return Out{std::move(one.front())};
      });
}

Result<std::vector<RolloutRow>> AdvanceRolloutsBlocking(Database& db, const RolloutPlanner& plan) {
  return detail::WithConnectionBlocking<std::vector<RolloutRow>>(
      db.Connections(), [&](pqxx::connection& c) {
        std::vector<std::int64_t> ids;
        {
          pqxx::work tx(c);
          for (const auto& r : tx.exec("SELECT id FROM fleet_rollouts WHERE state = 'running'")) {
            ids.push_back(r[0].as<std::int64_t>());
          }
          tx.commit();
        }
        std::vector<RolloutRow> changed;
        for (auto id : ids) {
          pqxx::work tx(c);
          auto rows = tx.exec_params("SELECT " + RolloutColumns() +
                                         " FROM fleet_rollouts WHERE id = $1 AND state = "
                                         "'running' FOR UPDATE",
                                     id);
          if (rows.empty()) continue;  // paused or aborted meanwhile
          auto rollout = ReadRollout(rows[0]);
          auto readers = ReadersOf(tx, id);
          auto advance = plan(rollout, readers);
          if (!advance.start.empty()) {
            detail::ArrayLiteral start;
            for (const auto& d : advance.start) start.Add(d);
            tx.exec_params(
                "UPDATE fleet_rollout_readers SET step = 'installing', claimed = false,"
                " deadline = NULL, updated_at = now()"
                " WHERE rollout_id = $1 AND device_id = ANY($2::text[]) AND step = 'pending'",
                id, start.Finish());
          }
          if (advance.wave || advance.state) {
            const bool finished = advance.state.has_value();
            tx.exec_params(
                "UPDATE fleet_rollouts SET wave = coalesce($2, wave), state = coalesce($3, state),"
                " reason = CASE WHEN $3::text IS NULL THEN reason ELSE $4 END,"
                " finished_at = CASE WHEN $5 AND $3 = 'completed' THEN now()"
                " ELSE finished_at END, updated_at = now() WHERE id = $1",
                id, advance.wave, advance.state, advance.reason, finished);
            if (advance.state) {
              rollout.state = *advance.state;
              rollout.reason = advance.reason;
              changed.push_back(rollout);
            }
          }
          tx.commit();
        }
        return changed;
      });
}

Result<std::vector<ActiveStep>> ActiveStepsBlocking(Database& db) {
  return detail::WithConnectionBlocking<std::vector<ActiveStep>>(
      db.Connections(), [&](pqxx::connection& c) {
        pqxx::work tx(c);
        auto rows = tx.exec(
            "SELECT f.id, f.state, f.image, f.version, f.health_window_s, f.created_by, "
            "r.device_id, r.position, r.wave, r.step, r.error, r.reported_version, r.node, "
            "r.claimed, " +
            MicrosOf("r.deadline") + ", " + MicrosOf("r.updated_at") +
            " FROM fleet_rollout_readers r JOIN fleet_rollouts f ON f.id = r.rollout_id"
            " WHERE r.step IN ('installing', 'verifying') ORDER BY f.id, r.position");
        tx.commit();
        std::vector<ActiveStep> out;
        for (const auto& r : rows) {
          ActiveStep s;
          s.rollout_id = r[0].as<std::int64_t>();
          s.rollout_state = r[1].as<std::string>();
          s.image = r[2].as<std::string>();
          s.version = r[3].as<std::string>();
          s.health_window_s = r[4].as<int>();
          s.created_by = r[5].as<std::string>();
          s.reader = ReadReader(r, 6);
          out.push_back(std::move(s));
        }
        return out;
      });
}

Result<int> ClaimInstallBlocking(Database& db, std::int64_t rollout_id,
                                 const std::string& device_id, const std::string& node) {
  return detail::WithConnectionBlocking<int>(db.Connections(), [&](pqxx::connection& c) {
    pqxx::work tx(c);
    // FOR SHARE on the rollout: a pause or an abort (FOR UPDATE) either sees the claim or
    // happens first and leaves nothing to claim.
    auto rows = tx.exec_params(
        "WITH f AS (SELECT id, state, health_window_s FROM fleet_rollouts WHERE id = $1 FOR SHARE)"
        " UPDATE fleet_rollout_readers r SET claimed = true, node = NULLIF($3, ''),"
        " deadline = now() + make_interval(secs => f.health_window_s), updated_at = now()"
        " FROM f WHERE r.rollout_id = f.id AND r.device_id = $2 AND r.step = 'installing'"
        " AND (f.state = 'running' OR r.claimed) RETURNING r.device_id",
        rollout_id, device_id, node);
    tx.commit();
    return static_cast<int>(rows.size());
  });
}

Result<void> SetReaderStepBlocking(Database& db, std::int64_t rollout_id,
                                   const std::string& device_id, const std::string& step,
                                   const std::optional<std::string>& error,
                                   const std::optional<std::string>& reported_version,
                                   std::optional<int> deadline_s) {
  return detail::WithConnectionBlocking<void>(db.Connections(), [&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_params(
        "UPDATE fleet_rollout_readers SET step = $3, error = $4,"
        " reported_version = coalesce($5, reported_version),"
        " deadline = CASE WHEN $6::int IS NULL THEN deadline"
        " ELSE now() + make_interval(secs => $6::int) END, updated_at = now()"
        " WHERE rollout_id = $1 AND device_id = $2 AND step IN ('installing', 'verifying')",
        rollout_id, device_id, step, error, reported_version, deadline_s);
    tx.commit();
  });
}

Result<std::vector<RolloutStepCount>> RolloutStepCountsBlocking(Database& db, int limit) {
  return detail::WithConnectionBlocking<std::vector<RolloutStepCount>>(
      db.Connections(), [&](pqxx::connection& c) {
        pqxx::work tx(c);
        auto rows = tx.exec_params(
            "SELECT r.rollout_id, r.step, count(*)::int FROM fleet_rollout_readers r"
            " WHERE r.rollout_id IN (SELECT id FROM fleet_rollouts ORDER BY id DESC LIMIT $1)"
            " GROUP BY r.rollout_id, r.step",
            limit);
        tx.commit();
        std::vector<RolloutStepCount> out;
        for (const auto& r : rows) {
          out.push_back({r[0].as<std::int64_t>(), r[1].as<std::string>(), r[2].as<int>()});
        }
        return out;
      });
}

}  // namespace gw::store
