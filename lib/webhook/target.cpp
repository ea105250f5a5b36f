#include "webhook/target.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace gw::webhook {

namespace ip = boost::asio::ip;

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool ValidHostName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  return std::all_of(host.begin(), host.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '.'; });
}

}  // namespace

std::string Url::HostPort() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<Url> ParseUrl(std::string_view text, std::string& why) {
  Url url;
  auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) {
    why = "must be an absolute http:// or https:// URL";
    return std::nullopt;
  }
  url.scheme = Lower(text.substr(0, scheme_end));
  if (url.scheme != "http" && url.scheme != "https") {
    why = "the scheme must be http or https";
    return std::nullopt;
  }
  if (text.find_first_of(" \t\r\n#") != std::string_view::npos) {
    why = "must not hold whitespace or a fragment";
    return std::nullopt;
  }
  auto rest = text.substr(scheme_end + 3);
  auto path_at = rest.find_first_of("/?");
  auto authority = rest.substr(0, path_at);
  url.target = path_at == std::string_view::npos ? "/" : std::string(rest.substr(path_at));
  if (url.target.front() == '?') url.target = "/" + url.target;
  if (authority.find('@') != std::string_view::npos) {
    why = "must not hold user info (put no credentials in the URL)";
    return std::nullopt;
  }
  std::string_view host, port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) {
      why = "has an unterminated IPv6 address";
      return std::nullopt;
    }
    host = authority.substr(1, close - 1);
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        why = "has text after the IPv6 address";
        return std::nullopt;
      }
      port = after.substr(1);
    }
    boost::system::error_code ec;
    ip::make_address_v6(host, ec);
    if (ec) {
      why = "has an invalid IPv6 address";
      return std::nullopt;
    }
  } else {
    auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    if (!ValidHostName(host)) {
      why = "needs a host (letters, digits, '-' and '.')";
      return std::nullopt;
    }
  }
  url.host = Lower(host);
  url.port = url.scheme == "https" ? 443 : 80;
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535) {
      why = "has an invalid port (1..65535)";
      return std::nullopt;
    }
    url.port = static_cast<std::uint16_t>(value);
  }
  return url;
}

std::optional<AllowList> AllowList::Parse(const std::vector<std::string>& entries,
                                          std::string& why) {
  AllowList list;
  for (const auto& raw : entries) {
    auto entry = Lower(raw);
    boost::system::error_code ec;
    std::string cidr = entry;
    if (cidr.find('/') == std::string::npos) {
      auto address = ip::make_address(cidr, ec);
      if (!ec) cidr += address.is_v4() ? "/32" : "/128";
    }
    ec.clear();
    if (cidr.find(':') != std::string::npos) {
      auto net = ip::make_network_v6(cidr, ec);
      if (!ec) {
        list.v6_.push_back(net.canonical());
        continue;
      }
    } else if (cidr.find('/') != std::string::npos) {
      auto net = ip::make_network_v4(cidr, ec);
      if (!ec) {
        list.v4_.push_back(net.canonical());
        continue;
      }
    }
    auto name = std::string_view(entry);
    if (name.substr(0, 2) == "*.") name.remove_prefix(2);
    if (entry.find('/') != std::string::npos || entry.find(':') != std::string::npos ||
        !ValidHostName(name)) {
      why = "'" + raw + "' is neither a CIDR (10.0.0.0/8) nor a host name (hooks.example.com)";
      return std::nullopt;
    }
    list.names_.push_back(entry);
  }
  return list;
}

bool AllowList::AllowsName(std::string_view host) const {
  const auto h = Lower(host);
  for (const auto& name : names_) {
    if (name == h) return true;
    if (name.size() > 2 && name.substr(0, 2) == "*.") {
      auto suffix = name.substr(1);  // ".example.com"
      if (h.size() > suffix.size() &&
          h.compare(h.size() - suffix.size(), suffix.size(), suffix) == 0) {
        return true;
      }
    }
  }
  return false;
}

bool AllowList::AllowsAddress(const ip::address& address) const {
  if (address.is_v4()) {
    const auto a = address.to_v4();
    return std::any_of(v4_.begin(), v4_.end(), [&](const ip::network_v4& n) {
      return ip::network_v4(a, n.prefix_length()).canonical() == n;
    });
  }
  auto a = address.to_v6();
  if (a.is_v4_mapped()) return AllowsAddress(ip::make_address_v4(ip::v4_mapped, a));
  return std::any_of(v6_.begin(), v6_.end(), [&](const ip::network_v6& n) {
    return ip::network_v6(a, n.prefix_length()).canonical() == n;
  });
}

std::optional<std::string> AllowList::Refusal(const Url& url) const {
  if (empty()) {
    return "webhooks.allow is empty: no webhook target is allowed (list the receivers' CIDRs or "
           "host names in the gateway configuration)";
  }
  boost::system::error_code ec;
  auto address = ip::make_address(url.host, ec);
  if (!ec) {
    if (AllowsAddress(address)) return std::nullopt;
    return "the address " + url.host + " is not in webhooks.allow";
  }
  if (AllowsName(url.host) || !v4_.empty() || !v6_.empty()) return std::nullopt;
  return "the host " + url.host + " is not in webhooks.allow";
}

}  // namespace gw::webhook
