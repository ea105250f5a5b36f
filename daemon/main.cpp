// ef45-gatewayd: argv only. The gateway itself (start/stop order, signals, reload, retention)
// is lib/app.
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>

#include "app/commands.hpp"
#include "common/version.hpp"

namespace {

constexpr std::string_view kUsage = R"(usage: ef45-gatewayd COMMAND [--config FILE]

Runs a fleet of Iris ID EF-45 readers: polls every reader, stores each event exactly once in
PostgreSQL, and serves the REST API, the live event stream and /metrics.

commands:
  run            run the gateway (default config: /etc/ef45-gateway/gateway.yaml)
  migrate        apply pending database migrations and exit
  check-config   validate the configuration, list every problem, and exit (0 = valid)
  routes         print the API's routes (method, path template, role) and exit
  rekey          re-encrypt every user under the newest data key (online, in small batches)

options:
  --config FILE  the YAML configuration (see config/gateway.example.yaml)
  --version      print the version and git commit
  --help         this text

environment:
  EF45GW_DATABASE_DSN   overrides database.dsn (keeps the password out of the file)
  EF45GW_API_TOKENS     more API tokens: name:role:sha256,... (role read|operate|admin)
  EF45GW_CLUSTER_NODE_ID  overrides cluster.node_id
  EF45GW_DATA_KEYS_FILE   overrides security.data_keys_file
)";

constexpr const char* kDefaultConfig = "/etc/ef45-gateway/gateway.yaml";

}  // namespace

int main(int argc, char** argv) {
  std::string command;
  std::string config_path = kDefaultConfig;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (arg == "--version") {
      std::cout << "ef45-gatewayd " << gw::Version() << " (commit " << gw::GitCommit() << ")\n";
      return 0;
    }
    if (arg == "--config") {
      if (i + 1 >= argc) {
        std::cerr << "ef45-gatewayd: --config needs a file\n";
        return 2;
      }
      config_path = argv[++i];
    } else if (arg.starts_with("--config=")) {
      config_path = std::string(arg.substr(std::strlen("--config=")));
    } else if (command.empty() && !arg.starts_with("-")) {
      command = arg;
    } else {
      std::cerr << "ef45-gatewayd: unexpected argument '" << arg << "' (see --help)\n";
      return 2;
    }
  }
  if (command.empty()) {
    std::cerr << "ef45-gatewayd: missing COMMAND (run, migrate, check-config, routes, rekey; see "
                 "--help)\n";
    return 2;
  }
  if (command == "check-config") return gw::app::CheckConfig(config_path);
  if (command == "migrate") return gw::app::Migrate(config_path);
  if (command == "run") return gw::app::RunGateway(config_path);
  if (command == "routes") return gw::app::PrintRoutes(config_path);
  if (command == "rekey") return gw::app::Rekey(config_path);
  std::cerr << "ef45-gatewayd: unknown command '" << command << "' (see --help)\n";
  return 2;
}
