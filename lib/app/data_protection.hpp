#pragma once
// Biometric data and credentials at rest (issue 17): the data keys a configuration names, the
// start-up check of the keys the stored users need, and `ef45-gatewayd rekey`.

#include <memory>
#include <stdexcept>
#include <string>

#include "config/config.hpp"
#include "crypto/data_keys.hpp"
#include "store/users.hpp"

namespace gw::app {

/// Why the gateway cannot protect its data as configured; the message is for the operator.
class DataProtectionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The data keys of `security.data_keys_file` (or EF45GW_DATA_KEYS_FILE). Null when the
/// operator chose `security.plaintext_biometrics: true`; throws DataProtectionError when neither
/// is configured or the key file cannot be used (its name and line, never key material).
std::shared_ptr<const crypto::DataKeys> LoadDataKeys(const config::SecurityConfig& security);

/// Empty when every stored user can be opened with `keys` (null: plaintext mode); otherwise
/// why not, naming the missing key ids. Users stored in plaintext while keys are configured are
/// readable (rekey encrypts them): that is a warning, in `warning`.
std::string CheckStoredKeys(const store::KeyInventory& inventory, const crypto::DataKeys* keys,
                            std::string* warning);

/// `rekey`: moves every user to the newest key in small transactions while the gateway runs.
int Rekey(const std::string& config_path);

}  // namespace gw::app
