#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "crypto/data_keys.hpp"
#include "ef45/models.hpp"
#include "store/users.hpp"

// The canonical user of the gateway: one JSON document with the reader's own field names in each
// part, `{"user_uuid", "subject": {...}, "user_info": {...}, "faces": [...], "cards": [...],
// "groups": [...]}`. A missing part means "none". Pure functions, thread-safe, never log (a
// document holds iris templates and face features).

namespace gw::sync {

struct UserDoc {
  std::string user_uuid;
  std::optional<ef45::Subject> subject;
  std::optional<ef45::UserInfo> user_info;
  std::vector<ef45::Face> faces;  ///< sorted by sub_id, at most one per sub_id
  std::vector<ef45::CardEntry> cards;
  std::vector<std::string> groups;  ///< reader groups; empty = every reader
};

/// Parses a document (the PUT body, or a stored record). `user_uuid` names the user (the
/// path); a `user_uuid` inside the document or its parts must match it. Unknown keys, wrong
/// types and out-of-range values are Errc::kBadRequest with `*problem` naming the field
/// (`subject.wiegand_code: expected an integer`).
Result<UserDoc> ParseUserDoc(std::string_view user_uuid, std::string_view json,
                             std::string* problem);

/// The canonical JSON text stored in PostgreSQL (parts present only when set).
std::string ToRecordJson(const UserDoc& doc);

/// The document for API callers: templates and face features, PIN, card numbers and wiegand
/// fields only when `include_biometrics` (admin callers); otherwise each template is replaced by
/// `"<redacted N bytes>"` and each credential by `"<redacted>"`.
boost::json::object ToApiJson(const UserDoc& doc, bool include_biometrics);

/// The same document without iris templates and face features (for a reader whose algorithm
/// version differs from the templates' `record_version`).
UserDoc WithoutTemplates(UserDoc doc);
bool HasTemplates(const UserDoc& doc);

/// A stable fingerprint of what a reader stores for this user: subject, user info and faces with
/// every field at the reader's default when absent (a reader fills missing columns with 0, ""
/// or false). Image paths (the reader fills them in) and cards (no per-table read) are left out.
/// Equal fingerprints = the reader's copy matches.
///
/// With data keys it is a keyed HMAC (crypto::DataKeys::Fingerprint), so a stored fingerprint
/// tells nothing about a PIN or a card without the key: under the key the stored fingerprint
/// `like` names (one made before the newest key was added) or else the current key. Without
/// keys (security.plaintext_biometrics) it is FNV-1a.
std::string Fingerprint(const UserDoc& doc, const crypto::DataKeys* keys,
                        std::string_view like = {});

/// How a reader that already holds a user is brought to a document in place, part by part, so
/// that the user is never absent from the reader meanwhile (a delete + re-add would refuse the
/// person at the door in between). Only the parts whose fingerprint differs are written.
struct InPlaceUpdate {
  enum class Write {
    kNone,    ///< the reader's part matches
    kUpdate,  ///< PUT: the reader has the part, it differs
    kAdd,     ///< POST: the reader lacks the part
  };
  Write subject = Write::kNone;            ///< PUT /subjects/{u} or POST /subjects
  Write user_info = Write::kNone;          ///< PUT /user-info/uuid/{u} or POST /user-info
  std::vector<std::int32_t> update_faces;  ///< sub_ids both have, differing: PUT /faces/{u}
  std::vector<std::int32_t> add_faces;     ///< sub_ids only the document has: POST /faces
  std::vector<std::int32_t> delete_faces;  ///< sub_ids only the reader has: DELETE /faces/{u}
  /// True when nothing is to be written (cards, which a reader cannot list, may still differ).
  bool Empty() const;
};

/// The writes that turn `reader_copy` (the user as a reader holds it: subject, user info and
/// faces read per table, a missing part = none) into `wanted`. Parts compare as Fingerprint
/// does (absent fields at the reader's defaults, image paths ignored), so after the writes the
/// reader's fingerprint is Fingerprint(wanted). Pure; never logs.
InPlaceUpdate DiffForUpdate(const UserDoc& reader_copy, const UserDoc& wanted);

/// The `POST /1.0/user` bundle.
ef45::EnrollUser ToEnrollUser(const UserDoc& doc);

/// Every card number of the user (user info card and cards), without duplicates.
std::vector<std::string> AllCards(const UserDoc& doc);

/// The templates' algorithm version (subject.record_version), nullopt when unset or 0.
std::optional<std::int32_t> TemplateVersion(const UserDoc& doc);

/// The record the store keeps for `doc` (canonical JSON, fingerprints, template version, groups,
/// cards), written on behalf of `source`: "api" (PUT /users) or "device:<id>" (an import). The
/// one place both build it, so a user stored by either compares equal. Pure; never logs.
/// Fingerprints are keyed with `keys` (null: plaintext mode).
store::UserWrite ToUserWrite(const UserDoc& doc, std::string source, const crypto::DataKeys* keys);

}  // namespace gw::sync
