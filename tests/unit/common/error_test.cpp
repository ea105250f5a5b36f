#include "common/error.hpp"

#include <gtest/gtest.h>

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

namespace gw {
namespace {

TEST(Errc, ConvertsToErrorCodeWithStableName) {
  boost::system::error_code ec = Errc::kLockConflict;
  EXPECT_EQ(ec.category().name(), std::string("gw"));
  EXPECT_EQ(ec.message(), "lock_conflict");
  EXPECT_EQ(ReasonName(ec), "lock_conflict");
  EXPECT_TRUE(ec == Errc::kLockConflict);
}

TEST(Errc, ClassifiesTransportErrors) {
  EXPECT_EQ(Classify(boost::beast::error::timeout), Errc::kTimeout);
  EXPECT_EQ(Classify(boost::asio::error::connection_refused), Errc::kRefused);
  EXPECT_EQ(Classify(boost::asio::error::eof), Errc::kClosed);
  EXPECT_EQ(Classify(boost::beast::http::error::end_of_stream), Errc::kClosed);
  EXPECT_EQ(Classify(boost::beast::http::error::body_limit), Errc::kTooLarge);
  EXPECT_EQ(Classify(boost::beast::http::error::bad_version), Errc::kBadResponse);
  EXPECT_EQ(Classify(boost::asio::error::operation_aborted), Errc::kCancelled);
  EXPECT_EQ(Classify({}), Errc::kOk);
}

TEST(Errc, IsTransportMeansThePeerCouldNotBeTalkedTo) {
  for (Errc e : {Errc::kTimeout, Errc::kRefused, Errc::kClosed, Errc::kLockConflict,
                 Errc::kLockLost, Errc::kDbUnavailable, Errc::kCancelled}) {
    EXPECT_TRUE(IsTransport(e)) << ReasonName(e);
  }
  // Answers that could not be used, requests never sent and the gateway's own outcomes.
  for (Errc e :
       {Errc::kOk, Errc::kHttpStatus, Errc::kBadResponse, Errc::kTooLarge, Errc::kBadRequest,
        Errc::kNotFound, Errc::kConflict, Errc::kLeaseLost, Errc::kQueueFull}) {
    EXPECT_FALSE(IsTransport(e)) << ReasonName(e);
  }
}

}  // namespace
}  // namespace gw
