#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "absl/time/time.h"

namespace admissions {

/// Runs `work` every `period` on a thread of its own, the first time one period after it
/// starts, until Stop (or destruction). Stop wakes a waiting thread at once and joins it after
/// the run in progress, if any. A period of zero or less never runs the work.
class PeriodicTask {
 public:
  PeriodicTask(absl::Duration period, std::function<void()> work)
      : period_(period), work_(std::move(work)), thread_([this] { Loop(); }) {}
  ~PeriodicTask() { Stop(); }
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

  /// Thread-safe; idempotent. Waits for the run in progress to end.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    std::lock_guard<std::mutex> join_lock(join_mu_);
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Loop() {
    if (period_ <= absl::ZeroDuration()) return;
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, absl::ToChronoNanoseconds(period_), [this] { return stopping_; })) {
      lock.unlock();
      work_();
      lock.lock();
    }
  }

  const absl::Duration period_;
  const std::function<void()> work_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::mutex join_mu_;
  std::thread thread_;  // Last: started once everything above is initialised.
};

}  // namespace admissions
