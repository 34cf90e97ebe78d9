/*
 * Requests, responses and server notices carried in logical messages (frame.h).
 * Every message starts with
 *   u8  version (PROTO_VERSION)
 *   u8  type
 *   u32 id          request id chosen by the client; a response repeats it; notices use 0
 * A response's type is PROTO_RESPONSE | request type, followed by
 *   u16 status      0, or the negated sotto_err of the failure (then nothing follows)
 *   result          only when status is 0; per request type (docs/PROTOCOL-wire.md)
 * Integers are big-endian. Decoding reads through struct cur with caps and rejects
 * trailing bytes. Decoded messages borrow envelope bytes from the input buffer.
 */
#ifndef SOTTO_WIRE_PROTO_H
#define SOTTO_WIRE_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "sotto/error.h"
#include "wire/address.h"
#include "wire/cert.h"
#include "wire/proto_blob.h"
#include "wire/proto_group.h"
#include "wire/ticket.h"

#define PROTO_VERSION 1

#define PROTO_KEY_LEN 32
#define PROTO_SIG_LEN 64
#define PROTO_MSG_ID_LEN SOTTO_ID_LEN
#define PROTO_INVITE_MAX 64
#define PROTO_MAX_OTPK 100              /* one-time prekeys per UPLOAD_PREKEYS */
#define PROTO_MAX_KEM_OTPK 100          /* one-time ML-KEM prekeys per UPLOAD_PREKEYS */
#define PROTO_KEM_EK_LEN 1184           /* ML-KEM-768 encapsulation key */
#define PROTO_MAX_RECEIVED 256          /* envelope ids per RECEIVED */
#define PROTO_ENVELOPE_MAX (64u * 1024) /* sealed envelope bytes */
#define PROTO_REGISTER_DOMAIN "sotto/register/v1"
#define PROTO_TOKEN_LEN 32              /* a delivery token (secret) and its verifier */
#define PROTO_TOKEN_LABEL "sotto/delivery-token/v1"

enum proto_type {
	PROTO_REGISTER = 0x01,
	PROTO_UPLOAD_PREKEYS = 0x02,
	PROTO_FETCH_BUNDLE = 0x03,
	PROTO_SEND = 0x04,
	PROTO_RECEIVED = 0x05,
	PROTO_SENDER_CERTIFICATE = 0x06,
	PROTO_LOOKUP = 0x07,            /* does this address have an account? */
	PROTO_TICKET = 0x08,            /* a resumption ticket for this device (members) */
	PROTO_LOGIN = 0x09,             /* login generation (clone detection) and a ticket */
	PROTO_UPLOAD_KEY_PACKAGES = 0x0A, /* MLS KeyPackages of this account (proto_group.h) */
	PROTO_CLAIM_KEY_PACKAGE = 0x0B, /* one KeyPackage of another account, used up */
	PROTO_GROUP_CREATE = 0x0C,      /* a new group with the caller as its only member */
	PROTO_GROUP_COMMIT = 0x0D,      /* the group's next Commit, with membership and Welcomes */
	PROTO_GROUP_SEND = 0x0E,        /* an application message to the whole group */
	PROTO_GROUP_RECEIVED = 0x0F,    /* group entries stored by the client */
	PROTO_BLOB_BEGIN = 0x10,        /* start or continue an upload (proto_blob.h) */
	PROTO_BLOB_CHUNK = 0x11,        /* the upload's next bytes */
	PROTO_BLOB_COMMIT = 0x12,       /* the upload is whole: check its hash, store it */
	PROTO_BLOB_GET = 0x13,          /* a range of a stored blob */
	PROTO_BLOB_DONE = 0x14,         /* a recipient has the whole blob */
	/* Issue 15: a SEND on an unidentified connection, authorised by the recipient's
	 * delivery token; and a member setting the verifier of its own token. */
	PROTO_SEND_SEALED = 0x15,
	PROTO_DELIVERY_TOKEN = 0x16,
	/* Issue 15 for groups: an application message on an unidentified connection,
	 * authorised by the group token of the group's current epoch (proto_group.h). */
	PROTO_GROUP_SEND_SEALED = 0x17,
	PROTO_PUSH = 0x40,              /* server notice */
	PROTO_PREKEY_LOW = 0x41,        /* server notice */
	PROTO_GROUP_PUSH = 0x42,        /* server notice: a Welcome or an entry of a group log */
	PROTO_KEY_PACKAGE_LOW = 0x43,   /* server notice */
	PROTO_RESPONSE = 0x80           /* flag: response to the request type in the low bits */
};

struct proto_prekey {
	uint32_t id;
	uint8_t pub[PROTO_KEY_LEN];
};

struct proto_signed_prekey {
	uint32_t id;
	uint8_t pub[PROTO_KEY_LEN];
	uint8_t sig[PROTO_SIG_LEN];
};

/* A signed ML-KEM-768 prekey (crypto/kem_prekey.h). In an UPLOAD_PREKEYS request ek and
 * sig are borrowed from the decoded bytes (or the encoder's caller); in a bundle they are
 * copied into kem_ek and kem_sig. */
struct proto_kem_prekey {
	uint32_t id;
	const uint8_t *ek;              /* PROTO_KEM_EK_LEN bytes */
	const uint8_t *sig;             /* PROTO_SIG_LEN bytes */
};

struct proto_register {
	char address[ADDRESS_MAX + 1];          /* NUL-terminated, validated */
	uint8_t identity_pk[PROTO_KEY_LEN];     /* Ed25519 */
	uint8_t device_pk[PROTO_KEY_LEN];       /* X25519, must be the Noise static key */
	uint8_t sig[PROTO_SIG_LEN];             /* proto_register_sign */
	uint8_t invite[PROTO_INVITE_MAX];       /* secret-ish: never logged */
	size_t invite_len;                      /* 0: no token */
};

struct proto_upload_prekeys {
	struct proto_signed_prekey spk;
	size_t n_otpk;
	struct proto_prekey otpk[PROTO_MAX_OTPK];
	int has_kem_last_resort;                /* replaces the stored one */
	struct proto_kem_prekey kem_last_resort;
	size_t n_kem;
	struct proto_kem_prekey kem[PROTO_MAX_KEM_OTPK];
};

struct proto_fetch_bundle {
	char address[ADDRESS_MAX + 1];
};

struct proto_bundle {
	uint8_t identity_pk[PROTO_KEY_LEN];
	struct proto_signed_prekey spk;
	int has_otpk;
	struct proto_prekey otpk;
	/* A one-time ML-KEM prekey, or else the last-resort one, or none (the owner uploaded
	 * none). */
	int has_kem;
	uint32_t kem_id;
	uint8_t kem_ek[PROTO_KEM_EK_LEN];
	uint8_t kem_sig[PROTO_SIG_LEN];
};

struct proto_send {
	char recipient[ADDRESS_MAX + 1];
	uint8_t client_msg_id[PROTO_MSG_ID_LEN];
	const uint8_t *envelope;        /* borrowed */
	size_t envelope_len;            /* 1..PROTO_ENVELOPE_MAX */
	/* The recipient identity the envelope is sealed to: the server refuses the SEND with
	 * SOTTO_ERR_IDENTITY_CHANGED if the account now has another one. Optional on the
	 * wire (0: not sent, no check). */
	int has_identity;
	uint8_t identity_pk[PROTO_KEY_LEN];
	/* SEND_SEALED only: the recipient's delivery token (secret). */
	uint8_t token[PROTO_TOKEN_LEN];
};

/* DELIVERY_TOKEN: proto_delivery_verifier of the member's new token; all zero: none (no
 * SEND_SEALED to it is accepted). */
struct proto_delivery_token {
	uint8_t verifier[PROTO_TOKEN_LEN];
};

struct proto_login {
	uint64_t generation;            /* the device's login generation; 0: none yet */
};

struct proto_received {
	size_t n;                       /* 1..PROTO_MAX_RECEIVED */
	uint64_t ids[PROTO_MAX_RECEIVED];
};

struct proto_push {
	uint64_t envelope_id;           /* server's id, for RECEIVED */
	uint64_t timestamp;             /* server receive time, unix milliseconds */
	const uint8_t *envelope;        /* borrowed */
	size_t envelope_len;
};

struct proto_prekey_low {
	uint32_t count;                 /* one-time prekeys left */
};

struct proto_send_result {
	uint64_t timestamp;             /* server receive time, unix milliseconds */
};

struct proto_cert_result {
	uint8_t cert[CERT_MAX];
	size_t len;
};

struct proto_ticket_result {
	uint8_t psk[TICKET_PSK_LEN];    /* secret */
	uint64_t expiry;                /* unix seconds */
	uint8_t ticket[TICKET_LEN];     /* opaque to the client */
};

struct proto_login_result {
	uint64_t generation;            /* the next one: to be stored and shown next time */
	int has_ticket;                 /* 0: resumption is off on this server */
	struct proto_ticket_result ticket;
};

struct proto_msg {
	uint8_t type;                   /* enum proto_type, or PROTO_RESPONSE | request type */
	uint32_t id;
	int status;                     /* responses: 0 or a negative sotto_err */
	union {
		/* requests */
		struct proto_register reg;
		struct proto_upload_prekeys upload;
		struct proto_fetch_bundle fetch;
		struct proto_fetch_bundle lookup;       /* LOOKUP: the same address field */
		struct proto_send send;                 /* SEND, SEND_SEALED */
		struct proto_delivery_token delivery;
		struct proto_received received;
		struct proto_login login;
		struct proto_upload_key_packages upload_kp;
		struct proto_fetch_bundle claim;        /* CLAIM_KEY_PACKAGE: the owner */
		struct proto_group_create group_create;
		struct proto_group_commit group_commit;
		struct proto_group_send group_send;     /* GROUP_SEND, GROUP_SEND_SEALED */
		struct proto_group_acks group_received;
		struct proto_blob_begin blob_begin;
		struct proto_blob_chunk blob_chunk;
		struct proto_blob_commit blob_commit;
		struct proto_blob_get blob_get;
		struct proto_blob_ref blob_done;
		/* notices */
		struct proto_push push;
		struct proto_prekey_low prekey_low;
		struct proto_group_push group_push;
		struct proto_key_package_count kp_low;  /* KEY_PACKAGE_LOW */
		/* successful responses (REGISTER, UPLOAD_PREKEYS, RECEIVED, LOOKUP have no
		 * result; LOOKUP answers SOTTO_ERR_NOT_FOUND for an unknown address) */
		struct proto_bundle bundle;             /* FETCH_BUNDLE */
		struct proto_send_result sent;          /* SEND, SEND_SEALED */
		struct proto_cert_result cert;          /* SENDER_CERTIFICATE */
		struct proto_ticket_result ticket;      /* TICKET */
		struct proto_login_result logged_in;    /* LOGIN */
		struct proto_key_package_count kp_count; /* UPLOAD_KEY_PACKAGES */
		struct proto_claimed_key_package claimed; /* CLAIM_KEY_PACKAGE */
		/* GROUP_COMMIT, GROUP_SEND and GROUP_SEND_SEALED; a GROUP_COMMIT or
		 * GROUP_SEND_SEALED refused with STALE_EPOCH carries the group's current epoch
		 * in .epoch (the one status with a body) */
		struct proto_group_result group_result;
		/* BLOB_BEGIN, BLOB_CHUNK, BLOB_COMMIT, BLOB_GET (BLOB_DONE has none) */
		struct proto_blob_result blob_result;
	} u;
};

/* Whether type is a response, and the request type it answers. */
int proto_is_response(uint8_t type);
int proto_is_notice(uint8_t type);
const char *proto_type_name(uint8_t type);
/*
 * The zero bytes m's frame is padded with (frame_seal_padded), so that it is as long as
 * with an address of ADDRESS_MAX bytes: ADDRESS_MAX minus the length of the address in a
 * REGISTER, FETCH_BUNDLE, SEND or LOOKUP, and in a successful SENDER_CERTIFICATE answer
 * (the certificate names the caller). FRAME_UNPADDED (-1) for the rest, whose sizes hold no
 * address: a PUSH's envelope is already a sealed-sender bucket, the others have fixed or
 * address-free layouts. CLAIM_KEY_PACKAGE is padded as FETCH_BUNDLE; a GROUP_COMMIT's
 * address lists are not (their total length shows).
 */
int proto_padding(const struct proto_msg *m);

/* Appends the encoding of m to out. Invalid fields (bad address, counts over caps, unknown
 * type) are SOTTO_ERR_INVALID_ARG. */
int proto_encode(const struct proto_msg *m, struct buf *out) SOTTO_MUST_CHECK;
/* Decodes one whole message. m's borrowed pointers point into p. */
int proto_decode(const uint8_t *p, size_t len, struct proto_msg *m) SOTTO_MUST_CHECK;

/* Helpers that fill a message. */
void proto_response(struct proto_msg *m, uint8_t request_type, uint32_t id, int status);

/*
 * The REGISTER signature binds the device key to the address under the identity key:
 * Ed25519 by the identity key over
 *   "sotto/register/v1" 0x00 || u16 len || address || device key (32)
 */
int proto_register_sign(struct proto_register *r, const uint8_t identity_sk[64]) SOTTO_MUST_CHECK;
int proto_register_verify(const struct proto_register *r) SOTTO_MUST_CHECK;

/* The verifier the server keeps of a delivery token: BLAKE2b-256 of the token keyed with
 * PROTO_TOKEN_LABEL. The server can check a token against it and cannot make one. */
void proto_delivery_verifier(uint8_t verifier[PROTO_TOKEN_LEN],
    const uint8_t token[PROTO_TOKEN_LEN]);

#endif
