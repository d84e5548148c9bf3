// Trial keys (see trial_key.h).
#include "common/spec/trial_key.h"

#include <openssl/evp.h>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "absl/strings/str_cat.h"
#include "common/spec/engine_version.h"

namespace actgrid::spec {
std::string Hex(const unsigned char* bytes, size_t size) {
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * size);
  for (size_t i = 0; i < size; ++i) {
    hex.push_back(kHex[bytes[i] >> 4]);
    hex.push_back(kHex[bytes[i] & 15]);
  }
  return hex;
}

std::string DeterministicBytes(const google::protobuf::MessageLite& message) {
  std::string bytes;
  {  // the streams hand the bytes over when they close
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return bytes;
}

std::string Sha256Hex(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  return Hex(digest, length);
}

std::string TrialKey(const v1::TrialSpec& spec, int engine_version) {
  // A prefix no serialized spec starts with keeps the versioned keys apart from the
  // unversioned SpecKeys of older databases.
  return Sha256Hex(absl::StrCat("actgrid trial, engine ", engine_version, "\n", DeterministicBytes(spec)));
}

std::string TrialKey(const v1::TrialSpec& spec) { return TrialKey(spec, kEngineVersion); }

std::string SpecKey(const v1::TrialSpec& spec) {
  if (spec.dataset().digest().empty()) return Sha256Hex(DeterministicBytes(spec));
  v1::TrialSpec copy = spec;
  copy.mutable_dataset()->clear_digest();
  return Sha256Hex(DeterministicBytes(copy));
}

}  // namespace actgrid::spec
