#include "sync/reader_ops.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "poll/device_worker.hpp"

namespace gw::sync {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

RateLimiter::RateLimiter(int rate)
    : interval_(std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(1)) /
                std::max(1, rate)) {}

asio::awaitable<void> RateLimiter::Acquire() {
  auto now = Clock::now();
  if (next_ < now) next_ = now;
  auto at = next_;
  next_ += interval_;
  if (at > now) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_at(at);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

namespace {

void SortFaces(std::vector<ef45::Face>& faces) {
  std::sort(faces.begin(), faces.end(),
            [](const auto& a, const auto& b) { return a.sub_id < b.sub_id; });
}

template <class T, class F>
asio::awaitable<std::optional<Error>> ReadPages(RateLimiter& limiter, int page_size, F fetch,
                                                std::vector<T>& out) {
  for (int page = 1; page <= 100000; ++page) {
    co_await limiter.Acquire();
    ef45::PageRequest request{page, page_size};
    auto r = co_await fetch(request);
    if (!r) co_return ReaderError(r.error());
    for (auto& item : r->items) out.push_back(std::move(item));
    if (!r->has_more || r->items.empty()) co_return std::nullopt;
  }
  co_return SyncError(Errc::kTooLarge, "too many pages");
}

asio::awaitable<Outcome<std::optional<std::int32_t>>> ReadRecordVersion(poll::DeviceWorker& worker,
                                                                        RateLimiter& limiter) {
  if (auto known = worker.Snapshot().record_version) co_return known;
  co_await limiter.Acquire();
  auto rv = co_await worker.client().GetRecordVersion();
  if (rv) co_return std::optional<std::int32_t>(rv->record_version);
  auto error = ReaderError(rv.error());
  if (error.IsUnanswered()) co_return error;
  co_return std::optional<std::int32_t>();  // the reader has none to report
}

}  // namespace

asio::awaitable<Outcome<ReaderUsers>> ReadReaderOnStrand(std::shared_ptr<poll::DeviceWorker> worker,
                                                         std::shared_ptr<RateLimiter> limiter,
                                                         int page_size) {
  ReaderUsers out;
  auto& client = worker->client();
  auto rv = co_await ReadRecordVersion(*worker, *limiter);
  if (!rv) co_return rv.error();
  out.record_version = *rv;
  std::vector<ef45::Subject> subjects;
  std::vector<ef45::UserInfo> infos;
  std::vector<ef45::Face> faces;
  auto list_subjects = [&](ef45::PageRequest p) { return client.ListSubjects(p); };
  if (auto e = co_await ReadPages(*limiter, page_size, list_subjects, subjects)) co_return *e;
  auto list_infos = [&](ef45::PageRequest p) { return client.ListUserInfo(p); };
  if (auto e = co_await ReadPages(*limiter, page_size, list_infos, infos)) co_return *e;
  auto list_faces = [&](ef45::PageRequest p) { return client.ListFaces(p); };
  if (auto e = co_await ReadPages(*limiter, page_size, list_faces, faces)) co_return *e;
  auto doc = [&](const std::string& uuid) -> UserDoc& {
    auto& d = out.users[uuid];
    d.user_uuid = uuid;
    return d;
  };
  for (auto& s : subjects) doc(s.user_uuid).subject = std::move(s);
  for (auto& u : infos) doc(u.user_uuid).user_info = std::move(u);
  for (auto& f : faces) doc(f.user_uuid).faces.push_back(std::move(f));
  for (auto& [uuid, d] : out.users) SortFaces(d.faces);
  co_return out;
}

namespace {

/// One part of a user: the value, nullopt when absent by `mode`'s rule, or the error.
template <class T>
Outcome<std::optional<T>> Part(ef45::Reply<T> reply, ReadMode mode, const char* step) {
  if (reply) return std::optional<T>(std::move(*reply));
  auto error = ReaderError(reply.error());
  if (error.IsNotFound()) return std::optional<T>();
  if (mode == ReadMode::kPresentParts) {
    if (!error.IsUnanswered()) return std::optional<T>();
    return error;
  }
  error.step = step;
  return error;
}

}  // namespace

asio::awaitable<Outcome<std::optional<UserDoc>>> ReadUser(ef45::Client& client,
                                                          RateLimiter& limiter, std::string uuid,
                                                          ReadMode mode) {
  UserDoc doc;
  doc.user_uuid = uuid;
  co_await limiter.Acquire();
  auto subject = Part(co_await client.GetSubject(uuid), mode, "reading the subject");
  if (!subject) co_return subject.error();
  doc.subject = std::move(*subject);
  co_await limiter.Acquire();
  auto info = Part(co_await client.GetUserInfo(uuid), mode, "reading the user info");
  if (!info) co_return info.error();
  doc.user_info = std::move(*info);
  if (mode == ReadMode::kPresentParts && !doc.subject && !doc.user_info) {
    co_return std::optional<UserDoc>();
  }
  co_await limiter.Acquire();
  auto faces = Part(co_await client.GetFaces(uuid), mode, "reading the faces");
  if (!faces) co_return faces.error();
  if (*faces) {
    doc.faces = std::move(**faces);
    for (auto& face : doc.faces) face.user_uuid = uuid;
    SortFaces(doc.faces);
  }
  co_return std::optional<UserDoc>(std::move(doc));
}

asio::awaitable<Outcome<std::optional<UserDoc>>> ReadUserOnStrand(
    std::shared_ptr<poll::DeviceWorker> worker, std::shared_ptr<RateLimiter> limiter,
    std::string uuid) {
  co_return co_await ReadUser(worker->client(), *limiter, std::move(uuid), ReadMode::kPresentParts);
}

namespace {

bool Is409(const ef45::Error& e) { return e.reason() == Errc::kHttpStatus && e.http_status == 409; }
bool Is404(const ef45::Error& e) { return e.reason() == Errc::kHttpStatus && e.http_status == 404; }

asio::awaitable<std::optional<ef45::Error>> Enroll(ef45::Client& client, RateLimiter& limiter,
                                                   const ef45::EnrollUser& bundle,
                                                   std::string* duplicate) {
  co_await limiter.Acquire();
  auto r = co_await client.EnrollUser(bundle);
  if (!r) co_return r.error();
  if (*r && !(*r)->duplicate_uuid.empty()) *duplicate = (*r)->duplicate_uuid;
  co_return std::nullopt;
}

asio::awaitable<std::optional<ef45::Error>> Remove(ef45::Client& client, RateLimiter& limiter,
                                                   std::string uuid) {
  co_await limiter.Acquire();
  auto r = co_await client.DeleteUser(std::move(uuid));
  if (!r && !Is404(r.error())) co_return r.error();
  co_return std::nullopt;
}

using Write = InPlaceUpdate::Write;

asio::awaitable<std::optional<Error>> WriteSubject(ef45::Client& client, RateLimiter& limiter,
                                                   const UserDoc& want, Write how) {
  ef45::Subject subject = want.subject.value_or(ef45::Subject{});
  subject.user_uuid = want.user_uuid;
  co_await limiter.Acquire();
  ef45::Reply<void> r;
  if (how == Write::kUpdate) {
    r = co_await client.UpdateSubject(want.user_uuid, subject);
  } else {
    r = co_await client.AddSubject(subject);
  }
  if (r) co_return std::nullopt;
  // 409: the new templates duplicate another enrolled subject (the reader keeps the old row).
  co_return ReaderError(r.error(), Is409(r.error())
                                       ? "updating the subject (its templates duplicate another "
                                         "subject enrolled on the reader)"
                                       : "updating the subject");
}

asio::awaitable<std::optional<Error>> WriteUserInfo(ef45::Client& client, RateLimiter& limiter,
                                                    const UserDoc& want, Write how) {
  ef45::UserInfo info = want.user_info.value_or(ef45::UserInfo{});
  info.user_uuid = want.user_uuid;
  co_await limiter.Acquire();
  ef45::Reply<void> r;
  if (how == Write::kUpdate) {
    r = co_await client.UpdateUserInfo(want.user_uuid, info);
  } else {
    r = co_await client.AddUserInfo(info);
  }
  if (r) co_return std::nullopt;
  co_return ReaderError(r.error(), "updating the user info");
}

/// Updates, adds, then deletes the faces `diff` names; `*echoes` counts the writes.
asio::awaitable<std::optional<Error>> WriteFaces(ef45::Client& client, RateLimiter& limiter,
                                                 const UserDoc& want, const InPlaceUpdate& diff,
                                                 int* echoes) {
  const std::string& uuid = want.user_uuid;
  auto face_of = [&](std::int32_t sub_id) {
    ef45::Face face;
    for (const auto& f : want.faces) {
      if (f.sub_id == sub_id) face = f;
    }
    face.user_uuid = uuid;
    return face;
  };
  for (auto sub_id : diff.update_faces) {
    ef45::Face face = face_of(sub_id);
    co_await limiter.Acquire();
    auto r = co_await client.UpdateFace(uuid, sub_id, face);
    if (!r) co_return ReaderError(r.error(), "updating face " + std::to_string(sub_id));
    ++*echoes;
  }
  for (auto sub_id : diff.add_faces) {
    ef45::Face face = face_of(sub_id);
    co_await limiter.Acquire();
    auto r = co_await client.AddFace(face);
    if (!r) co_return ReaderError(r.error(), "adding face " + std::to_string(sub_id));
    ++*echoes;
  }
  for (auto sub_id : diff.delete_faces) {
    co_await limiter.Acquire();
    auto r = co_await client.DeleteFace(uuid, sub_id);
    if (!r && !Is404(r.error())) {
      co_return ReaderError(r.error(), "deleting face " + std::to_string(sub_id));
    }
  }
  co_return std::nullopt;
}

}  // namespace

asio::awaitable<std::optional<Error>> UpdateInPlace(ef45::Client& client, RateLimiter& limiter,
                                                    const OpWork& w, Written& written) {
  const UserDoc& want = *w.doc;
  auto copy = co_await ReadUser(client, limiter, want.user_uuid, ReadMode::kEveryPart);
  if (!copy) co_return copy.error();
  if (!(*copy)->subject && !(*copy)->user_info && (*copy)->faces.empty()) {
    // Not there (deleted at the reader meanwhile): nothing to keep present, enrol it.
    auto err = co_await Enroll(client, limiter, *w.bundle, &written.duplicate);
    if (err) co_return ReaderError(*err, "enrolling");
    ++written.echoes;
    co_return std::nullopt;
  }
  auto diff = DiffForUpdate(**copy, want);
  if (diff.subject != Write::kNone) {
    if (auto e = co_await WriteSubject(client, limiter, want, diff.subject)) co_return e;
    ++written.echoes;
  }
  if (diff.user_info != Write::kNone) {
    if (auto e = co_await WriteUserInfo(client, limiter, want, diff.user_info)) co_return e;
    ++written.echoes;
  }
  co_return co_await WriteFaces(client, limiter, want, diff, &written.echoes);
}

namespace {

/// Runs one op; `o.attempted` and `o.echoes` are set, the error returned.
asio::awaitable<std::optional<Error>> RunOp(ef45::Client& client, RateLimiter& limiter,
                                            const OpWork& w, OpOutcome& o) {
  Written written;
  std::optional<Error> error;
  switch (w.op.kind) {
    case OpKind::kAdopt:
    case OpKind::kReportUnknown: co_return std::nullopt;
    case OpKind::kAdd: {
      o.attempted = true;
      auto err = co_await Enroll(client, limiter, *w.bundle, &written.duplicate);
      if (!err && written.duplicate.empty()) written.echoes = 1;
      if (err && Is409(*err)) {
        // There already (our record of this reader was lost): update it in place.
        error = co_await UpdateInPlace(client, limiter, w, written);
      } else if (err) {
        error = ReaderError(*err);
      }
      break;
    }
    case OpKind::kUpdate:
      o.attempted = true;
      error = co_await UpdateInPlace(client, limiter, w, written);
      break;
    case OpKind::kDelete:
    case OpKind::kDeleteUnknown:
      o.attempted = true;
      if (auto err = co_await Remove(client, limiter, w.op.user_uuid)) error = ReaderError(*err);
      break;
  }
  o.echoes = written.echoes;
  if (!error && !written.duplicate.empty()) {
    error = SyncError(Errc::kConflict,
                      "the reader found a biometric duplicate: enrolled user " + written.duplicate);
  }
  co_return error;
}

}  // namespace

asio::awaitable<std::vector<OpOutcome>> RunOps(ef45::Client& client, RateLimiter& limiter,
                                               const std::vector<OpWork>& work) {
  std::vector<OpOutcome> out(work.size());
  int failures_in_row = 0;
  for (std::size_t i = 0; i < work.size(); ++i) {
    auto& o = out[i];
    o.error = co_await RunOp(client, limiter, work[i], o);
    if (!o.attempted) continue;  // adopted or reported: neither a success nor a failure in a row
    o.ends_round = o.error && o.error->IsUnanswered();
    failures_in_row = o.Succeeded() ? 0 : failures_in_row + 1;
    if (o.ends_round || failures_in_row >= kMaxFailuresInRow) {
      for (std::size_t j = i + 1; j < work.size(); ++j) {
        out[j].ends_round = true;
        out[j].error = Prefixed(*o.error, "not attempted");
      }
      break;
    }
  }
  co_return out;
}

asio::awaitable<std::vector<OpOutcome>> RunOpsOnStrand(std::shared_ptr<poll::DeviceWorker> worker,
                                                       std::shared_ptr<RateLimiter> limiter,
                                                       std::shared_ptr<std::vector<OpWork>> work) {
  co_return co_await RunOps(worker->client(), *limiter, *work);
}

}  // namespace gw::sync
