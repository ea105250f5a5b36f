// Users: /subjects, /user-info, /faces and the /user bundle (API.md sections 5-8).
// The device keeps subject, user info and faces in separate tables that may be written in any
// order; only the /user bundle and "-delete all-" touch several tables at once. Every change
// writes a `UserData` log entry (AddUsers / UpdateUsers / DeleteUsers, "Success").
#include <algorithm>
#include <boost/json/serialize.hpp>

#include "reader_state.hpp"

namespace ef45sim::detail {

using util::Empty;
using util::Json;

namespace {

constexpr int kRecordVersion = 8976;

Response DuplicateResponse(int status, std::string_view uuid) {
  std::string body = "{\"duplicate_uuid\":";
  util::AppendJsonString(body, uuid);
  body += '}';
  return Json(status, std::move(body));
}

void AppendObject(std::string& out, const boost::json::object& object) {
  out += boost::json::serialize(object);
}

/// The body as a normalized record; nullopt = 400 (bad JSON or a field of the wrong type).
std::optional<boost::json::object> ParseRecord(const std::string& body,
                                               const std::vector<FieldSpec>& spec) {
  auto object = util::ParseObject(body);
  if (!object) return std::nullopt;
  return Normalize(*object, spec);
}

std::string_view StringField(const boost::json::object& object, const char* key) {
  const auto* value = object.if_contains(key);
  return value && value->is_string() ? std::string_view(value->as_string()) : std::string_view();
}

bool ValidSubId(std::int64_t sub_id) { return sub_id >= 0 && sub_id <= 5; }

template <typename Map>
std::vector<const typename Map::mapped_type*> Values(const Map& map) {
  std::vector<const typename Map::mapped_type*> values;
  values.reserve(map.size());
  for (const auto& [key, value] : map) values.push_back(&value);
  return values;
}

std::vector<const boost::json::object*> AllFaces(const State& st) {
  std::vector<const boost::json::object*> all;
  for (const auto& [uuid, by_sub] : st.faces) {
    for (const auto& [sub_id, face] : by_sub) all.push_back(&face);
  }
  return all;
}

void DeleteEverything(State& st) {
  // fw80 "-delete all-": every subject, face, user info, card, image and schedule.
  st.ClearSubjects();
  st.user_info.clear();
  st.faces.clear();
  st.cards.clear();
  st.files.clear();
}

}  // namespace

Response HandleSubjects(State& st, const Call& call) {
  const auto& seg = call.seg;
  if (seg.size() == 1) {
    if (call.method == "GET") {
      auto rows = Values(st.subjects);
      return Json(
          200, Collection(rows.size(), ReadPaging(call.query),
                          [&](std::size_t i, std::string& out) { AppendObject(out, *rows[i]); }));
    }
    if (call.method == "POST") {
      auto subject = ParseRecord(call.body, SubjectSpec());
      if (!subject) return Empty(400);
      std::string uuid(StringField(*subject, "user_uuid"));
      if (uuid.empty()) return Empty(400);
      if (st.subjects.count(uuid)) return Empty(409);
      if (auto duplicate = st.FindDuplicate(*subject, uuid); !duplicate.empty()) {
        return DuplicateResponse(409, duplicate);
      }
      CompleteSubject(*subject);
      st.PutSubject(uuid, std::move(*subject));
      st.AppendUserDataLog("AddUsers", uuid);
      return Empty(201);
    }
    if (call.method == "DELETE") return Empty(400);  // no uuid segment: bad path
    return Empty(405);
  }
  if (seg.size() == 2) {
    const std::string& key = seg[1];
    if (key == "record-version" && call.method == "GET") {
      std::string body = "{\"record_version\":";
      util::AppendInt(body, kRecordVersion);
      body += '}';
      return Json(200, std::move(body));
    }
    if (key == "vacuum" && call.method == "POST") return Empty(200);
    if (call.method == "GET") {
      auto it = st.subjects.find(key);
      if (it == st.subjects.end()) return Empty(404);
      return util::JsonValue(200, it->second);
    }
    if (call.method == "PUT") {
      auto subject = ParseRecord(call.body, SubjectSpec());
      if (!subject) return Empty(400);
      auto it = st.subjects.find(key);
      // The handler pre-sets 400 and overrides it only when the row was updated, so an
      // unknown subject is 400 here (openapi lists no 404 for this operation).
      if (it == st.subjects.end()) return Empty(400);
      (*subject)["user_uuid"] = key;  // the path names the record
      if (auto duplicate = st.FindDuplicate(*subject, key); !duplicate.empty()) {
        return DuplicateResponse(409, duplicate);
      }
      CompleteSubject(*subject);
      st.PutSubject(key, std::move(*subject));
      st.AppendUserDataLog("UpdateUsers", key);
      return Empty(204);
    }
    if (call.method == "DELETE") {
      if (key.find("-delete all-") != std::string::npos) {
        DeleteEverything(st);
        st.AppendUserDataLog("DeleteUsers", "");
        return Empty(204);
      }
      if (!st.EraseSubject(key)) return Empty(404);
      st.AppendUserDataLog("DeleteUsers", key);
      return Empty(204);
    }
    return Empty(405);
  }
  if (seg.size() == 3) {
    if (call.method == "PUT") {
      // Duplication check (S6): any 3-segment PUT. The subject's own uuid is not a duplicate.
      auto subject = ParseRecord(call.body, SubjectSpec());
      if (!subject) return Empty(400);
      return DuplicateResponse(200, st.FindDuplicate(*subject, StringField(*subject, "user_uuid")));
    }
    if (call.method == "GET") {
      // Light user list (S9): page default 1, page_size default 1000.
      auto rows = Values(st.subjects);
      return Json(200, Collection(rows.size(), ReadPaging(call.query, 1000),
                                  [&](std::size_t i, std::string& out) {
                                    const auto& subject = *rows[i];
                                    std::string name(StringField(subject, "first_name"));
                                    auto last = StringField(subject, "last_name");
                                    if (!name.empty() && !last.empty()) name += ' ';
                                    name += last;
                                    out += "{\"user_uuid\":";
                                    util::AppendJsonString(out, StringField(subject, "user_uuid"));
                                    out += ",\"user_name\":";
                                    util::AppendJsonString(out, name);
                                    out += '}';
                                  }));
    }
    return Empty(405);
  }
  return Empty(400);
}

Response HandleUserInfo(State& st, const Call& call) {
  const auto& seg = call.seg;
  if (seg.size() == 1) {
    if (call.method == "GET") {
      auto rows = Values(st.user_info);
      return Json(
          200, Collection(rows.size(), ReadPaging(call.query),
                          [&](std::size_t i, std::string& out) { AppendObject(out, *rows[i]); }));
    }
    if (call.method == "POST") {
      auto info = ParseRecord(call.body, UserInfoSpec());
      if (!info) return Empty(400);
      std::string uuid(StringField(*info, "user_uuid"));
      if (uuid.empty()) return Empty(400);
      if (st.user_info.count(uuid)) return Empty(409);
      auto card = StringField(*info, "card");
      if (!card.empty()) {
        for (const auto& [other, record] : st.user_info) {
          if (StringField(record, "card") == card) return Empty(409);  // card already issued
        }
      }
      st.user_info[uuid] = std::move(*info);
      st.AppendUserDataLog("AddUsers", uuid);
      return Empty(201);
    }
    return Empty(405);
  }
  if (seg.size() == 2 && seg[1] == "schedule") {
    if (call.method != "PUT") return Empty(405);
    // U7 (fw80): {"size":n,"users":[{"id":"<uuid>","time_schedule_code":n}]}; all or nothing.
    auto body = util::ParseObject(call.body);
    if (!body) return Empty(400);
    const auto* users = body->if_contains("users");
    if (!users || !users->is_array()) return Empty(400);
    std::vector<std::pair<std::string, std::int64_t>> updates;
    for (const auto& user : users->as_array()) {
      if (!user.is_object()) return Empty(400);
      const auto* id = user.as_object().if_contains("id");
      const auto* code = user.as_object().if_contains("time_schedule_code");
      if (!id || !id->is_string() || !code || !code->is_int64()) return Empty(400);
      if (!st.user_info.count(std::string(id->as_string()))) return Empty(412);
      updates.emplace_back(std::string(id->as_string()), code->as_int64());
    }
    for (const auto& [uuid, code] : updates) {
      st.user_info[uuid]["time_schedule_code"] = code;
      st.AppendUserDataLog("UpdateUsers", uuid);
    }
    return Empty(204);
  }
  if (seg.size() != 3 || (seg[1] != "uuid" && seg[1] != "card")) return Empty(400);
  auto found = st.user_info.end();
  if (seg[1] == "uuid") {
    found = st.user_info.find(seg[2]);
  } else {
    // Cards travel as hex with spaces ("65 D8 A1 BD"); the path segment arrives decoded.
    for (auto it = st.user_info.begin(); it != st.user_info.end(); ++it) {
      if (StringField(it->second, "card") == seg[2]) {
        found = it;
        break;
      }
    }
  }
  if (call.method == "GET") {
    if (found == st.user_info.end()) return Empty(404);
    return util::JsonValue(200, found->second);
  }
  if (call.method == "PUT") {
    auto info = ParseRecord(call.body, UserInfoSpec());
    if (!info) return Empty(400);
    if (found == st.user_info.end()) return Empty(404);
    (*info)["user_uuid"] = found->first;
    found->second = std::move(*info);
    st.AppendUserDataLog("UpdateUsers", found->first);
    return Empty(204);
  }
  if (call.method == "DELETE") {
    if (found == st.user_info.end()) return Empty(404);
    std::string uuid = found->first;
    st.user_info.erase(found);
    st.AppendUserDataLog("DeleteUsers", uuid);
    return Empty(204);
  }
  return Empty(405);
}

Response HandleFaces(State& st, const Call& call) {
  const auto& seg = call.seg;
  if (seg.size() == 1) {
    if (call.method == "GET") {
      auto rows = AllFaces(st);
      return Json(
          200, Collection(rows.size(), ReadPaging(call.query),
                          [&](std::size_t i, std::string& out) { AppendObject(out, *rows[i]); }));
    }
    if (call.method == "POST") {
      auto face = ParseRecord(call.body, FaceSpec());
      if (!face) return Empty(400);
      std::string uuid(StringField(*face, "user_uuid"));
      std::int64_t sub_id = (*face)["sub_id"].as_int64();
      if (uuid.empty() || !ValidSubId(sub_id)) return Empty(400);
      auto& by_sub = st.faces[uuid];
      if (by_sub.count(sub_id)) return Empty(409);
      by_sub[sub_id] = std::move(*face);
      st.AppendUserDataLog("AddUsers", uuid);
      return Empty(201);
    }
    return Empty(405);
  }
  if (seg.size() != 2) return Empty(400);
  const std::string& uuid = seg[1];
  // The firmware reads `subId` (DOC spells it sub_id); stoi semantics.
  std::optional<int> sub_id = util::QueryInt(call.query, "subId");
  auto user = st.faces.find(uuid);
  if (call.method == "GET") {
    if (user == st.faces.end() || user->second.empty()) return Empty(404);
    if (sub_id) {
      // With subId: the single Face, bare (API.md open question 7; a bare object like the
      // other single-record reads).
      auto face = user->second.find(*sub_id);
      if (face == user->second.end()) return Empty(404);
      return util::JsonValue(200, face->second);
    }
    std::vector<const boost::json::object*> rows;
    for (const auto& [id, face] : user->second) rows.push_back(&face);
    return Json(200,
                Collection(rows.size(), ReadPaging(call.query),
                           [&](std::size_t i, std::string& out) { AppendObject(out, *rows[i]); }));
  }
  if (call.method == "PUT") {
    if (!sub_id) return Empty(400);
    auto face = ParseRecord(call.body, FaceSpec());
    if (!face) return Empty(400);
    if (user == st.faces.end() || !user->second.count(*sub_id)) return Empty(404);
    (*face)["user_uuid"] = uuid;
    (*face)["sub_id"] = *sub_id;
    user->second[*sub_id] = std::move(*face);
    st.AppendUserDataLog("UpdateUsers", uuid);
    return Empty(204);
  }
  if (call.method == "DELETE") {
    if (!sub_id) return Empty(400);
    if (user == st.faces.end() || user->second.erase(*sub_id) == 0) return Empty(404);
    if (user->second.empty()) st.faces.erase(user);
    st.AppendUserDataLog("DeleteUsers", uuid);
    return Empty(204);
  }
  return Empty(405);
}

namespace {

/// One user as GET /1.0/user lists it: the EnrollUser shape (subject fields, user-info fields,
/// `faces`, `cards`).
void AppendBundle(const State& st, const std::string& uuid, std::string& out) {
  boost::json::object bundle;
  if (auto it = st.subjects.find(uuid); it != st.subjects.end()) {
    bundle = it->second;
  } else {
    bundle["user_uuid"] = uuid;
  }
  if (auto it = st.user_info.find(uuid); it != st.user_info.end()) {
    for (const auto& field : it->second) {
      if (field.key() != "user_uuid") bundle[field.key()] = field.value();
    }
  }
  boost::json::array faces;
  if (auto it = st.faces.find(uuid); it != st.faces.end()) {
    for (const auto& [sub_id, face] : it->second) {
      boost::json::object copy = face;
      copy.erase("user_uuid");
      faces.push_back(std::move(copy));
    }
  }
  bundle["faces"] = std::move(faces);
  if (auto it = st.cards.find(uuid); it != st.cards.end()) {
    bundle["cards"] = it->second;
  } else {
    bundle["cards"] = boost::json::array();
  }
  out += boost::json::serialize(bundle);
}

}  // namespace

/// POST /1.0/user: subject + user info + faces + cards in one call, logged when `log`.
Response StoreBundle(State& st, const std::string& text, bool log) {
  auto body = util::ParseObject(text);
  if (!body) return Empty(400);
  auto subject = Normalize(*body, SubjectSpec());
  auto info = Normalize(*body, UserInfoSpec());
  if (!subject || !info) return Empty(400);
  std::string uuid(StringField(*subject, "user_uuid"));
  if (uuid.empty()) return Empty(400);
  std::map<std::int64_t, boost::json::object> faces;
  if (const auto* list = body->if_contains("faces")) {
    if (!list->is_array()) return Empty(400);
    for (const auto& item : list->as_array()) {
      if (!item.is_object() || !item.as_object().if_contains("sub_id")) return Empty(400);
      auto face = Normalize(item.as_object(), FaceSpec());
      if (!face) return Empty(400);
      std::int64_t sub_id = (*face)["sub_id"].as_int64();
      if (!ValidSubId(sub_id)) return Empty(400);
      (*face)["user_uuid"] = uuid;
      faces[sub_id] = std::move(*face);
    }
  }
  boost::json::array cards;
  if (const auto* list = body->if_contains("cards")) {
    if (!list->is_array()) return Empty(400);
    for (const auto& item : list->as_array()) {
      if (!item.is_object()) return Empty(400);
      auto card = Normalize(item.as_object(), CardSpec());
      if (!card) return Empty(400);
      cards.push_back(std::move(*card));
    }
  }
  if (st.subjects.count(uuid) || st.user_info.count(uuid)) return Empty(409);
  // A biometric duplicate is reported with 200 and nothing is stored (API.md UA1).
  if (auto duplicate = st.FindDuplicate(*subject, uuid); !duplicate.empty()) {
    return DuplicateResponse(200, duplicate);
  }
  CompleteSubject(*subject);
  st.PutSubject(uuid, std::move(*subject));
  st.user_info[uuid] = std::move(*info);
  if (!faces.empty()) st.faces[uuid] = std::move(faces);
  if (!cards.empty()) st.cards[uuid] = std::move(cards);
  if (log) st.AppendUserDataLog("AddUsers", uuid);
  return Empty(201);
}

Response HandleUser(State& st, const Call& call) {
  const auto& seg = call.seg;
  if (seg.size() == 1) {
    if (call.method == "GET") {
      // fw80's GET handler is an empty stub (open question 8); [C1] reads a user list, so we
      // answer a collection of EnrollUser-shaped bundles: every uuid that has a subject or a
      // user-info row, paged like the other lists.
      std::vector<const std::string*> uuids;
      for (const auto& [uuid, subject] : st.subjects) uuids.push_back(&uuid);
      for (const auto& [uuid, info] : st.user_info) {
        if (!st.subjects.count(uuid)) uuids.push_back(&uuid);
      }
      std::sort(uuids.begin(), uuids.end(), [](auto* a, auto* b) { return *a < *b; });
      return Json(200, Collection(uuids.size(), ReadPaging(call.query),
                                  [&](std::size_t i, std::string& out) {
                                    AppendBundle(st, *uuids[i], out);
                                  }));
    }
    if (call.method == "POST") return StoreBundle(st, call.body, /*log=*/true);
    if (call.method == "DELETE") return Empty(400);  // no uuid segment
    return Empty(405);
  }
  if (seg.size() == 2) {
    if (call.method != "DELETE") return Empty(405);
    const std::string& uuid = seg[1];
    bool any = st.EraseSubject(uuid);
    any = st.user_info.erase(uuid) > 0 || any;
    any = st.faces.erase(uuid) > 0 || any;
    any = st.cards.erase(uuid) > 0 || any;
    if (!any) return Empty(404);
    st.AppendUserDataLog("DeleteUsers", uuid);
    return Empty(204);
  }
  return Empty(400);
}

}  // namespace ef45sim::detail

namespace ef45sim {

std::string Reader::UsersJson() const {
  std::vector<const std::string*> uuids;
  for (const auto& [uuid, subject] : state_->subjects) uuids.push_back(&uuid);
  for (const auto& [uuid, info] : state_->user_info) {
    if (!state_->subjects.count(uuid)) uuids.push_back(&uuid);
  }
  std::sort(uuids.begin(), uuids.end(), [](auto* a, auto* b) { return *a < *b; });
  std::string out = "[";
  for (std::size_t i = 0; i < uuids.size(); ++i) {
    if (i) out += ',';
    detail::AppendBundle(*state_, *uuids[i], out);
  }
  out += ']';
  return out;
}

std::string Reader::AddUserWithoutLog(const std::string& body) {
  auto r = detail::StoreBundle(*state_, body, /*log=*/false);
  if (r.status == 201) return {};
  if (r.status == 409) return "exists";
  if (r.status == 200) return "biometric duplicate";
  return "bad body";
}

std::string Reader::ChangeUserAtReader(const std::string& body) {
  auto object = util::ParseObject(body);
  if (!object || !object->if_contains("user_uuid") || !(*object)["user_uuid"].is_string()) {
    return "bad body";
  }
  std::string uuid((*object)["user_uuid"].as_string());
  auto& st = *state_;
  std::optional<boost::json::object> saved_subject;
  if (auto it = st.subjects.find(uuid); it != st.subjects.end()) saved_subject = it->second;
  st.EraseSubject(uuid);
  auto saved_info = st.user_info.extract(uuid);
  auto saved_faces = st.faces.extract(uuid);
  auto saved_cards = st.cards.extract(uuid);
  bool replaced = saved_subject || !saved_info.empty();
  auto r = detail::StoreBundle(st, body, /*log=*/false);
  if (r.status != 201) {
    // Put the old rows back: the change did not happen.
    if (saved_subject) st.PutSubject(uuid, std::move(*saved_subject));
    if (!saved_info.empty()) st.user_info.insert(std::move(saved_info));
    if (!saved_faces.empty()) st.faces.insert(std::move(saved_faces));
    if (!saved_cards.empty()) st.cards.insert(std::move(saved_cards));
    return r.status == 200 ? "biometric duplicate" : "bad body";
  }
  st.AppendUserDataLog(replaced ? "UpdateUsers" : "AddUsers", uuid);
  return {};
}

}  // namespace ef45sim
