// Column mappings of the store (see rows.h).
#include "server/store/rows.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <cstdint>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace actgrid::store {

std::string EncodeList(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& item : items) absl::StrAppend(&text, item.size(), ":", item);
  return text;
}

absl::StatusOr<std::vector<std::string>> DecodeList(absl::string_view text) {
  std::vector<std::string> items;
  while (!text.empty()) {
    const size_t colon = text.find(':');
    uint64_t length = 0;
    if (colon == absl::string_view::npos || colon == 0 ||
        !absl::SimpleAtoi(text.substr(0, colon), &length) || length > text.size() - colon - 1) {
      return absl::DataLossError(absl::StrCat("corrupt string list in the store: \"", text, "\""));
    }
    items.emplace_back(text.substr(colon + 1, length));
    text.remove_prefix(colon + 1 + length);
  }
  return items;
}

void BindSummary(sql::Stmt& stmt, int first, const v1::TrialSummary& s) {
  int i = first;
  stmt.Bind(i++, static_cast<int>(s.outcome()));
  stmt.Bind(i++, s.final_test_acc());
  stmt.Bind(i++, s.best_test_acc());
  stmt.Bind(i++, s.best_epoch());
  stmt.Bind(i++, s.final_test_loss());
  stmt.Bind(i++, s.final_train_loss());
  stmt.Bind(i++, s.epochs_to_target());
  stmt.Bind(i++, s.auc_test_acc());
  stmt.Bind(i++, s.init_sparsity());
  stmt.Bind(i++, s.final_sparsity());
  stmt.Bind(i++, s.init_dead_fraction());
  stmt.Bind(i++, s.final_dead_fraction());
  stmt.Bind(i++, s.max_dead_fraction());
  stmt.Bind(i++, s.grad_ratio());
  stmt.Bind(i++, s.diverged());
  stmt.Bind(i++, s.diverged_epoch());
  stmt.Bind(i++, s.seconds());
  stmt.Bind(i++, s.steps_per_second());
  stmt.Bind(i++, s.epochs_run());
  stmt.Bind(i++, static_cast<int64_t>(s.parameters()));
}

v1::TrialSummary ReadSummary(const sql::Stmt& stmt, int first) {
  v1::TrialSummary s;
  int i = first;
  s.set_outcome(static_cast<v1::TrialOutcome>(stmt.Int(i++)));
  s.set_final_test_acc(stmt.Double(i++));
  s.set_best_test_acc(stmt.Double(i++));
  s.set_best_epoch(stmt.Int(i++));
  s.set_final_test_loss(stmt.Double(i++));
  s.set_final_train_loss(stmt.Double(i++));
  s.set_epochs_to_target(stmt.Int(i++));
  s.set_auc_test_acc(stmt.Double(i++));
  s.set_init_sparsity(stmt.Double(i++));
  s.set_final_sparsity(stmt.Double(i++));
  s.set_init_dead_fraction(stmt.Double(i++));
  s.set_final_dead_fraction(stmt.Double(i++));
  s.set_max_dead_fraction(stmt.Double(i++));
  s.set_grad_ratio(stmt.Double(i++));
  s.set_diverged(stmt.Int64(i++) != 0);
  s.set_diverged_epoch(stmt.Int(i++));
  s.set_seconds(stmt.Double(i++));
  s.set_steps_per_second(stmt.Double(i++));
  s.set_epochs_run(stmt.Int(i++));
  s.set_parameters(stmt.Int64(i++));
  return s;
}

void BindEpoch(sql::Stmt& stmt, int first, const v1::EpochMetrics& m) {
  int i = first;
  stmt.Bind(i++, m.train_loss());
  stmt.Bind(i++, m.test_loss());
  stmt.Bind(i++, m.train_acc());
  stmt.Bind(i++, m.test_acc());
  stmt.Bind(i++, m.dead_fraction());
  stmt.Bind(i++, m.sparsity());
  stmt.Bind(i++, m.grad_norm_first());
  stmt.Bind(i++, m.grad_norm_last());
  stmt.Bind(i++, m.seconds());
  stmt.BindBlob(i++, EncodeLayers(m));
}

absl::Status ReadEpoch(const sql::Stmt& stmt, int first, v1::EpochMetrics* m) {
  int i = first;
  m->set_train_loss(stmt.Double(i++));
  m->set_test_loss(stmt.Double(i++));
  m->set_train_acc(stmt.Double(i++));
  m->set_test_acc(stmt.Double(i++));
  m->set_dead_fraction(stmt.Double(i++));
  m->set_sparsity(stmt.Double(i++));
  m->set_grad_norm_first(stmt.Double(i++));
  m->set_grad_norm_last(stmt.Double(i++));
  m->set_seconds(stmt.Double(i++));
  return DecodeLayers(stmt.Blob(i++), m);
}

namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "EncodeLayers copies native little-endian values");
constexpr size_t kLayerBytes = sizeof(int32_t) + 5 * sizeof(double);

}  // namespace

std::string EncodeLayers(const v1::EpochMetrics& metrics) {
  std::string out(metrics.layers_size() * kLayerBytes, '\0');
  char* p = out.data();
  for (const v1::LayerMetrics& l : metrics.layers()) {
    const int32_t index = l.layer();
    const double values[5] = {l.dead_fraction(), l.sparsity(), l.grad_norm(), l.act_mean(), l.act_std()};
    std::memcpy(p, &index, sizeof(index));
    std::memcpy(p + sizeof(index), values, sizeof(values));
    p += kLayerBytes;
  }
  return out;
}

absl::Status DecodeLayers(absl::string_view blob, v1::EpochMetrics* metrics) {
  if (blob.size() % kLayerBytes != 0)
    return absl::DataLossError(absl::StrCat("corrupt layer metrics of epoch ", metrics->epoch(), " in the store"));
  for (size_t at = 0; at < blob.size(); at += kLayerBytes) {
    int32_t index;
    double values[5];
    std::memcpy(&index, blob.data() + at, sizeof(index));
    std::memcpy(values, blob.data() + at + sizeof(index), sizeof(values));
    v1::LayerMetrics* l = metrics->add_layers();
    l->set_layer(index);
    l->set_dead_fraction(values[0]);
    l->set_sparsity(values[1]);
    l->set_grad_norm(values[2]);
    l->set_act_mean(values[3]);
    l->set_act_std(values[4]);
  }
  return absl::OkStatus();
}

std::string PackCurve(const std::vector<double>& values) {
  std::string out(values.size() * sizeof(double), '\0');
  if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

std::vector<double> UnpackCurve(absl::string_view blob) {
  std::vector<double> values(blob.size() / sizeof(double));
  if (blob.size() % sizeof(double) != 0) {
    std::fill(values.begin(), values.end(), NAN);
    return values;
  }
  if (!values.empty()) std::memcpy(values.data(), blob.data(), blob.size());
  return values;
}

double LayerValue(absl::string_view blob, int layer, int field) {
  // Layers are stored in index order, so layer k is the k-th entry; the index is
  // checked all the same.
  const size_t at = size_t(layer) * kLayerBytes;
  if (layer < 0 || field < 0 || field >= 5 || at + kLayerBytes > blob.size()) return NAN;
  int32_t index;
  std::memcpy(&index, blob.data() + at, sizeof(index));
  if (index != layer) return NAN;
  double value;
  std::memcpy(&value, blob.data() + at + sizeof(index) + size_t(field) * sizeof(double), sizeof(value));
  return value;
}

absl::StatusOr<TrialRow> ReadTrialRow(const sql::Stmt& stmt) {
  TrialRow row;
  row.id = stmt.Int64(0);
  row.key = stmt.Text(1);
  const absl::string_view spec = stmt.Blob(2);
  if (!row.spec.ParseFromArray(spec.data(), static_cast<int>(spec.size()))) {
    return absl::DataLossError(absl::StrCat("corrupt spec of trial ", row.id, " in the store"));
  }
  row.state = static_cast<v1::TrialState>(stmt.Int(3));
  row.attempt = stmt.Int(4);
  row.failures = stmt.Int(5);
  row.worker_id = stmt.Text(6);
  row.deadline_ms = stmt.Int64(7);
  row.last_error = stmt.Text(8);
  row.epochs_done = stmt.Int(9);
  return row;
}

absl::StatusOr<GridRow> ReadGridRow(const sql::Stmt& stmt) {
  GridRow row;
  row.id = stmt.Int64(0);
  row.name = stmt.Text(1);
  absl::StatusOr<std::vector<std::string>> factors = DecodeList(stmt.Text(2));
  if (!factors.ok()) return factors.status();
  row.factors = std::move(*factors);
  row.cells = stmt.Int(3);
  row.trials = stmt.Int(4);
  row.created_ms = stmt.Int64(5);
  row.cancelled = stmt.Int64(6) != 0;
  return row;
}

}  // namespace actgrid::store
