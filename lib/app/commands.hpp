#pragma once
// The daemon's commands. daemon/main.cpp parses argv and calls one of these; everything the
// running gateway does (start-up order, schema retry, signals, reload, retention, database
// health, shutdown) lives in lib/app/gateway.cpp.

#include <string>

namespace gw::app {

/// `run`: the gateway until SIGTERM/SIGINT (SIGHUP reloads). The process exit code.
int RunGateway(const std::string& config_path);
/// `migrate`: applies the embedded migrations and says what it did.
int Migrate(const std::string& config_path);
/// `check-config`: loads and validates the configuration.
int CheckConfig(const std::string& config_path);
/// `routes`: the route table as the running daemon would serve it, "METHOD TEMPLATE ROLE".
int PrintRoutes(const std::string& config_path);
/// `rekey`: every user re-encrypted under the newest data key (lib/app/data_protection.hpp).
int Rekey(const std::string& config_path);

}  // namespace gw::app
