// "Did you mean" help for unknown names in grid files: the nearest valid name by
// edit distance or prefix, and the one-line "unknown X" messages built from it.
#ifndef ACTGRID_CLIENT_GRID_SUGGEST_H_
#define ACTGRID_CLIENT_GRID_SUGGEST_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace actgrid::grid {

// Case-insensitive Levenshtein distance.
int EditDistance(absl::string_view a, absl::string_view b);

// The candidate nearest to `word`: the smallest edit distance when it is <= 2 (and
// smaller than the shorter string, so "ab" never suggests "lr"), else the first
// candidate that `word` is a prefix of or that is a prefix of `word` (>= 2 chars
// shared). Empty when nothing is close.
std::string Suggest(absl::string_view word, const std::vector<std::string>& candidates);

// `unknown <what> "<word>"; did you mean "<best>"?`, or, with nothing close,
// `unknown <what> "<word>"; valid: a, b, c`.
std::string UnknownNameMessage(absl::string_view what, absl::string_view word,
                               const std::vector<std::string>& candidates);

}  // namespace actgrid::grid

#endif  // ACTGRID_CLIENT_GRID_SUGGEST_H_
