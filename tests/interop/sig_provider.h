/*
 * The crypto provider libsignal-protocol-c needs from its caller, built on OpenSSL's
 * libcrypto (randomness from libsodium). Test-only: it serves the interop oracle and is
 * never linked into libsotto.
 */
#ifndef SOTTO_INTEROP_SIG_PROVIDER_H
#define SOTTO_INTEROP_SIG_PROVIDER_H

#include <signal_protocol.h>

/* Fills *p with the provider callbacks; user_data is unused. */
void sig_provider_init(signal_crypto_provider *p);

#endif
