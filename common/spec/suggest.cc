// Nearest-name suggestions for the grid file's error messages (see suggest.h).
#include "common/spec/suggest.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "absl/strings/str_join.h"
#include "common/spec/echo.h"

namespace actgrid::spec {
namespace {

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool IsPrefix(absl::string_view prefix, absl::string_view word) {
  if (prefix.size() < 2 || prefix.size() > word.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (Lower(prefix[i]) != Lower(word[i])) return false;
  return true;
}

}  // namespace

int EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<int> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    int diagonal = row[0];
    row[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      const int substitute = diagonal + (Lower(a[i - 1]) == Lower(b[j - 1]) ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
    }
  }
  return row[b.size()];
}

std::string Suggest(absl::string_view word, const std::vector<std::string>& all_candidates) {
  if (word.size() > kMaxSuggestWordBytes) return "";
  const absl::Span<const std::string> candidates =
      absl::MakeConstSpan(all_candidates).first(std::min(all_candidates.size(), kMaxSuggestCandidates));
  const std::string* best = nullptr;
  int best_distance = 3;
  for (const std::string& c : candidates) {
    if (c.size() > kMaxSuggestWordBytes) continue;
    const int d = EditDistance(word, c);
    const int shorter = static_cast<int>(std::min(word.size(), c.size()));
    if (d < best_distance && d < shorter) {
      best = &c;
      best_distance = d;
    }
  }
  if (best != nullptr) return *best;
  for (const std::string& c : candidates)
    if (IsPrefix(word, c) || IsPrefix(c, word)) return c;
  return "";
}

std::string UnknownNameMessage(absl::string_view what, absl::string_view word,
                               const std::vector<std::string>& candidates) {
  std::string message = absl::StrCat("unknown ", what, " ", Quoted(word));
  const std::string best = Suggest(word, candidates);
  if (!best.empty()) return absl::StrCat(message, "; did you mean \"", best, "\"?");
  return absl::StrCat(message, "; valid: ", absl::StrJoin(candidates, ", "));
}

}  // namespace actgrid::spec
