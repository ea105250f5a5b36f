#include "api/event_feed.hpp"

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

EventFeed::EventFeed(store::Database& db, CommitSignal& commits, std::size_t capacity)
    : db_(db), commits_(commits), capacity_(capacity) {}

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
  constexpr auto kPoll = std::chrono::milliseconds(1000);  // commits of other instances
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
      std::lock_guard lock(mutex_);
      base_ = tail_ = *newest;
      started_ = true;
      break;
    }
    timer.expires_after(kRetry);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  while (!stopping()) {
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
    co_await commits_.Wait(seen, kPoll);
  }
}

void EventFeed::Append(std::vector<store::EventRow> rows) {
  std::vector<Entry> rendered;
  rendered.reserve(rows.size());
  for (auto& row : rows) {
    std::string frame = SseFrame(row);
    frame.shrink_to_fit();
    // Read() filters on these fields only (store::Matches); the rest is in the frame already.
    store::EventRow slim;
    slim.seq = row.seq;
    slim.device_id = std::move(row.device_id);
    slim.kind = row.kind;
    slim.user_uuid = std::move(row.user_uuid);
    slim.device_time = row.device_time;
    slim.received_at = row.received_at;
    rendered.push_back(Entry{std::move(slim), std::move(frame)});
  }
  std::lock_guard lock(mutex_);
  for (auto& e : rendered) {
    tail_ = e.row.seq;
    entries_.push_back(std::move(e));
  }
  while (entries_.size() > capacity_) {
    base_ = entries_.front().row.seq;
    entries_.pop_front();
  }
}

EventFeed::ReadResult EventFeed::Read(const store::EventQuery& query, std::int64_t after,
                                      std::size_t max) const {
  ReadResult out;
  std::lock_guard lock(mutex_);
  if (!started_ || after < base_) return out;
  out.covered = true;
  out.next = std::max(after, base_);
  // Entries are in seq order: skip to the first one after the cursor.
  auto it = std::upper_bound(entries_.begin(), entries_.end(), after,
                             [](std::int64_t seq, const Entry& e) { return seq < e.row.seq; });
  for (; it != entries_.end() && out.events < max; ++it) {
    out.next = it->row.seq;
    if (!store::Matches(query, it->row)) continue;
    out.frames += it->frame;
    ++out.events;
  }
  if (it == entries_.end()) out.next = std::max(out.next, tail_);
  return out;
}

}  // namespace gw::api
