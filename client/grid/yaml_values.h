// The grid file's YAML values as the spec's field parsers see them (common/spec/fields.h):
// a node becomes a spec::Value, and the parsers are called with it.
#ifndef ACTGRID_CLIENT_GRID_YAML_VALUES_H_
#define ACTGRID_CLIENT_GRID_YAML_VALUES_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "common/spec/fields.h"
#include "yaml-cpp/yaml.h"

namespace actgrid::grid {

// A scalar keeps its text and whether it was quoted (yaml-cpp tags quoted scalars "!");
// a list keeps its items one level deep; an undefined node is null.
spec::Value ToValue(const YAML::Node& node);

// spec::ParseFieldValue, ParseUnsigned, ParseInteger and Describe of a YAML node
// (`formulas`: the file's formula activations, which activation values may name).
absl::StatusOr<spec::FieldValue> ParseFieldValue(const spec::Field& field, const YAML::Node& node,
                                                 const spec::FormulaTable* formulas = nullptr);
absl::StatusOr<uint64_t> ParseUnsigned(const YAML::Node& node);
absl::StatusOr<int64_t> ParseInteger(const YAML::Node& node);
std::string Describe(const YAML::Node& node);

}  // namespace actgrid::grid

#endif  // ACTGRID_CLIENT_GRID_YAML_VALUES_H_
