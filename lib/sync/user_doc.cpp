#include "sync/user_doc.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <limits>
#include <map>
#include <set>
#include <variant>

namespace gw::sync {
namespace json = boost::json;
namespace {

using ef45::OptBool;
using ef45::OptDouble;
using ef45::OptInt;
using ef45::OptInt64;
using ef45::OptString;

/// How a field takes part: kPlain in everything; kBiometric is redacted for non-admins and
/// dropped by WithoutTemplates; kCredential (PIN, card, wiegand) is redacted for non-admins;
/// kNoPrint is left out of the fingerprint (the reader sets it).
enum class Kind { kPlain, kBiometric, kCredential, kNoPrint };

template <class T>
struct Field {
  const char* name;
  std::variant<OptString T::*, OptInt T::*, OptInt64 T::*, OptDouble T::*, OptBool T::*> member;
  Kind kind = Kind::kPlain;
};

using ef45::CardEntry;
using ef45::Face;
using ef45::Subject;
using ef45::UserInfo;

const std::vector<Field<Subject>>& SubjectFields() {
  static const std::vector<Field<Subject>> f = {
      {"record_version", &Subject::record_version},
      {"first_name", &Subject::first_name},
      {"last_name", &Subject::last_name},
      {"access_allowed", &Subject::access_allowed},
      {"match_until", &Subject::match_until},
      {"wiegand_facility", &Subject::wiegand_facility, Kind::kCredential},
      {"wiegand_site", &Subject::wiegand_site, Kind::kCredential},
      {"wiegand_code", &Subject::wiegand_code, Kind::kCredential},
      {"wiegand_custom", &Subject::wiegand_custom, Kind::kCredential},
      {"left_eye_template", &Subject::left_eye_template, Kind::kBiometric},
      {"right_eye_template", &Subject::right_eye_template, Kind::kBiometric},
      {"left_image_path", &Subject::left_image_path, Kind::kNoPrint},
      {"right_image_path", &Subject::right_image_path, Kind::kNoPrint}};
  return f;
}

const std::vector<Field<UserInfo>>& UserInfoFields() {
  static const std::vector<Field<UserInfo>> f = {
      {"card", &UserInfo::card, Kind::kCredential},
      {"pin", &UserInfo::pin, Kind::kCredential},
      {"admin", &UserInfo::admin},
      {"group_index", &UserInfo::group_index},
      {"by_pass_card", &UserInfo::by_pass_card},
      {"indivisual", &UserInfo::indivisual},  // sic: the firmware's spelling
      {"three_out_status", &UserInfo::three_out_status},
      {"three_out_access_allowed", &UserInfo::three_out_access_allowed},
      {"job_code", &UserInfo::job_code},
      {"time_schedule_code", &UserInfo::time_schedule_code},
      {"apb_status", &UserInfo::apb_status},
      {"message", &UserInfo::message}};
  return f;
}

const std::vector<Field<Face>>& FaceFields() {
  static const std::vector<Field<Face>> f = {
      {"face_eye_width", &Face::face_eye_width},
      {"face_feature_size", &Face::face_feature_size},
      {"face_frontal_score", &Face::face_frontal_score},
      {"face_left_eye_x", &Face::face_left_eye_x},
      {"face_right_eye_x", &Face::face_right_eye_x},
      {"face_roll", &Face::face_roll},
      {"face_score", &Face::face_score},
      {"face_LED_state", &Face::face_led_state},
      {"face_feature", &Face::face_feature, Kind::kBiometric}};
  return f;
}

const std::vector<Field<CardEntry>>& CardFields() {
  static const std::vector<Field<CardEntry>> f = {{"sub_id", &CardEntry::sub_id},
                                                  {"card", &CardEntry::card, Kind::kCredential},
                                                  {"remarks", &CardEntry::remarks}};
  return f;
}

struct Problem {
  std::string* out;
  bool Fail(const std::string& field, const std::string& what) {
    if (out) *out = field + ": " + what;
    return false;
  }
};

std::optional<std::int64_t> AsInt(const json::value& v, std::int64_t min, std::int64_t max) {
  std::int64_t n = 0;
  if (v.is_int64()) {
    n = v.as_int64();
  } else if (v.is_uint64() && v.as_uint64() <= static_cast<std::uint64_t>(
                                                   std::numeric_limits<std::int64_t>::max())) {
    n = static_cast<std::int64_t>(v.as_uint64());
  } else if (v.is_double() && v.as_double() >= -9223372036854775808.0 &&
             v.as_double() < 9223372036854775808.0 &&
             v.as_double() == static_cast<double>(static_cast<std::int64_t>(v.as_double()))) {
    // Range first: converting a double outside int64 is undefined (found by fuzz_api_request).
    n = static_cast<std::int64_t>(v.as_double());
  } else {
    return std::nullopt;
  }
  if (n < min || n > max) return std::nullopt;
  return n;
}

constexpr std::int64_t kI32Min = std::numeric_limits<std::int32_t>::min();
constexpr std::int64_t kI32Max = std::numeric_limits<std::int32_t>::max();

bool SetField(const json::value& v, const std::string& path, Problem& p, OptString& out) {
  if (v.is_null()) return out.reset(), true;
  if (!v.is_string()) return p.Fail(path, "expected a string");
  out = std::string(v.as_string());
  return true;
}
bool SetField(const json::value& v, const std::string& path, Problem& p, OptInt& out) {
  if (v.is_null()) return out.reset(), true;
  auto n = AsInt(v, kI32Min, kI32Max);
  if (!n) return p.Fail(path, "expected a 32-bit integer");
  out = static_cast<std::int32_t>(*n);
  return true;
}
bool SetField(const json::value& v, const std::string& path, Problem& p, OptInt64& out) {
  if (v.is_null()) return out.reset(), true;
  auto n =
      AsInt(v, std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max());
  if (!n) return p.Fail(path, "expected an integer");
  out = *n;
  return true;
}
bool SetField(const json::value& v, const std::string& path, Problem& p, OptDouble& out) {
  if (v.is_null()) return out.reset(), true;
  if (!v.is_number()) return p.Fail(path, "expected a number");
  out = v.to_number<double>();
  return true;
}
bool SetField(const json::value& v, const std::string& path, Problem& p, OptBool& out) {
  if (v.is_null()) return out.reset(), true;
  if (!v.is_bool()) return p.Fail(path, "expected true or false");
  out = v.as_bool();
  return true;
}

/// Reads the fields of `o` into `value`; `extra(key, v)` handles keys not in `fields` (returns
/// false when the key is unknown too).
template <class T, class Extra>
bool ParsePart(const json::object& o, const std::vector<Field<T>>& fields,
               const std::string& prefix, Problem& p, T& value, Extra&& extra) {
  for (const auto& kv : o) {
    std::string key(kv.key());
    auto it = std::find_if(fields.begin(), fields.end(),
                           [&](const Field<T>& f) { return key == f.name; });
    std::string path = prefix;
    path += '.';
    path += key;
    if (it == fields.end()) {
      bool known = extra(key, kv.value(), path);
      if (!known) return false;
      continue;
    }
    bool ok = std::visit([&](auto member) { return SetField(kv.value(), path, p, value.*member); },
                         it->member);
    if (!ok) return false;
  }
  return true;
}

template <class T>
void PartJson(const T& value, const std::vector<Field<T>>& fields, bool include_biometrics,
              json::object& o) {
  for (const auto& f : fields) {
    std::visit(
        [&](auto member) {
          const auto& opt = value.*member;
          if (!opt) return;
          if constexpr (std::is_same_v<std::decay_t<decltype(opt)>, OptString>) {
            if (f.kind == Kind::kBiometric && !include_biometrics) {
              o[f.name] = "<redacted " + std::to_string(opt->size()) + " bytes>";
              return;
            }
          }
          // Credentials: not even their length (a PIN's length narrows a guess).
          if (f.kind == Kind::kCredential && !include_biometrics) {
            o[f.name] = "<redacted>";
            return;
          }
          o[f.name] = *opt;
        },
        f.member);
  }
}

void AppendPrint(std::string& out, const OptString& v) {
  out += v.value_or("");
  out += '\x1e';
}
void AppendPrint(std::string& out, const OptInt& v) {
  out += std::to_string(v.value_or(0));
  out += '\x1e';
}
void AppendPrint(std::string& out, const OptInt64& v) {
  out += std::to_string(v.value_or(0));
  out += '\x1e';
}
void AppendPrint(std::string& out, const OptDouble& v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v.value_or(0.0));
  out += buf;
  out += '\x1e';
}
void AppendPrint(std::string& out, const OptBool& v) {
  out += v.value_or(false) ? "1" : "0";
  out += '\x1e';
}

template <class T>
void PrintPart(const T& value, const std::vector<Field<T>>& fields, std::string& out) {
  for (const auto& f : fields) {
    if (f.kind == Kind::kNoPrint) continue;
    std::visit([&](auto member) { AppendPrint(out, value.*member); }, f.member);
  }
}

std::uint64_t Fnv1a(std::string_view text, std::uint64_t h = 14695981039346656037ull) {
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

bool CheckUuid(const json::value& v, std::string_view uuid, const std::string& path, Problem& p) {
  if (!v.is_string()) return p.Fail(path, "expected a string");
  if (v.as_string() != uuid) return p.Fail(path, "does not match the user's uuid");
  return true;
}

/// The user's uuid (the path): 1 to 128 characters, no control characters, no '/'.
bool CheckUserUuid(std::string_view user_uuid, Problem& p) {
  if (user_uuid.empty() || user_uuid.size() > 128) {
    return p.Fail("user_uuid", "must be 1 to 128 characters");
  }
  for (unsigned char c : user_uuid) {
    if (c < 0x20 || c == 0x7f || c == '/') {
      return p.Fail("user_uuid", "must not contain control characters or '/'");
    }
  }
  return true;
}

/// `subject` or `user_info`: an object of the reader's fields (and a matching user_uuid).
bool ParseSinglePart(const std::string& key, const json::value& v, std::string_view user_uuid,
                     Problem& p, UserDoc& doc) {
  if (v.is_null()) return true;
  if (!v.is_object()) return p.Fail(key, "expected an object");
  auto uuid_only = [&](const std::string& k, const json::value& x, const std::string& path) {
    if (k == "user_uuid") return CheckUuid(x, user_uuid, path, p);
    return p.Fail(path, "unknown field");
  };
  bool ok = true;
  if (key == "subject") {
    ef45::Subject s;
    s.user_uuid = doc.user_uuid;
    ok = ParsePart(v.as_object(), SubjectFields(), key, p, s, uuid_only);
    doc.subject = std::move(s);
  } else {
    ef45::UserInfo u;
    u.user_uuid = doc.user_uuid;
    ok = ParsePart(v.as_object(), UserInfoFields(), key, p, u, uuid_only);
    doc.user_info = std::move(u);
  }
  return ok;
}

/// One item of `faces`: the reader's fields, a required sub_id 0..5 unique in the document.
bool ParseFace(const json::object& item, const std::string& prefix, std::string_view user_uuid,
               Problem& p, UserDoc& doc) {
  ef45::Face face;
  face.user_uuid = doc.user_uuid;
  bool has_sub = false;
  auto extra = [&](const std::string& k, const json::value& x, const std::string& path) {
    if (k == "user_uuid") return CheckUuid(x, user_uuid, path, p);
    if (k == "sub_id") {
      auto n = AsInt(x, 0, 5);
      if (!n) return p.Fail(path, "expected an integer 0..5");
      face.sub_id = static_cast<std::int32_t>(*n);
      has_sub = true;
      return true;
    }
    return p.Fail(path, "unknown field");
  };
  if (!ParsePart(item, FaceFields(), prefix, p, face, extra)) return false;
  if (!has_sub) return p.Fail(prefix + ".sub_id", "required");
  for (const auto& other : doc.faces) {
    if (other.sub_id == face.sub_id) return p.Fail(prefix + ".sub_id", "duplicate sub_id");
  }
  doc.faces.push_back(std::move(face));
  return true;
}

/// One item of `cards`: the card fields, a non-empty card number.
bool ParseCard(const json::object& item, const std::string& prefix, Problem& p, UserDoc& doc) {
  ef45::CardEntry card;
  auto none = [&](const std::string&, const json::value&, const std::string& path) {
    return p.Fail(path, "unknown field");
  };
  if (!ParsePart(item, CardFields(), prefix, p, card, none)) return false;
  if (!card.card || card.card->empty()) return p.Fail(prefix + ".card", "required");
  doc.cards.push_back(std::move(card));
  return true;
}

/// `faces` or `cards`: an array of at most 64 objects.
bool ParseList(const std::string& key, const json::value& v, std::string_view user_uuid, Problem& p,
               UserDoc& doc) {
  if (v.is_null()) return true;
  if (!v.is_array() || v.as_array().size() > 64) {
    return p.Fail(key, "expected an array of at most 64 objects");
  }
  std::size_t i = 0;
  for (const auto& item : v.as_array()) {
    std::string prefix = key + "[" + std::to_string(i++) + "]";
    if (!item.is_object()) return p.Fail(prefix, "expected an object");
    bool ok = key == "faces" ? ParseFace(item.as_object(), prefix, user_uuid, p, doc)
                             : ParseCard(item.as_object(), prefix, p, doc);
    if (!ok) return false;
  }
  return true;
}

/// `groups`: at most 64 names of 1 to 64 characters without control characters, deduplicated
/// and sorted.
bool ParseGroups(const std::string& key, const json::value& v, Problem& p, UserDoc& doc) {
  if (v.is_null()) return true;
  if (!v.is_array() || v.as_array().size() > 64) {
    return p.Fail(key, "expected an array of at most 64 group names");
  }
  std::set<std::string> seen;
  for (const auto& g : v.as_array()) {
    if (!g.is_string() || g.as_string().empty() || g.as_string().size() > 64) {
      return p.Fail(key, "expected group names of 1 to 64 characters");
    }
    std::string name(g.as_string());
    if (std::any_of(name.begin(), name.end(),
                    [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
      return p.Fail(key, "group names must not contain control characters");
    }
    seen.insert(std::move(name));
  }
  doc.groups.assign(seen.begin(), seen.end());
  return true;
}

}  // namespace

Result<UserDoc> ParseUserDoc(std::string_view user_uuid, std::string_view text,
                             std::string* problem) {
  Problem p{problem};
  auto bad = [] { return Result<UserDoc>(boost::system::error_code(Errc::kBadRequest)); };
  if (!CheckUserUuid(user_uuid, p)) return bad();
  boost::system::error_code ec;
  json::value root = json::parse(text, ec);
  if (ec || !root.is_object()) {
    p.Fail("body", "expected a JSON object");
    return bad();
  }
  UserDoc doc;
  doc.user_uuid = std::string(user_uuid);
  for (const auto& kv : root.as_object()) {
    std::string key(kv.key());
    const json::value& v = kv.value();
    bool ok = false;
    if (key == "user_uuid") {
      ok = CheckUuid(v, user_uuid, key, p);
    } else if (key == "subject" || key == "user_info") {
      ok = ParseSinglePart(key, v, user_uuid, p, doc);
    } else if (key == "faces" || key == "cards") {
      ok = ParseList(key, v, user_uuid, p, doc);
    } else if (key == "groups") {
      ok = ParseGroups(key, v, p, doc);
    } else {
      ok = p.Fail(key, "unknown field");
    }
    if (!ok) return bad();
  }
  std::sort(doc.faces.begin(), doc.faces.end(),
            [](const auto& a, const auto& b) { return a.sub_id < b.sub_id; });
  return doc;
}

boost::json::object ToApiJson(const UserDoc& doc, bool include_biometrics) {
  json::object o;
  o["user_uuid"] = doc.user_uuid;
  if (doc.subject) {
    json::object s;
    PartJson(*doc.subject, SubjectFields(), include_biometrics, s);
    o["subject"] = std::move(s);
  }
  if (doc.user_info) {
    json::object u;
    PartJson(*doc.user_info, UserInfoFields(), include_biometrics, u);
    o["user_info"] = std::move(u);
  }
  json::array faces;
  for (const auto& face : doc.faces) {
    json::object f;
    f["sub_id"] = face.sub_id;
    PartJson(face, FaceFields(), include_biometrics, f);
    faces.push_back(std::move(f));
  }
  o["faces"] = std::move(faces);
  json::array cards;
  for (const auto& card : doc.cards) {
    json::object c;
    PartJson(card, CardFields(), include_biometrics, c);
    cards.push_back(std::move(c));
  }
  o["cards"] = std::move(cards);
  json::array groups;
  for (const auto& g : doc.groups) groups.push_back(json::string(g));
  o["groups"] = std::move(groups);
  return o;
}

std::string ToRecordJson(const UserDoc& doc) { return json::serialize(ToApiJson(doc, true)); }

UserDoc WithoutTemplates(UserDoc doc) {
  if (doc.subject) {
    doc.subject->left_eye_template.reset();
    doc.subject->right_eye_template.reset();
  }
  for (auto& face : doc.faces) face.face_feature.reset();
  return doc;
}

bool HasTemplates(const UserDoc& doc) {
  auto set = [](const OptString& s) { return s && !s->empty(); };
  if (doc.subject &&
      (set(doc.subject->left_eye_template) || set(doc.subject->right_eye_template))) {
    return true;
  }
  return std::any_of(doc.faces.begin(), doc.faces.end(),
                     [&](const ef45::Face& f) { return set(f.face_feature); });
}

std::string Fingerprint(const UserDoc& doc, const crypto::DataKeys* keys, std::string_view like) {
  // A reader creates both the subject and the user-info row for a bundle, filled with defaults:
  // an absent part prints as its defaults.
  std::string text = doc.user_uuid;
  text += "\x1dS";
  PrintPart(doc.subject.value_or(ef45::Subject{}), SubjectFields(), text);
  text += "\x1dU";
  PrintPart(doc.user_info.value_or(ef45::UserInfo{}), UserInfoFields(), text);
  std::vector<const ef45::Face*> faces;
  for (const auto& f : doc.faces) faces.push_back(&f);
  std::sort(faces.begin(), faces.end(), [](auto* a, auto* b) { return a->sub_id < b->sub_id; });
  for (const auto* f : faces) {
    text +=
        "\x1d"
        "F" +
        std::to_string(f->sub_id) + ":";
    PrintPart(*f, FaceFields(), text);
  }
  if (keys) {
    if (auto id = crypto::DataKeys::KeyIdOfFingerprint(like)) {
      if (auto print = keys->FingerprintUnder(*id, text)) return std::move(*print);
    }
    return keys->Fingerprint(text);
  }
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx%08zx", static_cast<unsigned long long>(Fnv1a(text)),
                text.size());
  return buf;
}

bool InPlaceUpdate::Empty() const {
  return subject == Write::kNone && user_info == Write::kNone && update_faces.empty() &&
         add_faces.empty() && delete_faces.empty();
}

InPlaceUpdate DiffForUpdate(const UserDoc& reader_copy, const UserDoc& wanted) {
  // The texts Fingerprint hashes, compared part by part (exactly, not by hash).
  auto text = [](const auto& part, const auto& fields) {
    std::string out;
    PrintPart(part, fields, out);
    return out;
  };
  auto write = [](bool present, bool differs) {
    if (!differs) return InPlaceUpdate::Write::kNone;
    return present ? InPlaceUpdate::Write::kUpdate : InPlaceUpdate::Write::kAdd;
  };
  InPlaceUpdate diff;
  diff.subject = write(reader_copy.subject.has_value(),
                       text(reader_copy.subject.value_or(Subject{}), SubjectFields()) !=
                           text(wanted.subject.value_or(Subject{}), SubjectFields()));
  diff.user_info = write(reader_copy.user_info.has_value(),
                         text(reader_copy.user_info.value_or(UserInfo{}), UserInfoFields()) !=
                             text(wanted.user_info.value_or(UserInfo{}), UserInfoFields()));
  std::map<std::int32_t, const Face*> held;
  for (const auto& f : reader_copy.faces) held[f.sub_id] = &f;
  std::set<std::int32_t> wanted_subs;
  for (const auto& f : wanted.faces) {
    wanted_subs.insert(f.sub_id);
    auto it = held.find(f.sub_id);
    if (it == held.end()) {
      diff.add_faces.push_back(f.sub_id);
    } else if (text(*it->second, FaceFields()) != text(f, FaceFields())) {
      diff.update_faces.push_back(f.sub_id);
    }
  }
  for (const auto& [sub_id, face] : held) {
    if (!wanted_subs.count(sub_id)) diff.delete_faces.push_back(sub_id);
  }
  return diff;
}

ef45::EnrollUser ToEnrollUser(const UserDoc& doc) {
  ef45::EnrollUser e;
  e.subject = doc.subject.value_or(ef45::Subject{});
  e.subject.user_uuid = doc.user_uuid;
  e.info = doc.user_info.value_or(ef45::UserInfo{});
  e.info.user_uuid = doc.user_uuid;
  e.faces = doc.faces;
  e.cards = doc.cards;
  return e;
}

std::vector<std::string> AllCards(const UserDoc& doc) {
  std::set<std::string> cards;
  if (doc.user_info && doc.user_info->card && !doc.user_info->card->empty()) {
    cards.insert(*doc.user_info->card);
  }
  for (const auto& c : doc.cards) {
    if (c.card && !c.card->empty()) cards.insert(*c.card);
  }
  return {cards.begin(), cards.end()};
}

std::optional<std::int32_t> TemplateVersion(const UserDoc& doc) {
  if (!doc.subject || !doc.subject->record_version || *doc.subject->record_version == 0) {
    return std::nullopt;
  }
  return doc.subject->record_version;
}

store::UserWrite ToUserWrite(const UserDoc& doc, std::string source, const crypto::DataKeys* keys) {
  store::UserWrite w;
  w.user_uuid = doc.user_uuid;
  w.record = ToRecordJson(doc);
  w.digest = Fingerprint(doc, keys);
  w.digest_no_templates = Fingerprint(WithoutTemplates(doc), keys);
  w.record_version = TemplateVersion(doc);
  w.groups = doc.groups;
  w.cards = AllCards(doc);
  w.source = std::move(source);
  return w;
}

}  // namespace gw::sync
