// Packable and PackKey (see pack.h).
#include "common/spec/pack.h"

#include "common/spec/names.h"
#include "common/spec/trial_key.h"
#include "common/spec/validate.h"

namespace actgrid::spec {

bool Packable(const v1::TrialSpec& spec) {
  // Inputs as narrow as the layers: the two features of TF-Playground's sets. Images
  // (784 features) and CSV files (any number) keep the BLAS path.
  switch (spec.dataset().kind()) {
    case v1::DATASET_KIND_CIRCLE:
    case v1::DATASET_KIND_XOR:
    case v1::DATASET_KIND_GAUSS:
    case v1::DATASET_KIND_SPIRAL:
      break;
    default:
      return false;
  }
  const v1::ActivationKind kind = spec.activation().kind();
  if (kind == v1::ACTIVATION_KIND_MAXOUT || kind == v1::ACTIVATION_KIND_FORMULA || FindActivation(kind) == nullptr)
    return false;
  for (int units : HiddenSizes(spec))
    if (units > kMaxPackedUnits) return false;
  return spec.depth() >= 1;
}

std::string PackKey(const v1::TrialSpec& spec) {
  v1::TrialSpec key;
  *key.mutable_dataset() = spec.dataset();
  *key.mutable_model() = spec.model();
  key.set_depth(spec.depth());
  *key.mutable_activation() = spec.activation();
  key.mutable_train()->set_batch(spec.train().batch());
  key.mutable_train()->set_optimizer(spec.train().optimizer());
  return DeterministicBytes(key);
}

}  // namespace actgrid::spec
