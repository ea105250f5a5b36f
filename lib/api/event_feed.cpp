#include "api/event_feed.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "api/event_json.hpp"
#include "common/log.hpp"
#include "common/task_failure.hpp"
#include "store/database.hpp"

namespace gw::api {

namespace asio = boost::asio;

namespace {
constexpr auto kPoll = std::chrono::milliseconds(1000);  // commits of other instances
}  // namespace

EventFeed::EventFeed(store::Database& db, CommitSignal& commits, std::size_t capacity,
                     std::size_t max_bytes, std::chrono::milliseconds idle_after)
    : db_(db),
      commits_(commits),
      capacity_(capacity),
      max_bytes_(max_bytes),
      idle_after_(idle_after) {}

void EventFeed::Start(asio::any_io_executor executor) {
  asio::co_spawn(executor, Loop(), LogFailure("api", "event feed"));
}

void EventFeed::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  commits_.Notify();  // wakes the loop, which sees stopping_
}

asio::awaitable<void> EventFeed::Loop() {
  constexpr auto kRetry = std::chrono::milliseconds(1000);
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor);
  auto stopping = [this] {
    std::lock_guard lock(mutex_);
    return stopping_;
  };
  while (!stopping()) {
    auto newest = co_await store::MaxSeq(db_);
    if (newest) {
      // The preload: the window starts kPreload seqs back (fewer events if some seqs moved);
      // it is announced (started_) once read, so no stream takes the empty window as covered.
      std::lock_guard lock(mutex_);
      base_ = tail_ = std::max<std::int64_t>(
          0, *newest - std::min<std::int64_t>(kPreload, static_cast<std::int64_t>(capacity_)));
      break;
    }
    timer.expires_after(kRetry);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  while (!stopping()) {
    bool wanted = true;
    {
      std::lock_guard lock(mutex_);
      wanted = asked_ || std::chrono::steady_clock::now() - last_use_ < idle_after_;
      asked_ = false;
      if (!wanted && windowed_) {
        windowed_ = false;
        entries_ = {};
        bytes_ = 0;
      } else if (wanted && !windowed_) {
        windowed_ = true;  // from the newest seq on; synced_ is current after the next read
        base_ = tail_;
      }
    }
    if (!wanted) {
      const auto started = std::chrono::steady_clock::now();
      if (co_await FollowHeads()) {
        const auto left = kIdleGap - (std::chrono::steady_clock::now() - started);
        if (left > std::chrono::steady_clock::duration::zero()) {
          timer.expires_after(left);
          co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        }
      } else {
        timer.expires_after(kRetry);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      continue;
    }
    const auto seen = commits_.generation();
    store::EventQuery query;
    query.limit = store::kMaxEventPage;
    {
      std::lock_guard lock(mutex_);
      query.after = tail_;
    }
    auto page = co_await store::ListEvents(db_, query);
    if (!page) {
      // The streams notice the database themselves; retry later.
      timer.expires_after(kRetry);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    const bool full = static_cast<int>(page->events.size()) == query.limit;
    if (!page->events.empty()) {
      Append(std::move(page->events));
      appended_.Notify();
    }
    if (full) continue;  // more waiting
    {
      // Caught up with every commit signalled before this read began.
      std::lock_guard lock(mutex_);
      synced_ = seen;
      started_ = true;
    }
    co_await commits_.Wait(seen, kPoll);
  }
}

asio::awaitable<bool> EventFeed::FollowHeads() {
  const auto seen = commits_.generation();
  std::int64_t after = 0;
  {
    std::lock_guard lock(mutex_);
    after = tail_;
  }
  auto heads = co_await store::EventHeads(db_, after, store::kMaxEventPage);
  if (!heads) co_return false;
  {
    std::lock_guard lock(mutex_);
    for (const auto& h : *heads) Advance(h.seq, h.device_id);
  }
  if (static_cast<int>(heads->size()) < store::kMaxEventPage) co_await commits_.Wait(seen, kPoll);
  co_return true;
}

void EventFeed::Advance(std::int64_t seq, const std::string& device_id) {
  tail_ = seq;
  auto& last = last_seq_[device_id];
  last = std::max(last, seq);
}

std::size_t EventFeed::Cost(const Entry& e) {
  if (!e.frame.empty()) return e.frame.size() + kEntryOverhead;
  const auto& r = e.row;
  auto opt = [](const std::optional<std::string>& s) { return s ? s->size() : 0; };
  // The frame is the row's text plus ~420 bytes of field names, numbers and times.
  return 420 + r.device_id.size() + r.event_key.size() + r.payload.size() + opt(r.encounter_id) +
         opt(r.event_type) + opt(r.info) + opt(r.additional_data) + opt(r.user_uuid) +
         kEntryOverhead;
}

void EventFeed::Render(Entry& e) const {
  if (!e.frame.empty()) return;
  const auto before = Cost(e);
  e.frame.reserve(Cost(e) - kEntryOverhead + 64);
  AppendSseFrame(e.frame, e.row);
  e.frame.shrink_to_fit();
  auto [begin, size] = SseFrameData(e.frame);
  e.data_begin = static_cast<std::uint32_t>(begin);
  e.data_size = static_cast<std::uint32_t>(size);
  // Read() filters on the fields store::Matches reads only; the rest is in the frame now.
  auto& r = e.row;
  r.payload = std::string();
  r.encounter_id.reset();
  r.event_type.reset();
  r.info.reset();
  r.additional_data.reset();
  bytes_ = bytes_ - before + Cost(e);
}

void EventFeed::Append(std::vector<store::EventRow> rows) {
  std::lock_guard lock(mutex_);
  const bool streaming = std::chrono::steady_clock::now() - last_read_ < kStreamingWindow;
  for (auto& row : rows) {
    Entry e;
    e.row = std::move(row);
    Advance(e.row.seq, e.row.device_id);
    if (e.row.revision > 1) {
      // An enrichment: the event left its older seq. Its older revision is usually recent.
      for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
        if (!it->moved && it->row.event_key == e.row.event_key &&
            it->row.device_id == e.row.device_id) {
          it->moved = true;
          break;
        }
      }
    }
    bytes_ += Cost(e);
    entries_.push_back(std::move(e));
    // With streams reading, every event is asked for at once: render it here, before they wake,
    // not in the first stream's Read while the others wait for the lock (bench/api SSE p99 17
    // vs 51 ms at 64 streams).
    if (streaming) Render(entries_.back());
  }
  DropOldest();
}

void EventFeed::DropOldest() const {
  while (!entries_.empty() && (entries_.size() > capacity_ || bytes_ > max_bytes_)) {
    base_ = entries_.front().row.seq;
    bytes_ -= Cost(entries_.front());
    entries_.pop_front();
  }
}

EventFeed::ReadResult EventFeed::Read(const store::EventQuery& query, std::int64_t after,
                                      std::size_t max) const {
  ReadResult out;
  std::lock_guard lock(mutex_);
  last_read_ = last_use_ = std::chrono::steady_clock::now();
  if (!windowed_) asked_ = true;
  if (!started_ || !windowed_ || after < base_) return out;
  out.covered = true;
  out.next = std::max(after, base_);
  // Entries are in seq order: skip to the first one after the cursor.
  auto it = std::upper_bound(entries_.begin(), entries_.end(), after,
                             [](std::int64_t seq, const Entry& e) { return seq < e.row.seq; });
  for (; it != entries_.end() && out.events < max; ++it) {
    out.next = it->row.seq;
    if (!store::Matches(query, it->row)) continue;
    Render(*it);
    out.frames += it->frame;
    ++out.events;
  }
  if (it == entries_.end()) out.next = std::max(out.next, tail_);
  DropOldest();  // the frames rendered may have grown the window over its bound
  return out;
}

std::optional<std::string> EventFeed::Page(const store::EventQuery& query) const {
  const auto limit = static_cast<std::size_t>(std::clamp(query.limit, 1, store::kMaxEventPage));
  std::lock_guard lock(mutex_);
  last_use_ = std::chrono::steady_clock::now();
  if (!windowed_) asked_ = true;
  if (!started_ || !windowed_ || query.after < base_ || commits_.generation() != synced_) {
    return std::nullopt;
  }
  std::string body;
  // Room for `limit` frames of the window's average size: one allocation for most pages.
  body.reserve(32 + std::min(limit, entries_.size()) *
                        (bytes_ / std::max<std::size_t>(1, entries_.size())));
  body += "{\"items\":[";
  std::int64_t next = query.after;
  std::size_t n = 0;
  auto it = std::upper_bound(entries_.begin(), entries_.end(), query.after,
                             [](std::int64_t seq, const Entry& e) { return seq < e.row.seq; });
  for (; it != entries_.end() && n < limit; ++it) {
    if (it->moved || !store::Matches(query, it->row)) continue;
    Render(*it);
    if (n++ > 0) body += ',';
    body.append(it->frame, it->data_begin, it->data_size);
    next = it->row.seq;
  }
  body += "],\"next\":";
  body += std::to_string(next);
  body += '}';
  DropOldest();  // as in Read
  return body;
}

std::unordered_map<std::string, std::int64_t> EventFeed::LastSeqs() const {
  std::lock_guard lock(mutex_);
  return last_seq_;
}

std::size_t EventFeed::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

std::size_t EventFeed::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

bool EventFeed::windowed() const {
  std::lock_guard lock(mutex_);
  return windowed_;
}

}  // namespace gw::api
