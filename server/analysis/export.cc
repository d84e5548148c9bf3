// Export (see analysis.h): the selected trials in chunks, with specs, summaries and,
// on request, the epochs of the finished ones.
#include <algorithm>
#include <unordered_map>

#include "server/analysis/analysis.h"
#include "server/analysis/selection.h"

namespace actgrid::analysis {
namespace {

constexpr int kTrialsPerChunk = 1000;
constexpr int kEpochsPerChunk = 20000;  // with curves: about 2 MB of epochs a chunk

}  // namespace

absl::Status Export(store::Store& store, const v1::ExportRequest& request,
                    const std::function<bool(const v1::ExportChunk&)>& emit) {
  auto selection = Selection::Load(store, request.grid(), request.where(), nullptr);
  if (!selection.ok()) return selection.status();
  const store::GridRow& grid = selection->grid();
  const bool curves = request.content() == v1::EXPORT_CONTENT_CURVES;
  auto details = store.ListGridTrials(grid.id);  // keys, summaries, errors by position
  if (!details.ok()) return details.status();
  std::unordered_map<int, const store::GridTrialRow*> by_position;
  for (const auto& d : *details) by_position.emplace(d.position, &d);

  v1::ExportChunk header;
  header.set_grid_id(grid.id);
  header.set_grid(grid.name);
  for (const auto& f : grid.factors) header.add_factors(f);
  header.set_trials(int(selection->rows().size()));
  if (!emit(header)) return absl::OkStatus();

  const auto& rows = selection->rows();
  for (size_t first = 0; first < rows.size();) {
    // A chunk: up to kTrialsPerChunk trials, fewer when their epochs add up.
    size_t last = first;
    int64_t epochs = 0;
    while (last < rows.size() && last - first < size_t(kTrialsPerChunk) && epochs < kEpochsPerChunk) {
      const auto it = by_position.find(rows[last].position);
      if (curves && it != by_position.end() && it->second->summary) epochs += it->second->summary->epochs_run() + 1;
      ++last;
    }
    const int from = rows[first].position, to = rows[last - 1].position;
    auto specs = store.ListGridSpecs(grid.id, from, to - from + 1);
    if (!specs.ok()) return specs.status();
    v1::ExportChunk chunk;
    for (size_t i = first; i < last; ++i) {
      const store::GridValueRow& r = rows[i];
      v1::ExportTrial* t = chunk.add_rows();
      t->set_trial_id(r.trial_id);
      t->set_position(r.position);
      t->set_cell(r.cell);
      t->set_seed_rank(r.seed_rank);
      t->set_seed(r.seed);
      t->set_state(r.state);
      std::vector<std::string> labels;
      for (size_t c = 0; c < grid.factors.size(); ++c) labels.push_back(selection->Label(r, int(c)));
      SetGroup(grid.factors, labels, t->mutable_factors());
      if (size_t(r.position - from) < specs->size()) *t->mutable_spec() = (*specs)[size_t(r.position - from)];
      if (const auto it = by_position.find(r.position); it != by_position.end()) {
        t->set_trial_key(it->second->key);
        t->set_last_error(it->second->last_error);
        if (it->second->summary) *t->mutable_summary() = *it->second->summary;
      }
      if (curves && IsFinished(r)) {
        auto stored = store.LoadEpochs(r.trial_id);
        if (!stored.ok()) return stored.status();
        for (auto& e : *stored) *t->add_epochs() = std::move(e);
      }
    }
    if (!emit(chunk)) return absl::OkStatus();
    first = last;
  }
  return absl::OkStatus();
}

}  // namespace actgrid::analysis
