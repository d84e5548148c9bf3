// The analysis targets: `compare` over 100,000 trials in under 200 ms and `curves`
// over 10,000 trials x 200 epochs in under 1 s, asked of a coordinator on this
// machine over gRPC (loopback TCP), plus the same queries on the database directly
// (what `--db` does). Builds the synthetic databases on first use (see
// analysis_db.h) and prints the median of each query over the rounds, with the
// target over the median (above 1 meets it), then the same figures as JSON lines.
// bench/analysis.sh runs it beside its pandas anchor (analysis_anchor.py).
//   actgrid_analysis_bench [DIR [ROUNDS]]   (default bench/out, 7 rounds)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "bench/analysis_db.h"
#include "client/cli/client.h"
#include "common/rpc/rpc.h"
#include "server/analysis/analysis.h"
#include "server/grpc/coordinator.h"

namespace {

using namespace actgrid;
using Clock = std::chrono::steady_clock;

double MedianMs(int rounds, const std::function<bool()>& query) {
  std::vector<double> ms;
  for (int r = 0; r < rounds; ++r) {
    const auto t0 = Clock::now();
    if (!query()) return -1;
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

bool Ensure(const std::string& path, const bench::SyntheticGrid& grid) {
  if (std::filesystem::exists(path)) return true;
  std::fprintf(stderr, "building %s (%s) ...\n", path.c_str(), grid.name.c_str());
  const auto t0 = Clock::now();
  const absl::Status st = bench::WriteSyntheticGrid(path, grid);
  if (!st.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(st.message()).c_str());
    std::filesystem::remove(path);
    return false;
  }
  std::fprintf(stderr, "  %.1f s\n", std::chrono::duration<double>(Clock::now() - t0).count());
  return true;
}

std::vector<std::string> g_json;  // one line per figure, printed at the end

void Report(const char* query, const char* what, double ms, double target_ms) {
  std::printf("  %-42s %9.1f ms   target %6.0f ms   target/time %5.2f\n", what, ms, target_ms, target_ms / ms);
  g_json.push_back(std::string("{\"query\": \"") + query + "\", \"path\": \"" + what + "\", \"ms\": " +
                   std::to_string(ms) + ", \"target_ms\": " + std::to_string(target_ms) + "}");
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "bench/out";
  const int rounds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 7;
  std::filesystem::create_directories(dir);
  // 10 activations x 4 inits x 5 biases x 5 depths = 1000 cells x 100 seeds.
  const std::string big = dir + "/analysis-100k.db";
  if (!Ensure(big, {"compare-100k", 10, 4, 5, 5, 100, 0})) return 1;
  // 5 x 2 x 2 x 5 = 100 cells x 100 seeds, epochs 0..199.
  const std::string curves = dir + "/analysis-curves.db";
  if (!Ensure(curves, {"curves-10k", 5, 2, 2, 5, 100, 199})) return 1;

  std::printf("analysis queries, median of %d rounds\n", rounds);
  for (const auto& [path, grid] : {std::make_pair(big, "compare-100k"), std::make_pair(curves, "curves-10k")}) {
    server::CoordinatorOptions options;
    options.db_path = path;
    options.listen = "127.0.0.1:0";
    auto coordinator = server::Coordinator::Start(options);
    if (!coordinator.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(coordinator.status().message()).c_str());
      return 1;
    }
    cli::Client client(rpc::Connect("127.0.0.1:" + std::to_string((*coordinator)->port())),
                       std::chrono::seconds(60));
    store::Store& store = (*coordinator)->store();
    auto fail = [](const absl::Status& st) {
      std::fprintf(stderr, "error: %s\n", std::string(st.message()).c_str());
      return false;
    };
    if (std::string(grid) == "compare-100k") {
      v1::CompareRequest request;
      request.set_grid(grid);
      request.add_by("activation");
      request.add_by("depth");
      request.set_metric("final_test_acc");
      int rows = 0, finished = 0;
      const double grpc_ms = MedianMs(rounds, [&] {
        auto r = client.Compare(request);
        if (!r.ok()) return fail(r.status());
        rows = r->rows_size(), finished = r->finished();
        return true;
      });
      const double db_ms = MedianMs(rounds, [&] {
        auto r = analysis::Compare(store, request);
        return r.ok() || fail(r.status());
      });
      std::printf("compare, %d trials, by activation,depth (%d groups)\n", finished, rows);
      Report("compare", "coordinator over gRPC", grpc_ms, 200);
      Report("compare", "the database directly (--db)", db_ms, 200);
      request.clear_by();
      const double all_ms = MedianMs(rounds, [&] {
        auto r = client.Compare(request);
        if (!r.ok()) return fail(r.status());
        rows = r->rows_size();
        return true;
      });
      std::printf("compare, %d trials, by every factor (%d groups)\n", finished, rows);
      Report("compare-all-factors", "coordinator over gRPC", all_ms, 200);
    } else {
      v1::CurvesRequest request;
      request.set_grid(grid);
      request.add_by("activation");
      request.add_by("depth");
      request.set_metric("test_acc");
      int groups = 0, finished = 0, points = 0;
      const double grpc_ms = MedianMs(rounds, [&] {
        auto r = client.Curves(request);
        if (!r.ok()) return fail(r.status());
        groups = r->groups_size(), finished = r->finished();
        points = r->groups(0).points_size();
        return true;
      });
      const double db_ms = MedianMs(rounds, [&] {
        auto r = analysis::Curves(store, request);
        return r.ok() || fail(r.status());
      });
      std::printf("curves, %d trials x %d epochs, by activation,depth (%d groups)\n", finished, points, groups);
      Report("curves", "coordinator over gRPC", grpc_ms, 1000);
      Report("curves", "the database directly (--db)", db_ms, 1000);
      request.set_layer(0);
      request.set_metric("grad_norm");
      const double layer_ms = MedianMs(rounds, [&] {
        auto r = client.Curves(request);
        return r.ok() || fail(r.status());
      });
      Report("curves-layer", "per-layer (grad_norm of layer 0), gRPC", layer_ms, 1000);
    }
    (*coordinator)->Shutdown();
  }
  for (const auto& line : g_json) std::printf("%s\n", line.c_str());
  return 0;
}
