// Fuzzes the analyses with the requests any reader may send (gRPC Analysis, the JSON API,
// actgrid call): the first byte picks Compare, Curves, Effects, Test, Layers or Export,
// the rest must parse as that request. Every request is answered or refused with a
// status, never a crash, over a grid of 2 activations x 2 depths x 3 seeds whose trials
// finished (one diverged, with NaN values), plus one still pending.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "actgrid/v1/analysis.pb.h"
#include "google/protobuf/stubs/logging.h"
#include "server/analysis/analysis.h"
#include "server/store/store.h"

namespace {

using actgrid::store::Store;
namespace v1 = actgrid::v1;

std::unique_ptr<Store> BuildStore() {
  std::unique_ptr<Store> store = *Store::Open({":memory:", false});
  actgrid::store::NewGrid grid;
  grid.name = "g";
  grid.factors = {"activation", "depth"};
  grid.cells = 4;
  for (int s = 0; s < 3; ++s)
    for (int cell = 0; cell < 4; ++cell) {
      actgrid::store::NewGridTrial t;
      t.spec.set_seed(100 + s);
      t.spec.set_depth(cell % 2 + 1);
      t.spec.mutable_train()->set_epochs(4);
      t.key = absl::StrCat("k", s, "-", cell);
      t.cell = cell;
      t.seed_rank = s;
      t.values = {cell < 2 ? "relu" : "tanh", cell % 2 ? "2" : "1"};
      grid.trials.push_back(std::move(t));
    }
  const std::vector<int64_t> ids = store->CreateGrid(grid)->trial_ids;
  for (size_t position = 0; position + 1 < ids.size(); ++position) {  // the last stays pending
    const int64_t id = ids[position];
    const bool diverged = position == 5;
    (void)store->Lease({{id, 1, "w", 1 << 30}}, 1);
    std::vector<actgrid::store::EpochRow> rows;
    for (int e = 0; e <= 4; ++e) {
      v1::EpochMetrics m;
      m.set_epoch(e);
      const double acc = 0.5 + 0.1 * e - 0.01 * double(position);
      m.set_test_acc(diverged && e > 2 ? NAN : acc);
      m.set_train_loss(diverged && e > 2 ? INFINITY : 1 - acc);
      m.set_dead_fraction(0.05 * double(position % 3));
      for (int l = 0; l <= int(position % 2); ++l) {
        v1::LayerMetrics* layer = m.add_layers();
        layer->set_layer(l);
        layer->set_grad_norm(0.1 * (l + 1));
        layer->set_dead_fraction(0.1 * l);
      }
      rows.push_back({id, 1, m});
      if (diverged && e == 3) break;
    }
    (void)store->AppendEpochs(rows, {}, 1 << 30);
    v1::TrialSummary summary;
    summary.set_outcome(diverged ? v1::TRIAL_OUTCOME_DIVERGED : v1::TRIAL_OUTCOME_SUCCEEDED);
    summary.set_final_test_acc(diverged ? NAN : 0.9 - 0.01 * double(position));
    summary.set_diverged(diverged);
    summary.set_epochs_to_target(position % 4 == 0 ? -1 : 2);
    summary.set_diverged_epoch(diverged ? 3 : -1);
    summary.set_epochs_run(diverged ? 3 : 4);
    actgrid::store::AttemptEnd end;
    end.trial_id = id;
    end.attempt = 1;
    end.to = diverged ? v1::TRIAL_STATE_DIVERGED : v1::TRIAL_STATE_SUCCEEDED;
    end.summary = summary;
    end.now_ms = 2;
    (void)store->EndAttempt(end);
  }
  return store;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {  // invalid UTF-8 in a string field is logged by protobuf
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)quiet;
  static std::unique_ptr<Store> store = BuildStore();
  if (size == 0) return 0;
  const uint8_t* body = data + 1;
  const int length = int(size - 1);
  // Parses the body as `request` and hands it to `answer` (whose answer is dropped).
  const auto ask = [&](auto request, auto answer) {
    if (request.ParseFromArray(body, length)) (void)answer(request);
  };
  namespace analysis = actgrid::analysis;
  switch (data[0] % 6) {
    case 0: ask(v1::CompareRequest(), [](const auto& r) { return analysis::Compare(*store, r); }); break;
    case 1: ask(v1::CurvesRequest(), [](const auto& r) { return analysis::Curves(*store, r); }); break;
    case 2: ask(v1::EffectsRequest(), [](const auto& r) { return analysis::Effects(*store, r); }); break;
    case 3: ask(v1::TestRequest(), [](const auto& r) { return analysis::Test(*store, r); }); break;
    case 4: ask(v1::LayersRequest(), [](const auto& r) { return analysis::Layers(*store, r); }); break;
    default:
      ask(v1::ExportRequest(), [](const auto& r) {
        return analysis::Export(*store, r, [](const v1::ExportChunk&) { return true; });
      });
  }
  return 0;
}
