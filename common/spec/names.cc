// The registry of names and parameter defaults declared in names.h.
#include "common/spec/names.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace actgrid::spec {
namespace {

using v1::ActivationKind;
using v1::InitKind;

std::vector<ActivationInfo> MakeActivations() {
  std::vector<ActivationInfo> table = {
      {v1::ACTIVATION_KIND_LINEAR, "linear", {}},
      {v1::ACTIVATION_KIND_SIGMOID, "sigmoid", {}},
      {v1::ACTIVATION_KIND_TANH, "tanh", {}},
      {v1::ACTIVATION_KIND_RELU, "relu", {}},
      {v1::ACTIVATION_KIND_LEAKY_RELU, "leaky_relu", {{"alpha", 0.01}}},
      {v1::ACTIVATION_KIND_PRELU, "prelu", {{"init", 0.25}}},
      {v1::ACTIVATION_KIND_ELU, "elu", {{"alpha", 1.0}}},
      {v1::ACTIVATION_KIND_SELU, "selu", {}},
      {v1::ACTIVATION_KIND_GELU, "gelu", {}},
      {v1::ACTIVATION_KIND_SILU, "silu", {}},
      {v1::ACTIVATION_KIND_MISH, "mish", {}},
      {v1::ACTIVATION_KIND_SOFTPLUS, "softplus", {}},
      {v1::ACTIVATION_KIND_SOFTSIGN, "softsign", {}},
      {v1::ACTIVATION_KIND_MAXOUT, "maxout", {{"k", 2}}},
      {v1::ACTIVATION_KIND_REFLU,
       "reflu",
       {{"left", 0.1}, {"right", 1.0}, {"position", 0.0}, {"height", 0.0}}},
      {v1::ACTIVATION_KIND_GAUSSIAN, "gaussian", {}},
      {v1::ACTIVATION_KIND_SINC, "sinc", {}},
  };
  for (ActivationInfo& info : table) info.learnable_per_neuron = LearnablePerNeuron(info.kind);
  return table;
}

std::vector<InitInfo> MakeInits() {
  return {
      {v1::INIT_KIND_ZEROS, "zeros", {}},
      {v1::INIT_KIND_CONSTANT, "constant", {{"value", 0.1}}},
      {v1::INIT_KIND_UNIFORM, "uniform", {{"a", 0.05}}},
      {v1::INIT_KIND_NORMAL, "normal", {{"std", 0.05}}},
      {v1::INIT_KIND_XAVIER_UNIFORM, "xavier_uniform", {}},
      {v1::INIT_KIND_XAVIER_NORMAL, "xavier_normal", {}},
      {v1::INIT_KIND_HE_UNIFORM, "he_uniform", {}},
      {v1::INIT_KIND_HE_NORMAL, "he_normal", {}},
      {v1::INIT_KIND_LECUN_UNIFORM, "lecun_uniform", {}},
      {v1::INIT_KIND_LECUN_NORMAL, "lecun_normal", {}},
      {v1::INIT_KIND_ORTHOGONAL, "orthogonal", {{"gain", 1.0}}},
  };
}

template <class Info>
std::string Label(const Info& info, const google::protobuf::RepeatedField<double>& params) {
  std::string out = info.name;
  std::string args;
  for (size_t i = 0; i < info.params.size(); ++i) {
    const double v = i < static_cast<size_t>(params.size()) ? params[i] : info.params[i].default_value;
    if (v == info.params[i].default_value) continue;
    if (!args.empty()) args += ",";
    args += std::string(info.params[i].name) + "=" + FormatNumber(v);
  }
  if (!args.empty()) out += "(" + args + ")";
  return out;
}

}  // namespace

const std::vector<ActivationInfo>& Activations() {
  static const std::vector<ActivationInfo> table = MakeActivations();
  return table;
}

const ActivationInfo* FindActivation(v1::ActivationKind kind) {
  for (const auto& a : Activations())
    if (a.kind == kind) return &a;
  return nullptr;
}

const ActivationInfo* FindActivation(std::string_view name) {
  for (const auto& a : Activations())
    if (name == a.name) return &a;
  return nullptr;
}

const std::vector<InitInfo>& Inits() {
  static const std::vector<InitInfo> table = MakeInits();
  return table;
}

const InitInfo* FindInit(v1::InitKind kind) {
  for (const auto& i : Inits())
    if (i.kind == kind) return &i;
  return nullptr;
}

const InitInfo* FindInit(std::string_view name) {
  for (const auto& i : Inits())
    if (name == i.name) return &i;
  return nullptr;
}

std::string ActivationLabel(const v1::ActivationSpec& spec) {
  if (spec.kind() == v1::ACTIVATION_KIND_FORMULA) {
    // The formula's name, with the parameters that differ from its definition's values.
    const v1::FormulaSpec& f = spec.formula();
    std::string out = f.name().empty() ? "?" : f.name();
    std::string args;
    for (int i = 0; i < f.params_size() && i < spec.params_size(); ++i) {
      if (i < f.defaults_size() && spec.params(i) == f.defaults(i)) continue;
      if (!args.empty()) args += ",";
      args += f.params(i) + "=" + FormatNumber(spec.params(i));
    }
    if (!args.empty()) out += "(" + args + ")";
    return out;
  }
  const ActivationInfo* info = FindActivation(spec.kind());
  return info ? Label(*info, spec.params()) : "?";
}

std::string InitLabel(const v1::InitSpec& spec) {
  const InitInfo* info = FindInit(spec.kind());
  return info ? Label(*info, spec.params()) : "?";
}

v1::ActivationSpec DefaultActivation(v1::ActivationKind kind) {
  v1::ActivationSpec spec;
  spec.set_kind(kind);
  if (const ActivationInfo* info = FindActivation(kind))
    for (const auto& p : info->params) spec.add_params(p.default_value);
  return spec;
}

v1::InitSpec DefaultInit(v1::InitKind kind) {
  v1::InitSpec spec;
  spec.set_kind(kind);
  if (const InitInfo* info = FindInit(kind))
    for (const auto& p : info->params) spec.add_params(p.default_value);
  return spec;
}

const std::vector<EnumName>& DatasetKindNames() {
  static const std::vector<EnumName> table = {
      {v1::DATASET_KIND_CIRCLE, "circle"}, {v1::DATASET_KIND_XOR, "xor"},
      {v1::DATASET_KIND_GAUSS, "gauss"},   {v1::DATASET_KIND_SPIRAL, "spiral"},
      {v1::DATASET_KIND_FASHION_MNIST, "fashion_mnist"},
      {v1::DATASET_KIND_IDX, "idx"},       {v1::DATASET_KIND_CSV, "csv"},
  };
  return table;
}

const std::vector<EnumName>& OptimizerNames() {
  static const std::vector<EnumName> table = {
      {v1::OPTIMIZER_SGD, "sgd"}, {v1::OPTIMIZER_MOMENTUM, "momentum"}, {v1::OPTIMIZER_ADAM, "adam"}};
  return table;
}

const std::vector<EnumName>& ScalingNames() {
  static const std::vector<EnumName> table = {{v1::SCALING_STANDARDIZE, "standardize"},
                                              {v1::SCALING_MINMAX, "minmax"},
                                              {v1::SCALING_NONE, "none"}};
  return table;
}

const char* NameOf(const std::vector<EnumName>& table, int value) {
  for (const auto& e : table)
    if (e.value == value) return e.name;
  return "?";
}

int ValueOf(const std::vector<EnumName>& table, std::string_view name) {
  for (const auto& e : table)
    if (name == e.name) return e.value;
  return 0;
}

std::string FormatNumber(double value) {
  char buf[40];
  if (value == std::floor(value) && std::abs(value) < 1e15) {  // integers without exponent
    std::snprintf(buf, sizeof buf, "%.0f", value);
    return buf;
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, value);
    if (std::strtod(buf, nullptr) == value) break;
  }
  return buf;
}

}  // namespace actgrid::spec
