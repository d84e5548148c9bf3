// The event pass over a grid file's YAML (see yaml_bounds.h).
#include "client/grid/yaml_bounds.h"

#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/exceptions.h"
#include "yaml-cpp/mark.h"
#include "yaml-cpp/parser.h"

namespace actgrid::grid {
namespace {

// Thrown by the handler to stop the parser at the first bound passed.
struct BoundPassed {
  std::string message;
};

std::string At(const YAML::Mark& mark) {
  return mark.is_null() ? std::string() : absl::StrCat(" (line ", mark.line + 1, ")");
}

// Sizes: each value counts one plus the bytes of its scalar; a list or map counts
// one plus its contents; an alias counts the size of the value it names, which is
// known once that value is complete. Values are counted the same way, one each.
class BoundsCounter final : public YAML::EventHandler {
 public:
  explicit BoundsCounter(const YamlBounds& bounds) : bounds_(bounds) {}

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { Leaf(mark, anchor, 0); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, const std::string& value) override {
    Leaf(mark, anchor, value.size());
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (++aliases_ > bounds_.max_aliases)
      throw BoundPassed{absl::StrCat("file: more than ", bounds_.max_aliases, " aliases (*name)", At(mark),
                                     "; a grid file may use at most ", bounds_.max_aliases)};
    if (anchor >= sizes_.size() || sizes_[anchor].bytes < 0)
      throw BoundPassed{absl::StrCat("file: an alias is used inside the value it names", At(mark))};
    Grow(mark, sizes_[anchor]);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(mark, anchor);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(mark, anchor);
  }
  void OnMapEnd() override { Close(); }

 private:
  struct Size {
    int64_t bytes = -1;  // -1: the anchored value is still being read
    int64_t values = 0;
  };
  struct OpenValue {
    YAML::anchor_t anchor;
    Size start;  // total_ when the list or map opened
  };

  void Grow(const YAML::Mark& mark, Size size) {
    total_.bytes += size.bytes;
    total_.values += size.values;
    if (total_.bytes > bounds_.max_expanded_bytes)
      throw BoundPassed{absl::StrCat("file: larger than ", bounds_.max_expanded_bytes,
                                     " bytes with its aliases (*name) replaced by the values they name", At(mark),
                                     "; a grid file may expand to at most ", bounds_.max_expanded_bytes, " bytes")};
    if (total_.values > bounds_.max_values)
      throw BoundPassed{absl::StrCat("file: more than ", bounds_.max_values, " values (scalars, lists and maps",
                                     aliases_ > 0 ? ", aliases expanded" : "", ")", At(mark),
                                     "; a grid file may have at most ", bounds_.max_values)};
  }
  void Name(YAML::anchor_t anchor, Size size) {
    if (anchor == YAML::NullAnchor) return;
    if (anchor >= sizes_.size()) sizes_.resize(anchor + 1);
    sizes_[anchor] = size;
  }
  void Leaf(const YAML::Mark& mark, YAML::anchor_t anchor, size_t bytes) {
    const Size size{1 + static_cast<int64_t>(bytes), 1};
    Grow(mark, size);
    Name(anchor, size);
  }
  void Open(const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (static_cast<int>(open_.size()) >= bounds_.max_depth)
      throw BoundPassed{absl::StrCat("file: lists and maps nested more than ", bounds_.max_depth, " deep", At(mark),
                                     "; a grid file may nest at most ", bounds_.max_depth)};
    Name(anchor, Size{});  // being read: an alias to it now would be a cycle
    open_.push_back({anchor, total_});
    Grow(mark, Size{1, 1});
  }
  void Close() {
    if (open_.empty()) return;
    const OpenValue done = open_.back();
    open_.pop_back();
    Name(done.anchor, Size{total_.bytes - done.start.bytes, total_.values - done.start.values});
  }

  const YamlBounds& bounds_;
  int aliases_ = 0;
  Size total_{0, 0};
  std::vector<Size> sizes_;  // by anchor id
  std::vector<OpenValue> open_;
};

}  // namespace

absl::Status CheckYamlBounds(const std::string& text, const YamlBounds& bounds) {
  std::istringstream stream(text);
  BoundsCounter counter(bounds);
  try {
    YAML::Parser parser(stream);
    parser.HandleNextDocument(counter);
  } catch (const BoundPassed& passed) {
    return absl::InvalidArgumentError(passed.message);
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) return absl::InvalidArgumentError(e.msg);
    return absl::InvalidArgumentError(
        absl::StrCat("line ", e.mark.line + 1, ", column ", e.mark.column + 1, ": ", e.msg));
  }
  return absl::OkStatus();
}

}  // namespace actgrid::grid
