// Trial keys (see trial_key.h).
#include "common/spec/trial_key.h"

#include <openssl/evp.h>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "absl/strings/str_cat.h"
#include "common/spec/engine_version.h"

namespace actgrid::spec {
namespace {

std::string Deterministic(const v1::TrialSpec& spec) {
  std::string bytes;
  {  // the streams hand the bytes over when they close
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    spec.SerializeToCodedStream(&coded);
  }
  return bytes;
}

}  // namespace

std::string Sha256Hex(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 15]);
  }
  return hex;
}

std::string TrialKey(const v1::TrialSpec& spec, int engine_version) {
  // A prefix no serialized spec starts with keeps the versioned keys apart from the
  // unversioned SpecKeys of older databases.
  return Sha256Hex(absl::StrCat("actgrid trial, engine ", engine_version, "\n", Deterministic(spec)));
}

std::string TrialKey(const v1::TrialSpec& spec) { return TrialKey(spec, kEngineVersion); }

std::string SpecKey(const v1::TrialSpec& spec) {
  if (spec.dataset().digest().empty()) return Sha256Hex(Deterministic(spec));
  v1::TrialSpec copy = spec;
  copy.mutable_dataset()->clear_digest();
  return Sha256Hex(Deterministic(copy));
}

}  // namespace actgrid::spec
