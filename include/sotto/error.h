/* Sotto's error codes: 0 is success, every failure is a distinct negative value. */
#ifndef SOTTO_ERROR_H
#define SOTTO_ERROR_H

#define SOTTO_MUST_CHECK __attribute__((warn_unused_result))

/* Append new codes at the end (before SOTTO_ERR__LAST) and name them in error.c. */
enum sotto_err {
	SOTTO_OK = 0,
	SOTTO_ERR_INTERNAL = -1,       /* a bug or an impossible state */
	SOTTO_ERR_NOMEM = -2,
	SOTTO_ERR_INVALID_ARG = -3,    /* the caller passed something unusable */
	SOTTO_ERR_TRUNCATED = -4,      /* input ended before a complete value */
	SOTTO_ERR_TRAILING = -5,       /* bytes left after a complete value */
	SOTTO_ERR_TOO_LARGE = -6,      /* a size over its cap */
	SOTTO_ERR_BAD_VERSION = -7,
	SOTTO_ERR_BAD_KEY = -8,        /* malformed or weak public key */
	SOTTO_ERR_BAD_SIGNATURE = -9,
	SOTTO_ERR_DECRYPT = -10,       /* authentication of a ciphertext failed */
	SOTTO_ERR_REPLAY = -11,        /* a message already received */
	SOTTO_ERR_TOO_MANY_SKIPPED = -12,
	SOTTO_ERR_MALFORMED = -13,     /* structurally invalid input */
	SOTTO_ERR_CRYPTO = -14,        /* a primitive refused (e.g. all-zero DH output) */
	SOTTO_ERR_IO = -15,
	SOTTO_ERR_STATE = -16,         /* operation not valid in the current state */
	SOTTO_ERR_NOT_FOUND = -17,
	SOTTO_ERR_EXISTS = -18,
	SOTTO_ERR_LIMIT = -19,         /* a rate or count limit was hit */
	SOTTO_ERR_AUTH = -20,          /* authentication or authorisation refused */
	SOTTO_ERR_PROTOCOL = -21,      /* the peer broke the protocol */
	SOTTO_ERR_TIMEOUT = -22,
	SOTTO_ERR_CLOSED = -23,        /* the connection is closed */
	SOTTO_ERR_STORAGE = -24,       /* the database refused or failed */
	SOTTO_ERR_EXPIRED = -25,
	SOTTO_ERR_UNTRUSTED_IDENTITY = -26,
	SOTTO_ERR_PASSPHRASE = -27,    /* wrong passphrase for the local store */
	SOTTO_ERR_UNSUPPORTED = -28,
	SOTTO_ERR_NO_SESSION = -29,
	SOTTO_ERR_CORRUPT = -30,       /* stored state failed its integrity check */
	SOTTO_ERR__LAST = -31
};

/* A short English description; never NULL. */
const char *sotto_strerror(int err);

#endif
