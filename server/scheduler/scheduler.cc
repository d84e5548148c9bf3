// Scheduler (see scheduler.h).
#include "server/scheduler/scheduler.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <tuple>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/spec/engine_version.h"
#include "common/spec/fields.h"
#include "common/spec/pack.h"
#include "common/spec/summary.h"
#include "common/spec/trial_key.h"
#include "common/spec/validate.h"
#include "server/scheduler/transitions.h"

namespace actgrid::scheduler {
namespace {

constexpr size_t kMaxFailuresKept = 1000;
constexpr int kMaxErrorsListed = 20;
// Limits on what workers send: names, per-layer rows of an epoch (a model has at most
// a few hundred hidden layers), and the error text kept for a failed trial.
constexpr size_t kMaxNameBytes = 256;
constexpr int kMaxLayers = 4096;
constexpr size_t kMaxErrorBytes = 16384;
constexpr int kMaxFactors = 32;
constexpr size_t kMaxLabelBytes = 256;
// After the database last refused a write for want of room, leases get a lease period
// plus this long before they may expire: more than a worker's longest retry backoff.
constexpr int64_t kFullDatabaseGraceMs = 10'000;

constexpr size_t kMaxBuildBytes = 256;
// A lease with max_groups looks past at most this many pending trials of other groups.
constexpr int kMaxGroupSkips = 4096;

v1::TrialState StateOfOutcome(v1::TrialOutcome outcome) {
  return outcome == v1::TRIAL_OUTCOME_DIVERGED ? v1::TRIAL_STATE_DIVERGED : v1::TRIAL_STATE_SUCCEEDED;
}

// 128 bits from the kernel's CSPRNG, as hex: a lease's secret.
std::string NewLeaseSecret() {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n > 0) {
      got += size_t(n);
    } else if (n < 0 && errno != EINTR) {
      std::random_device device;  // getrandom(2) missing: the same source through libstdc++
      for (unsigned char& b : bytes) b = static_cast<unsigned char>(device());
      got = sizeof bytes;
    }
  }
  return spec::Hex(bytes, sizeof bytes);
}

bool IsSha256Hex(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool ReadsFiles(v1::DatasetKind kind) {
  return kind == v1::DATASET_KIND_FASHION_MNIST || kind == v1::DATASET_KIND_IDX || kind == v1::DATASET_KIND_CSV;
}

// Summary fields that do not follow from the curve: the worker's timing, the network's
// size (it needs the data's shape) and what measured the trial.
bool FromTheCurve(const google::protobuf::FieldDescriptor* field) {
  const std::string& name = field->name();
  return name != "seconds" && name != "steps_per_second" && name != "parameters" &&
         name != "engine_version" && name != "build";
}

// The first field of `claimed` that the curve does not imply ("best_test_acc 0.9, the
// curve says 0.85"), or "" when every such field matches bit for bit (NaN matches NaN).
std::string SummaryDifference(const v1::TrialSummary& claimed, const v1::TrialSummary& curve) {
  const google::protobuf::Descriptor* d = v1::TrialSummary::descriptor();
  const google::protobuf::Reflection* r = v1::TrialSummary::GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    if (!FromTheCurve(f)) continue;
    bool same = true;
    std::string a, b;
    switch (f->cpp_type()) {
      case google::protobuf::FieldDescriptor::CPPTYPE_DOUBLE: {
        const double x = r->GetDouble(claimed, f), y = r->GetDouble(curve, f);
        same = (std::isnan(x) && std::isnan(y)) || std::memcmp(&x, &y, sizeof x) == 0;
        a = absl::StrCat(x);
        b = absl::StrCat(y);
        break;
      }
      case google::protobuf::FieldDescriptor::CPPTYPE_INT32:
        same = r->GetInt32(claimed, f) == r->GetInt32(curve, f);
        a = absl::StrCat(r->GetInt32(claimed, f));
        b = absl::StrCat(r->GetInt32(curve, f));
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_INT64:
        same = r->GetInt64(claimed, f) == r->GetInt64(curve, f);
        a = absl::StrCat(r->GetInt64(claimed, f));
        b = absl::StrCat(r->GetInt64(curve, f));
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_BOOL:
        same = r->GetBool(claimed, f) == r->GetBool(curve, f);
        a = r->GetBool(claimed, f) ? "true" : "false";
        b = r->GetBool(curve, f) ? "true" : "false";
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_ENUM:
        same = r->GetEnumValue(claimed, f) == r->GetEnumValue(curve, f);
        a = r->GetEnum(claimed, f)->name();
        b = r->GetEnum(curve, f)->name();
        break;
      default:  // strings and messages: none follows from the curve
        break;
    }
    if (!same) return absl::StrCat(f->name(), " ", a, ", the stored curve says ", b);
  }
  return "";
}

// The summary to store for a completion: recomputed from every stored epoch of the
// attempt with the code the worker summarizes with (spec::Summarize), with the worker's timing and
// size and this coordinator's provenance. An error says why the completion is refused.
absl::StatusOr<v1::TrialSummary> VerifiedSummary(const v1::TrialSpec& spec, const v1::TrialSummary& claimed,
                                                 const std::vector<v1::EpochMetrics>& epochs,
                                                 const std::string& build) {
  for (size_t i = 0; i < epochs.size(); ++i)
    if (epochs[i].epoch() != int(i))
      return absl::FailedPreconditionError(absl::StrCat("epoch ", i, " is missing from the stored curve"));
  if (epochs.size() != size_t(claimed.epochs_run()) + 1)
    return absl::FailedPreconditionError(absl::StrCat("the summary ends at epoch ", claimed.epochs_run(),
                                                      ", the stored curve at epoch ", epochs.size() - 1));
  for (size_t i = 0; i + 1 < epochs.size(); ++i)
    if (!spec::EpochIsFinite(epochs[i]))
      return absl::FailedPreconditionError(absl::StrCat("epoch ", i, " is not finite, yet the curve goes on"));
  v1::TrialSummary summary = spec::Summarize(spec, epochs);
  if (!summary.diverged() && summary.epochs_run() != spec.train().epochs())
    return absl::FailedPreconditionError(absl::StrCat("the curve ends at epoch ", summary.epochs_run(), " of 0..",
                                                      spec.train().epochs(), " without diverging"));
  if (std::string diff = SummaryDifference(claimed, summary); !diff.empty())
    return absl::FailedPreconditionError(absl::StrCat("the summary disagrees with the stored curve: ", diff));
  auto finite_or_zero = [](double v) { return std::isfinite(v) && v >= 0 ? v : 0.0; };
  summary.set_seconds(finite_or_zero(claimed.seconds()));
  summary.set_steps_per_second(finite_or_zero(claimed.steps_per_second()));
  summary.set_parameters(std::max<int64_t>(0, claimed.parameters()));
  summary.set_engine_version(spec::kEngineVersion);
  std::string kept;
  for (size_t i = 0; i < build.size() && i < kMaxBuildBytes; ++i) {
    const unsigned char c = static_cast<unsigned char>(build[i]);
    kept.push_back(c >= 0x20 && c < 0x7f ? char(c) : '?');
  }
  summary.set_build(kept);
  return summary;
}

}  // namespace

Scheduler::Scheduler(store::Store* store, const Clock* clock, SchedulerOptions options)
    : store_(store), clock_(clock), options_(options) {}

Scheduler::Order Scheduler::OrderOf(const Live& t) const {
  Order best{INT32_MAX, INT32_MAX, INT64_MAX, t.id};
  for (const Member& m : t.members) {
    if (cancelled_grids_.count(m.grid_id)) continue;
    best = std::min(best, Order{m.seed_rank, m.cell, m.grid_id, t.id});
  }
  return best;
}

void Scheduler::Enqueue(Live& t) {
  pending_.erase(t.order);
  t.state = v1::TRIAL_STATE_PENDING;
  t.order = OrderOf(t);
  pending_.insert(t.order);
  leased_.erase(t.id);
}

void Scheduler::Forget(int64_t id) {
  auto it = trials_.find(id);
  if (it == trials_.end()) return;
  pending_.erase(it->second.order);
  leased_.erase(id);
  trials_.erase(it);
}

void Scheduler::Bump() {
  ++version_;
  changed_.notify_all();
}

void Scheduler::NoteFailure(const Live& t, const std::string& error) {
  Failure f{++failure_seq_, {}, absl::StrCat("trial ", t.id, " (key ", t.key.substr(0, 12), "): ", error)};
  for (const Member& m : t.members) f.grids.push_back(m.grid_id);
  failures_.push_back(std::move(f));
  if (failures_.size() > kMaxFailuresKept) failures_.pop_front();
}

void Scheduler::Notify(const std::vector<int64_t>& finished) {
  if (finished.empty()) return;
  std::lock_guard<std::mutex> lock(listener_mu_);  // SetFinishedListener waits for us
  if (!listener_) return;
  for (int64_t id : finished) listener_(id);
}

void Scheduler::SetFinishedListener(std::function<void(int64_t)> listener) {
  std::lock_guard<std::mutex> lock(listener_mu_);
  listener_ = std::move(listener);
}

absl::Status Scheduler::Recover() {
  auto rows = store_->LoadUnfinished();
  if (!rows.ok()) return rows.status();
  auto members = store_->LoadUnfinishedMembers();
  if (!members.ok()) return members.status();
  auto grids = store_->ListGrids(0);
  if (!grids.ok()) return grids.status();
  const int64_t now = clock_->NowMs();
  std::vector<int64_t> orphans_pending;
  std::vector<std::pair<int64_t, int>> orphans_leased, in_process, unsecret;
  std::map<int, std::vector<std::pair<int64_t, int>>> other_engine;  // version -> (trial, attempt)
  {
    std::lock_guard<std::mutex> lock(mu_);
    trials_.clear();
    pending_.clear();
    leased_.clear();
    for (const auto& g : *grids)
      if (g.cancelled) cancelled_grids_.insert(g.id);
    for (auto& r : *rows) {
      if (r.engine_version != spec::kEngineVersion) {
        // Its key names another engine: measured here, its result would be filed
        // under a version that did not measure it.
        other_engine[r.engine_version].push_back({r.id, r.attempt});
        continue;
      }
      Live t;
      t.id = r.id;
      t.key = r.key;
      t.spec = std::make_shared<const v1::TrialSpec>(std::move(r.spec));
      t.state = r.state;
      t.attempt = r.attempt;
      t.failures = r.failures;
      t.worker_id = r.worker_id;
      t.secret = r.lease_secret;
      t.deadline_ms = now + options_.lease_ms;  // give holders time to reconnect
      trials_.emplace(t.id, std::move(t));
    }
    for (const auto& m : *members) {
      auto it = trials_.find(m.trial_id);
      if (it != trials_.end()) it->second.members.push_back({m.grid_id, m.cell, m.seed_rank});
    }
    for (auto& [id, t] : trials_) {
      if (t.members.empty()) {  // every grid that wanted it was cancelled
        if (t.state == v1::TRIAL_STATE_PENDING) orphans_pending.push_back(id);
        else orphans_leased.push_back({id, t.attempt});
        continue;
      }
      if (t.state == v1::TRIAL_STATE_PENDING) {
        t.order = OrderOf(t);
        pending_.insert(t.order);
      } else {
        leased_.insert(id);
        if (t.worker_id == kInProcessWorkerId) in_process.push_back({id, t.attempt});
        else if (t.secret.empty()) unsecret.push_back({id, t.attempt});
      }
    }
    for (int64_t id : orphans_pending) trials_.erase(id);
    for (const auto& [id, attempt] : orphans_leased) trials_.erase(id);
    Bump();
  }
  if (!orphans_pending.empty())
    if (auto s = store_->CancelPending(orphans_pending); !s.ok()) return s;
  for (const auto& [id, attempt] : orphans_leased) {
    store::AttemptEnd end{id, attempt, v1::TRIAL_STATE_CANCELLED, std::nullopt, "grid cancelled", false, now};
    store_->EndAttempt(end).IgnoreError();  // a conflict means it ended anyway
  }
  for (const auto& [id, attempt] : in_process) {
    store::AttemptEnd end{id, attempt, v1::TRIAL_STATE_PENDING, std::nullopt,
                          "released: the in-process worker stopped with its coordinator", false, now};
    EndAttempt(id, attempt, v1::TRIAL_STATE_LEASED, end).IgnoreError();
  }
  for (const auto& [version, trials] : other_engine) {
    const std::string why = absl::StrCat("cancelled: queued for engine version ", version,
                                         ", and this coordinator measures with engine version ",
                                         spec::kEngineVersion, "; submit the grid again to measure it");
    for (const auto& [id, attempt] : trials) {
      store::AttemptEnd end{id, attempt, v1::TRIAL_STATE_CANCELLED, std::nullopt, why, false, now};
      store_->EndAttempt(end).IgnoreError();  // a conflict means it ended anyway
    }
    if (options_.log)
      options_.log(absl::StrCat(trials.size(), " unfinished trials were queued for engine version ", version,
                                " and are cancelled: submit their grids again to measure them with engine version ",
                                spec::kEngineVersion));
  }
  for (const auto& [id, attempt] : unsecret) {
    store::AttemptEnd end{id, attempt, v1::TRIAL_STATE_PENDING, std::nullopt,
                          "released: leased by an older coordinator, without a lease secret", false, now};
    EndAttempt(id, attempt, v1::TRIAL_STATE_LEASED, end).IgnoreError();
  }
  return absl::OkStatus();
}

namespace {

// How an error shows a value from the wire: quoted, cut at 64 bytes (with its length),
// control characters escaped, so no request can make an answer (or its metadata) long.
std::string Echo(const std::string& value) {
  std::string out = "\"";
  for (size_t i = 0; i < value.size() && i < 64; ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += char(c);
    }
  }
  out += "\"";
  if (value.size() > 64) absl::StrAppend(&out, " (cut; ", value.size(), " bytes)");
  return out;
}

bool IsGridName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  return true;
}

// Labels parsed as values of their factor, each once per submission (and formula).
class LabelValues {
 public:
  // Whether `label` describes `spec`'s value of factor `f`: the label parsed as a value
  // of the field and set on a copy of the spec leaves the spec as it is. When the
  // spec's activation is a formula, an activation label may name it ("bent",
  // "bent(a=0.5)"): it is parsed against that formula's definition (its parameters at
  // their defaults), as the grid file that expanded it did.
  bool Describes(int f, const spec::Field& field, const std::string& label, const v1::TrialSpec& spec) {
    const bool formula = field.type == spec::FieldType::kActivation &&
                         spec.activation().kind() == v1::ACTIVATION_KIND_FORMULA && spec.activation().has_formula();
    // Labels of formula values are parsed once per definition: equal labels may name
    // different formulas in a submission that did not come from one grid file.
    Key key{f, label, formula ? spec.activation().formula().SerializeAsString() : std::string()};
    auto it = parsed_.find(key);
    if (it == parsed_.end()) {
      const spec::Value value = spec::Value::Scalar(label == "\"\"" ? std::string() : label);
      spec::FormulaTable table;
      if (formula) {
        v1::ActivationSpec definition = spec.activation();
        definition.clear_params();
        for (double d : definition.formula().defaults()) definition.add_params(d);
        table.push_back(std::move(definition));
      }
      it = parsed_.emplace(std::move(key), spec::ParseFieldValue(field, value, formula ? &table : nullptr)).first;
    }
    if (!it->second.ok()) return false;
    v1::TrialSpec copy = spec;
    field.apply(*it->second, &copy);
    return copy.SerializeAsString() == spec.SerializeAsString();
  }

 private:
  using Key = std::tuple<int, std::string, std::string>;  // factor, label, formula definition
  std::map<Key, absl::StatusOr<spec::FieldValue>> parsed_;
};

}  // namespace

std::string Scheduler::ValidateSubmission(const v1::SubmitGridRequest& r, std::vector<std::string>* keys,
                                          std::vector<std::string>* errors) const {
  if (!IsGridName(r.name())) errors->push_back(absl::StrCat("name: must match [a-z0-9_-]{1,64}, got ", Echo(r.name())));
  if (r.factors_size() > kMaxFactors)
    return absl::StrCat("factors: ", r.factors_size(), " factors; at most ", kMaxFactors, " are allowed");
  std::set<std::string> seen;
  std::vector<const spec::Field*> fields(r.factors_size(), nullptr);
  for (int i = 0; i < r.factors_size(); ++i) {
    fields[i] = r.factors(i).size() <= kMaxNameBytes ? spec::FindFactor(r.factors(i)) : nullptr;
    if (fields[i] == nullptr)
      errors->push_back(absl::StrCat("factors[", i, "]: unknown factor ", Echo(r.factors(i))));
    else if (!seen.insert(fields[i]->factor).second)
      errors->push_back(absl::StrCat("factors[", i, "]: duplicate factor ", Echo(r.factors(i))));
  }
  if (r.trials_size() == 0) errors->push_back("trials: a grid needs at least one trial");
  if (r.trials_size() > options_.max_trials_per_grid)
    return absl::StrCat("trials: ", r.trials_size(), " trials; this coordinator takes at most ",
                        options_.max_trials_per_grid, " per grid");
  // Every cell holds at least one trial, so there are at most as many cells as trials.
  if (r.cells() < 1 || r.cells() > std::max(1, r.trials_size()))
    errors->push_back(absl::StrCat("cells: must be in 1..", std::max(1, r.trials_size()), " (the trials), got ",
                                   r.cells()));
  int listed = 0, more = 0;
  auto add = [&](std::string e) {
    if (listed < kMaxErrorsListed) {
      errors->push_back(std::move(e));
      ++listed;
    } else {
      ++more;
    }
  };
  std::map<std::string, int> key_at;                  // trial key -> first trial with it
  std::map<int, const v1::GridTrialSpec*> cell_trial;  // cell -> its first trial
  LabelValues labels;
  for (int i = 0; i < r.trials_size(); ++i) {
    const v1::GridTrialSpec& t = r.trials(i);
    const std::string at = absl::StrCat("trials[", i, "]");
    bool values_ok = t.values_size() == r.factors_size();
    if (!values_ok) add(absl::StrCat(at, ".values: ", t.values_size(), " values for ", r.factors_size(), " factors"));
    for (int v = 0; values_ok && v < t.values_size(); ++v)
      if (t.values(v).size() > kMaxLabelBytes) {
        add(absl::StrCat(at, ".values[", v, "]: at most ", kMaxLabelBytes, " bytes, got ", t.values(v).size()));
        values_ok = false;
      }
    const bool cell_ok = t.cell() >= 0 && t.cell() < std::max(1, r.cells());
    if (!cell_ok) add(absl::StrCat(at, ".cell: must be in 0..", r.cells() - 1, ", got ", t.cell()));
    if (t.seed_rank() < 0) add(absl::StrCat(at, ".seed_rank: must be >= 0, got ", t.seed_rank()));
    if (!t.has_spec()) {
      add(absl::StrCat(at, ".spec: missing"));
      continue;
    }
    if (auto s = spec::ValidateTrialSpec(t.spec()); !s.ok()) {
      for (absl::string_view line : absl::StrSplit(s.message(), '\n', absl::SkipEmpty()))
        add(absl::StrCat(at, ".spec.", line));
      continue;
    }
    const std::string& digest = t.spec().dataset().digest();
    if (ReadsFiles(t.spec().dataset().kind()) ? !IsSha256Hex(digest) : !digest.empty()) {
      add(absl::StrCat(at, ".spec.dataset.digest: ",
                       ReadsFiles(t.spec().dataset().kind())
                           ? "a dataset read from files needs the SHA-256 of their content (64 lowercase hex "
                             "digits; actgrid sets it when it expands a grid file), got "
                           : "only a dataset read from files has a digest, got ",
                       Echo(digest)));
      continue;
    }
    std::string key = spec::TrialKey(t.spec());
    if (auto [it, fresh] = key_at.emplace(key, i); !fresh)
      add(absl::StrCat(at, ".spec: the same trial as trials[", it->second, "] (a grid holds each trial once)"));
    keys->push_back(std::move(key));
    if (!values_ok || !cell_ok) continue;
    // The labels are what tables show: they must describe the spec, and a cell is one
    // assignment of them.
    for (int v = 0; v < t.values_size(); ++v)
      if (fields[v] != nullptr && !labels.Describes(v, *fields[v], t.values(v), t.spec()))
        add(absl::StrCat(at, ".values[", v, "]: ", Echo(t.values(v)), " is not the spec's ", fields[v]->factor));
    auto [first, fresh] = cell_trial.emplace(t.cell(), &t);
    if (!fresh && !std::equal(t.values().begin(), t.values().end(), first->second->values().begin(),
                              first->second->values().end()))
      add(absl::StrCat(at, ".values: differ from another trial of cell ", t.cell()));
  }
  if (int(cell_trial.size()) != r.cells() && errors->empty() && listed == 0)
    add(absl::StrCat("cells: ", r.cells(), " cells, but the trials fill ", cell_trial.size()));
  if (more > 0) errors->push_back(absl::StrCat("... and ", more, " more problems"));
  return "";
}

absl::StatusOr<v1::SubmitGridResponse> Scheduler::Submit(const v1::SubmitGridRequest& request) {
  std::lock_guard<std::mutex> admin(admin_mu_);
  std::vector<std::string> keys, errors;
  if (std::string too_big = ValidateSubmission(request, &keys, &errors); !too_big.empty())
    return absl::ResourceExhaustedError(too_big);
  v1::SubmitGridResponse response;
  response.set_trials(request.trials_size());
  if (request.dry_run()) {
    for (auto& e : errors) response.add_errors(e);
    return response;
  }
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));

  store::NewGrid grid;
  grid.engine_version = spec::kEngineVersion;
  grid.name = request.name();
  grid.factors.assign(request.factors().begin(), request.factors().end());
  grid.cells = request.cells();
  grid.created_ms = clock_->NowMs();
  for (int i = 0; i < request.trials_size(); ++i) {
    const auto& t = request.trials(i);
    grid.trials.push_back({t.spec(), keys[i], spec::SpecKey(t.spec()), t.cell(), t.seed_rank(),
                           {t.values().begin(), t.values().end()}});
  }
  auto created = store_->CreateGrid(grid);
  if (!created.ok()) return created.status();
  response.set_grid_id(created->grid_id);
  for (const auto& [version, count] : created->earlier) {
    v1::EngineResults* earlier = response.add_earlier();
    earlier->set_engine_version(version);
    earlier->set_trials(count);
  }

  // Trials that were FAILED or CANCELLED went back to PENDING: read their attempt.
  std::map<int64_t, store::TrialRow> revived;
  for (size_t i = 0; i < created->trial_ids.size(); ++i) {
    const auto prior = created->prior_state[i];
    if (prior == v1::TRIAL_STATE_FAILED || prior == v1::TRIAL_STATE_CANCELLED) {
      // Unreadable now: the trial starts from attempt 0 in memory, the store refuses
      // that lease, and Reconcile reads the real attempt.
      auto row = store_->GetTrial(created->trial_ids[i]);
      if (row.ok()) revived[row->id] = *row;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < created->trial_ids.size(); ++i) {
    const int64_t id = created->trial_ids[i];
    const auto prior = created->prior_state[i];
    const Member member{created->grid_id, grid.trials[i].cell, grid.trials[i].seed_rank};
    if (prior == v1::TRIAL_STATE_SUCCEEDED || prior == v1::TRIAL_STATE_DIVERGED) {
      response.set_reused(response.reused() + 1);
      continue;
    }
    if (prior == v1::TRIAL_STATE_PENDING || prior == v1::TRIAL_STATE_LEASED)
      response.set_shared(response.shared() + 1);
    auto it = trials_.find(id);
    if (it == trials_.end()) {
      Live t;
      t.id = id;
      t.key = grid.trials[i].key;
      t.spec = std::make_shared<const v1::TrialSpec>(grid.trials[i].spec);
      if (auto r = revived.find(id); r != revived.end()) {
        t.attempt = r->second.attempt;
        t.failures = r->second.failures;
      }
      it = trials_.emplace(id, std::move(t)).first;
      it->second.members.push_back(member);
      Enqueue(it->second);
    } else {
      it->second.members.push_back(member);
      if (it->second.state == v1::TRIAL_STATE_PENDING) Enqueue(it->second);  // may move up
    }
  }
  Bump();
  return response;
}

absl::StatusOr<v1::Grid> Scheduler::ToGrid(const store::GridRow& row) {
  auto progress = store_->GetProgress(row.id);
  if (!progress.ok()) return progress.status();
  v1::Grid g;
  g.set_id(row.id);
  g.set_name(row.name);
  for (const auto& f : row.factors) g.add_factors(f);
  g.set_cells(row.cells);
  g.set_trials(row.trials);
  *g.mutable_counts() = progress->counts;
  g.set_created_ms(row.created_ms);
  g.set_epochs_total(progress->epochs_total);
  g.set_epochs_done(progress->epochs_done);
  const auto& c = progress->counts;
  if (row.cancelled) {
    g.set_state(v1::GRID_STATE_CANCELLED);
  } else {
    g.set_state(c.pending() + c.leased() > 0 ? v1::GRID_STATE_RUNNING : v1::GRID_STATE_DONE);
  }
  return g;
}

absl::StatusOr<v1::Grid> Scheduler::GetGrid(const std::string& ref) {
  if (ref.empty()) return absl::InvalidArgumentError("grid: give a grid id or name");
  auto row = store_->FindGrid(ref);
  if (!row.ok()) return row.status();
  auto grid = ToGrid(*row);
  if (!grid.ok()) return grid;
  auto engines = store_->ListGridEngines(row->id);
  if (!engines.ok()) return engines.status();
  for (auto& e : *engines) *grid->add_engines() = std::move(e);
  return grid;
}

absl::StatusOr<std::vector<v1::Grid>> Scheduler::ListGrids(int limit) {
  if (limit < 0) return absl::InvalidArgumentError(absl::StrCat("limit: must be >= 0, got ", limit));
  auto rows = store_->ListGrids(limit == 0 ? 100 : limit);
  if (!rows.ok()) return rows.status();
  std::vector<v1::Grid> grids;
  for (const auto& r : *rows) {
    auto g = ToGrid(r);
    if (!g.ok()) return g.status();
    grids.push_back(*std::move(g));
  }
  return grids;
}

absl::StatusOr<std::vector<v1::WorkerInfo>> Scheduler::ListWorkers() { return store_->ListWorkers(); }

absl::StatusOr<v1::Grid> Scheduler::CancelGrid(const std::string& ref) {
  if (ref.empty()) return absl::InvalidArgumentError("grid: give a grid id or name");
  std::lock_guard<std::mutex> admin(admin_mu_);
  auto row = store_->FindGrid(ref);
  if (!row.ok()) return row.status();
  auto progress = store_->GetProgress(row->id);
  if (!progress.ok()) return progress.status();
  if (row->cancelled || progress->counts.pending() + progress->counts.leased() == 0) return ToGrid(*row);
  if (auto s = store_->SetGridCancelled(row->id); !s.ok()) return s;
  row->cancelled = true;
  std::vector<int64_t> pending;
  std::vector<std::pair<int64_t, int>> leased;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_grids_.insert(row->id);
    for (auto& [id, t] : trials_) {
      bool in_grid = false, wanted_elsewhere = false;
      for (const Member& m : t.members) {
        if (m.grid_id == row->id) in_grid = true;
        else if (!cancelled_grids_.count(m.grid_id)) wanted_elsewhere = true;
      }
      if (!in_grid) continue;
      if (wanted_elsewhere) {
        if (t.state == v1::TRIAL_STATE_PENDING) Enqueue(t);  // its order may change
        continue;
      }
      if (t.state == v1::TRIAL_STATE_PENDING) pending.push_back(id);
      else leased.push_back({id, t.attempt});
    }
    Bump();
  }
  std::vector<int64_t> finished = pending;
  if (!pending.empty()) {
    if (auto s = store_->CancelPending(pending); !s.ok()) return s;
    // A trial leased meanwhile was skipped by the store and simply runs to its end.
    std::lock_guard<std::mutex> lock(mu_);
    for (int64_t id : pending) {
      auto it = trials_.find(id);
      if (it != trials_.end() && it->second.state == v1::TRIAL_STATE_PENDING) Forget(id);
    }
    Bump();
  }
  for (const auto& [id, attempt] : leased) {
    store::AttemptEnd end{id, attempt, v1::TRIAL_STATE_CANCELLED, std::nullopt, "grid cancelled", false,
                          clock_->NowMs()};
    if (EndAttempt(id, attempt, v1::TRIAL_STATE_LEASED, end).ok()) finished.push_back(id);
  }
  Notify(finished);
  return ToGrid(*row);
}

absl::StatusOr<v1::LeaseTrialsResponse> Scheduler::Lease(const v1::LeaseTrialsRequest& request) {
  if (request.worker_id().empty()) return absl::InvalidArgumentError("worker_id: empty");
  if (request.worker_id().size() > kMaxNameBytes)
    return absl::InvalidArgumentError(absl::StrCat("worker_id: at most ", kMaxNameBytes, " bytes"));
  if (request.hostname().size() > kMaxNameBytes)
    return absl::InvalidArgumentError(absl::StrCat("hostname: at most ", kMaxNameBytes, " bytes"));
  if (request.threads() < 0 || request.threads() > 65536)
    return absl::InvalidArgumentError(absl::StrCat("threads: must be in 0..65536, got ", request.threads()));
  if (request.max_trials() < 1 || request.max_trials() > 1024)
    return absl::InvalidArgumentError(absl::StrCat("max_trials: must be in 1..1024, got ", request.max_trials()));
  if (request.max_groups() < 0 || request.max_groups() > 1024)
    return absl::InvalidArgumentError(absl::StrCat("max_groups: must be in 0..1024, got ", request.max_groups()));
  if (request.engine_version() != spec::kEngineVersion)
    return absl::FailedPreconditionError(absl::StrCat(
        spec::kEngineVersionRefusal, "this coordinator files results under engine version ", spec::kEngineVersion,
        " and leases only to workers of the same; worker ", Echo(request.worker_id()), " has ",
        request.engine_version() == 0 ? std::string("none (an older actgrid)")
                                      : absl::StrCat("version ", request.engine_version()),
        ": run the same actgrid release on both"));
  ExpireLeases();
  const int64_t now = clock_->NowMs();
  v1::WorkerInfo info;
  info.set_worker_id(request.worker_id());
  info.set_hostname(request.hostname());
  info.set_threads(request.threads());
  info.set_last_seen_ms(now);
  if (auto s = store_->TouchWorker(info); !s.ok()) return s;

  std::vector<store::LeaseGrant> grants;
  std::vector<Live*> chosen;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // With max_groups, trials of a group not chosen yet are skipped once that many
    // groups are; the scan stops after a bounded number of skips.
    std::set<std::string> groups;
    int skipped = 0;
    for (auto next = pending_.begin(); int(grants.size()) < request.max_trials() && next != pending_.end();) {
      const int64_t id = std::get<3>(*next);
      Live& t = trials_.at(id);
      if (request.max_groups() > 0) {
        if (t.group.empty())
          t.group = t.spec && spec::Packable(*t.spec) ? "p" + spec::PackKey(*t.spec) : absl::StrCat("t", t.id);
        if (!groups.count(t.group)) {
          if (int(groups.size()) == request.max_groups()) {
            if (++skipped > kMaxGroupSkips) break;
            ++next;
            continue;
          }
          groups.insert(t.group);
        }
      }
      next = pending_.erase(next);
      t.state = v1::TRIAL_STATE_LEASED;  // tentative until the store commits
      ++t.attempt;
      t.worker_id = request.worker_id();
      t.deadline_ms = now + options_.lease_ms;
      t.secret = NewLeaseSecret();
      leased_.insert(id);
      grants.push_back({id, t.attempt, t.worker_id, t.deadline_ms, t.secret});
    }
  }
  v1::LeaseTrialsResponse response;
  response.set_lease_ms(int32_t(options_.lease_ms));
  if (grants.empty()) {
    response.set_retry_after_ms(options_.retry_after_ms);
    return response;
  }
  auto applied = store_->Lease(grants, now);
  std::vector<int64_t> conflicts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < grants.size(); ++i) {
      auto it = trials_.find(grants[i].trial_id);
      if (it == trials_.end()) continue;
      Live& t = it->second;
      if (!applied.ok()) {  // nothing committed: put everything back
        --t.attempt;
        Enqueue(t);
        continue;
      }
      if (!(*applied)[i]) {
        conflicts.push_back(t.id);
        continue;
      }
      // The store granted exactly this attempt: memory follows it, whatever a
      // concurrent Reconcile made of the trial meanwhile.
      pending_.erase(t.order);
      t.state = v1::TRIAL_STATE_LEASED;
      t.attempt = grants[i].attempt;
      t.worker_id = grants[i].worker_id;
      t.deadline_ms = grants[i].deadline_ms;
      t.secret = grants[i].lease_secret;
      leased_.insert(t.id);
      v1::Lease* lease = response.add_leases();
      lease->set_trial_id(t.id);
      lease->set_trial_key(t.key);
      lease->set_attempt(grants[i].attempt);
      *lease->mutable_spec() = *t.spec;
      lease->set_deadline_ms(grants[i].deadline_ms);
      lease->set_lease_secret(grants[i].lease_secret);
    }
    Bump();
  }
  if (!applied.ok()) return applied.status();
  for (int64_t id : conflicts) Reconcile(id);
  if (response.leases_size() == 0) response.set_retry_after_ms(options_.retry_after_ms);
  return response;
}

absl::StatusOr<v1::ReportAck> Scheduler::Report(const v1::ReportBatch& batch) {
  if (batch.worker_id().empty()) return absl::InvalidArgumentError("worker_id: empty");
  if (batch.worker_id().size() > kMaxNameBytes)
    return absl::InvalidArgumentError(absl::StrCat("worker_id: at most ", kMaxNameBytes, " bytes"));
  std::vector<store::EpochRow> rows;
  rows.reserve(batch.epochs_size());
  for (int i = 0; i < batch.epochs_size(); ++i) {
    const auto& e = batch.epochs(i);
    if (e.trial_id() <= 0 || e.attempt() <= 0 || e.metrics().epoch() < 0 || e.metrics().epoch() > 1'000'000)
      return absl::InvalidArgumentError(absl::StrCat("epochs[", i, "]: needs trial_id > 0, attempt > 0 and ",
                                                     "an epoch in 0..1000000"));
    if (e.metrics().layers_size() > kMaxLayers)
      return absl::InvalidArgumentError(
          absl::StrCat("epochs[", i, "].metrics.layers: at most ", kMaxLayers, " layers, got ", e.metrics().layers_size()));
    store::EpochRow& row = rows.emplace_back();
    row.trial_id = e.trial_id();
    row.attempt = e.attempt();
    row.metrics_of_report = &e.metrics();
    // Only the lease's holder, quoting its secret, may report for it; the store checks
    // (inside the transaction that would write) and refuses other epochs than the spec's.
    row.holder = {&batch.worker_id(), &e.lease_secret()};
  }
  std::vector<store::Renewal> renewals;
  for (const auto& h : batch.heartbeats())
    renewals.push_back({h.trial_id(), h.attempt(), {&batch.worker_id(), &h.lease_secret()}});
  const int64_t deadline = clock_->NowMs() + options_.lease_ms;
  auto verdicts = store_->AppendEpochs(rows, renewals, deadline);
  if (!verdicts.ok()) {
    std::vector<std::pair<int64_t, int>> alive;
    for (const auto& e : batch.epochs()) alive.emplace_back(e.trial_id(), e.attempt());
    for (const auto& h : batch.heartbeats()) alive.emplace_back(h.trial_id(), h.attempt());
    return StoreFull(verdicts.status(), alive);
  }
  StoreWrote();
  v1::ReportAck ack;
  ack.set_sequence(batch.sequence());
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& v : *verdicts) {
    auto* out = ack.add_verdicts();
    out->set_trial_id(v.trial_id);
    out->set_verdict(v.verdict);
    if (v.verdict != v1::REPORT_VERDICT_ACCEPTED) continue;
    out->set_deadline_ms(deadline);
    auto it = trials_.find(v.trial_id);
    if (it != trials_.end() && it->second.state == v1::TRIAL_STATE_LEASED)
      it->second.deadline_ms = std::max(it->second.deadline_ms, deadline);
  }
  if (!rows.empty()) Bump();
  return ack;
}

absl::Status Scheduler::StoreFull(const absl::Status& status, const std::vector<std::pair<int64_t, int>>& alive) {
  if (!absl::IsResourceExhausted(status)) return status;
  const int64_t now = clock_->NowMs();
  const int64_t deadline = now + options_.lease_ms;
  bool first = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_full_ms_ = now;
    for (const auto& [id, attempt] : alive) {
      auto it = trials_.find(id);
      if (it != trials_.end() && it->second.state == v1::TRIAL_STATE_LEASED && it->second.attempt == attempt)
        it->second.deadline_ms = std::max(it->second.deadline_ms, deadline);
    }
    first = !store_full_;
    store_full_ = true;
  }
  if (first && options_.log)
    options_.log(absl::StrCat(status.message(), "; workers keep their reports and retry, and their leases stay "
                                                "alive until there is room again"));
  return absl::ResourceExhaustedError(absl::StrCat(
      "the coordinator cannot store this now (", status.message(),
      "); keep it and retry: no lease expires meanwhile"));
}

void Scheduler::StoreWrote() {
  if (!store_full_.load(std::memory_order_relaxed)) return;  // the usual case, without the lock
  bool was_full = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Small writes may fit while large ones do not: room is back only once no write
    // has been refused for a while.
    if (!store_full_ || clock_->NowMs() - last_full_ms_ < kFullDatabaseGraceMs) return;
    was_full = true;
    store_full_ = false;
  }
  if (was_full && options_.log) options_.log("the database has room again: reports are stored");
}

absl::Status Scheduler::EndAttempt(int64_t id, int attempt, v1::TrialState from, store::AttemptEnd end) {
  if (auto s = CheckTransition(from, end.to); !s.ok()) return s;
  absl::Status s = store_->EndAttempt(end);
  if (!s.ok()) {
    if (absl::IsFailedPrecondition(s)) Reconcile(id);
    return StoreFull(s, {{id, attempt}});
  }
  StoreWrote();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = trials_.find(id);
  if (it != trials_.end() && it->second.attempt == attempt) {
    Live& t = it->second;
    if (end.counts_as_failure) ++t.failures;
    if (end.to == v1::TRIAL_STATE_FAILED) NoteFailure(t, end.error);
    if (end.to == v1::TRIAL_STATE_PENDING) {
      Enqueue(t);
    } else {
      Forget(id);
    }
  }
  Bump();
  return absl::OkStatus();
}

int Scheduler::HolderFailures(int64_t id, int attempt, const std::string& worker_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = trials_.find(id);
  if (it == trials_.end() || it->second.state != v1::TRIAL_STATE_LEASED || it->second.attempt != attempt ||
      it->second.worker_id != worker_id)
    return -1;
  return it->second.failures;
}

absl::Status Scheduler::StaleError(int64_t id, int attempt) {
  auto row = store_->GetTrial(id);
  if (!row.ok()) return row.status();
  if (row->state == v1::TRIAL_STATE_LEASED && row->attempt == attempt)
    return absl::FailedPreconditionError(absl::StrCat("trial ", row->id, " attempt ", attempt,
                                                      ": not this worker's lease, or the wrong lease secret; "
                                                      "nothing changes"));
  return absl::FailedPreconditionError(absl::StrCat("trial ", row->id, " is ", StateName(row->state),
                                                    " at attempt ", row->attempt, "; attempt ", attempt,
                                                    " is stale"));
}

absl::Status Scheduler::Complete(const v1::CompleteTrialRequest& request) {
  const auto outcome = request.summary().outcome();
  if (outcome != v1::TRIAL_OUTCOME_SUCCEEDED && outcome != v1::TRIAL_OUTCOME_DIVERGED)
    return absl::InvalidArgumentError("summary.outcome: must be SUCCEEDED or DIVERGED");
  const int failures =
      HolderFailures(request.trial_id(), request.attempt(), request.worker_id());
  if (failures < 0) return StaleError(request.trial_id(), request.attempt());
  std::shared_ptr<const v1::TrialSpec> spec;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = trials_.find(request.trial_id());
    if (it != trials_.end()) spec = it->second.spec;
  }
  if (!spec) return StaleError(request.trial_id(), request.attempt());  // ended meanwhile
  const int last = request.summary().epochs_run();
  if (last < 0 || last > spec->train().epochs())
    return RefuseCompletion(request, failures, absl::StrCat("epochs_run ", last, " is outside the spec's 0..",
                                                            spec->train().epochs()));
  store::AttemptEnd end{request.trial_id(), request.attempt(), StateOfOutcome(outcome), request.summary(),
                        "", false, clock_->NowMs()};
  end.holder = {&request.worker_id(), &request.lease_secret()};
  std::string refused;  // set when the store's copy of the curve does not bear the summary out
  end.verify = [&](const std::vector<v1::EpochMetrics>& epochs, v1::TrialSummary* summary) -> absl::Status {
    absl::StatusOr<v1::TrialSummary> verified = VerifiedSummary(*spec, *summary, epochs, request.build());
    if (!verified.ok()) {
      refused = std::string(verified.status().message());
      return verified.status();
    }
    *summary = *std::move(verified);
    return absl::OkStatus();
  };
  absl::Status s = EndAttempt(request.trial_id(), request.attempt(), v1::TRIAL_STATE_LEASED, end);
  if (!s.ok() && !refused.empty()) return RefuseCompletion(request, failures, refused);
  if (s.ok()) Notify({request.trial_id()});
  return s;
}

absl::Status Scheduler::RefuseCompletion(const v1::CompleteTrialRequest& request, int failures,
                                         const std::string& why) {
  const std::string message =
      absl::StrCat("completion of trial ", request.trial_id(), " attempt ", request.attempt(), " by worker ",
                   Echo(request.worker_id()), " refused: ", why);
  if (options_.log) options_.log(message);
  store::AttemptEnd end{request.trial_id(), request.attempt(), v1::TRIAL_STATE_PENDING, std::nullopt,
                        message, true, clock_->NowMs()};
  if (failures + 1 >= options_.max_attempts) {
    end.to = v1::TRIAL_STATE_FAILED;
    end.error += absl::StrCat(" (after ", failures + 1, " attempts)");
  }
  absl::Status s = EndAttempt(request.trial_id(), request.attempt(), v1::TRIAL_STATE_LEASED, end);
  if (s.ok() && end.to == v1::TRIAL_STATE_FAILED) Notify({request.trial_id()});
  if (!s.ok() && !absl::IsFailedPrecondition(s)) return s;
  return absl::FailedPreconditionError(message);
}

absl::Status Scheduler::Fail(const v1::FailTrialRequest& request) {
  const int failures =
      HolderFailures(request.trial_id(), request.attempt(), request.worker_id());
  if (failures < 0) return StaleError(request.trial_id(), request.attempt());
  // A worker's error text is kept as the trial's last error: bounded, not refused.
  std::string error = request.error().substr(0, kMaxErrorBytes);
  if (request.error().size() > kMaxErrorBytes) error += " ... (cut)";
  store::AttemptEnd end{request.trial_id(), request.attempt(), v1::TRIAL_STATE_PENDING, std::nullopt,
                        error, !request.release(), clock_->NowMs()};
  end.holder = {&request.worker_id(), &request.lease_secret()};
  if (!request.release() && (request.permanent() || failures + 1 >= options_.max_attempts)) {
    end.to = v1::TRIAL_STATE_FAILED;
    if (!request.permanent())
      end.error = absl::StrCat(error, " (after ", failures + 1, " attempts)");
  }
  absl::Status s = EndAttempt(request.trial_id(), request.attempt(), v1::TRIAL_STATE_LEASED, end);
  if (s.ok() && end.to == v1::TRIAL_STATE_FAILED) Notify({request.trial_id()});
  return s;
}

int Scheduler::ExpireLeases() {
  std::lock_guard<std::mutex> expiry(expiry_mu_);
  const int64_t now = clock_->NowMs();
  struct Due {
    int64_t id;
    int attempt, failures;
    std::string worker;
  };
  std::vector<Due> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // While the database refuses writes for want of room, workers hold on to their
    // reports and retry (with a backoff of up to a few seconds): a silent lease then is
    // the coordinator's doing, so none expires until well after the last refusal.
    if (last_full_ms_ > 0 && now < last_full_ms_ + options_.lease_ms + kFullDatabaseGraceMs) return 0;
    for (int64_t id : leased_) {
      const Live& t = trials_.at(id);
      if (t.deadline_ms < now) due.push_back({id, t.attempt, t.failures, t.worker_id});
    }
  }
  int expired = 0;
  std::vector<int64_t> finished;
  for (const Due& d : due) {
    store::AttemptEnd end{d.id, d.attempt, v1::TRIAL_STATE_PENDING, std::nullopt,
                          absl::StrCat("lease expired: worker ", d.worker, " stopped reporting (attempt ",
                                       d.attempt, ")"),
                          true, now};
    if (d.failures + 1 >= options_.max_attempts) {
      end.to = v1::TRIAL_STATE_FAILED;
      end.error += absl::StrCat("; gave up after ", d.failures + 1, " attempts");
    }
    if (EndAttempt(d.id, d.attempt, v1::TRIAL_STATE_LEASED, end).ok()) {
      ++expired;
      if (end.to == v1::TRIAL_STATE_FAILED) finished.push_back(d.id);
    }
  }
  Notify(finished);
  return expired;
}

void Scheduler::Reconcile(int64_t trial_id) {
  auto row = store_->GetTrial(trial_id);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = trials_.find(trial_id);
  if (it == trials_.end()) return;
  if (!row.ok() && !absl::IsNotFound(row.status())) {
    // The store could not be read: keep what memory says; expiry or the next refused
    // write reconciles again.
  } else if (!row.ok() || IsTerminal(row->state)) {
    Forget(trial_id);
  } else if (row->attempt < it->second.attempt) {
    // Read before a newer lease that memory already follows: keep memory.
  } else {
    Live& t = it->second;
    t.attempt = row->attempt;
    t.failures = row->failures;
    t.worker_id = row->worker_id;
    t.secret = row->lease_secret;
    if (row->state == v1::TRIAL_STATE_PENDING) {
      Enqueue(t);
    } else {
      pending_.erase(t.order);
      t.state = v1::TRIAL_STATE_LEASED;
      t.deadline_ms = row->deadline_ms;
      leased_.insert(trial_id);
    }
  }
  Bump();
}

uint64_t Scheduler::version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return version_;
}

uint64_t Scheduler::WaitForChange(uint64_t seen, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait_for(lock, timeout, [&] { return version_ != seen; });
  return version_;
}

std::vector<std::string> Scheduler::FailuresSince(int64_t grid_id, uint64_t* cursor) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const Failure& f : failures_) {
    if (f.seq <= *cursor) continue;
    if (std::find(f.grids.begin(), f.grids.end(), grid_id) != f.grids.end()) out.push_back(f.error);
  }
  *cursor = failure_seq_;
  return out;
}

}  // namespace actgrid::scheduler
