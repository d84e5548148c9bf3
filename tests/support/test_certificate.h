// Test-only: a self-signed certificate for localhost and 127.0.0.1 (P-256, valid for a
// day), made with OpenSSL, for the tests that serve TLS (gRPC and HTTPS).
#ifndef ACTGRID_TESTS_SUPPORT_TEST_CERTIFICATE_H_
#define ACTGRID_TESTS_SUPPORT_TEST_CERTIFICATE_H_

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <string>
#include <utility>

namespace actgrid::testing {

struct TestCertificate {
  std::string cert, key;  // PEM text
};

inline TestCertificate MakeTestCertificate() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  for (const auto& [nid, value] : {std::make_pair(NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"),
                                   std::make_pair(NID_basic_constraints, "critical,CA:TRUE")}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(x, key, EVP_sha256());
  auto to_string = [](BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, size_t(n));
    BIO_free(bio);
    return out;
  };
  TestCertificate pem;
  BIO* cert_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(cert_bio, x);
  pem.cert = to_string(cert_bio);
  BIO* key_bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(key_bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  pem.key = to_string(key_bio);
  X509_free(x);
  EVP_PKEY_free(key);
  return pem;
}

// Writes a fresh certificate and its key as PEM files.
inline void WriteTestCertificate(const std::string& cert_file, const std::string& key_file) {
  const TestCertificate pem = MakeTestCertificate();
  std::ofstream(cert_file) << pem.cert;
  std::ofstream(key_file) << pem.key;
}

}  // namespace actgrid::testing

#endif  // ACTGRID_TESTS_SUPPORT_TEST_CERTIFICATE_H_
