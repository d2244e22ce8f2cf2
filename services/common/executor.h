#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace admissions {

/// A fixed set of threads with a bounded queue, for blocking work (libpqxx,
/// hiredis) that must never run on a gRPC reaction or io thread. Size it to the
/// connection pool: more threads than connections only wait.
class BoundedExecutor {
 public:
  /// `nice`: the threads' scheduling niceness (Linux, per thread); a positive value
  /// lets CPU-bound work (password hashing) yield to everything else.
  BoundedExecutor(int threads, size_t max_queue, int nice = 0);
  ~BoundedExecutor();  // Runs what is queued, then joins.

  /// False when the queue is full (the caller answers UNAVAILABLE) or stopping.
  bool TryPost(std::function<void()> fn);
  /// Stops taking work, finishes what is queued, joins the threads.
  void Shutdown();

 private:
  void Work();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  size_t max_queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace admissions
