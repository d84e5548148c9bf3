// Summary metrics by name through protobuf reflection (see summary_metric.h).
#include "server/analysis/summary_metric.h"

#include <cmath>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"

namespace actgrid::analysis {
namespace {

using google::protobuf::FieldDescriptor;

bool IsNumeric(const FieldDescriptor* f) {
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_BOOL:
      return !f->is_repeated();
    default:
      return false;
  }
}

}  // namespace

std::vector<std::string> SummaryMetricNames() {
  std::vector<std::string> names;
  const auto* desc = v1::TrialSummary::descriptor();
  for (int i = 0; i < desc->field_count(); ++i)
    if (IsNumeric(desc->field(i))) names.push_back(desc->field(i)->name());
  return names;
}

absl::StatusOr<double> SummaryMetric(const v1::TrialSummary& summary, const std::string& name) {
  const FieldDescriptor* f = v1::TrialSummary::descriptor()->FindFieldByName(name);
  if (!f || !IsNumeric(f))
    return absl::InvalidArgumentError(absl::StrFormat("unknown metric \"%s\"; valid metrics: %s", name,
                                               absl::StrJoin(SummaryMetricNames(), ", ")));
  const auto* r = summary.GetReflection();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_DOUBLE: return r->GetDouble(summary, f);
    case FieldDescriptor::CPPTYPE_INT32: {
      const int32_t v = r->GetInt32(summary, f);
      const bool sentinel = name == "epochs_to_target" || name == "diverged_epoch";
      return sentinel && v < 0 ? NAN : double(v);
    }
    case FieldDescriptor::CPPTYPE_INT64: return double(r->GetInt64(summary, f));
    default: return r->GetBool(summary, f) ? 1.0 : 0.0;
  }
}

}  // namespace actgrid::analysis
