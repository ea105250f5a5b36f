#pragma once
// Keys for biometric data and credentials at rest (issue 17): AES-256-GCM sealing with the key id
// in every ciphertext, and keyed fingerprints that reveal nothing without the key.

#include <array>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace gw::crypto {

/// A key file that cannot be used. The message names the file and line, never key material.
class DataKeyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// What Open() made of a sealed value: the plaintext, or why there is none.
struct Opened {
  std::optional<std::string> plaintext;
  std::string error;  ///< empty when plaintext is set; never contains key material or plaintext
};

/// The data keys of one gateway, read from `security.data_keys_file`.
///
/// The file: one key per line, `<key id> <64 hex digits>` (256 bits); blank lines and lines
/// starting with `#` are ignored. The last key seals; every key opens, so a new key is added as a
/// new last line and `ef45-gatewayd rekey` moves the rows to it before an old line is removed.
/// Key ids are 1-32 characters of `A-Z a-z 0-9 _ -`.
///
/// Sealed form: `gwenc1:<key id>:<base64(nonce(12) || ciphertext || tag(16))>`, AES-256-GCM with
/// a random 96-bit nonce. `context` is authenticated with it (e.g. "user:<uuid>:pin"), so a
/// value copied into another row or field does not open.
///
/// Immutable after loading: safe to share between threads.
class DataKeys {
 public:
  /// Reads and checks the key file: refused if group or others may read it, if a line is
  /// malformed (its number is given, its content is not), if an id repeats, or if it has no key.
  static DataKeys LoadFile(const std::string& path);
  /// The same checks on text already read (`source` names it in messages); no permission check.
  static DataKeys Parse(std::string_view text, std::string_view source);

  const std::string& current_id() const { return keys_.back().id; }
  bool Has(std::string_view id) const { return Find(id) != nullptr; }
  std::vector<std::string> ids() const;

  /// Seals `plaintext` under the current (last) key.
  std::string Seal(std::string_view plaintext, std::string_view context) const;
  /// Opens a sealed value with the key its id names.
  Opened Open(std::string_view sealed, std::string_view context) const;

  /// True if `value` has the sealed form's prefix (it may still fail to open).
  static bool IsSealed(std::string_view value);
  /// The key id of a sealed value (nullopt: not in the sealed form).
  static std::optional<std::string> KeyIdOf(std::string_view sealed);

  /// `<key id>:<hex HMAC-SHA256>` of `data`, keyed with a key derived from the current data key
  /// (HKDF-SHA256, info "ef45gw fingerprint v1"). Equal data gives equal fingerprints under one
  /// key; without the key a fingerprint says nothing about the data, not even for a 4-digit PIN.
  /// The key id prefix tells a fingerprint made under an older key from a changed record.
  std::string Fingerprint(std::string_view data) const;
  /// The same under the key `id` names (nullopt: the file lacks it): compares with a fingerprint
  /// stored before the last key was added, until `rekey` replaced it.
  std::optional<std::string> FingerprintUnder(std::string_view id, std::string_view data) const;
  /// Fingerprint under every key, oldest first (a lookup matching rows of any key).
  std::vector<std::string> Fingerprints(std::string_view data) const;
  /// The key id of a fingerprint (nullopt: not a keyed fingerprint).
  static std::optional<std::string> KeyIdOfFingerprint(std::string_view print);

 private:
  struct Key {
    std::string id;
    std::array<unsigned char, 32> seal{};
    std::array<unsigned char, 32> fingerprint{};
    Key() = default;
    Key(const Key&) = default;
    Key(Key&&) = default;
    Key& operator=(const Key&) = default;
    Key& operator=(Key&&) = default;
    ~Key();  ///< wipes the key bytes
  };
  const Key* Find(std::string_view id) const;
  static std::string PrintWith(const Key& key, std::string_view data);

  std::vector<Key> keys_;
};

}  // namespace gw::crypto
