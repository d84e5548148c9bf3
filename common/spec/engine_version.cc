// BuildDescription (see engine_version.h). revision.h is generated at build time.
#include "common/spec/engine_version.h"

#include "absl/strings/str_cat.h"
#include "revision.h"

namespace actgrid::spec {

std::string BuildDescription() {
#ifdef ACTGRID_BUILD_NATIVE
  constexpr const char* kTarget = "native";
#else
  constexpr const char* kTarget = "portable";
#endif
  return absl::StrCat("engine ", kEngineVersion, ", rev ", ACTGRID_REVISION, ", ", kTarget);
}

}  // namespace actgrid::spec
