#include "sim_test_support.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <boost/json/parse.hpp>

#include "support/wait.hpp"

namespace simtest {

namespace {

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

const std::vector<Operation>& OpenapiOperations() {
  static const std::vector<Operation> operations = [] {
    std::vector<Operation> out;
    YAML::Node doc = YAML::LoadFile(gw::test::SourceDir() + "/../shared/ef45/openapi.yaml");
    for (const auto& path : doc["paths"]) {
      for (const auto& op : path.second) {
        std::string method = op.first.as<std::string>();
        if (method != "get" && method != "post" && method != "put" && method != "delete" &&
            method != "patch") {
          continue;
        }
        std::transform(method.begin(), method.end(), method.begin(), ::toupper);
        out.emplace_back(method, path.first.as<std::string>());
      }
    }
    return out;
  }();
  return operations;
}

std::set<Operation>& Covered() {
  static std::set<Operation> covered;
  return covered;
}

std::string MatchTemplate(const std::string& path) {
  auto segments = Split(path);
  if (segments.empty() || segments[0] != "1.0") return {};
  segments.erase(segments.begin());
  std::string best;
  int best_literals = -1;
  std::set<std::string> seen;
  for (const auto& [method, templ] : OpenapiOperations()) {
    if (!seen.insert(templ).second) continue;
    auto parts = Split(templ);
    if (parts.size() != segments.size()) continue;
    int literals = 0;
    bool match = true;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (parts[i].front() == '{') continue;
      if (parts[i] != segments[i]) {
        match = false;
        break;
      }
      ++literals;
    }
    if (match && literals > best_literals) {
      best = templ;
      best_literals = literals;
    }
  }
  return best;
}

ef45sim::Response Call(ef45sim::Reader& reader, const std::string& method,
                       const std::string& target, const std::string& body) {
  ef45sim::Response response = reader.Handle(ef45sim::Request{method, target, body});
  if (response.status != 501 && response.status != 405) {
    std::string path = target.substr(0, target.find('?'));
    std::string templ = MatchTemplate(path);
    if (!templ.empty()) Covered().emplace(method, templ);
  }
  return response;
}

boost::json::value Json(const ef45sim::Response& response) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(response.body, ec);
  EXPECT_FALSE(ec) << "bad JSON: " << response.body.substr(0, 200);
  EXPECT_EQ(response.content_type, "application/json");
  return value;
}

std::string TakeLock(ef45sim::Reader& reader) {
  auto response = Call(reader, "POST", "/1.0/lock");
  EXPECT_EQ(response.status, 200);
  auto value = Json(response);
  if (!value.is_object() || !value.as_object().contains("lock_uid")) return {};
  return std::string(value.at("lock_uid").as_string());
}

ef45sim::Identity TestIdentity(int index) {
  ef45sim::Identity identity;
  identity.index = index;
  identity.serial_number = "OA1405A00000" + std::to_string(index + 1);
  identity.mac = {0x50, 0x3f, 0x98, 0x00, 0x01, static_cast<std::uint8_t>(index + 9)};
  return identity;
}

ReaderTest::ReaderTest(ef45sim::ReaderOptions options, std::uint64_t seed) {
  options.clock = clock_.Fn();
  reader_ = std::make_unique<ef45sim::Reader>(TestIdentity(), seed, std::move(options));
  lock_ = TakeLock(*reader_);
}

std::string ReaderTest::Target(const std::string& path, const std::string& query) const {
  std::string target = "/1.0" + path + "?lock_uid=" + lock_;
  if (!query.empty()) target += "&" + query;
  return target;
}

ef45sim::Response ReaderTest::Do(const std::string& method, const std::string& path,
                                 const std::string& query, const std::string& body) {
  return Call(*reader_, method, Target(path, query), body);
}

}  // namespace simtest
