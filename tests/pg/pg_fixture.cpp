#include "pg_fixture.hpp"

#include <atomic>
#include <cstdlib>
#include <pqxx/pqxx>
#include <random>

#include "support/wait.hpp"

namespace gw::test {

namespace asio = boost::asio;

std::optional<std::string> TestPgDsn() {
  const char* dsn = std::getenv("EF45GW_TEST_PG_DSN");
  if (!dsn || !*dsn) return std::nullopt;
  return std::string(dsn);
}

std::string WithDbName(const std::string& base, const std::string& db) {
  return base + " dbname=" + db;
}

std::vector<std::vector<std::string>> Query(const std::string& dsn, const std::string& sql) {
  pqxx::connection c(dsn);
  pqxx::work tx(c);
  tx.exec("SET TimeZone = 'UTC'");
  auto r = tx.exec(sql);
  tx.commit();
  std::vector<std::vector<std::string>> out;
  for (const auto& row : r) {
    std::vector<std::string> cols;
    for (const auto& f : row) cols.push_back(f.is_null() ? "<null>" : f.as<std::string>());
    out.push_back(std::move(cols));
  }
  return out;
}

std::string Scalar(const std::string& dsn, const std::string& sql) {
  auto rows = Query(dsn, sql);
  return rows.empty() || rows[0].empty() ? "<none>" : rows[0][0];
}

void Exec(const std::string& dsn, const std::string& sql) {
  pqxx::connection c(dsn);
  pqxx::work tx(c);
  tx.exec(sql);
  tx.commit();
}

std::vector<store::Migration> SourceMigrations() {
  std::string problem;
  auto r = store::LoadMigrationsBlocking(SourceDir() + "/migrations", &problem);
  EXPECT_TRUE(r) << problem;
  return r ? *r : std::vector<store::Migration>{};
}

void PgTest::SetUp() {
  auto base = TestPgDsn();
  if (!base) {
    const char* ci = std::getenv("CI");
    if (ci && std::string(ci) == "true") {
      FAIL() << "EF45GW_TEST_PG_DSN is not set (run tests/run.sh or tests/support/pg.sh start)";
    }
    GTEST_SKIP() << "EF45GW_TEST_PG_DSN is not set; start one with tests/support/pg.sh";
  }
  admin_dsn_ = *base;
  static std::atomic<int> counter{0};
  std::random_device rd;
  db_name_ = "gwtest_" + std::to_string(rd() % 1000000) + "_" + std::to_string(++counter);
  Exec(admin_dsn_, "SELECT 1");
  pqxx::connection c(admin_dsn_);
  pqxx::nontransaction tx(c);
  tx.exec("CREATE DATABASE " + db_name_);
  dsn_ = WithDbName(admin_dsn_, db_name_);
  if (Migrated()) {
    std::string problem;
    auto r = store::MigrateBlocking(dsn_, SourceMigrations(), &problem);
    ASSERT_TRUE(r) << problem;
  }
}

void PgTest::TearDown() {
  if (db_name_.empty()) return;
  pqxx::connection c(admin_dsn_);
  pqxx::nontransaction tx(c);
  tx.exec("DROP DATABASE IF EXISTS " + db_name_ + " WITH (FORCE)");
}

std::future<boost::system::error_code> WriteAsync(asio::io_context& io, store::EventWriter& writer,
                                                  store::DeviceBatch batch) {
  auto write = [](store::EventWriter* w,
                  store::DeviceBatch b) -> asio::awaitable<boost::system::error_code> {
    co_return co_await w->Write(std::move(b));
  };
  return asio::co_spawn(io, write(&writer, std::move(batch)), asio::use_future);
}

void StopWriter(asio::io_context& io, store::EventWriter& writer,
                std::chrono::milliseconds deadline) {
  auto stop = [](store::EventWriter* w, std::chrono::milliseconds d) -> asio::awaitable<void> {
    co_await w->Stop(d);
  };
  asio::co_spawn(io, stop(&writer, deadline), asio::use_future).get();
}

store::Event LogEvent(std::int64_t log_id, std::int64_t epoch, std::string user) {
  store::Event e;
  e.kind = store::EventKind::kRecognition;
  e.source = store::EventSource::kLog;
  e.device_log_id = log_id;
  e.log_epoch = epoch;
  e.event_type = "Recognition";
  e.info = "Recog/BioOnly/IrisOk";
  e.additional_data = "Allowed";
  e.user_uuid = std::move(user);
  e.device_time = store::TimePoint(std::chrono::seconds(1764000000 + log_id));
  e.payload = R"({"matched_faceimage_data_len":0,"timestamp":"2025-11-24T16:00:00Z"})";
  return e;
}

store::Event MatchEvent(std::int64_t log_id, const std::string& encounter, std::int64_t epoch,
                        std::string user) {
  store::Event e;
  e.kind = store::EventKind::kRecognition;
  e.source = store::EventSource::kMatchData;
  e.device_log_id = log_id;
  e.log_epoch = epoch;
  e.encounter_id = encounter;
  e.user_uuid = std::move(user);
  e.device_time = store::TimePoint(std::chrono::seconds(1764000000 + log_id));
  e.payload =
      R"({"serial_number":"EF45-000123","left_eye_usable_iris_area":87,"left_eye_quality_score":92,)"
      R"("left_eye_quality_ok":true,"right_eye_usable_iris_area":85,"right_eye_quality_score":90,)"
      R"("right_eye_quality_ok":true,"near_on_face_score":0.97,"near_on_face_frontal_score":0.91,)"
      R"("near_on_face_roll":1.5,"near_on_face_eye_width":64,"far_on_face_score":0.88})";
  return e;
}

}  // namespace gw::test
