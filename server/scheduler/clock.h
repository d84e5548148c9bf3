// Time for the scheduler: lease deadlines come from a Clock so that tests expire
// leases by advancing a FakeClock instead of sleeping.
#ifndef ACTGRID_SERVER_SCHEDULER_CLOCK_H_
#define ACTGRID_SERVER_SCHEDULER_CLOCK_H_

#include <atomic>
#include <chrono>
#include <cstdint>

namespace actgrid::scheduler {

class Clock {
 public:
  virtual ~Clock() = default;
  // Unix epoch milliseconds.
  virtual int64_t NowMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// Test-only: a clock that moves only when told to.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  int64_t NowMs() const override { return now_.load(); }
  void Advance(int64_t ms) { now_ += ms; }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace actgrid::scheduler

#endif  // ACTGRID_SERVER_SCHEDULER_CLOCK_H_
