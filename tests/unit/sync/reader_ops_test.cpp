// lib/sync's reader operations against the in-process emulator (loopback, ephemeral ports): the
// two read rules of ReadUser, the in-place update, and how a batch of operations ends.

#include "sync/reader_ops.hpp"

#include <gtest/gtest.h>

#include "../ef45/client_support.hpp"
#include "sync/user_doc.hpp"

namespace gw::sync {
namespace {

using ef45::test::RunOn;
using ef45::test::Sim;

constexpr char kAda[] = R"({
  "subject": {"first_name": "Ada", "record_version": 8976, "left_eye_template": "TEZU"},
  "user_info": {"card": "65 D8 A1 BD", "pin": "1234"},
  "faces": [{"sub_id": 0, "face_feature": "RkFD"}, {"sub_id": 1, "face_feature": "RkFE"}]
})";

UserDoc Doc(const std::string& uuid, std::string_view json = kAda) {
  std::string problem;
  auto doc = ParseUserDoc(uuid, json, &problem);
  EXPECT_TRUE(doc) << problem;
  return doc ? *doc : UserDoc{};
}

OpWork Work(OpKind kind, const UserDoc& doc) {
  OpWork w;
  w.op.kind = kind;
  w.op.user_uuid = doc.user_uuid;
  w.bundle = ToEnrollUser(doc);
  w.doc = doc;
  return w;
}

class ReaderOps : public ::testing::Test {
 protected:
  ReaderOps() : client_(io_.get_executor(), ef45::test::OptionsFor(sim_)) {
    EXPECT_TRUE(RunOn(io_, client_.Lock()));
  }
  ~ReaderOps() override {
    try {
      if (!client_.lock_uid().empty()) RunOn(io_, client_.Unlock());
    } catch (const std::exception& e) {
      ADD_FAILURE() << "unlock: " << e.what();
    }
  }

  Outcome<std::optional<UserDoc>> Read(const std::string& uuid, ReadMode mode) {
    return RunOn(io_, ReadUser(client_, limiter_, uuid, mode));
  }
  void Enroll(const UserDoc& doc) {
    auto r = RunOn(io_, client_.EnrollUser(ToEnrollUser(doc)));
    ASSERT_TRUE(r) << ef45::test::Why(r.error());
  }

  boost::asio::io_context io_;
  Sim sim_;
  ef45::Client client_;
  RateLimiter limiter_{1000};
};

TEST_F(ReaderOps, AnAbsentUserIsNulloptForTheImporterAndAnEmptyCopyForTheUpdate) {
  auto lenient = Read("nobody", ReadMode::kPresentParts);
  ASSERT_TRUE(lenient) << Describe(lenient.error());
  EXPECT_FALSE(*lenient);
  auto strict = Read("nobody", ReadMode::kEveryPart);
  ASSERT_TRUE(strict) << Describe(strict.error());
  ASSERT_TRUE(*strict);
  EXPECT_FALSE((*strict)->subject);
  EXPECT_FALSE((*strict)->user_info);
  EXPECT_TRUE((*strict)->faces.empty());
}

TEST_F(ReaderOps, ReadUserReturnsWhatWasEnrolled) {
  auto want = Doc("ada");
  Enroll(want);
  for (auto mode : {ReadMode::kPresentParts, ReadMode::kEveryPart}) {
    auto read = Read("ada", mode);
    ASSERT_TRUE(read && *read);
    EXPECT_EQ(Fingerprint(**read, nullptr), Fingerprint(want, nullptr));
  }
}

TEST_F(ReaderOps, AnErrorStatusIsAbsenceForTheImporterAndANamedStepForTheUpdate) {
  Enroll(Doc("ada"));
  sim_.Faults(R"({"error_rate":1})");
  auto lenient = Read("ada", ReadMode::kPresentParts);
  ASSERT_TRUE(lenient) << Describe(lenient.error());
  EXPECT_FALSE(*lenient);
  auto strict = Read("ada", ReadMode::kEveryPart);
  ASSERT_FALSE(strict);
  EXPECT_EQ(Describe(strict.error()).rfind("reading the subject: http_status 500", 0), 0u)
      << Describe(strict.error());
  EXPECT_FALSE(strict.error().IsUnanswered());
}

TEST_F(ReaderOps, ATransportFailureIsAnErrorUnderBothRules) {
  sim_.Faults(R"({"down":true})");
  for (auto mode : {ReadMode::kPresentParts, ReadMode::kEveryPart}) {
    auto read = Read("ada", mode);
    ASSERT_FALSE(read);
    EXPECT_TRUE(read.error().IsUnanswered()) << Describe(read.error());
  }
}

TEST_F(ReaderOps, AnUpdateInPlaceWritesOnlyTheDifferingParts) {
  auto old_doc = Doc("ada");
  Enroll(old_doc);
  auto want = Doc("ada", R"({
    "subject": {"first_name": "Ada", "record_version": 8976, "left_eye_template": "TEZU"},
    "user_info": {"card": "65 D8 A1 BD", "pin": "9999"},
    "faces": [{"sub_id": 0, "face_feature": "RkFD"}, {"sub_id": 2, "face_feature": "RkFF"}]
  })");
  Written written;
  auto error = RunOn(io_, UpdateInPlace(client_, limiter_, Work(OpKind::kUpdate, want), written));
  ASSERT_FALSE(error) << Describe(*error);
  EXPECT_EQ(written.echoes, 2);  // the user info and the added face; the deleted face: none
  auto read = Read("ada", ReadMode::kEveryPart);
  ASSERT_TRUE(read && *read);
  EXPECT_EQ(Fingerprint(**read, nullptr), Fingerprint(want, nullptr));
}

TEST_F(ReaderOps, AnUpdateOfAUserGoneFromTheReaderEnrolsIt) {
  auto want = Doc("ada");
  Written written;
  auto error = RunOn(io_, UpdateInPlace(client_, limiter_, Work(OpKind::kUpdate, want), written));
  ASSERT_FALSE(error) << Describe(*error);
  EXPECT_EQ(written.echoes, 1);
  auto read = Read("ada", ReadMode::kPresentParts);
  ASSERT_TRUE(read && *read);
  EXPECT_EQ(Fingerprint(**read, nullptr), Fingerprint(want, nullptr));
}

TEST_F(ReaderOps, AnAddOfAUserAlreadyThereBecomesAnUpdateInPlace) {
  Enroll(Doc("ada"));
  auto want = Doc("ada", R"({"subject": {"first_name": "Ada L."}})");
  std::vector<OpWork> work{Work(OpKind::kAdd, want)};
  auto out = RunOn(io_, RunOps(client_, limiter_, work));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].Succeeded()) << Describe(*out[0].error);
  EXPECT_TRUE(out[0].attempted);
  auto read = Read("ada", ReadMode::kPresentParts);
  ASSERT_TRUE(read && *read);
  EXPECT_EQ(Fingerprint(**read, nullptr), Fingerprint(want, nullptr));
}

TEST_F(ReaderOps, ATransportFailureEndsTheBatchAndTheRestAreNotAttempted) {
  std::vector<OpWork> work{Work(OpKind::kAdd, Doc("a")), Work(OpKind::kAdd, Doc("b")),
                           Work(OpKind::kDelete, Doc("c"))};
  sim_.Faults(R"({"down":true})");
  auto out = RunOn(io_, RunOps(client_, limiter_, work));
  ASSERT_EQ(out.size(), 3u);
  ASSERT_TRUE(out[0].error);
  EXPECT_TRUE(out[0].ends_round);
  EXPECT_TRUE(out[0].error->IsUnanswered());
  for (std::size_t i = 1; i < out.size(); ++i) {
    ASSERT_TRUE(out[i].error);
    EXPECT_TRUE(out[i].ends_round);
    EXPECT_FALSE(out[i].attempted);
    EXPECT_EQ(Describe(*out[i].error), "not attempted: " + Describe(*out[0].error));
  }
}

TEST_F(ReaderOps, AnErrorStatusFailsOneOpAndTheBatchGoesOn) {
  std::vector<OpWork> work{Work(OpKind::kDelete, Doc("a")), Work(OpKind::kAdopt, Doc("b"))};
  sim_.Faults(R"({"error_rate":1})");
  auto out = RunOn(io_, RunOps(client_, limiter_, work));
  ASSERT_EQ(out.size(), 2u);
  ASSERT_TRUE(out[0].error);
  EXPECT_EQ(Describe(*out[0].error).rfind("http_status 500", 0), 0u) << Describe(*out[0].error);
  EXPECT_FALSE(out[0].ends_round);
  EXPECT_TRUE(out[1].Succeeded());  // adopting needs no reader call
  EXPECT_FALSE(out[1].attempted);
}

}  // namespace
}  // namespace gw::sync
