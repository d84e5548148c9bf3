// Packed against one-at-a-time training of the tiny MLP (circle, 2-8-8-8-2 ReLU, batch
// 10, plain SGD, per-epoch metrics included): N seeds trained by RunTrial one after the
// other, and the same N trained by RunPackedTrials in packs of kPackLanes. The sides
// alternate (one-at-a-time, packed, ...), PAIRS times after one warm-up of each; steps
// are counted from the epochs each trial actually ran. A report, not a test.
//
//   actgrid_packed_bench [PAIRS [SEEDS [EPOCHS [packed]]]]   (defaults 5, 64, 100)
// With "packed" last, only the packed side runs (for profiling it).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/spec/names.h"
#include "worker/engine/dataset.h"
#include "worker/engine/packed_trainer.h"
#include "worker/engine/trainer.h"
#include "bench/tiny_spec.h"

using namespace actgrid;
using Clock = std::chrono::steady_clock;

namespace {

struct Side {
  double seconds = 0;
  long steps = 0;
  double acc = 0;
};

Side OneAtATime(const std::vector<v1::TrialSpec>& specs, const engine::Dataset& data, int steps_per_epoch) {
  Side s;
  const auto start = Clock::now();
  for (const auto& spec : specs) {
    auto r = engine::RunTrial(spec, data);
    if (!r.ok()) std::abort();
    s.steps += long(r->summary().epochs_run()) * steps_per_epoch;
    s.acc += r->summary().final_test_acc();
  }
  s.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  s.acc /= double(specs.size());
  return s;
}

Side Packed(const std::vector<v1::TrialSpec>& specs, const engine::Dataset& data, int steps_per_epoch) {
  Side s;
  const auto start = Clock::now();
  for (size_t first = 0; first < specs.size(); first += engine::kPackLanes) {
    const size_t end = std::min(specs.size(), first + size_t(engine::kPackLanes));
    const std::vector<v1::TrialSpec> pack(specs.begin() + long(first), specs.begin() + long(end));
    for (auto& r : engine::RunPackedTrials(pack, data)) {
      if (!r.ok()) std::abort();
      s.steps += long(r->summary().epochs_run()) * steps_per_epoch;
      s.acc += r->summary().final_test_acc();
    }
  }
  s.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  s.acc /= double(specs.size());
  return s;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  const int pairs = argc > 1 ? std::atoi(argv[1]) : 5;
  const int seeds = argc > 2 ? std::atoi(argv[2]) : 64;
  const int epochs = argc > 3 ? std::atoi(argv[3]) : 100;
  const bool packed_only = argc > 4 && std::string(argv[4]) == "packed";
  if (pairs < 1 || seeds < 1 || epochs < 1) {
    std::fprintf(stderr, "usage: actgrid_packed_bench [PAIRS [SEEDS [EPOCHS]]]\n");
    return 2;
  }
  std::vector<v1::TrialSpec> specs;
  for (int s = 0; s < seeds; ++s) specs.push_back(bench::TinySpec(epochs, uint64_t(s)));
  engine::DatasetCache cache;
  const engine::Dataset& data = **cache.Get(specs[0].dataset());
  const int n_train = int(data.train_y.size());
  const int steps_per_epoch = (n_train + 9) / 10;
  std::vector<v1::TrialSpec> warm(specs.begin(), specs.begin() + std::min(seeds, engine::kPackLanes));
  for (auto& w : warm) w.mutable_train()->set_epochs(3);
  OneAtATime(warm, data, steps_per_epoch);
  Packed(warm, data, steps_per_epoch);
  std::vector<double> a_rate, b_rate, ratio;
  double a_acc = 0, b_acc = 0;
  for (int p = 0; p < pairs; ++p) {
    const Side a = packed_only ? Side{1, 1, 0} : OneAtATime(specs, data, steps_per_epoch);
    const Side b = Packed(specs, data, steps_per_epoch);
    a_rate.push_back(a.steps / a.seconds);
    b_rate.push_back(b.steps / b.seconds);
    ratio.push_back(b_rate.back() / a_rate.back());
    a_acc = a.acc;
    b_acc = b.acc;
    std::printf("pair %d: one at a time %.0f steps/s, packed %.0f steps/s, x%.2f\n", p + 1, a_rate.back(),
                b_rate.back(), ratio.back());
  }
  auto range = [](const std::vector<double>& v) {
    return std::make_pair(*std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end()));
  };
  std::printf("tiny MLP, %d seeds x %d epochs, %d pairs, network-steps/s (median [min, max]):\n", seeds, epochs, pairs);
  std::printf("  one at a time (RunTrial)      %9.0f [%.0f, %.0f]  mean final test acc %.4f\n", Median(a_rate),
              range(a_rate).first, range(a_rate).second, a_acc);
  std::printf("  packed, %d lanes (RunPacked)  %9.0f [%.0f, %.0f]  mean final test acc %.4f\n", engine::kPackLanes,
              Median(b_rate), range(b_rate).first, range(b_rate).second, b_acc);
  std::printf("  packed / one at a time: x%.2f [%.2f, %.2f]\n", Median(ratio), range(ratio).first, range(ratio).second);
  return 0;
}
