#include "store/reader_locks.hpp"

#include "common/run_blocking.hpp"
#include "store/pg.hpp"

namespace gw::store {
namespace {

constexpr const char* kRecord = R"sql(
INSERT INTO reader_locks (device_id, lock_uid, host, port, acquired_at)
VALUES ($1, $2, $3, $4, now())
ON CONFLICT (device_id) DO UPDATE SET
  lock_uid = EXCLUDED.lock_uid, host = EXCLUDED.host, port = EXCLUDED.port,
  acquired_at = EXCLUDED.acquired_at
)sql";

}  // namespace

Result<void> RecordReaderLockBlocking(Database& db, const std::string& device_id,
                                      const ReaderLock& lock) {
  // The devices row first: the lock row references it (a reader may lock before its first event).
  return detail::WithConnectionBlocking<void>(db.Connections(), [&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_params("INSERT INTO devices (device_id) VALUES ($1) ON CONFLICT (device_id) DO NOTHING",
                   device_id);
    tx.exec_params(kRecord, device_id, lock.lock_uid, lock.host, static_cast<int>(lock.port));
    tx.commit();
  });
}

boost::asio::awaitable<Result<void>> RecordReaderLock(Database& db, std::string device_id,
                                                      ReaderLock lock) {
  Database* d = &db;
  auto fn = [d, id = std::move(device_id), l = std::move(lock)] {
    return RecordReaderLockBlocking(*d, id, l);
  };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

Result<std::optional<ReaderLock>> ReadReaderLockBlocking(Database& db,
                                                         const std::string& device_id) {
  return detail::WithConnectionBlocking<std::optional<ReaderLock>>(
      db.Connections(), [&](pqxx::connection& c) -> std::optional<ReaderLock> {
        pqxx::read_transaction tx(c);
        auto rows = tx.exec_params(
            "SELECT lock_uid, host, port FROM reader_locks WHERE device_id = $1", device_id);
        if (rows.empty()) return std::nullopt;
        return ReaderLock{rows[0][0].as<std::string>(), rows[0][1].as<std::string>(),
                          static_cast<std::uint16_t>(rows[0][2].as<int>())};
      });
}

boost::asio::awaitable<Result<std::optional<ReaderLock>>> ReadReaderLock(Database& db,
                                                                         std::string device_id) {
  Database* d = &db;
  auto fn = [d, id = std::move(device_id)] { return ReadReaderLockBlocking(*d, id); };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

Result<void> ForgetReaderLockBlocking(Database& db, const std::string& device_id,
                                      const std::string& lock_uid) {
  return detail::WithConnectionBlocking<void>(db.Connections(), [&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_params("DELETE FROM reader_locks WHERE device_id = $1 AND lock_uid = $2", device_id,
                   lock_uid);
    tx.commit();
  });
}

boost::asio::awaitable<Result<void>> ForgetReaderLock(Database& db, std::string device_id,
                                                      std::string lock_uid) {
  Database* d = &db;
  auto fn = [d, id = std::move(device_id), uid = std::move(lock_uid)] {
    return ForgetReaderLockBlocking(*d, id, uid);
  };
  co_return co_await RunBlocking(db.BlockingPool(), std::move(fn));
}

}  // namespace gw::store
