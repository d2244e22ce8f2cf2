// PeriodicTask: the services' sweeps, reconciliation and lease renewals run on it.
#include <gtest/gtest.h>

#include <atomic>

#include "absl/time/clock.h"
#include "common/periodic.h"

namespace admissions {
namespace {

TEST(PeriodicTaskTest, RunsEveryPeriodUntilStoppedAndStopsAtOnce) {
  std::atomic<int> runs{0};
  PeriodicTask task(absl::Milliseconds(10), [&] { ++runs; });
  absl::SleepFor(absl::Milliseconds(200));
  absl::Time asked = absl::Now();
  task.Stop();
  EXPECT_LT(absl::Now() - asked, absl::Milliseconds(100));  // Not a whole period or more.
  int at_stop = runs.load();
  EXPECT_GE(at_stop, 3);
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(runs.load(), at_stop);  // Nothing after Stop.
  task.Stop();                      // Idempotent.
}

TEST(PeriodicTaskTest, ALongPeriodDoesNotDelayStopAndZeroNeverRuns) {
  std::atomic<int> runs{0};
  {
    PeriodicTask hourly(absl::Hours(1), [&] { ++runs; });
    PeriodicTask never(absl::ZeroDuration(), [&] { ++runs; });
    absl::Time asked = absl::Now();
    hourly.Stop();
    EXPECT_LT(absl::Now() - asked, absl::Seconds(1));
  }  // `never` stops in its destructor.
  EXPECT_EQ(runs.load(), 0);
}

}  // namespace
}  // namespace admissions
