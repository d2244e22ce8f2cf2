#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/time/time.h"

namespace admissions {

/// Long-poll support: a waiter on a key is called once, when the key is notified
/// or when its deadline passes, whichever comes first. Callbacks run on the hub's
/// own thread and must only hand work off (post to an executor, finish a
/// reactor). Cross-process notification is the caller's: subscribe to Redis and
/// call Notify on each message.
class NotificationHub {
 public:
  using Callback = std::function<void(bool notified)>;

  NotificationHub();
  ~NotificationHub();  // Fires every pending waiter as timed out, then stops.

  /// Returns a ticket that Cancel() takes.
  uint64_t Wait(const std::string& key, absl::Time deadline, Callback callback);
  /// Drops a waiter without calling it; false when it already fired.
  bool Cancel(uint64_t ticket);
  void Notify(const std::string& key);
  size_t pending() const;

 private:
  struct Waiter {
    std::string key;
    absl::Time deadline;
    Callback callback;
  };
  void Loop();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t next_ticket_ = 1;
  std::unordered_map<uint64_t, Waiter> waiters_;
  std::unordered_multimap<std::string, uint64_t> by_key_;
  std::multimap<absl::Time, uint64_t> by_deadline_;
  std::vector<std::pair<Callback, bool>> ready_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace admissions
