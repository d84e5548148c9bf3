// A terminal progress bar with ETA for long runs. On a terminal it redraws one line;
// elsewhere (logs, CI) it prints a plain line every few seconds.
#ifndef ACTGRID_CLIENT_CLI_PROGRESS_H_
#define ACTGRID_CLIENT_CLI_PROGRESS_H_

#include <chrono>
#include <cstdio>
#include <string>

namespace actgrid::cli {

class ProgressBar {
 public:
  // `total_units` is the work to do (e.g. epochs over all trials).
  ProgressBar(std::FILE* out, long total_units, long total_trials);

  struct Counts {
    long units_done = 0;
    long trials_done = 0;  // finished, failed or cancelled
    long trials_failed = 0;
    long trials_cancelled = 0;
  };

  // Redraws with the current counts; cheap to call often (rate-limited).
  void Update(const Counts& counts, bool force = false);
  // Draws the final state and ends the line.
  void Finish(const Counts& counts);

  static std::string FormatDuration(double seconds);

 private:
  std::string Line(const Counts& counts, double elapsed) const;

  std::FILE* out_;
  bool tty_;
  long total_units_, total_trials_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace actgrid::cli

#endif  // ACTGRID_CLIENT_CLI_PROGRESS_H_
