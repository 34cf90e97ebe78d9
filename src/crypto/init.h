/* One-time initialisation of the cryptographic library (libsodium). */
#ifndef SOTTO_CRYPTO_INIT_H
#define SOTTO_CRYPTO_INIT_H

#include "sotto/error.h"

/* Safe to call many times and from several threads; every crypto entry point that needs
 * randomness or secure memory calls it itself, so callers rarely have to. */
int sotto_crypto_init(void) SOTTO_MUST_CHECK;

#endif
