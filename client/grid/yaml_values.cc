// YAML nodes as spec::Values (yaml_values.h).
#include "client/grid/yaml_values.h"

namespace actgrid::grid {
namespace {

spec::Value Shallow(const YAML::Node& node) {
  spec::Value v;
  if (!node.IsDefined() || node.IsNull()) return v;
  if (node.IsSequence()) {
    v.kind = spec::Value::kList;
  } else if (node.IsMap()) {
    v.kind = spec::Value::kMap;
  } else {
    v = spec::Value::Scalar(node.Scalar(), node.Tag() == "!");
  }
  return v;
}

}  // namespace

spec::Value ToValue(const YAML::Node& node) {
  spec::Value v = Shallow(node);
  if (v.kind == spec::Value::kList) {
    v.items.reserve(node.size());
    for (const auto& item : node) v.items.push_back(Shallow(item));
  }
  return v;
}

absl::StatusOr<spec::FieldValue> ParseFieldValue(const spec::Field& field, const YAML::Node& node,
                                                 const spec::FormulaTable* formulas) {
  return spec::ParseFieldValue(field, ToValue(node), formulas);
}

absl::StatusOr<uint64_t> ParseUnsigned(const YAML::Node& node) { return spec::ParseUnsigned(Shallow(node)); }

absl::StatusOr<int64_t> ParseInteger(const YAML::Node& node) { return spec::ParseInteger(Shallow(node)); }

std::string Describe(const YAML::Node& node) { return spec::Describe(Shallow(node)); }

}  // namespace actgrid::grid
