/* The body hash of tvm_load (TVM_SHA256=1) on the host: SHA-256 from OpenSSL's libcrypto.
 * The motes build with TVM_SHA256=0 and rely on dissemination, which checks the hash
 * (and the Ed25519 signature) before a capsule is handed to the VM (docs/dissemination.md). */
#include <openssl/evp.h>
#include "../../core/sha256.h"

void tvm_sha256(const uint8_t *data, uint32_t len, uint8_t out[32]) {
  unsigned int n = 32;
  EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}
