/*
 * One libsignal-protocol-c party for the interop tests: its own signal_context with the
 * OpenSSL provider, in-memory session / pre-key / signed pre-key / identity stores, an
 * identity key, a registration id, one-time prekeys and a signed prekey. Peers are named by
 * a string (device id 1). Functions return 0 or libsignal's negative SG_ERR_* code, so a
 * test can tell a duplicate from a bad MAC.
 */
#ifndef SOTTO_INTEROP_SIG_PARTY_H
#define SOTTO_INTEROP_SIG_PARTY_H

#include <stddef.h>
#include <stdint.h>

#include <signal_protocol.h>

#include "sotto/error.h"

#define SIG_KEY_LEN 33          /* 0x05 || X25519 u */
#define SIG_SIG_LEN 64
#define SIG_DEVICE_ID 1

/* Everything a peer needs to start a session with a party; all public. */
struct sig_bundle {
	uint32_t registration_id;
	uint8_t identity_key[SIG_KEY_LEN];
	uint32_t signed_prekey_id;
	uint8_t signed_prekey[SIG_KEY_LEN];
	uint8_t signed_prekey_sig[SIG_SIG_LEN];
	int has_prekey;
	uint32_t prekey_id;
	uint8_t prekey[SIG_KEY_LEN];
};

struct sig_party;

/* Creates a party with a fresh identity, registration id, nprekeys one-time prekeys
 * (ids 1..nprekeys) and signed prekey id 1. */
int sig_party_new(struct sig_party **out, unsigned int nprekeys);
void sig_party_free(struct sig_party *p);

signal_context *sig_party_context(struct sig_party *p);
uint32_t sig_party_registration_id(const struct sig_party *p);
/* The serialized identity public key (33 bytes). */
const uint8_t *sig_party_identity(const struct sig_party *p);
/* The party's identity private key (32 bytes, secret), for tests that must sign as it. */
int sig_party_identity_private(struct sig_party *p, uint8_t out[32]);

/* The party's bundle; with_prekey selects whether one-time prekey prekey_id is included. */
int sig_party_bundle(struct sig_party *p, struct sig_bundle *b, int with_prekey,
    uint32_t prekey_id);
/* Whether one-time prekey id is still stored (libsignal removes it once used). */
int sig_party_has_prekey(struct sig_party *p, uint32_t id);

/* Starts a session with peer from its bundle (X3DH as the initiator). */
int sig_party_process_bundle(struct sig_party *p, const char *peer, const struct sig_bundle *b)
    SOTTO_MUST_CHECK;

/* Encrypts pt for peer. *out is malloc'ed; *is_prekey tells a PreKeySignalMessage. */
int sig_party_encrypt(struct sig_party *p, const char *peer, const uint8_t *pt, size_t pt_len,
    uint8_t **out, size_t *out_len, int *is_prekey);
/* Decrypts a message from peer. *pt is malloc'ed. */
int sig_party_decrypt(struct sig_party *p, const char *peer, int is_prekey,
    const uint8_t *ct, size_t ct_len, uint8_t **pt, size_t *pt_len) SOTTO_MUST_CHECK;

/* A copy of the stored session record for peer (malloc'ed), to check that a rejected
 * message left the state unchanged. Returns 0, or SG_ERR_NO_SESSION. */
int sig_party_session_record(struct sig_party *p, const char *peer, uint8_t **out,
    size_t *out_len);
/* 1 if a session with peer is stored, else 0. */
int sig_party_has_session(struct sig_party *p, const char *peer);

#endif
