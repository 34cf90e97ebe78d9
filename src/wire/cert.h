/*
 * Sender certificates: the server vouches that an address has an identity key until an
 * expiry. Carried inside sealed envelopes (opaque to the server that relays them).
 *
 *   u8    version (1)
 *   u16   address length, then the address (a valid user address)
 *   32    identity key (Ed25519 public)
 *   u64   expiry, unix seconds
 *   64    Ed25519 signature by the server key over
 *           "sotto/sender-cert/v1" 0x00 || u16 len || address || identity key || u64 expiry
 */
#ifndef SOTTO_WIRE_CERT_H
#define SOTTO_WIRE_CERT_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"
#include "wire/address.h"

#define CERT_VERSION 1
#define CERT_MAX 512
#define CERT_LEN(address_len) (1 + 2 + (address_len) + 32 + 8 + 64) /* with that address */
#define CERT_DOMAIN "sotto/sender-cert/v1"

struct cert_sender {
	char address[ADDRESS_MAX + 1];
	uint8_t identity_pk[32];
	uint64_t expiry;
};

/* Server side: signs with the server's Ed25519 secret key (64 bytes, libsodium form). */
int cert_make(const char *address, const uint8_t identity_pk[32], uint64_t expiry,
    const uint8_t server_sk[64], uint8_t *out, size_t cap, size_t *out_len) SOTTO_MUST_CHECK;
/* Parses only (no signature check); for inspection. */
int cert_parse(const uint8_t *blob, size_t len, struct cert_sender *out) SOTTO_MUST_CHECK;
/* Client side: parse, verify the signature with the server's key, and refuse it when
 * now >= expiry (SOTTO_ERR_EXPIRED). */
int cert_verify(const uint8_t *blob, size_t len, const uint8_t server_pk[32], uint64_t now,
    struct cert_sender *out) SOTTO_MUST_CHECK;

#endif
