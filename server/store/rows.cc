// Column mappings of the store (see rows.h).
#include "server/store/rows.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>

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
  stmt.Bind(i++, s.born_dead());
  stmt.Bind(i++, s.engine_version());
  stmt.Bind(i++, s.build());
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
  s.set_born_dead(stmt.Int64(i++) != 0);  // NULL (measured before schema 4) reads as false
  s.set_engine_version(stmt.Int(i++));
  s.set_build(stmt.Text(i++));
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
  row.lease_secret = stmt.Text(10);
  row.engine_version = stmt.Int(11);
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

namespace {

constexpr const char* kCurveColumnNames[] = {"train_loss",    "test_loss", "train_acc",
                                             "test_acc",      "dead_fraction", "sparsity",
                                             "grad_norm_first", "grad_norm_last", "seconds"};
static_assert(sizeof(kCurveColumnNames) / sizeof(kCurveColumnNames[0]) == kCurveColumnCount);
constexpr size_t kRecordHeadBytes = 2 * sizeof(int32_t) + kCurveColumnCount * sizeof(double);

constexpr const char* kLegacyEpochs =
    "SELECT epoch, " ACTGRID_CURVE_COLUMNS ", layers FROM epochs WHERE trial_id = ?1 ORDER BY epoch";
constexpr const char* kChunks = "SELECT data FROM epoch_chunks WHERE trial_id = ?1 ORDER BY seq";
constexpr const char* kChunksHolding =
    "SELECT data FROM epoch_chunks WHERE trial_id = ?1 AND first_epoch <= ?2 AND last_epoch >= ?2 "
    "ORDER BY seq DESC";
constexpr const char* kLegacyEpoch =
    "SELECT epoch, " ACTGRID_CURVE_COLUMNS ", layers FROM epochs WHERE trial_id = ?1 AND epoch = ?2";

void ReadLegacyRow(const sql::Stmt& stmt, StoredEpoch* e) {
  e->epoch = stmt.Int(0);
  for (int c = 0; c < kCurveColumnCount; ++c) e->values[c] = stmt.Double(1 + c);
  e->layers = stmt.Blob(1 + kCurveColumnCount);
}

// Walks the records of one chunk.
absl::Status ForEachRecord(absl::string_view chunk, int64_t trial_id,
                           const std::function<absl::Status(const StoredEpoch&)>& fn) {
  StoredEpoch e;
  size_t at = 0;
  while (at < chunk.size()) {
    int32_t epoch = 0, layers = 0;
    if (chunk.size() - at < kRecordHeadBytes) break;
    std::memcpy(&epoch, chunk.data() + at, sizeof(epoch));
    std::memcpy(&layers, chunk.data() + at + sizeof(epoch), sizeof(layers));
    const bool extended = layers >= 0 && (layers & kRecordExtended) != 0;
    if (extended) layers &= ~kRecordExtended;
    const size_t head = kRecordHeadBytes + (extended ? sizeof(int64_t) : 0);
    const size_t layer_bytes = size_t(std::max(layers, 0)) * kLayerBytes;
    if (layers < 0 || chunk.size() - at < head || chunk.size() - at - head < layer_bytes) break;
    e.epoch = epoch;
    std::memcpy(e.values, chunk.data() + at + 2 * sizeof(int32_t), sizeof(e.values));
    e.nonfinite_params = 0;
    if (extended) std::memcpy(&e.nonfinite_params, chunk.data() + at + kRecordHeadBytes, sizeof(int64_t));
    e.layers = chunk.substr(at + head, layer_bytes);
    at += head + layer_bytes;
    if (absl::Status status = fn(e); !status.ok()) return status;
  }
  if (at != chunk.size())
    return absl::DataLossError(absl::StrCat("corrupt epoch chunk of trial ", trial_id, " in the store"));
  return absl::OkStatus();
}

}  // namespace

int CurveColumnIndex(absl::string_view name) {
  for (int c = 0; c < kCurveColumnCount; ++c)
    if (name == kCurveColumnNames[c]) return c;
  return -1;
}

void AppendEpochRecord(const v1::EpochMetrics& m, std::string* chunk) {
  const int32_t epoch = m.epoch();
  const int32_t layers = m.layers_size();  // at most a few thousand: below kRecordExtended
  const int64_t nonfinite = m.nonfinite_params();
  // Every NaN is stored as the one quiet NaN, as a NULL REAL reads back: a value
  // reads the same whichever table it went through.
  auto canonical = [](double v) { return std::isnan(v) ? double(NAN) : v; };
  const double values[kCurveColumnCount] = {
      canonical(m.train_loss()),      canonical(m.test_loss()),      canonical(m.train_acc()),
      canonical(m.test_acc()),        canonical(m.dead_fraction()),  canonical(m.sparsity()),
      canonical(m.grad_norm_first()), canonical(m.grad_norm_last()), canonical(m.seconds())};
  const size_t start = chunk->size();
  const size_t extra = nonfinite != 0 ? sizeof(int64_t) : 0;
  chunk->resize(start + kRecordHeadBytes + extra + size_t(layers) * kLayerBytes);
  char* p = chunk->data() + start;
  const int32_t layers_field = nonfinite != 0 ? (layers | kRecordExtended) : layers;
  std::memcpy(p, &epoch, sizeof(epoch));
  std::memcpy(p + sizeof(epoch), &layers_field, sizeof(layers_field));
  std::memcpy(p + 2 * sizeof(int32_t), values, sizeof(values));
  p += kRecordHeadBytes;
  if (extra != 0) {
    std::memcpy(p, &nonfinite, sizeof(nonfinite));
    p += extra;
  }
  for (const v1::LayerMetrics& l : m.layers()) {
    const int32_t index = l.layer();
    const double v[5] = {canonical(l.dead_fraction()), canonical(l.sparsity()), canonical(l.grad_norm()),
                         canonical(l.act_mean()), canonical(l.act_std())};
    std::memcpy(p, &index, sizeof(index));
    std::memcpy(p + sizeof(index), v, sizeof(v));
    p += kLayerBytes;
  }
}

absl::Status ToMetrics(const StoredEpoch& e, v1::EpochMetrics* m) {
  m->set_epoch(e.epoch);
  m->set_train_loss(e.values[0]);
  m->set_test_loss(e.values[1]);
  m->set_train_acc(e.values[2]);
  m->set_test_acc(e.values[3]);
  m->set_dead_fraction(e.values[4]);
  m->set_sparsity(e.values[5]);
  m->set_grad_norm_first(e.values[6]);
  m->set_grad_norm_last(e.values[7]);
  m->set_seconds(e.values[8]);
  m->set_nonfinite_params(e.nonfinite_params);
  return DecodeLayers(e.layers, m);
}

absl::Status ForEachStoredEpoch(sql::Conn& conn, int64_t trial_id,
                                const std::function<absl::Status(const StoredEpoch&)>& fn) {
  // Everything stored, oldest first: the epochs table's rows, then the chunks in the
  // order they were written. Usually that is epoch order already; when an epoch was
  // sent again, or late, a stable sort puts it in place and its latest copy wins.
  std::deque<std::string> legacy_layers;  // owns the legacy rows' layers (a deque never moves them)
  std::vector<std::string> chunks;        // the chunks, parsed once all are read
  std::vector<StoredEpoch> all;
  {
    ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt legacy, conn.Prepare(kLegacyEpochs));
    legacy.Bind(1, trial_id);
    for (;;) {
      ACTGRID_STORE_ASSIGN_OR_RETURN(const bool row, legacy.Step());
      if (!row) break;
      StoredEpoch& e = all.emplace_back();
      ReadLegacyRow(legacy, &e);
      e.layers = legacy_layers.emplace_back(e.layers);  // the row's memory is gone after the next step
    }
  }
  {
    ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt stmt, conn.Prepare(kChunks));
    stmt.Bind(1, trial_id);
    for (;;) {
      ACTGRID_STORE_ASSIGN_OR_RETURN(const bool row, stmt.Step());
      if (!row) break;
      chunks.emplace_back(stmt.Blob(0));
    }
  }
  for (const std::string& chunk : chunks) {
    ACTGRID_STORE_RETURN_IF_ERROR(ForEachRecord(chunk, trial_id, [&](const StoredEpoch& e) {
      all.push_back(e);
      return absl::OkStatus();
    }));
  }
  bool ordered = true;
  for (size_t i = 1; i < all.size() && ordered; ++i) ordered = all[i - 1].epoch < all[i].epoch;
  if (!ordered) {
    std::stable_sort(all.begin(), all.end(), [](const StoredEpoch& a, const StoredEpoch& b) { return a.epoch < b.epoch; });
    size_t kept = 0;
    for (size_t i = 0; i < all.size(); ++i) {
      if (i + 1 < all.size() && all[i + 1].epoch == all[i].epoch) continue;  // a later copy follows
      all[kept++] = all[i];
    }
    all.resize(kept);
  }
  for (const StoredEpoch& e : all) ACTGRID_STORE_RETURN_IF_ERROR(fn(e));
  return absl::OkStatus();
}

absl::StatusOr<bool> FindStoredEpoch(sql::Conn& conn, int64_t trial_id, int epoch, v1::EpochMetrics* metrics) {
  // The latest chunk that holds the epoch; else the epochs table's row of it.
  {
    ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt chunks, conn.Prepare(kChunksHolding));
    chunks.Bind(1, trial_id).Bind(2, int64_t{epoch});
    for (;;) {
      ACTGRID_STORE_ASSIGN_OR_RETURN(const bool row, chunks.Step());
      if (!row) break;
      bool found = false;
      ACTGRID_STORE_RETURN_IF_ERROR(ForEachRecord(chunks.Blob(0), trial_id, [&](const StoredEpoch& e) {
        if (e.epoch != epoch) return absl::OkStatus();
        found = true;
        metrics->Clear();
        return ToMetrics(e, metrics);  // a later copy in the same chunk overwrites
      }));
      if (found) return true;
    }
  }
  ACTGRID_STORE_ASSIGN_OR_RETURN(sql::Stmt legacy, conn.Prepare(kLegacyEpoch));
  legacy.Bind(1, trial_id).Bind(2, int64_t{epoch});
  ACTGRID_STORE_ASSIGN_OR_RETURN(const bool row, legacy.Step());
  if (!row) return false;
  StoredEpoch e;
  ReadLegacyRow(legacy, &e);
  ACTGRID_STORE_RETURN_IF_ERROR(ToMetrics(e, metrics));
  return true;
}

}  // namespace actgrid::store
