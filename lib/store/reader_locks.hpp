#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "common/error.hpp"
#include "store/database.hpp"

// The session lock each reader granted us (table reader_locks, migration 0005). Blocking forms
// run libpqxx and belong on db.BlockingPool(); the awaitable forms hop there and back. Errors:
// Errc::kDbUnavailable when PostgreSQL cannot be reached.

namespace gw::store {

/// A reader lock as recorded when it was acquired.
struct ReaderLock {
  std::string lock_uid;
  std::string host;
  std::uint16_t port = 0;
};

/// Records `lock` as the lock reader `device_id` granted us, replacing any earlier one (creates
/// the devices row if needed). Called before the lock_uid is first used.
Result<void> RecordReaderLockBlocking(Database& db, const std::string& device_id,
                                      const ReaderLock& lock);
boost::asio::awaitable<Result<void>> RecordReaderLock(Database& db, std::string device_id,
                                                      ReaderLock lock);

/// The recorded lock of reader `device_id`, nullopt if none.
Result<std::optional<ReaderLock>> ReadReaderLockBlocking(Database& db,
                                                         const std::string& device_id);
boost::asio::awaitable<Result<std::optional<ReaderLock>>> ReadReaderLock(Database& db,
                                                                         std::string device_id);

/// Forgets the recorded lock of `device_id` if it is still `lock_uid` (after a clean release).
Result<void> ForgetReaderLockBlocking(Database& db, const std::string& device_id,
                                      const std::string& lock_uid);
boost::asio::awaitable<Result<void>> ForgetReaderLock(Database& db, std::string device_id,
                                                      std::string lock_uid);

}  // namespace gw::store
