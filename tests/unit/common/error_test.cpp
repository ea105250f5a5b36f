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

}  // namespace
}  // namespace gw
