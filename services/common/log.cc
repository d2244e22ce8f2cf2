#include "common/log.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace admissions {
namespace {

std::string g_service = "unknown";
thread_local std::string t_request_id;
LogLevel g_min_level = LogLevel::kInfo;

// Lines are appended to a buffer that one thread writes out every 50 ms, or at
// once when it grows past 64 KiB or a warning or error arrives: a log line costs
// the caller a lock and a copy, not a system call. Flushed at exit.
class Sink {
 public:
  Sink() : writer_([this] { Loop(); }) {}
  ~Sink() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    writer_.join();
  }
  void Append(const std::string& line, bool urgent) {
    bool wake;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_ += line;
      wake = urgent || pending_.size() > (64u << 10);
    }
    if (wake) cv_.notify_one();
  }
  void Flush() {
    std::string out;
    {
      std::lock_guard<std::mutex> lock(mu_);
      out.swap(pending_);
    }
    Write(out);
  }

 private:
  static void Write(const std::string& out) {
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n = ::write(2, out.data() + done, out.size() - done);
      if (n <= 0) return;
      done += static_cast<size_t>(n);
    }
  }
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait_for(lock, std::chrono::milliseconds(50));
      std::string out;
      out.swap(pending_);
      bool stop = stop_;
      lock.unlock();
      Write(out);
      if (stop) return;
      lock.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::string pending_;
  bool stop_ = false;
  std::thread writer_;
};

Sink& TheSink() {
  // Never destroyed: other static destructors may still log; exit flushes it.
  static Sink* sink = [] {
    auto* s = new Sink();
    std::atexit([] { TheSink().Flush(); });
    return s;
  }();
  return *sink;
}

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

// RFC 3339 UTC with milliseconds, without absl::FormatTime's time-zone machinery.
void AppendTime(std::string& out) {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  out += buf;
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

void InitLogging(std::string_view service, LogLevel min_level) {
  // Debian's Abseil checks every Mutex for lock-order cycles, at a cost on each
  // lock; the code under test runs with ThreadSanitizer instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  g_service = std::string(service);
  g_min_level = min_level;
  TheSink();
}

LogLevel ParseLogLevel(std::string_view text) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "warn") return LogLevel::kWarn;
  if (text == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

void FlushLogs() { TheSink().Flush(); }

ScopedRequestId::ScopedRequestId(std::string_view id) : previous_(std::move(t_request_id)) {
  t_request_id = std::string(id);
}

ScopedRequestId::~ScopedRequestId() { t_request_id = std::move(previous_); }

void Log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
  if (level < g_min_level) return;
  std::string line;
  line.reserve(256);
  line += "{\"ts\":";
  AppendTime(line);
  line += ",\"level\":";
  AppendJsonString(line, LevelName(level));
  line += ",\"svc\":";
  AppendJsonString(line, g_service);
  line += ",\"event\":";
  AppendJsonString(line, event);
  if (!t_request_id.empty()) {
    line += ",\"request_id\":";
    AppendJsonString(line, t_request_id);
  }
  for (const LogField& f : fields) {
    line.push_back(',');
    AppendJsonString(line, f.key);
    line.push_back(':');
    AppendJsonString(line, f.value);
  }
  line += "}\n";
  TheSink().Append(line, level >= LogLevel::kWarn);
}

}  // namespace admissions
