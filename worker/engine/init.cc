// Weight initializations (see init.h); the formula of each sits with its case.
#include "worker/engine/init.h"

#include <algorithm>
#include <cmath>

#include <Eigen/Dense>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace actgrid::engine {
namespace {

void FillUniform(std::vector<double>& w, double a, Rng& rng) {
  for (double& v : w) v = rng.Uniform(-a, a);
}

void FillNormal(std::vector<double>& w, double std, Rng& rng) {
  for (double& v : w) v = rng.Normal(0.0, std);
}

// Orthogonal (Saxe et al. 2014): QR of a Gaussian matrix, Q's columns made unique by
// the signs of diag(R), transposed when the matrix is wide; W = gain * Q.
void FillOrthogonal(std::vector<double>& w, int rows, int cols, double gain, Rng& rng) {
  const bool wide = rows < cols;
  const int r = wide ? cols : rows, c = wide ? rows : cols;
  Eigen::MatrixXd g(r, c);
  for (int j = 0; j < c; ++j)
    for (int i = 0; i < r; ++i) g(i, j) = rng.Normal();
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(g);
  Eigen::MatrixXd q = qr.householderQ() * Eigen::MatrixXd::Identity(r, c);
  const Eigen::MatrixXd rr = qr.matrixQR();
  for (int j = 0; j < c; ++j)
    if (rr(j, j) < 0) q.col(j) *= -1.0;
  Eigen::MatrixXd out = wide ? Eigen::MatrixXd(q.transpose()) : q;
  for (int j = 0; j < cols; ++j)
    for (int i = 0; i < rows; ++i) w[size_t(j) * rows + i] = gain * out(i, j);
}

}  // namespace

absl::StatusOr<std::vector<double>> InitWeights(const v1::InitSpec& spec, int fan_in, int fan_out,
                                                Rng& rng) {
  std::vector<double> w(size_t(fan_in) * fan_out, 0.0);
  const double in = fan_in, out = fan_out;
  auto param = [&](int i, double fallback) {
    return i < spec.params_size() ? spec.params(i) : fallback;
  };
  switch (spec.kind()) {
    case v1::INIT_KIND_ZEROS:  // W = 0
      break;
    case v1::INIT_KIND_CONSTANT:  // W = value
      std::fill(w.begin(), w.end(), param(0, 0.1));
      break;
    case v1::INIT_KIND_UNIFORM:  // W ~ U(-a, a)
      FillUniform(w, param(0, 0.05), rng);
      break;
    case v1::INIT_KIND_NORMAL:  // W ~ N(0, std^2)
      FillNormal(w, param(0, 0.05), rng);
      break;
    case v1::INIT_KIND_XAVIER_UNIFORM:  // U(-a, a), a = sqrt(6 / (fan_in + fan_out)); Var = 2/(in+out)
      FillUniform(w, std::sqrt(6.0 / (in + out)), rng);
      break;
    case v1::INIT_KIND_XAVIER_NORMAL:  // N(0, 2 / (fan_in + fan_out))
      FillNormal(w, std::sqrt(2.0 / (in + out)), rng);
      break;
    case v1::INIT_KIND_HE_UNIFORM:  // U(-a, a), a = sqrt(6 / fan_in); Var = 2/in
      FillUniform(w, std::sqrt(6.0 / in), rng);
      break;
    case v1::INIT_KIND_HE_NORMAL:  // N(0, 2 / fan_in)
      FillNormal(w, std::sqrt(2.0 / in), rng);
      break;
    case v1::INIT_KIND_LECUN_UNIFORM:  // U(-a, a), a = sqrt(3 / fan_in); Var = 1/in
      FillUniform(w, std::sqrt(3.0 / in), rng);
      break;
    case v1::INIT_KIND_LECUN_NORMAL:  // N(0, 1 / fan_in)
      FillNormal(w, std::sqrt(1.0 / in), rng);
      break;
    case v1::INIT_KIND_ORTHOGONAL:  // gain * Q, Q with orthonormal rows or columns
      FillOrthogonal(w, fan_out, fan_in, param(0, 1.0), rng);
      break;
    default:  // not zeros: an unknown kind must not pass for a valid init
      return absl::InvalidArgumentError(absl::StrCat("unknown init kind ", int(spec.kind())));
  }
  return w;
}

}  // namespace actgrid::engine
