// "Did you mean" help for unknown names in grid files: the nearest valid name by
// edit distance or prefix, and the one-line "unknown X" messages built from it.
#ifndef ACTGRID_COMMON_SPEC_SUGGEST_H_
#define ACTGRID_COMMON_SPEC_SUGGEST_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace actgrid::spec {

// Suggestions are looked for only for words up to this many bytes, among at most
// this many candidates: their cost stays a few thousand steps whatever the input.
inline constexpr size_t kMaxSuggestWordBytes = 64;
inline constexpr size_t kMaxSuggestCandidates = 256;

// Case-insensitive Levenshtein distance: O(|a| * |b|) time, O(|b|) memory.
int EditDistance(absl::string_view a, absl::string_view b);

// The candidate nearest to `word`: the smallest edit distance when it is <= 2 (and
// smaller than the shorter string, so "ab" never suggests "lr"), else the first
// candidate that `word` is a prefix of or that is a prefix of `word` (>= 2 chars
// shared). Empty when nothing is close, and for a word longer than
// kMaxSuggestWordBytes (only the first kMaxSuggestCandidates candidates are tried).
std::string Suggest(absl::string_view word, const std::vector<std::string>& candidates);

// `unknown <what> "<word>"; did you mean "<best>"?`, or, with nothing close,
// `unknown <what> "<word>"; valid: a, b, c`. The word is shown as Quoted() shows it
// (escaped, cut after kMaxEchoBytes with its size).
std::string UnknownNameMessage(absl::string_view what, absl::string_view word,
                               const std::vector<std::string>& candidates);

}  // namespace actgrid::spec

#endif  // ACTGRID_COMMON_SPEC_SUGGEST_H_
