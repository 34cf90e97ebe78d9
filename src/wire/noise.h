/*
 * The Noise Protocol Framework (revision 34) over 25519, ChaChaPoly and BLAKE2b.
 *
 * The handshake engine runs any of the twelve interactive base patterns NN NK NX XN XK XX
 * KN KK KX IN IK IX, each optionally with one psk modifier (psk0 .. pskN, section 9);
 * each pattern is a table of tokens (noise.c), not code. Sotto's wire uses
 * Noise_XX_25519_ChaChaPoly_BLAKE2b with the prologue NOISE_SOTTO_PROLOGUE and empty
 * handshake payloads (docs/PROTOCOL-wire.md says why XX and not IK), and NNpsk0 for
 * resumption with a ticket (wire/ticket.h):
 *
 *   -> e                    32 bytes
 *   <- e, ee, s, es         96 bytes   client checks s == pinned server key
 *   -> s, se                64 bytes
 *
 * Secret fields: every key (k, ck, s_priv, e_priv, psk) and the chaining key; h, public keys
 * and nonces are not secret. noise_hs_wipe / noise_transport_wipe erase them.
 */
#ifndef SOTTO_WIRE_NOISE_H
#define SOTTO_WIRE_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/error.h"

#define NOISE_KEY_LEN 32        /* X25519 keys and cipher keys */
#define NOISE_HASH_LEN 64       /* BLAKE2b */
#define NOISE_TAG_LEN 16        /* Poly1305 */
#define NOISE_MSG_MAX 65535     /* any Noise message, handshake or transport */
#define NOISE_PAYLOAD_MAX (NOISE_MSG_MAX - NOISE_TAG_LEN)

/* The product profile. */
#define NOISE_SOTTO_PATTERN "XX"
#define NOISE_SOTTO_PROLOGUE "sotto/wire/1"
#define NOISE_SOTTO_MSG1_LEN 32
#define NOISE_SOTTO_MSG2_LEN 96
#define NOISE_SOTTO_MSG3_LEN 64

/*
 * Unidentified connections (issue 15): Noise_NK with the same prologue. The client has no
 * static key; it knows the server's from the address (the pre-message <- s):
 *   -> e, es                48 bytes (e, then the empty payload's tag)
 *   <- e, ee                48 bytes
 * Nothing in it names the client; such a connection may only SEND_SEALED.
 */
#define NOISE_SEALED_PATTERN "NK"
#define NOISE_SEALED_MSG1_LEN 48
#define NOISE_SEALED_MSG2_LEN 48

#define NOISE_MAX_MSGS 3
#define NOISE_MAX_TOKENS 7      /* the longest base message (5) plus psk, plus the end */

struct noise_pattern;

struct noise_cipher {
	uint8_t k[NOISE_KEY_LEN];       /* secret */
	uint64_t n;                     /* next nonce; UINT64_MAX is reserved and refused */
	int has_key;
};

struct noise_transport {
	struct noise_cipher tx;         /* this side -> peer */
	struct noise_cipher rx;         /* peer -> this side */
};

struct noise_hs {
	const struct noise_pattern *pat;
	uint8_t toks[NOISE_MAX_MSGS][NOISE_MAX_TOKENS];        /* the pattern with its psk */
	int initiator;
	unsigned msg;                   /* index of the next handshake message */
	struct noise_cipher cs;
	uint8_t ck[NOISE_HASH_LEN];     /* secret */
	uint8_t h[NOISE_HASH_LEN];
	uint8_t s_priv[NOISE_KEY_LEN];  /* secret */
	uint8_t s_pub[NOISE_KEY_LEN];
	uint8_t e_priv[NOISE_KEY_LEN];  /* secret */
	uint8_t e_pub[NOISE_KEY_LEN];
	uint8_t rs[NOISE_KEY_LEN];
	uint8_t re[NOISE_KEY_LEN];
	uint8_t pin_rs[NOISE_KEY_LEN];
	uint8_t psk[NOISE_KEY_LEN];     /* secret; wiped once mixed in */
	uint8_t psk_mode, has_psk;
	uint8_t has_s, has_e, fixed_e, has_rs, has_re, has_pin, failed;
};

/*
 * Starts a handshake. pattern is a base pattern name ("XX", "IK", ...), optionally with one
 * psk modifier ("NNpsk0", "XXpsk3"; section 9); then noise_hs_set_psk must give the key
 * before the message that carries the psk token, else that message fails with
 * SOTTO_ERR_STATE. s_priv is this
 * side's static private key (NULL if the pattern gives it none); rs the peer's static
 * public key when the pattern's pre-message needs it (NULL otherwise). Missing or
 * superfluous keys are SOTTO_ERR_INVALID_ARG.
 */
int noise_hs_init(struct noise_hs *hs, const char *pattern, int initiator,
    const uint8_t *prologue, size_t prologue_len, const uint8_t *s_priv,
    const uint8_t *rs) SOTTO_MUST_CHECK;
/* The 32-byte pre-shared key (secret; copied, wiped from hs once used). */
void noise_hs_set_psk(struct noise_hs *hs, const uint8_t psk[NOISE_KEY_LEN]);
/* Tests only: use this ephemeral private key instead of a random one. */
void noise_hs_fix_ephemeral(struct noise_hs *hs, const uint8_t e_priv[NOISE_KEY_LEN]);
/* A static key received during the handshake must equal this one, else SOTTO_ERR_AUTH
 * (checked as soon as the key is decrypted, before anything else is sent). */
void noise_hs_pin_remote_static(struct noise_hs *hs, const uint8_t rs[NOISE_KEY_LEN]);

int noise_hs_my_turn(const struct noise_hs *hs);
int noise_hs_finished(const struct noise_hs *hs);
/* Exact size of the next handshake message when it carries payload_len payload bytes. */
size_t noise_hs_next_len(const struct noise_hs *hs, size_t payload_len);

/* Writes the next handshake message into out (cap bytes). */
int noise_hs_write(struct noise_hs *hs, const uint8_t *payload, size_t payload_len,
    uint8_t *out, size_t cap, size_t *out_len) SOTTO_MUST_CHECK;
/* Reads the next handshake message; its payload goes to payload (cap bytes). Any failure
 * leaves the handshake failed for good. */
int noise_hs_read(struct noise_hs *hs, const uint8_t *msg, size_t len, uint8_t *payload,
    size_t cap, size_t *payload_len) SOTTO_MUST_CHECK;

/* After the last message: the transport keys for this side (tx/rx by role). */
int noise_hs_split(struct noise_hs *hs, struct noise_transport *t) SOTTO_MUST_CHECK;
/* The peer's static public key, once known (SOTTO_ERR_STATE before). */
int noise_hs_remote_static(const struct noise_hs *hs, uint8_t out[NOISE_KEY_LEN]) SOTTO_MUST_CHECK;
/* The handshake hash, for channel binding (valid once finished). */
const uint8_t *noise_hs_hash(const struct noise_hs *hs);
void noise_hs_wipe(struct noise_hs *hs);

/*
 * Transport messages: out receives len + NOISE_TAG_LEN bytes; out may equal in.
 * Encrypting at nonce UINT64_MAX is SOTTO_ERR_LIMIT: the connection must end.
 * A failed decryption is SOTTO_ERR_DECRYPT and does not advance the nonce.
 */
int noise_encrypt(struct noise_cipher *c, const uint8_t *ad, size_t ad_len,
    const uint8_t *in, size_t len, uint8_t *out) SOTTO_MUST_CHECK;
int noise_decrypt(struct noise_cipher *c, const uint8_t *ad, size_t ad_len,
    const uint8_t *in, size_t len, uint8_t *out) SOTTO_MUST_CHECK;
void noise_transport_wipe(struct noise_transport *t);

/* A static X25519 key pair computed once (the server's, from its Ed25519 key). */
struct noise_keypair {
	uint8_t priv[NOISE_KEY_LEN];    /* secret */
	uint8_t pub[NOISE_KEY_LEN];
};

int noise_keypair_from_ed25519(struct noise_keypair *kp, const uint8_t ed_sk[64]) SOTTO_MUST_CHECK;
void noise_keypair_wipe(struct noise_keypair *kp);

/*
 * Sotto's profile: the client (initiator) uses its X25519 device key and pins the server's
 * Ed25519 public key (converted to X25519, docs/PROTOCOL-wire.md section 2); the server
 * (responder) uses the X25519 form of its Ed25519 secret key. noise_sotto_responder_keypair takes that form
 * precomputed (saves a scalar multiplication per handshake).
 */
int noise_sotto_initiator(struct noise_hs *hs, const uint8_t device_sk[NOISE_KEY_LEN],
    const uint8_t server_ed_pk[32]) SOTTO_MUST_CHECK;
/* The same with the device's public key and the server's X25519 key precomputed (saves a
 * point conversion and a scalar multiplication per handshake). device_pk must be the public
 * key of device_sk: with any other the server fails the handshake. */
int noise_sotto_initiator_keys(struct noise_hs *hs, const uint8_t device_sk[NOISE_KEY_LEN],
    const uint8_t device_pk[NOISE_KEY_LEN], const uint8_t server_x[NOISE_KEY_LEN])
    SOTTO_MUST_CHECK;
int noise_sotto_responder(struct noise_hs *hs, const uint8_t server_ed_sk[64]) SOTTO_MUST_CHECK;
int noise_sotto_responder_keypair(struct noise_hs *hs,
    const struct noise_keypair *server) SOTTO_MUST_CHECK;

/* The unidentified profile (NOISE_SEALED_PATTERN): the client with no static key and the
 * server's Ed25519 public key from the address; the server with its X25519 key pair. */
int noise_sealed_initiator(struct noise_hs *hs, const uint8_t server_ed_pk[32])
    SOTTO_MUST_CHECK;
int noise_sealed_responder(struct noise_hs *hs, const struct noise_keypair *server)
    SOTTO_MUST_CHECK;

/* HMAC-BLAKE2b and the Noise HKDF, exposed for tests. */
void noise_hmac_blake2b(uint8_t out[NOISE_HASH_LEN], const uint8_t *key, size_t key_len,
    const uint8_t *msg, size_t msg_len);
void noise_hkdf(const uint8_t ck[NOISE_HASH_LEN], const uint8_t *ikm, size_t ikm_len,
    uint8_t out1[NOISE_HASH_LEN], uint8_t out2[NOISE_HASH_LEN], uint8_t out3[NOISE_HASH_LEN]);

#endif
