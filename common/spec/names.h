// The user-facing names of everything a TrialSpec can choose (activations, inits,
// datasets, optimizers, scalings) with their parameters, defaults and learnable
// parameter counts. The grid file, the coordinator, the tables and the engine all read
// this one registry (the engine's kernels are checked against it at compile time).
#ifndef ACTGRID_COMMON_SPEC_NAMES_H_
#define ACTGRID_COMMON_SPEC_NAMES_H_

#include <string>
#include <string_view>
#include <vector>

#include "actgrid/v1/spec.pb.h"

namespace actgrid::spec {

struct ParamInfo {
  const char* name;
  double default_value;
};

struct ActivationInfo {
  v1::ActivationKind kind;
  const char* name;
  std::vector<ParamInfo> params;  // canonical order of ActivationSpec.params
  int learnable_per_neuron = 0;   // LearnablePerNeuron(kind)
};

// Parameters an activation trains with the weights, per hidden unit (PReLU's slope,
// RefLU's two slopes and peak). The engine's activation ops static_assert against it.
constexpr int LearnablePerNeuron(v1::ActivationKind kind) {
  switch (kind) {
    case v1::ACTIVATION_KIND_PRELU: return 1;
    case v1::ACTIVATION_KIND_REFLU: return 4;
    default: return 0;
  }
}

struct InitInfo {
  v1::InitKind kind;
  const char* name;
  std::vector<ParamInfo> params;  // canonical order of InitSpec.params
};

// Every activation, in the order of the ActivationKind enum (index = kind - 1).
const std::vector<ActivationInfo>& Activations();
// nullptr when the kind or name is unknown.
const ActivationInfo* FindActivation(v1::ActivationKind kind);
const ActivationInfo* FindActivation(std::string_view name);

const std::vector<InitInfo>& Inits();
const InitInfo* FindInit(v1::InitKind kind);
const InitInfo* FindInit(std::string_view name);

// "relu", "leaky_relu(alpha=0.2)": parameters appear only where they differ from
// their defaults, so the label of a default-constructed spec is just its name.
std::string ActivationLabel(const v1::ActivationSpec& spec);
std::string InitLabel(const v1::InitSpec& spec);

// A spec of `kind` with every parameter at its default.
v1::ActivationSpec DefaultActivation(v1::ActivationKind kind);
v1::InitSpec DefaultInit(v1::InitKind kind);

// Name tables for the remaining enums; Kind() returns *_UNSPECIFIED for unknown names.
struct EnumName {
  int value;
  const char* name;
};
const std::vector<EnumName>& DatasetKindNames();  // circle, xor, ...
const std::vector<EnumName>& OptimizerNames();    // sgd, momentum, adam
const std::vector<EnumName>& ScalingNames();      // standardize, minmax, none
const char* NameOf(const std::vector<EnumName>& table, int value);  // "?" when absent
int ValueOf(const std::vector<EnumName>& table, std::string_view name);  // 0 when absent

// Formats a double the shortest way that reads back exactly ("0.1", "1e-05", "3").
std::string FormatNumber(double value);

}  // namespace actgrid::spec

#endif  // ACTGRID_COMMON_SPEC_NAMES_H_
