#include "app/data_protection.hpp"

#include <chrono>
#include <iostream>

#include "store/database.hpp"
#include "store/imports.hpp"
#include "store/webhooks.hpp"
#include "sync/user_doc.hpp"

namespace gw::app {

namespace {

/// Users moved per transaction by rekey: each row is locked only for its batch.
constexpr int kRekeyBatch = 100;
/// Passes over the users table at most (a pass misses nothing a concurrent writer did not
/// already store under the newest key; a second pass only finds rows that failed to open).
constexpr int kRekeyPasses = 3;

}  // namespace

std::shared_ptr<const crypto::DataKeys> LoadDataKeys(const config::SecurityConfig& security) {
  if (security.data_keys_file.empty()) {
    if (security.plaintext_biometrics) return nullptr;
    throw DataProtectionError(
        "no data key: set security.data_keys_file (or EF45GW_DATA_KEYS_FILE) to a key file, one "
        "line `<key id> <64 hex digits>`, readable by its owner only, e.g. "
        "`echo \"k1 $(openssl rand -hex 32)\" > keys && chmod 600 keys`; or set "
        "security.plaintext_biometrics: true to store iris templates, faces, PINs and cards "
        "unencrypted");
  }
  try {
    return std::make_shared<const crypto::DataKeys>(
        crypto::DataKeys::LoadFile(security.data_keys_file));
  } catch (const crypto::DataKeyError& e) {
    throw DataProtectionError(e.what());
  }
}

std::string CheckStoredKeys(const store::KeyInventory& inventory, const crypto::DataKeys* keys,
                            std::string* warning) {
  std::string missing;
  for (const auto& id : inventory.key_ids) {
    if (keys && keys->Has(id)) continue;
    missing += (missing.empty() ? "" : ", ") + id;
  }
  if (!missing.empty()) {
    return keys ? "users are stored under data key(s) " + missing +
                      " which the key file lacks: add the key line(s) back (a removed key "
                      "must stay until `ef45-gatewayd rekey` has moved every user off it)"
                : "users are stored encrypted under data key(s) " + missing +
                      " but no key file is configured (security.data_keys_file)";
  }
  if (keys && inventory.plaintext > 0 && warning) {
    *warning = std::to_string(inventory.plaintext) +
               " users are stored in plaintext from before a data key was configured: run "
               "`ef45-gatewayd rekey` to encrypt them";
  }
  return {};
}

int Rekey(const std::string& config_path) {
  config::Config config;
  std::shared_ptr<const crypto::DataKeys> keys;
  try {
    config = config::LoadFile(config_path);
    keys = LoadDataKeys(config.security);
  } catch (const std::exception& e) {
    std::cerr << config_path << ": " << e.what() << "\n";
    return 1;
  }
  if (!keys) {
    std::cerr << "ef45-gatewayd rekey: no data key is configured (security.data_keys_file)\n";
    return 1;
  }
  store::Database db(store::DatabaseOptions{config.database.dsn, 1, std::chrono::seconds(5),
                                            std::chrono::milliseconds(30000), keys});
  const crypto::DataKeys* k = keys.get();
  store::Reprint reprint = [k](const std::string& uuid,
                               const std::string& record) -> std::optional<store::UserWrite> {
    std::string problem;
    auto doc = sync::ParseUserDoc(uuid, record, &problem);
    if (!doc) return std::nullopt;
    return sync::ToUserWrite(*doc, "", k);
  };
  long moved = 0, failed = 0;
  for (int pass = 0; pass < kRekeyPasses; ++pass) {
    std::string after;
    long pass_failed = 0;
    do {
      auto step = store::RekeyStepBlocking(db, after, kRekeyBatch, reprint);
      if (!step) {
        std::cerr << "ef45-gatewayd rekey: " << step.error().message() << " (" << moved
                  << " users moved so far; run it again to continue)\n";
        return 1;
      }
      moved += step->moved;
      pass_failed += step->failed;
      after = step->last_uuid;
    } while (!after.empty());
    int imports_failed = 0;
    while (true) {
      auto step = store::RekeyImportsStepBlocking(db, kRekeyBatch, &imports_failed);
      if (!step) {
        std::cerr << "ef45-gatewayd rekey: " << step.error().message() << "\n";
        return 1;
      }
      moved += *step;
      if (*step == 0) break;
    }
    auto hooks = store::RekeyWebhooksBlocking(db);
    if (!hooks) {
      std::cerr << "ef45-gatewayd rekey: " << hooks.error().message() << "\n";
      return 1;
    }
    moved += *hooks;
    failed = pass_failed + imports_failed;
    auto left = store::KeyInventoryBlocking(db);
    if (!left) {
      std::cerr << "ef45-gatewayd rekey: " << left.error().message() << "\n";
      return 1;
    }
    bool done = left->plaintext == 0 &&
                (left->key_ids.empty() ||
                 (left->key_ids.size() == 1 && left->key_ids[0] == keys->current_id()));
    if (done) break;
  }
  std::cout << "rekey: " << moved << " users, held imports and webhooks moved to key "
            << keys->current_id();
  if (failed > 0) std::cout << "; " << failed << " records could not be opened or read";
  std::cout << "\n";
  return failed > 0 ? 1 : 0;
}

}  // namespace gw::app
