// The engine version: one number for everything that decides a trial's numbers.
//
// Bump kEngineVersion whenever a change could alter any stored number for the same
// spec: a kernel, an activation or its derivative, an init, an optimizer, the data
// pipeline, the order of a sum, or the definition of a metric or of the summary. It is
// part of every trial key, so a database never hands out curves that an older engine
// measured as if the new one had; those trials are measured again. The test
// EngineVersion.FingerprintIsRecordedForThisVersion (tests/engine) fails when the
// engine's numbers move without a bump, and says how to record the new fingerprint.
//
// History:
//   1  every engine before versions were recorded (trials of schema-4 databases)
//   2  NaN-propagating ReLU family, non-finite parameters end a trial as diverged,
//      per-layer probe statistics accumulated in double, accurate Sinc near 0
//   3  small networks (synthetic data, hidden layers of at most 64 units, built-in activations but
//      maxout) train on the packed path: no floating-point contraction, the same bits
//      on every x86-64 build; probe statistics summed per unit, then over the units
#ifndef ACTGRID_COMMON_SPEC_ENGINE_VERSION_H_
#define ACTGRID_COMMON_SPEC_ENGINE_VERSION_H_

#include <string>

namespace actgrid::spec {

inline constexpr int kEngineVersion = 3;

// The version stored for trials measured before versions were recorded.
inline constexpr int kUnversionedEngine = 1;

// How a coordinator's refusal of a worker of another engine version begins (a
// FAILED_PRECONDITION from LeaseTrials): the worker stops, since retrying cannot help.
inline constexpr char kEngineVersionRefusal[] = "engine_version: ";

// This build as it is recorded with every trial it measures:
// "engine 3, rev 0123456789ab, native" (or "portable"; "+dirty" marks uncommitted changes).
std::string BuildDescription();

}  // namespace actgrid::spec

#endif  // ACTGRID_COMMON_SPEC_ENGINE_VERSION_H_
