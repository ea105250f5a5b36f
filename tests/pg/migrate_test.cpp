#include "store/migrate.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "pg_fixture.hpp"

namespace gw::test {
namespace {

class Migrations : public PgTest {
 protected:
  bool Migrated() const override { return false; }

  // Everything about the schema that a migration could change.
  std::vector<std::vector<std::string>> SchemaDump() {
    return Query(
        Dsn(),
        "SELECT table_name || '.' || column_name || ':' || data_type || ':' || "
        "is_nullable || ':' || coalesce(column_default, '') FROM information_schema.columns "
        "WHERE table_schema = 'public' UNION ALL "
        "SELECT indexname || ':' || indexdef FROM pg_indexes WHERE schemaname = 'public' "
        "UNION ALL SELECT conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE connamespace = 'public'::regnamespace UNION ALL "
        "SELECT version || ':' || name || ':' || checksum || ':' || applied_at "
        "FROM schema_migrations ORDER BY 1");
  }
};

TEST_F(Migrations, ApplyFromEmptyDatabaseAndAreIdempotent) {
  auto files = SourceMigrations();
  ASSERT_FALSE(files.empty());
  std::string problem;
  auto first = store::MigrateBlocking(Dsn(), files, &problem);
  ASSERT_TRUE(first) << problem;
  EXPECT_EQ(first->from, 0);
  EXPECT_EQ(first->to, files.back().version);
  EXPECT_EQ(first->applied.size(), files.size());
  for (const char* table : {"devices", "device_cursors", "events", "door_state", "users",
                            "user_device_state", "device_leases", "schema_migrations"}) {
    EXPECT_EQ(Scalar(Dsn(), std::string("SELECT to_regclass('") + table + "') IS NOT NULL"), "t")
        << table;
  }
  auto before = SchemaDump();
  auto second = store::MigrateBlocking(Dsn(), files, &problem);
  ASSERT_TRUE(second) << problem;
  EXPECT_TRUE(second->applied.empty());
  EXPECT_EQ(second->from, files.back().version);
  EXPECT_EQ(SchemaDump(), before);

  auto status = store::CheckSchemaBlocking(Dsn(), files);
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->Current());
  EXPECT_EQ(status->current, files.back().version);
}

TEST_F(Migrations, EmbeddedCopyMatchesTheFiles) {
  auto files = SourceMigrations();
  const auto& embedded = store::EmbeddedMigrations();
  ASSERT_EQ(embedded.size(), files.size());
  for (std::size_t i = 0; i < files.size(); ++i) {
    EXPECT_EQ(embedded[i].version, files[i].version);
    EXPECT_EQ(embedded[i].name, files[i].name);
    EXPECT_EQ(embedded[i].sql, files[i].sql) << files[i].name << " differs from the binary";
  }
}

TEST_F(Migrations, CheckSchemaRunsOnThePool) {
  std::string problem;
  ASSERT_TRUE(store::MigrateBlocking(Dsn(), store::EmbeddedMigrations(), &problem)) << problem;
  IoThread io;
  store::Database db(store::DatabaseOptions{Dsn(), 1});
  auto check = [](store::Database* d) -> boost::asio::awaitable<Result<store::SchemaStatus>> {
    co_return co_await store::CheckSchema(*d, store::EmbeddedMigrations());
  };
  auto status = boost::asio::co_spawn(io.Io(), check(&db), boost::asio::use_future).get();
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->Current());
}

TEST_F(Migrations, ReportsPendingBeforeMigrating) {
  auto files = SourceMigrations();
  auto status = store::CheckSchemaBlocking(Dsn(), files);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->current, 0);
  EXPECT_EQ(status->pending.size(), files.size());
  EXPECT_FALSE(status->Current());
}

TEST_F(Migrations, RefuseANewerSchema) {
  auto files = SourceMigrations();
  std::string problem;
  ASSERT_TRUE(store::MigrateBlocking(Dsn(), files, &problem)) << problem;
  Exec(Dsn(),
       "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, '9999_future', 'x')");
  auto r = store::MigrateBlocking(Dsn(), files, &problem);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::kConflict);
  EXPECT_NE(problem.find("newer"), std::string::npos) << problem;
  EXPECT_NE(problem.find("9999"), std::string::npos) << problem;
  auto status = store::CheckSchemaBlocking(Dsn(), files);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->unknown, std::vector<int>{9999});
  EXPECT_FALSE(status->Current());
}

TEST_F(Migrations, RefuseAnAppliedMigrationThatWasEdited) {
  auto files = SourceMigrations();
  std::string problem;
  ASSERT_TRUE(store::MigrateBlocking(Dsn(), files, &problem)) << problem;
  files[0].sql += "\n-- edited after release\n";
  auto r = store::MigrateBlocking(Dsn(), files, &problem);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::kConflict);
  EXPECT_NE(problem.find("checksum"), std::string::npos) << problem;
}

TEST_F(Migrations, AFailingMigrationRollsBackAndIsNotRecorded) {
  auto files = SourceMigrations();
  store::Migration bad{files.back().version + 1, "9998_bad",
                       "CREATE TABLE half_done (x int);\n"
                       "SELECT no_such_function();"};
  files.push_back(bad);
  std::string problem;
  auto r = store::MigrateBlocking(Dsn(), files, &problem);
  ASSERT_FALSE(r);
  EXPECT_NE(problem.find("9998_bad"), std::string::npos) << problem;
  EXPECT_EQ(Scalar(Dsn(), "SELECT to_regclass('half_done') IS NULL"), "t");
  EXPECT_EQ(Scalar(Dsn(), "SELECT max(version) FROM schema_migrations"),
            std::to_string(files[files.size() - 2].version));
}

TEST_F(Migrations, ConcurrentRunsApplyEachFileOnce) {
  auto files = SourceMigrations();
  std::vector<std::thread> threads;
  std::vector<std::size_t> applied(4, 0);
  std::vector<int> ok(4, 0);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      std::string problem;
      auto r = store::MigrateBlocking(Dsn(), files, &problem);
      ok[i] = r ? 1 : 0;
      if (r) applied[i] = r->applied.size();
    });
  }
  for (auto& t : threads) t.join();
  std::size_t total = 0;
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(ok[i], 1);
    total += applied[i];
  }
  EXPECT_EQ(total, files.size());
  EXPECT_EQ(Scalar(Dsn(), "SELECT count(*) FROM schema_migrations"), std::to_string(files.size()));
}

TEST_F(Migrations, LoadRejectsBadFileNames) {
  auto dir = std::filesystem::temp_directory_path() / ("gw-mig-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream(dir / "0001_ok.sql") << "SELECT 1;";
    std::ofstream(dir / "1_bad.sql") << "SELECT 1;";
  }
  std::string problem;
  auto r = store::LoadMigrationsBlocking(dir.string(), &problem);
  std::filesystem::remove_all(dir);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Errc::kBadRequest);
  EXPECT_NE(problem.find("1_bad.sql"), std::string::npos);
}

}  // namespace
}  // namespace gw::test
