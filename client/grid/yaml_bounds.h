// The first look at a grid file's YAML: one pass over the parser's events that
// counts aliases, nesting, values and the size the text has once every alias is
// replaced by the value it names. yaml-cpp's nodes share an anchored value among its
// aliases, so any walk of the loaded tree repeats its work per alias; this pass
// bounds that work, and the size of the tree, before the tree is loaded.
#ifndef ACTGRID_CLIENT_GRID_YAML_BOUNDS_H_
#define ACTGRID_CLIENT_GRID_YAML_BOUNDS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace actgrid::grid {

struct YamlBounds {
  int max_aliases = 0;
  int64_t max_expanded_bytes = 0;  // scalar bytes plus one per value, aliases expanded
  int64_t max_values = 0;          // scalars, lists and maps, aliases expanded
  int max_depth = 0;               // lists and maps inside each other
};

// Checks the first document of `text` (the one YAML::Load reads). InvalidArgument
// naming the bound and the line where it was passed; also for an alias used inside
// the value it names (a cycle) and for text that is not YAML.
absl::Status CheckYamlBounds(const std::string& text, const YamlBounds& bounds);

}  // namespace actgrid::grid

#endif  // ACTGRID_CLIENT_GRID_YAML_BOUNDS_H_
