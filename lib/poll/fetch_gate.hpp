#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>

namespace gw::poll {

/// How many readers may fetch a backlog at once, fleet-wide (config `store.backlog_fetches`).
///
/// A poller holds what it fetched until the EventWriter has committed it (DESIGN.md invariant
/// 1). One ordinary poll brings an event or two; a poll after a start-up or an outage brings
/// what the reader buffered meanwhile (a page of 500 logs, every match-data item). Without a
/// limit every reader of the fleet fetched its backlog at once and held it while the writer
/// worked through them: memory grew with the fleet times the backlog. With it, a reader whose
/// next poll may be large waits for a slot *before* fetching (the reader stays the buffer,
/// invariant 4), and what the fleet holds is bounded by the slots times one backlog poll.
///
/// Slots are granted in the order asked for. Thread-safe; the waiting side runs on the
/// caller's executor.
class FetchGate {
 public:
  explicit FetchGate(int slots);
  FetchGate(const FetchGate&) = delete;
  FetchGate& operator=(const FetchGate&) = delete;

  /// A slot held; given back when destroyed. Empty when the wait was cancelled.
  class Slot {
   public:
    Slot() = default;
    explicit Slot(FetchGate* gate) : gate_(gate) {}
    Slot(Slot&& other) noexcept : gate_(other.gate_) { other.gate_ = nullptr; }
    Slot& operator=(Slot&& other) noexcept;
    ~Slot();
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    explicit operator bool() const { return gate_ != nullptr; }

   private:
    FetchGate* gate_ = nullptr;
  };

  /// One caller waiting in Acquire (for Cancel).
  struct Waiter;

  /// Completes with a slot, at once when one is free, else when one is given back to this
  /// caller (first come, first served). While it waits, `*waiting` (if given) refers to the
  /// wait, for Cancel; it is reset before Acquire completes. Resumes on `executor`.
  boost::asio::awaitable<Slot> Acquire(boost::asio::any_io_executor executor,
                                       std::shared_ptr<Waiter>* waiting = nullptr);
  /// Ends a wait: Acquire then completes with an empty Slot (or with a slot, if one was given
  /// to it meanwhile). Call on the executor given to Acquire.
  static void Cancel(const std::shared_ptr<Waiter>& waiter);

  int slots() const { return slots_; }
  std::size_t InUse() const;
  std::size_t Waiting() const;

 private:
  void Release();

  const int slots_;
  mutable std::mutex mutex_;
  int free_;
  std::deque<std::shared_ptr<Waiter>> queue_;
};

struct FetchGate::Waiter {
  explicit Waiter(const boost::asio::any_io_executor& executor);
  boost::asio::steady_timer timer;  // waited on, cancelled to wake
  bool granted = false;             // under the gate's mutex
};

}  // namespace gw::poll
