#pragma once
// Where a webhook may point: its URL, parsed, and the `webhooks.allow` list. Pure.

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gw::webhook {

/// An absolute http(s) URL without user info or fragment.
struct Url {
  std::string scheme;  ///< "http" or "https"
  std::string host;    ///< lower case; an IPv6 literal without brackets
  std::uint16_t port = 0;
  std::string target;            ///< path and query, at least "/"
  std::string HostPort() const;  ///< "host:port" (brackets around IPv6): the keep-alive pool key
};

/// The URL, or nullopt with the reason in `why`.
std::optional<Url> ParseUrl(std::string_view text, std::string& why);

/// `webhooks.allow`: CIDRs (`10.0.0.0/8`, `::1/128`, a bare address) and host names
/// (`hooks.example.com`,
/// `*.example.com` for any name below it). Empty: no target is allowed (the default: the gateway
/// sits next to door controllers; an admin token must not be enough to make it call arbitrary
/// hosts).
class AllowList {
 public:
  /// nullopt with the bad entry in `why` when an entry is neither a CIDR nor a host name.
  static std::optional<AllowList> Parse(const std::vector<std::string>& entries, std::string& why);

  bool empty() const { return v4_.empty() && v6_.empty() && names_.empty(); }
  /// The host name is listed (exactly or under a `*.` entry).
  bool AllowsName(std::string_view host) const;
  bool AllowsAddress(const boost::asio::ip::address& address) const;
  /// At creation: an address literal must be in a CIDR; a name must be listed, or be checked at
  /// each connection (its addresses must then be in a CIDR). nullopt: allowed.
  std::optional<std::string> Refusal(const Url& url) const;

 private:
  std::vector<boost::asio::ip::network_v4> v4_;
  std::vector<boost::asio::ip::network_v6> v6_;
  std::vector<std::string> names_;
};

}  // namespace gw::webhook
