// The four TensorFlow Playground classification generators (src/dataset.ts), with
// Rng in place of Math.random and the playground's labels -1/+1 mapped to 0/1.
#include <cmath>
#include <cstdint>

#include "worker/engine/dataset.h"
#include "worker/engine/random.h"

namespace actgrid::engine {
namespace {

constexpr double kPi = 3.14159265358979323846;

// The playground loops `i < numSamples / 2` in floating point, so each half gets
// ceil(samples / 2) points; the second half here gets floor(samples / 2) instead,
// so that exactly `samples` points come out (identical for even counts).
int FirstHalf(int samples) { return (samples + 1) / 2; }
int SecondHalf(int samples) { return samples / 2; }

void Add(Points& p, double x, double y, bool positive) {
  p.x.push_back(x);
  p.y.push_back(y);
  p.label.push_back(positive ? 1 : 0);
}

void Reserve(Points& p, int samples) {
  const size_t n = samples > 0 ? static_cast<size_t>(samples) : 0;
  p.x.reserve(n);
  p.y.reserve(n);
  p.label.reserve(n);
}

// One circle point at a radius drawn from [r_lo, r_hi); the label comes from the
// noisy position, the stored point is the clean one (as in the playground).
void AddCirclePoint(Points& p, Rng& rng, double r_lo, double r_hi, double noise) {
  constexpr double kRadius = 5.0;
  const double r = rng.Uniform(r_lo, r_hi);
  const double angle = rng.Uniform(0.0, 2.0 * kPi);
  const double x = r * std::sin(angle);
  const double y = r * std::cos(angle);
  const double noise_x = rng.Uniform(-kRadius, kRadius) * noise;
  const double noise_y = rng.Uniform(-kRadius, kRadius) * noise;
  const double nx = x + noise_x, ny = y + noise_y;
  Add(p, x, y, std::sqrt(nx * nx + ny * ny) < kRadius * 0.5);
}

// Uniform in (-5, 5) pushed 0.3 away from zero, as the playground pads xor points.
double PaddedXorCoordinate(Rng& rng) {
  const double v = rng.Uniform(-5.0, 5.0);
  return v + (v > 0 ? 0.3 : -0.3);
}

void AddSpiral(Points& p, Rng& rng, int count, double n, double delta_t, bool positive,
               double noise) {
  for (int i = 0; i < count; ++i) {
    const double r = i / n * 5.0;
    const double t = 1.75 * i / n * 2.0 * kPi + delta_t;
    const double x = r * std::sin(t) + rng.Uniform(-1.0, 1.0) * noise;
    const double y = r * std::cos(t) + rng.Uniform(-1.0, 1.0) * noise;
    Add(p, x, y, positive);
  }
}

}  // namespace

Points GenerateCircle(int samples, double noise, uint64_t seed) {
  constexpr double kRadius = 5.0;
  Rng rng(seed, 1);
  Points p;
  Reserve(p, samples);
  for (int i = 0; i < FirstHalf(samples); ++i) AddCirclePoint(p, rng, 0.0, kRadius * 0.5, noise);
  for (int i = 0; i < SecondHalf(samples); ++i)
    AddCirclePoint(p, rng, kRadius * 0.7, kRadius, noise);
  return p;
}

// As in the playground, noise only moves the point that decides the label; the
// stored point is the padded one without noise.
Points GenerateXor(int samples, double noise, uint64_t seed) {
  Rng rng(seed, 1);
  Points p;
  Reserve(p, samples);
  for (int i = 0; i < samples; ++i) {
    const double x = PaddedXorCoordinate(rng);
    const double y = PaddedXorCoordinate(rng);
    const double noise_x = rng.Uniform(-5.0, 5.0) * noise;
    const double noise_y = rng.Uniform(-5.0, 5.0) * noise;
    Add(p, x, y, (x + noise_x) * (y + noise_y) >= 0);
  }
  return p;
}

// Variance is the playground's linear map of noise from [0, 0.5] onto [0.5, 4]
// (unclamped); coordinates are mean + sqrt(variance) * polar-method normal.
Points GenerateGauss(int samples, double noise, uint64_t seed) {
  const double variance = 0.5 + noise / 0.5 * 3.5;
  const double sd = std::sqrt(variance);
  Rng rng(seed, 1);
  Points p;
  Reserve(p, samples);
  for (int i = 0; i < FirstHalf(samples); ++i) {
    const double x = rng.Normal(2.0, sd);
    Add(p, x, rng.Normal(2.0, sd), true);
  }
  for (int i = 0; i < SecondHalf(samples); ++i) {
    const double x = rng.Normal(-2.0, sd);
    Add(p, x, rng.Normal(-2.0, sd), false);
  }
  return p;
}

Points GenerateSpiral(int samples, double noise, uint64_t seed) {
  const double n = samples / 2.0;  // the playground's numSamples / 2, fractional when odd
  Rng rng(seed, 1);
  Points p;
  Reserve(p, samples);
  AddSpiral(p, rng, FirstHalf(samples), n, 0.0, true, noise);
  AddSpiral(p, rng, SecondHalf(samples), n, kPi, false, noise);
  return p;
}

}  // namespace actgrid::engine
