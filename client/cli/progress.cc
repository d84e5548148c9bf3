// ProgressBar (see progress.h).
#include "client/cli/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"

namespace actgrid::cli {

ProgressBar::ProgressBar(std::FILE* out, long total_units, long total_trials)
    : out_(out),
      tty_(isatty(fileno(out)) != 0),
      total_units_(std::max(1L, total_units)),
      total_trials_(total_trials),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

std::string ProgressBar::FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const long s = std::lround(seconds);
  if (s >= 3600) return absl::StrFormat("%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
  return absl::StrFormat("%d:%02d", s / 60, s % 60);
}

std::string ProgressBar::Line(const Counts& counts, double elapsed) const {
  const double frac = std::min(1.0, double(counts.units_done) / total_units_);
  const double eta = frac > 0 ? elapsed * (1 - frac) / frac : NAN;
  std::string line;
  if (tty_) {
    constexpr int kWidth = 28;
    const int filled = int(frac * kWidth);
    line = "[" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "] ";
  }
  line += absl::StrFormat("%3.0f%%  %d/%d trials", 100 * frac, counts.trials_done, total_trials_);
  if (counts.trials_failed > 0) line += absl::StrFormat(", %d failed", counts.trials_failed);
  if (counts.trials_cancelled > 0) line += absl::StrFormat(", %d cancelled", counts.trials_cancelled);
  line += "  elapsed " + FormatDuration(elapsed);
  if (counts.units_done < total_units_ && counts.trials_cancelled == 0)
    line += "  ETA " + FormatDuration(eta);
  return line;
}

void ProgressBar::Update(const Counts& counts, bool force) {
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if (!force && since < (tty_ ? 0.2 : 5.0)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const std::string line = Line(counts, elapsed);
  if (tty_)
    std::fprintf(out_, "\r%s\033[K", line.c_str());
  else
    std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
}

void ProgressBar::Finish(const Counts& counts) {
  Update(counts, true);
  if (tty_) std::fputc('\n', out_);
  std::fflush(out_);
}

}  // namespace actgrid::cli
