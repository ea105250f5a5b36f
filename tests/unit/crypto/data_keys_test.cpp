// Data keys: sealing and opening under the key file's keys, the file's checks, and keyed
// fingerprints (issue 17).
#include "crypto/data_keys.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <set>

#include "support/process.hpp"

namespace gw::crypto {
namespace {

const std::string kKeyA = "k2026a " + std::string(64, 'a');
const std::string kKeyB = "k2026b 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

TEST(DataKeys, SealedValuesOpenAndCarryTheirKeyId) {
  auto keys = DataKeys::Parse(kKeyA + "\n", "test");
  auto sealed = keys.Seal("1234", "user:u1:pin");
  EXPECT_TRUE(DataKeys::IsSealed(sealed));
  EXPECT_EQ(DataKeys::KeyIdOf(sealed), "k2026a");
  EXPECT_EQ(sealed.find("1234"), std::string::npos);
  auto opened = keys.Open(sealed, "user:u1:pin");
  ASSERT_TRUE(opened.plaintext) << opened.error;
  EXPECT_EQ(*opened.plaintext, "1234");
  // Empty and binary values too.
  EXPECT_EQ(keys.Open(keys.Seal("", "c"), "c").plaintext, "");
  std::string binary("\0\x01\xff\x80", 4);
  EXPECT_EQ(keys.Open(keys.Seal(binary, "c"), "c").plaintext, binary);
}

TEST(DataKeys, EverySealUsesAFreshNonce) {
  auto keys = DataKeys::Parse(kKeyA, "test");
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) seen.insert(keys.Seal("same template", "c"));
  EXPECT_EQ(seen.size(), 100u);
}

TEST(DataKeys, AValueMovedToAnotherRecordOrAlteredDoesNotOpen) {
  auto keys = DataKeys::Parse(kKeyA, "test");
  auto sealed = keys.Seal("card 65 D8 A1 BD", "user:u1:card");
  auto moved = keys.Open(sealed, "user:u2:card");
  EXPECT_FALSE(moved.plaintext);
  EXPECT_NE(moved.error.find("does not open"), std::string::npos) << moved.error;
  EXPECT_EQ(moved.error.find("65 D8"), std::string::npos);
  std::string altered = sealed;
  altered[altered.size() - 6] = altered[altered.size() - 6] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(keys.Open(altered, "user:u1:card").plaintext);
  EXPECT_FALSE(keys.Open(sealed.substr(0, 20), "user:u1:card").plaintext);
  EXPECT_FALSE(keys.Open("plain text", "user:u1:card").plaintext);
}

TEST(DataKeys, TheLastKeySealsAndEveryKeyOpens) {
  auto old_keys = DataKeys::Parse(kKeyA, "test");
  auto sealed_old = old_keys.Seal("iris", "c");
  auto keys = DataKeys::Parse("# rotated 2026-12\n" + kKeyA + "\n\n" + kKeyB + "\n", "test");
  EXPECT_EQ(keys.current_id(), "k2026b");
  EXPECT_EQ(keys.ids(), (std::vector<std::string>{"k2026a", "k2026b"}));
  EXPECT_EQ(keys.Open(sealed_old, "c").plaintext, "iris");
  EXPECT_EQ(DataKeys::KeyIdOf(keys.Seal("iris", "c")), "k2026b");
  // A key that is gone: the value is not lost silently, the error names the key.
  auto only_b = DataKeys::Parse(kKeyB, "test");
  auto missing = only_b.Open(sealed_old, "c");
  EXPECT_FALSE(missing.plaintext);
  EXPECT_NE(missing.error.find("k2026a"), std::string::npos) << missing.error;
}

TEST(DataKeys, FingerprintsAreKeyedAndNameTheirKey) {
  auto a = DataKeys::Parse(kKeyA, "test");
  auto b = DataKeys::Parse(kKeyB, "test");
  EXPECT_EQ(a.Fingerprint("1234"), a.Fingerprint("1234"));
  EXPECT_NE(a.Fingerprint("1234"), a.Fingerprint("1235"));
  EXPECT_EQ(a.Fingerprint("1234").rfind("k2026a:", 0), 0u);
  // Another key, another fingerprint: without the key a PIN's fingerprint cannot be looked up.
  EXPECT_NE(a.Fingerprint("1234").substr(7), b.Fingerprint("1234").substr(7));
  EXPECT_EQ(a.Fingerprint("1234").size(), 7u + 64u);
}

void ExpectRefused(const std::string& text, const std::string& says) {
  try {
    DataKeys::Parse(text, "keys.txt");
    ADD_FAILURE() << "accepted: " << says;
  } catch (const DataKeyError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find(says), std::string::npos) << what;
    // Never key material in a message.
    EXPECT_EQ(what.find("aaaaaaaa"), std::string::npos) << what;
    EXPECT_EQ(what.find("00112233"), std::string::npos) << what;
  }
}

TEST(DataKeys, ABadKeyFileIsRefusedByLineWithoutShowingKeys) {
  ExpectRefused("", "no key");
  ExpectRefused("# only a comment\n", "no key");
  ExpectRefused(kKeyA + "\n" + kKeyA + "\n", "line 2: key id k2026a appears twice");
  ExpectRefused("k1 " + std::string(63, 'a'), "line 1 (key k1): the key must be 64 hex digits");
  ExpectRefused("k1 " + std::string(62, 'a') + "zz", "64 hex digits");
  ExpectRefused(std::string(64, 'a'), "line 1: expected");
  ExpectRefused("bad/id " + std::string(64, 'a'), "key id must be");
  ExpectRefused("\n\n" + std::string(33, 'k') + " " + std::string(64, 'a'), "line 3");
}

TEST(DataKeys, AKeyFileOthersCanReadIsRefused) {
  test::TempDir dir;
  auto path = dir.path() + "/data-keys";
  std::ofstream(path) << kKeyA << "\n";
  ::chmod(path.c_str(), 0640);
  try {
    DataKeys::LoadFile(path);
    ADD_FAILURE() << "a group-readable key file was accepted";
  } catch (const DataKeyError& e) {
    EXPECT_NE(std::string(e.what()).find("chmod 600"), std::string::npos) << e.what();
  }
  ::chmod(path.c_str(), 0600);
  EXPECT_EQ(DataKeys::LoadFile(path).current_id(), "k2026a");
  EXPECT_THROW(DataKeys::LoadFile(dir.path() + "/absent"), DataKeyError);
}

}  // namespace
}  // namespace gw::crypto
