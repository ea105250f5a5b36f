#pragma once

#include <string>
#include <vector>

#include "sync/user_doc.hpp"

// What an admin reviewing a change made at a reader sees of it: which parts differ, never their
// values (templates, face features, PINs and card numbers are not shown, nor anything else of
// the record). Pure; never logs.

namespace gw::sync {

/// The parts of `reader` that differ from `gateway` (nullptr: the user is new to the gateway,
/// so every part the reader holds), in this order and named: "subject" (subject fields other
/// than the name and templates: access, wiegand, match_until, record_version), "name"
/// (first_name, last_name), "templates" (iris templates), "faces", "cards" (the user info card;
/// a reader cannot report its cards list), "pin", "user_info" (other user info fields). Parts
/// compare as Fingerprint does (absent fields at the reader's defaults, image paths ignored).
std::vector<std::string> ChangedParts(const UserDoc* gateway, const UserDoc& reader);

}  // namespace gw::sync
