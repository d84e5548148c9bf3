// The table of settable fields and the typed parsing of their values (fields.h).
#include "common/spec/fields.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/spec/echo.h"
#include "common/spec/names.h"
#include "common/spec/suggest.h"

namespace actgrid::spec {
namespace {

absl::Status Problem(std::string message) { return absl::InvalidArgumentError(std::move(message)); }

// ---- numbers -------------------------------------------------------------

// Any double the text spells, YAML's .inf/.nan included; nullopt when it is not one.
std::optional<double> ParseDouble(absl::string_view text) {
  std::string s(absl::StripAsciiWhitespace(text));
  const std::string lower = absl::AsciiStrToLower(s);
  if (lower == ".inf" || lower == "+.inf") return std::numeric_limits<double>::infinity();
  if (lower == "-.inf") return -std::numeric_limits<double>::infinity();
  if (lower == ".nan") return std::numeric_limits<double>::quiet_NaN();
  if (s.empty() || lower.find('x') != std::string::npos) return std::nullopt;  // no hex floats
  char* end = nullptr;
  const double value = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return value;
}

// A plain decimal integer, or a number whose value is integral ("1e6", "2.0").
std::optional<int64_t> ParseInt64(absl::string_view text) {
  std::string s(absl::StripAsciiWhitespace(text));
  if (s.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(s.c_str(), &end, 10);
  if (end == s.c_str() + s.size()) {
    if (errno == ERANGE) return std::nullopt;
    return value;
  }
  const std::optional<double> d = ParseDouble(s);
  if (!d || !std::isfinite(*d) || std::trunc(*d) != *d) return std::nullopt;
  if (*d < -9.2e18 || *d > 9.2e18) return std::nullopt;
  return static_cast<int64_t>(*d);
}

std::optional<uint64_t> ParseUint64(absl::string_view text) {
  std::string s(absl::StripAsciiWhitespace(text));
  if (s.empty() || s[0] == '-') {
    const std::optional<int64_t> i = ParseInt64(s);
    if (i && *i == 0) return 0;  // "-0"
    return std::nullopt;
  }
  errno = 0;
  char* end = nullptr;
  const unsigned long long value = std::strtoull(s.c_str(), &end, 10);
  if (end == s.c_str() + s.size()) {
    if (errno == ERANGE) return std::nullopt;
    return value;
  }
  const std::optional<int64_t> i = ParseInt64(s);
  if (!i || *i < 0) return std::nullopt;
  return static_cast<uint64_t>(*i);
}

bool IsScalar(const Value& node) { return node.kind == Value::kScalar; }

absl::StatusOr<double> ParseNumberNode(const Value& node) {
  if (!IsScalar(node)) return Problem("expected a number, got " + Describe(node));
  const std::optional<double> d = ParseDouble(node.text);
  if (!d) return Problem("expected a number, got " + Describe(node));
  if (!std::isfinite(*d)) return Problem("expected a finite number, got " + Describe(node));
  return *d;
}

// ---- the activation / init call syntax -------------------------------------

struct Argument {
  std::string key;  // empty for a positional argument
  std::string value;
};

struct Call {
  std::string name;
  std::vector<Argument> args;
};

absl::Status Unbalanced(absl::string_view text) {
  return Problem(absl::StrCat("unbalanced parentheses in ", Quoted(text),
                              " (quote values with commas inside a [...] list)"));
}

absl::StatusOr<Call> SplitCall(absl::string_view raw) {
  const absl::string_view text = absl::StripAsciiWhitespace(raw);
  Call call;
  const size_t open = text.find('(');
  if (open == absl::string_view::npos) {
    if (text.find(')') != absl::string_view::npos) return Unbalanced(text);
    call.name = std::string(text);
    return call;
  }
  if (text.back() != ')') return Unbalanced(text);
  call.name = std::string(absl::StripAsciiWhitespace(text.substr(0, open)));
  const absl::string_view inner = text.substr(open + 1, text.size() - open - 2);
  if (inner.find_first_of("()") != absl::string_view::npos) return Unbalanced(text);
  if (absl::StripAsciiWhitespace(inner).empty()) return call;
  for (absl::string_view part : absl::StrSplit(inner, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (part.empty()) return Problem(absl::StrCat("empty parameter in ", Quoted(text)));
    Argument arg;
    const size_t eq = part.find('=');
    if (eq == absl::string_view::npos) {
      arg.value = std::string(part);
    } else {
      arg.key = std::string(absl::StripAsciiWhitespace(part.substr(0, eq)));
      arg.value = std::string(absl::StripAsciiWhitespace(part.substr(eq + 1)));
      if (arg.key.empty()) return Problem(absl::StrCat("parameter without a name in ", Quoted(text)));
    }
    call.args.push_back(std::move(arg));
  }
  return call;
}

std::vector<std::string> ParamNames(const std::vector<ParamInfo>& params) {
  std::vector<std::string> names;
  for (const auto& p : params) names.push_back(p.name);
  return names;
}

std::string TakesText(const char* name, const std::vector<ParamInfo>& params) {
  if (params.empty()) return absl::StrCat(name, " takes no parameters");
  return absl::StrCat(name, " takes ", params.size(), params.size() == 1 ? " parameter (" : " parameters (",
                      absl::StrJoin(ParamNames(params), ", "), ")");
}

// Which parameter an argument sets, by position or by name.
absl::StatusOr<size_t> ArgumentIndex(const char* name, const std::vector<ParamInfo>& params,
                                     const Argument& arg, size_t position, bool named_seen) {
  if (arg.key.empty()) {
    if (named_seen) return Problem(absl::StrCat(name, ": positional parameter after named ones"));
    return position;
  }
  for (size_t i = 0; i < params.size(); ++i)
    if (arg.key == params[i].name) return i;
  if (params.empty()) return Problem(TakesText(name, params) + absl::StrCat(", got ", Quoted(arg.key)));
  std::string message = absl::StrCat(name, " has no parameter ", Quoted(arg.key));
  const std::string best = Suggest(arg.key, ParamNames(params));
  if (!best.empty()) return Problem(absl::StrCat(message, "; did you mean \"", best, "\"?"));
  return Problem(absl::StrCat(message, "; its parameters: ", absl::StrJoin(ParamNames(params), ", ")));
}

// Every parameter of `name`, from the call's arguments or the registry defaults.
absl::StatusOr<std::vector<double>> ResolveParams(const char* name,
                                                  const std::vector<ParamInfo>& params,
                                                  const Call& call) {
  std::vector<double> values;
  for (const auto& p : params) values.push_back(p.default_value);
  if (call.args.size() > params.size())
    return Problem(TakesText(name, params) + absl::StrCat(", got ", call.args.size()));
  std::vector<bool> given(params.size(), false);
  bool named_seen = false;
  for (size_t a = 0; a < call.args.size(); ++a) {
    const Argument& arg = call.args[a];
    absl::StatusOr<size_t> index = ArgumentIndex(name, params, arg, a, named_seen);
    if (!index.ok()) return index.status();
    named_seen = named_seen || !arg.key.empty();
    const char* param = params[*index].name;
    if (given[*index]) return Problem(absl::StrCat(name, ": parameter ", param, " given twice"));
    given[*index] = true;
    const std::optional<double> d = ParseDouble(arg.value);
    if (!d || !std::isfinite(*d))
      return Problem(absl::StrCat(name, " parameter ", param, ": expected a finite number, got ",
                                  Quoted(arg.value)));
    values[*index] = *d;
  }
  return values;
}

template <class Info>
std::vector<std::string> InfoNames(const std::vector<Info>& table) {
  std::vector<std::string> names;
  for (const auto& info : table) names.push_back(info.name);
  return names;
}

// ---- enum names ------------------------------------------------------------

std::vector<std::string> EnumNames(const std::vector<EnumName>& table) {
  std::vector<std::string> names;
  for (const auto& e : table) names.push_back(e.name);
  return names;
}

const std::vector<EnumName>* EnumTable(FieldType type) {
  switch (type) {
    case FieldType::kDatasetName: return &DatasetKindNames();
    case FieldType::kScaling: return &ScalingNames();
    case FieldType::kOptimizer: return &OptimizerNames();
    default: return nullptr;
  }
}

const char* EnumWhat(FieldType type) {
  switch (type) {
    case FieldType::kDatasetName: return "dataset";
    case FieldType::kScaling: return "scaling";
    default: return "optimizer";
  }
}

// ---- per-type value parsers --------------------------------------------------

absl::StatusOr<FieldValue> ParseInt32Value(const Value& node) {
  absl::StatusOr<int64_t> i = ParseInteger(node);
  if (!i.ok()) return i.status();
  if (*i < std::numeric_limits<int32_t>::min() || *i > std::numeric_limits<int32_t>::max())
    return Problem("expected a 32-bit integer, got " + Describe(node));
  FieldValue v;
  v.integer = *i;
  v.label = std::to_string(*i);
  return v;
}

absl::StatusOr<FieldValue> ParseUint64Value(const Value& node) {
  absl::StatusOr<uint64_t> u = ParseUnsigned(node);
  if (!u.ok()) return u.status();
  FieldValue v;
  v.unsigned_integer = *u;
  v.label = std::to_string(*u);
  return v;
}

absl::StatusOr<FieldValue> ParseNumberValue(const Value& node) {
  absl::StatusOr<double> d = ParseNumberNode(node);
  if (!d.ok()) return d.status();
  FieldValue v;
  v.number = *d;
  v.label = FormatNumber(*d);
  return v;
}

absl::StatusOr<FieldValue> ParseStringValue(const Value& node, bool label_column) {
  if (node.kind != Value::kNull && !IsScalar(node)) return Problem("expected a string, got " + Describe(node));
  FieldValue v;
  if (IsScalar(node)) v.text = node.text;
  const bool plain = !node.quoted;
  if (label_column && plain) {
    if (const std::optional<int64_t> i = ParseInt64(v.text)) v.text = std::to_string(*i);
  }
  v.label = v.text.empty() ? "\"\"" : v.text;
  return v;
}

absl::StatusOr<FieldValue> ParseEnumValue(FieldType type, const Value& node) {
  if (!IsScalar(node)) return Problem(absl::StrCat("expected a ", EnumWhat(type), " name, got ", Describe(node)));
  const std::vector<EnumName>& table = *EnumTable(type);
  const int value = ValueOf(table, node.text);
  if (value == 0) return Problem(UnknownNameMessage(EnumWhat(type), node.text, EnumNames(table)));
  FieldValue v;
  v.enum_value = value;
  v.label = node.text;
  return v;
}

absl::StatusOr<FieldValue> ParseActivationValue(const Value& node, const FormulaTable* formulas) {
  if (!IsScalar(node)) return Problem("expected an activation, got " + Describe(node));
  absl::StatusOr<v1::ActivationSpec> spec = ParseActivation(node.text, formulas);
  if (!spec.ok()) return spec.status();
  FieldValue v;
  v.activation = *std::move(spec);
  v.label = ActivationLabel(v.activation);
  return v;
}

// "100x10", "64", or a list of sizes: the label is always "100x10".
absl::StatusOr<FieldValue> ParseHiddenValue(const Value& node) {
  std::vector<std::string> parts;
  if (node.kind == Value::kList) {
    for (const Value& item : node.items) {
      if (!IsScalar(item)) return Problem("expected hidden layer sizes, got " + Describe(node));
      parts.push_back(item.text);
    }
  } else if (IsScalar(node)) {
    parts = absl::StrSplit(node.text, absl::ByAnyChar("xX"));
  } else {
    return Problem("expected hidden layer sizes (\"100x10\" or [100, 10]), got " + Describe(node));
  }
  FieldValue v;
  for (const auto& part : parts) {
    const std::optional<int64_t> size = ParseInt64(std::string(absl::StripAsciiWhitespace(part)));
    if (!size || *size < 1 || *size > 1'000'000)
      return Problem("expected hidden layer sizes as positive integers (\"100x10\" or [100, 10]), got " +
                     Describe(node));
    v.hidden.push_back(int32_t(*size));
  }
  if (v.hidden.empty()) return Problem("expected at least one hidden layer size, got " + Describe(node));
  v.label = absl::StrJoin(v.hidden, "x");
  return v;
}

absl::StatusOr<FieldValue> ParseInitValue(const Value& node) {
  if (!IsScalar(node)) return Problem("expected an init, got " + Describe(node));
  absl::StatusOr<v1::InitSpec> spec = ParseInit(node.text);
  if (!spec.ok()) return spec.status();
  FieldValue v;
  v.init = *std::move(spec);
  v.label = InitLabel(v.init);
  return v;
}

// ---- the field table ---------------------------------------------------------

v1::DatasetSpec* D(v1::TrialSpec* s) { return s->mutable_dataset(); }
v1::TrainSpec* T(v1::TrialSpec* s) { return s->mutable_train(); }
int32_t I32(const FieldValue& v) { return static_cast<int32_t>(v.integer); }

std::vector<Field> MakeFields() {
  using FT = FieldType;
  using V = const FieldValue&;
  using S = v1::TrialSpec*;
  return {
      {"dataset", "name", "dataset.name", FT::kDatasetName,
       [](V v, S s) { D(s)->set_kind(static_cast<v1::DatasetKind>(v.enum_value)); }},
      {"dataset", "samples", "dataset.samples", FT::kInt32, [](V v, S s) { D(s)->set_samples(I32(v)); }},
      {"dataset", "noise", "dataset.noise", FT::kNumber, [](V v, S s) { D(s)->set_noise(v.number); }},
      {"dataset", "test_fraction", "dataset.test_fraction", FT::kNumber,
       [](V v, S s) { D(s)->set_test_fraction(v.number); }},
      {"dataset", "seed", "dataset.seed", FT::kUint64, [](V v, S s) { D(s)->set_seed(v.unsigned_integer); }},
      {"dataset", "scaling", "dataset.scaling", FT::kScaling,
       [](V v, S s) { D(s)->set_scaling(static_cast<v1::Scaling>(v.enum_value)); }},
      {"dataset", "path", "dataset.path", FT::kString, [](V v, S s) { D(s)->set_path(v.text); }},
      {"dataset", "train_limit", "dataset.train_limit", FT::kInt32,
       [](V v, S s) { D(s)->set_train_limit(I32(v)); }},
      {"dataset", "test_limit", "dataset.test_limit", FT::kInt32, [](V v, S s) { D(s)->set_test_limit(I32(v)); }},
      {"dataset", "label_column", "dataset.label_column", FT::kLabelColumn,
       [](V v, S s) { D(s)->set_label_column(v.text); }},
      {"model", "width", "model.width", FT::kInt32, [](V v, S s) { s->mutable_model()->set_width(I32(v)); }},
      {"model", "depth", "depth", FT::kInt32, [](V v, S s) { s->set_depth(I32(v)); }},
      {"model", "hidden", "hidden", FT::kHidden,
       [](V v, S s) {
         // The sizes name the depth and replace the uniform width (ValidateTrialSpec
         // refuses a depth or width that contradicts them).
         s->mutable_model()->clear_hidden();
         for (int32_t size : v.hidden) s->mutable_model()->add_hidden(size);
         s->mutable_model()->set_width(0);
         s->set_depth(int32_t(v.hidden.size()));
       }},
      {"model", "activation", "activation", FT::kActivation,
       [](V v, S s) { *s->mutable_activation() = v.activation; }},
      {"model", "init", "init", FT::kInit, [](V v, S s) { *s->mutable_init() = v.init; }},
      {"model", "bias", "bias", FT::kNumber, [](V v, S s) { s->set_bias(v.number); }},
      {"train", "optimizer", "train.optimizer", FT::kOptimizer,
       [](V v, S s) { T(s)->set_optimizer(static_cast<v1::Optimizer>(v.enum_value)); }},
      {"train", "lr", "train.lr", FT::kNumber, [](V v, S s) { T(s)->set_lr(v.number); }},
      {"train", "batch", "train.batch", FT::kInt32, [](V v, S s) { T(s)->set_batch(I32(v)); }},
      {"train", "epochs", "train.epochs", FT::kInt32, [](V v, S s) { T(s)->set_epochs(I32(v)); }},
      {"train", "l2", "train.l2", FT::kNumber, [](V v, S s) { T(s)->set_l2(v.number); }},
      {"train", "l1_activity", "train.l1_activity", FT::kNumber, [](V v, S s) { T(s)->set_l1_activity(v.number); }},
      {"train", "target_accuracy", "train.target_accuracy", FT::kNumber,
       [](V v, S s) { T(s)->set_target_accuracy(v.number); }},
      {"train", "momentum", "train.momentum", FT::kNumber, [](V v, S s) { T(s)->set_momentum(v.number); }},
      {"train", "beta1", "train.beta1", FT::kNumber, [](V v, S s) { T(s)->set_beta1(v.number); }},
      {"train", "beta2", "train.beta2", FT::kNumber, [](V v, S s) { T(s)->set_beta2(v.number); }},
      {"train", "eps", "train.eps", FT::kNumber, [](V v, S s) { T(s)->set_eps(v.number); }},
  };
}

}  // namespace

const std::vector<Field>& Fields() {
  static const std::vector<Field> fields = MakeFields();
  return fields;
}

std::string FieldPath(const Field& field) { return absl::StrCat(field.section, ".", field.key); }

std::vector<std::string> SectionKeys(absl::string_view section) {
  std::vector<std::string> keys;
  for (const Field& f : Fields())
    if (section == f.section) keys.push_back(f.key);
  return keys;
}

const Field* FindField(absl::string_view section, absl::string_view key) {
  for (const Field& f : Fields())
    if (section == f.section && key == f.key) return &f;
  return nullptr;
}

const Field* FindFactor(absl::string_view path) {
  for (const Field& f : Fields())
    if (path == f.factor || path == FieldPath(f)) return &f;
  return nullptr;
}

std::vector<std::string> FactorNames() {
  std::vector<std::string> names;
  for (const Field& f : Fields())
    if (FieldPath(f) != f.factor) names.push_back(f.factor);
  for (const Field& f : Fields()) names.push_back(FieldPath(f));
  return names;
}

v1::TrialSpec DefaultTrialSpec() {
  v1::TrialSpec spec;
  v1::DatasetSpec* d = spec.mutable_dataset();
  d->set_kind(v1::DATASET_KIND_CIRCLE);
  d->set_samples(1000);
  d->set_noise(0.1);
  d->set_test_fraction(0.5);
  d->set_seed(0);
  d->set_scaling(v1::SCALING_STANDARDIZE);
  spec.mutable_model()->set_width(8);
  spec.set_depth(2);
  *spec.mutable_activation() = DefaultActivation(v1::ACTIVATION_KIND_RELU);
  *spec.mutable_init() = DefaultInit(v1::INIT_KIND_HE_NORMAL);
  spec.set_bias(0.0);
  v1::TrainSpec* t = spec.mutable_train();
  t->set_optimizer(v1::OPTIMIZER_SGD);
  t->set_lr(0.03);
  t->set_batch(10);
  t->set_epochs(100);
  t->set_l2(0);
  t->set_l1_activity(0);
  t->set_target_accuracy(0.9);
  t->set_momentum(0.9);
  t->set_beta1(0.9);
  t->set_beta2(0.999);
  t->set_eps(1e-8);
  return spec;
}

absl::StatusOr<FieldValue> ParseFieldValue(const Field& field, const Value& node, const FormulaTable* formulas) {
  switch (field.type) {
    case FieldType::kInt32: return ParseInt32Value(node);
    case FieldType::kUint64: return ParseUint64Value(node);
    case FieldType::kNumber: return ParseNumberValue(node);
    case FieldType::kString: return ParseStringValue(node, /*label_column=*/false);
    case FieldType::kLabelColumn: return ParseStringValue(node, /*label_column=*/true);
    case FieldType::kDatasetName:
    case FieldType::kScaling:
    case FieldType::kOptimizer: return ParseEnumValue(field.type, node);
    case FieldType::kActivation: return ParseActivationValue(node, formulas);
    case FieldType::kInit: return ParseInitValue(node);
    case FieldType::kHidden: return ParseHiddenValue(node);
  }
  return Problem("unsupported field type");
}

absl::StatusOr<uint64_t> ParseUnsigned(const Value& node) {
  std::optional<uint64_t> u;
  if (IsScalar(node)) u = ParseUint64(node.text);
  if (!u) return Problem("expected an integer >= 0, got " + Describe(node));
  return *u;
}

absl::StatusOr<int64_t> ParseInteger(const Value& node) {
  std::optional<int64_t> i;
  if (IsScalar(node)) i = ParseInt64(node.text);
  if (!i) return Problem("expected an integer, got " + Describe(node));
  return *i;
}

absl::StatusOr<v1::ActivationSpec> ParseActivation(absl::string_view text, const FormulaTable* formulas) {
  absl::StatusOr<Call> call = SplitCall(text);
  if (!call.ok()) return call.status();
  const ActivationInfo* info = FindActivation(call->name);
  if (info == nullptr && formulas != nullptr) {
    for (const v1::ActivationSpec& formula : *formulas) {
      const v1::FormulaSpec& f = formula.formula();
      if (f.name() != call->name) continue;
      std::vector<ParamInfo> params;
      for (int i = 0; i < f.params_size(); ++i)
        params.push_back({f.params(i).c_str(), i < f.defaults_size() ? f.defaults(i) : 0.0});
      absl::StatusOr<std::vector<double>> values = ResolveParams(f.name().c_str(), params, *call);
      if (!values.ok()) return values.status();
      v1::ActivationSpec spec = formula;
      spec.clear_params();
      for (double v : *values) spec.add_params(v);
      return spec;
    }
  }
  if (info == nullptr) {
    std::vector<std::string> names = InfoNames(Activations());
    if (formulas != nullptr)
      for (const v1::ActivationSpec& formula : *formulas) names.push_back(formula.formula().name());
    return Problem(UnknownNameMessage("activation", call->name, names));
  }
  absl::StatusOr<std::vector<double>> params = ResolveParams(info->name, info->params, *call);
  if (!params.ok()) return params.status();
  v1::ActivationSpec spec;
  spec.set_kind(info->kind);
  for (double p : *params) spec.add_params(p);
  return spec;
}

absl::StatusOr<v1::InitSpec> ParseInit(absl::string_view text) {
  absl::StatusOr<Call> call = SplitCall(text);
  if (!call.ok()) return call.status();
  const InitInfo* info = FindInit(call->name);
  if (info == nullptr) return Problem(UnknownNameMessage("init", call->name, InfoNames(Inits())));
  absl::StatusOr<std::vector<double>> params = ResolveParams(info->name, info->params, *call);
  if (!params.ok()) return params.status();
  v1::InitSpec spec;
  spec.set_kind(info->kind);
  for (double p : *params) spec.add_params(p);
  return spec;
}

std::string Describe(const Value& node) {
  switch (node.kind) {
    case Value::kNull: return "null";
    case Value::kList: return "a list";
    case Value::kMap: return "a map";
    case Value::kScalar: break;
  }
  const std::string& s = node.text;
  if (s.size() <= kMaxEchoBytes && !node.quoted && ParseDouble(s)) return EscapeControls(s);
  return Quoted(s);
}

}  // namespace actgrid::spec
