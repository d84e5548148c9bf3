// The fields a grid file may set (by section or by grid factor path) and the parsers
// that turn one value into a typed value: integers, finite numbers, names, and the
// activation/init call syntax "name", "name(1, 2)", "name(key=v, ...)". A value is
// given as a Value (a scalar's text, a list or a map), so that the grid file's YAML
// reader (client/grid) and the coordinator's check of factor labels parse alike.
#ifndef ACTGRID_COMMON_SPEC_FIELDS_H_
#define ACTGRID_COMMON_SPEC_FIELDS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "actgrid/v1/spec.pb.h"

namespace actgrid::spec {

// One value as the parsers see it: a scalar (its text, and whether it was quoted,
// which keeps "1" a string where a plain 1 is a number), a list (its items, one level:
// an item that is itself a list or map keeps its kind only), a map, or null.
struct Value {
  enum Kind { kNull, kScalar, kList, kMap };
  Kind kind = kNull;
  std::string text;
  bool quoted = false;
  std::vector<Value> items;

  static Value Scalar(std::string text, bool quoted = false) {
    Value v;
    v.kind = kScalar;
    v.text = std::move(text);
    v.quoted = quoted;
    return v;
  }
};

enum class FieldType {
  kInt32,        // an integer that fits int32 (range checks are ValidateTrialSpec's)
  kUint64,       // an integer >= 0
  kNumber,       // a finite double
  kString,       // any scalar; null reads as ""
  kLabelColumn,  // a string; a plain YAML integer becomes its decimal string
  kDatasetName,  // DatasetKindNames()
  kScaling,      // ScalingNames()
  kOptimizer,    // OptimizerNames()
  kActivation,   // call syntax over Activations()
  kInit,         // call syntax over Inits()
  kHidden,       // hidden layer sizes: "100x10" (or a YAML list [100, 10]); "64" is one layer
};

// One parsed value, ready to apply to a spec. Only the member(s) of the field's
// type are meaningful; `label` is how tables and cell names show the value.
struct FieldValue {
  int64_t integer = 0;
  uint64_t unsigned_integer = 0;
  double number = 0;
  int enum_value = 0;
  std::string text;
  v1::ActivationSpec activation;
  v1::InitSpec init;
  std::vector<int32_t> hidden;
  std::string label;
};

struct Field {
  const char* section;  // "dataset", "model" or "train"
  const char* key;      // "samples"
  const char* factor;   // canonical grid factor name: "depth", "train.lr"
  FieldType type;
  void (*apply)(const FieldValue& value, v1::TrialSpec* spec);
};

// Every settable scalar field, in file order of sections.
const std::vector<Field>& Fields();
// "model.depth" (the path used in error messages, whatever the factor name).
std::string FieldPath(const Field& field);
// The keys of one section, for suggestions.
std::vector<std::string> SectionKeys(absl::string_view section);
// nullptr when unknown.
const Field* FindField(absl::string_view section, absl::string_view key);
// Accepts a short factor name ("depth") or any dotted path ("model.depth", "train.lr").
const Field* FindFactor(absl::string_view path);
// Every accepted factor spelling, short names first, for suggestions.
std::vector<std::string> FactorNames();

// A spec with every default of the grid file filled in (seed 0; fashion_mnist's
// default path is filled later, once the dataset is known).
v1::TrialSpec DefaultTrialSpec();

// The formula activations a grid file defines (each spec at its definition's values),
// which activation values name like built-ins: "bent", "bent(a=0.5)".
using FormulaTable = std::vector<v1::ActivationSpec>;

// Parses `value` as a value of `field`. The error's message is the problem alone
// ("expected an integer, got 1.5"); the caller prefixes the path.
absl::StatusOr<FieldValue> ParseFieldValue(const Field& field, const Value& value,
                                           const FormulaTable* formulas = nullptr);

// An integer >= 0 (seeds); same error convention.
absl::StatusOr<uint64_t> ParseUnsigned(const Value& value);
// An integer in [INT64_MIN, INT64_MAX]; same error convention.
absl::StatusOr<int64_t> ParseInteger(const Value& value);

// "name(args)" in the registry: every parameter present, defaults filled in.
absl::StatusOr<v1::ActivationSpec> ParseActivation(absl::string_view text, const FormulaTable* formulas = nullptr);
absl::StatusOr<v1::InitSpec> ParseInit(absl::string_view text);

// How an error message shows a value: 1.5, "fast", null, a list, a map.
std::string Describe(const Value& value);

}  // namespace actgrid::spec

#endif  // ACTGRID_COMMON_SPEC_FIELDS_H_
