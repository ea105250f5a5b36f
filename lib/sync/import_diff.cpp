#include "sync/import_diff.hpp"

#include <functional>

namespace gw::sync {

namespace {

/// A document holding only what `select` copies from `doc`: compared by Fingerprint, so that
/// absent fields count as the reader's defaults exactly as everywhere else.
template <class Select>
std::string PartPrint(const UserDoc* doc, Select select) {
  UserDoc part;  // no user_uuid: only the selected fields count
  if (doc) select(*doc, part);
  return Fingerprint(part, nullptr);  // compared here, never stored: no key needed
}

}  // namespace

std::vector<std::string> ChangedParts(const UserDoc* gateway, const UserDoc& reader) {
  const ef45::Subject kNoSubject{};
  const ef45::UserInfo kNoInfo{};
  auto subject = [&](const UserDoc& d) -> const ef45::Subject& {
    return d.subject ? *d.subject : kNoSubject;
  };
  auto info = [&](const UserDoc& d) -> const ef45::UserInfo& {
    return d.user_info ? *d.user_info : kNoInfo;
  };
  struct Part {
    const char* name;
    std::function<void(const UserDoc&, UserDoc&)> select;
  };
  const Part parts[] = {
      {"subject",
       [&](const UserDoc& d, UserDoc& out) {
         if (!d.subject) return;
         ef45::Subject s = *d.subject;
         s.first_name.reset();
         s.last_name.reset();
         s.left_eye_template.reset();
         s.right_eye_template.reset();
         out.subject = std::move(s);
       }},
      {"name",
       [&](const UserDoc& d, UserDoc& out) {
         ef45::Subject s;
         s.first_name = subject(d).first_name;
         s.last_name = subject(d).last_name;
         out.subject = std::move(s);
       }},
      {"templates",
       [&](const UserDoc& d, UserDoc& out) {
         ef45::Subject s;
         s.left_eye_template = subject(d).left_eye_template;
         s.right_eye_template = subject(d).right_eye_template;
         out.subject = std::move(s);
       }},
      {"faces", [&](const UserDoc& d, UserDoc& out) { out.faces = d.faces; }},
      {"cards",
       [&](const UserDoc& d, UserDoc& out) {
         ef45::UserInfo i;
         i.card = info(d).card;
         out.user_info = std::move(i);
       }},
      {"pin",
       [&](const UserDoc& d, UserDoc& out) {
         ef45::UserInfo i;
         i.pin = info(d).pin;
         out.user_info = std::move(i);
       }},
      {"user_info",
       [&](const UserDoc& d, UserDoc& out) {
         if (!d.user_info) return;
         ef45::UserInfo i = *d.user_info;
         i.card.reset();
         i.pin.reset();
         out.user_info = std::move(i);
       }},
  };
  std::vector<std::string> out;
  for (const auto& part : parts) {
    if (PartPrint(gateway, part.select) != PartPrint(&reader, part.select)) {
      out.emplace_back(part.name);
    }
  }
  return out;
}

}  // namespace gw::sync
