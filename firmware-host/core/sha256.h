/* SHA-256 (FIPS 180-4) of a capsule body, for tvm_load when TVM_SHA256: a platform hook
 * (the host links platform/host/hash.c, OpenSSL libcrypto). */
#ifndef TVM_SHA256_H
#define TVM_SHA256_H
#include <stdint.h>
void tvm_sha256(const uint8_t *data, uint32_t len, uint8_t out[32]);
#endif
