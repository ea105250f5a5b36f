#include "common/error.hpp"

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <string>

namespace gw {
namespace {

class Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "gw"; }
  std::string message(int ev) const override { return std::string(ReasonName(Errc(ev))); }
};

std::string_view Name(Errc e) noexcept {
  switch (e) {
    case Errc::kOk: return "ok";
    case Errc::kTimeout: return "timeout";
    case Errc::kRefused: return "refused";
    case Errc::kClosed: return "closed";
    case Errc::kHttpStatus: return "http_status";
    case Errc::kLockConflict: return "lock_conflict";
    case Errc::kLockLost: return "lock_lost";
    case Errc::kBadResponse: return "bad_response";
    case Errc::kTooLarge: return "too_large";
    case Errc::kDbUnavailable: return "db_unavailable";
    case Errc::kBadRequest: return "bad_request";
    case Errc::kNotFound: return "not_found";
    case Errc::kConflict: return "conflict";
    case Errc::kCancelled: return "cancelled";
    case Errc::kLeaseLost: return "lease_lost";
    case Errc::kQueueFull: return "queue_full";
  }
  return "unknown";
}

}  // namespace

const boost::system::error_category& ErrcCategory() noexcept {
  static const Category kCategory;
  return kCategory;
}

Errc Classify(const boost::system::error_code& ec) noexcept {
  namespace asio_error = boost::asio::error;
  namespace http = boost::beast::http;
  if (!ec) return Errc::kOk;
  if (ec.category() == ErrcCategory()) return Errc(ec.value());
  if (ec == boost::beast::error::timeout || ec == asio_error::timed_out) return Errc::kTimeout;
  if (ec == asio_error::operation_aborted) return Errc::kCancelled;
  if (ec == asio_error::connection_refused || ec == asio_error::host_unreachable ||
      ec == asio_error::network_unreachable || ec == asio_error::host_not_found) {
    return Errc::kRefused;
  }
  if (ec == asio_error::eof || ec == http::error::end_of_stream ||
      ec == http::error::partial_message || ec == asio_error::connection_reset ||
      ec == asio_error::broken_pipe || ec == asio_error::connection_aborted) {
    return Errc::kClosed;
  }
  if (ec == http::error::body_limit || ec == http::error::header_limit ||
      ec == http::error::buffer_overflow) {
    return Errc::kTooLarge;
  }
  if (ec.category() == http::make_error_code(http::error::bad_method).category()) {
    return Errc::kBadResponse;  // the peer sent something that is not HTTP
  }
  return Errc::kClosed;
}

bool IsTransport(Errc reason) noexcept {
  switch (reason) {
    case Errc::kTimeout:
    case Errc::kRefused:
    case Errc::kClosed:
    case Errc::kLockConflict:
    case Errc::kLockLost:
    case Errc::kDbUnavailable:
    case Errc::kCancelled: return true;
    default: return false;
  }
}

std::string_view ReasonName(const boost::system::error_code& ec) noexcept {
  return Name(Classify(ec));
}

}  // namespace gw
