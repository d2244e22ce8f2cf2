#include "common/notification_hub.h"

#include "absl/time/clock.h"

namespace admissions {

NotificationHub::NotificationHub() : thread_([this] { Loop(); }) {}

NotificationHub::~NotificationHub() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

uint64_t NotificationHub::Wait(const std::string& key, absl::Time deadline, Callback callback) {
  uint64_t ticket;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ticket = next_ticket_++;
    waiters_.emplace(ticket, Waiter{key, deadline, std::move(callback)});
    by_key_.emplace(key, ticket);
    by_deadline_.emplace(deadline, ticket);
  }
  cv_.notify_all();
  return ticket;
}

bool NotificationHub::Cancel(uint64_t ticket) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = waiters_.find(ticket);
  if (it == waiters_.end()) return false;
  auto range = by_key_.equal_range(it->second.key);
  for (auto k = range.first; k != range.second; ++k) {
    if (k->second == ticket) {
      by_key_.erase(k);
      break;
    }
  }
  auto drange = by_deadline_.equal_range(it->second.deadline);
  for (auto d = drange.first; d != drange.second; ++d) {
    if (d->second == ticket) {
      by_deadline_.erase(d);
      break;
    }
  }
  waiters_.erase(it);
  return true;
}

void NotificationHub::Notify(const std::string& key) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto range = by_key_.equal_range(key);
    if (range.first == range.second) return;
    for (auto k = range.first; k != range.second; ++k) {
      auto w = waiters_.find(k->second);
      if (w == waiters_.end()) continue;
      auto drange = by_deadline_.equal_range(w->second.deadline);
      for (auto d = drange.first; d != drange.second; ++d) {
        if (d->second == k->second) {
          by_deadline_.erase(d);
          break;
        }
      }
      ready_.emplace_back(std::move(w->second.callback), true);
      waiters_.erase(w);
    }
    by_key_.erase(range.first, range.second);
  }
  cv_.notify_all();
}

size_t NotificationHub::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiters_.size();
}

void NotificationHub::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    absl::Time now = absl::Now();
    while (!by_deadline_.empty() && (by_deadline_.begin()->first <= now || stopping_)) {
      uint64_t ticket = by_deadline_.begin()->second;
      by_deadline_.erase(by_deadline_.begin());
      auto w = waiters_.find(ticket);
      if (w == waiters_.end()) continue;
      auto range = by_key_.equal_range(w->second.key);
      for (auto k = range.first; k != range.second; ++k) {
        if (k->second == ticket) {
          by_key_.erase(k);
          break;
        }
      }
      ready_.emplace_back(std::move(w->second.callback), false);
      waiters_.erase(w);
    }
    if (!ready_.empty()) {
      auto batch = std::move(ready_);
      ready_.clear();
      lock.unlock();
      for (auto& [cb, notified] : batch) cb(notified);
      lock.lock();
      continue;
    }
    if (stopping_) return;
    if (by_deadline_.empty()) {
      cv_.wait(lock);
    } else {
      cv_.wait_for(lock, absl::ToChronoNanoseconds(by_deadline_.begin()->first - now));
    }
  }
}

}  // namespace admissions
