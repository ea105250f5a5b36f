// Issue 17 on a real PostgreSQL: what a stolen backup shows of the users (pg_dump), and
// `ef45-gatewayd rekey` moving every user to a new key while users are being changed.
#include "app/data_protection.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include "app/commands.hpp"
#include "crypto/data_keys.hpp"
#include "pg_fixture.hpp"
#include "store/database.hpp"
#include "store/users.hpp"
#include "store/webhooks.hpp"
#include "support/process.hpp"
#include "sync/user_doc.hpp"

namespace gw::test {
namespace {

namespace json = boost::json;

/// A user with templates, a face feature, a PIN, two cards and a wiegand code, all unique to
/// `i` and `generation`, so a grep of a dump finds exactly this user's values.
std::string Record(int i, int generation = 0) {
  char card[32], spare[32];
  std::snprintf(card, sizeof card, "7E %02X %02X 5A", i & 0xff, (i >> 8) & 0xff);
  std::snprintf(spare, sizeof spare, "3C %02X %02X A5", i & 0xff, (i >> 8) & 0xff);
  json::object subject{{"first_name", "First" + std::to_string(generation)},
                       {"record_version", 8976},
                       {"wiegand_code", 987650000 + i},
                       {"left_eye_template", "aXJpTGVm" + std::to_string(10000000 + i)},
                       {"right_eye_template", "aXJpUmln" + std::to_string(10000000 + i)}};
  json::object info{{"card", card}, {"pin", std::to_string(900000 + i)}};
  json::array faces{
      json::object{{"sub_id", 0}, {"face_feature", "ZmFjZUZl" + std::to_string(10000000 + i)}}};
  json::array cards{json::object{{"sub_id", 1}, {"card", spare}}};
  return json::serialize(json::object{{"subject", std::move(subject)},
                                      {"user_info", std::move(info)},
                                      {"faces", std::move(faces)},
                                      {"cards", std::move(cards)}});
}

std::string Uuid(int i) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "0000aaaa-0000-4000-8000-%012d", i);
  return buf;
}

/// The secrets of user i: what must not appear in a dump.
std::vector<std::string> Secrets(int i) {
  char card[32], spare[32];
  std::snprintf(card, sizeof card, "7E %02X %02X 5A", i & 0xff, (i >> 8) & 0xff);
  std::snprintf(spare, sizeof spare, "3C %02X %02X A5", i & 0xff, (i >> 8) & 0xff);
  return {"aXJpTGVm" + std::to_string(10000000 + i),
          "aXJpUmln" + std::to_string(10000000 + i),
          "ZmFjZUZl" + std::to_string(10000000 + i),
          std::to_string(900000 + i),
          card,
          spare,
          std::to_string(987650000 + i)};
}

store::UserWrite WriteOf(int i, const crypto::DataKeys* keys, int generation = 0) {
  std::string problem;
  auto doc = sync::ParseUserDoc(Uuid(i), Record(i, generation), &problem);
  EXPECT_TRUE(doc) << problem;
  return sync::ToUserWrite(*doc, "api", keys);
}

std::shared_ptr<const crypto::DataKeys> Keys(const std::string& text) {
  return std::make_shared<const crypto::DataKeys>(crypto::DataKeys::Parse(text, "test keys"));
}

std::string Dump(const std::string& dsn) {
  std::string out;
  std::unique_ptr<FILE, decltype(&pclose)> p(
      popen(("pg_dump --data-only -d '" + dsn + "' 2>&1").c_str(), "r"), pclose);
  if (!p) return out;
  char buf[65536];
  for (std::size_t n; (n = fread(buf, 1, sizeof buf, p.get())) > 0;) out.append(buf, n);
  return out;
}

class DataProtection : public PgTest {
 protected:
  std::unique_ptr<store::Database> Db(std::shared_ptr<const crypto::DataKeys> keys) {
    store::DatabaseOptions o{Dsn(), 2};
    o.keys = std::move(keys);
    return std::make_unique<store::Database>(o);
  }
};

TEST_F(DataProtection, APgDumpOfAHundredUsersHoldsNoneOfTheirTemplatesPinsOrCards) {
  auto keys = Keys(TestDataKeyLine("k1"));
  auto db = Db(keys);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(store::PutUserBlocking(*db, WriteOf(i, keys.get())));
  // The control: one user stored the plaintext way shows up in the same dump, so the grep
  // below can find what is there.
  auto plain = Db(nullptr);
  ASSERT_TRUE(store::PutUserBlocking(*plain, WriteOf(100, nullptr)));

  auto dump = Dump(Dsn());
  ASSERT_NE(dump.find(Uuid(0)), std::string::npos) << dump.substr(0, 2000);
  for (const auto& secret : Secrets(100)) {
    EXPECT_NE(dump.find(secret), std::string::npos) << "control value missing: " << secret;
  }
  int found = 0;
  for (int i = 0; i < 100; ++i) {
    for (const auto& secret : Secrets(i)) {
      if (dump.find(secret) != std::string::npos) {
        ++found;
        ADD_FAILURE() << "user " << i << ": " << secret << " is in the dump";
      }
    }
  }
  EXPECT_EQ(found, 0);

  // Still usable: a user opens, and the by-card lookup finds it by its spare card.
  auto got = store::GetUserBlocking(*db, Uuid(7));
  ASSERT_TRUE(got && *got);
  EXPECT_NE((*got)->record.find(std::to_string(900007)), std::string::npos);
  auto by_card = store::UsersByCardBlocking(*db, Secrets(7)[5]);
  ASSERT_TRUE(by_card);
  ASSERT_EQ(by_card->size(), 1u);
  EXPECT_EQ(by_card->at(0).user_uuid, Uuid(7));
  // A fingerprint made without the key says nothing: it is not the plaintext one.
  EXPECT_NE((*got)->digest, WriteOf(7, nullptr).digest);
  // A sealed record copied into another user's row does not open there.
  Exec(Dsn(), "UPDATE users SET record = (SELECT record FROM users WHERE user_uuid = '" + Uuid(8) +
                  "') WHERE user_uuid = '" + Uuid(9) + "'");
  auto moved = store::GetUserBlocking(*db, Uuid(9));
  ASSERT_TRUE(moved && *moved);
  EXPECT_TRUE((*moved)->record.empty());
  EXPECT_FALSE((*moved)->record_error.empty());
}

TEST_F(DataProtection, RekeyMovesEveryUserToTheNewKeyWhileUsersAreBeingChanged) {
  constexpr int kUsers = 300;
  auto old_keys = Keys(TestDataKeyLine("k1"));
  {
    auto db = Db(old_keys);
    for (int i = 0; i < kUsers; ++i) {
      ASSERT_TRUE(store::PutUserBlocking(*db, WriteOf(i, old_keys.get())));
    }
  }
  // Two users stored before any key was configured: rekey encrypts them too.
  {
    auto plain = Db(nullptr);
    ASSERT_TRUE(store::PutUserBlocking(*plain, WriteOf(kUsers, nullptr)));
    ASSERT_TRUE(store::PutUserBlocking(*plain, WriteOf(kUsers + 1, nullptr)));
  }
  // A reader holds user 0 as pushed (its applied_digest is the k1 digest).
  auto old0 = store::GetUserBlocking(*Db(old_keys), Uuid(0));
  ASSERT_TRUE(old0 && *old0);
  std::vector<store::StateUpdate> applied(1);
  applied[0].user_uuid = Uuid(0);
  applied[0].status = store::SyncStatus::kApplied;
  applied[0].applied_version = 1;
  applied[0].applied_digest = (*old0)->digest;
  ASSERT_TRUE(store::RecordStatesBlocking(*Db(old_keys), "r1", applied));

  // A webhook's signing secrets (the current and, during a rotation, the previous one) are
  // credentials too: sealed under k1.
  {
    auto db = Db(old_keys);
    store::WebhookSpec hook;
    hook.id = "wh-1";
    hook.url = "http://127.0.0.1:9/hook";
    hook.secret = "whsec_first-secret-value";
    ASSERT_TRUE(store::CreateWebhookBlocking(*db, hook));
    ASSERT_TRUE(store::RotateWebhookSecretBlocking(*db, "wh-1", "whsec_second-secret-value",
                                                   std::chrono::hours(24)));
  }
  EXPECT_EQ(Scalar(Dsn(),
                   "SELECT count(*) FROM webhooks WHERE secret LIKE 'gwenc1:k1:%' AND "
                   "previous_secret LIKE 'gwenc1:k1:%'"),
            "1");
  EXPECT_EQ(Dump(Dsn()).find("secret-value"), std::string::npos);

  // k2 added as the newest key; the gateway keeps changing users while rekey runs.
  TempDir dir;
  const std::string both = TestDataKeyLine("k1") + TestDataKeyLine("k2");
  auto security = WriteDataKeys(dir.File("data.keys"), both);
  WriteFile(dir.File("gateway.yaml"), "database: { dsn: \"" + Dsn() + "\" }\n" + security);
  auto new_keys = Keys(both);
  std::map<int, int> last_generation;  // user -> generation last written by the writer
  std::atomic<bool> stop{false};
  std::atomic<int> writes{0};
  std::thread writer([&] {
    auto db = Db(new_keys);
    for (int g = 1; !stop; ++g) {
      int i = (g * 37) % kUsers;
      if (store::PutUserBlocking(*db, WriteOf(i, new_keys.get(), g))) {
        last_generation[i] = g;
        ++writes;
      }
    }
  });
  while (writes < 20) std::this_thread::yield();
  int rc = app::Rekey(dir.File("gateway.yaml"));
  while (writes < 200) std::this_thread::yield();
  stop = true;
  writer.join();
  EXPECT_EQ(rc, 0);

  // Nothing is left under k1 or in plaintext: a gateway holding only k2 opens every user.
  auto inventory = store::KeyInventoryBlocking(*Db(new_keys));
  ASSERT_TRUE(inventory);
  EXPECT_EQ(inventory->key_ids, (std::vector<std::string>{"k2"}));
  EXPECT_EQ(inventory->plaintext, 0);
  auto only_k2 = Keys(TestDataKeyLine("k2"));
  auto db = Db(only_k2);
  for (int i = 0; i < kUsers + 2; ++i) {
    auto u = store::GetUserBlocking(*db, Uuid(i));
    ASSERT_TRUE(u && *u) << i;
    ASSERT_TRUE((*u)->record_error.empty()) << i << ": " << (*u)->record_error;
    int generation = last_generation.count(i) ? last_generation[i] : 0;
    auto want = WriteOf(i, only_k2.get(), generation);
    EXPECT_EQ((*u)->digest, want.digest) << i;
    EXPECT_EQ((*u)->digest_no_templates, want.digest_no_templates) << i;
    std::string problem;
    auto stored = sync::ParseUserDoc(Uuid(i), (*u)->record, &problem);
    ASSERT_TRUE(stored) << problem;
    EXPECT_EQ(sync::ToRecordJson(*stored), want.record) << i;
  }
  // No new version for a rekeyed user: the content did not change.
  if (!last_generation.count(1)) {
    EXPECT_EQ((*store::GetUserBlocking(*db, Uuid(1)))->version, 1);
  }
  auto hook = store::GetWebhookBlocking(*db, "wh-1");
  ASSERT_TRUE(hook && *hook);
  EXPECT_EQ((*hook)->secret, "whsec_second-secret-value");
  EXPECT_EQ((*hook)->previous_secret, "whsec_first-secret-value");
  auto by_card = store::UsersByCardBlocking(*db, Secrets(kUsers + 1)[4]);
  ASSERT_TRUE(by_card);
  ASSERT_EQ(by_card->size(), 1u);
  // The reader's applied digest followed the user's (still "the reader holds our copy").
  auto states = store::UserStatesBlocking(*db, Uuid(0));
  ASSERT_TRUE(states);
  ASSERT_EQ(states->size(), 1u);
  if (!last_generation.count(0)) {
    auto now0 = store::GetUserBlocking(*db, Uuid(0));
    EXPECT_EQ(states->at(0).applied_digest, (*now0)->digest);
  }
}

TEST(DataProtectionCheck, NamesTheMissingKeysAndWarnsOfPlaintextUsers) {
  auto keys = Keys(TestDataKeyLine("k2"));
  std::string warning;
  EXPECT_EQ(app::CheckStoredKeys({{"k2"}, 0}, keys.get(), &warning), "");
  EXPECT_EQ(warning, "");
  auto missing = app::CheckStoredKeys({{"k1", "k2"}, 3}, keys.get(), &warning);
  EXPECT_NE(missing.find("k1 which the key file lacks"), std::string::npos) << missing;
  EXPECT_NE(app::CheckStoredKeys({{"k1"}, 0}, nullptr, &warning).find("no key file"),
            std::string::npos);
  EXPECT_EQ(app::CheckStoredKeys({{"k2"}, 3}, keys.get(), &warning), "");
  EXPECT_NE(warning.find("3 users are stored in plaintext"), std::string::npos) << warning;
  config::SecurityConfig none;
  EXPECT_THROW(app::LoadDataKeys(none), app::DataProtectionError);
  none.plaintext_biometrics = true;
  EXPECT_EQ(app::LoadDataKeys(none), nullptr);
}

}  // namespace
}  // namespace gw::test
