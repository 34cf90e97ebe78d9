/* Randomness from the operating system (libsodium's randombytes). */
#ifndef SOTTO_CRYPTO_RAND_H
#define SOTTO_CRYPTO_RAND_H

#include <stddef.h>
#include <stdint.h>

void rand_bytes(void *out, size_t len);
/* Uniform in [0, upper) without modulo bias; upper > 0. */
uint32_t rand_uniform(uint32_t upper);

#endif
