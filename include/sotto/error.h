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
	SOTTO_ERR_CORRUPT = -30,       /* stored data is corrupt */
	SOTTO_ERR_QUOTA = -31,         /* the sender's account quota on the server is full */
	SOTTO_ERR_QUEUED = -32,        /* kept in the outbox; not yet on the server */
	SOTTO_ERR_UNKNOWN_USER = -33,  /* no such account on that server */
	SOTTO_ERR_OTHER_DOMAIN = -34,  /* the address belongs to a domain this server does not serve */
	SOTTO_ERR_INVITE_UNKNOWN = -35,/* no such invite (mistyped, or not made by that server) */
	SOTTO_ERR_INVITE_USED = -36,   /* the invite was already used */
	SOTTO_ERR_NOT_SOTTO = -37,     /* the peer does not speak Sotto's protocol */
	SOTTO_ERR_MESSAGE_TOO_LARGE = -38, /* a message over the server's size limit */
	SOTTO_ERR_UNREACHABLE = -39,   /* the server refused or did not answer the connection */
	SOTTO_ERR_BAD_ADDRESS = -40,   /* not a valid user@domain address */
	SOTTO_ERR_DEVICE_CLONED = -41, /* another copy of this device's store is in use */
	SOTTO_ERR_IDENTITY_CHANGED = -42, /* the recipient registered a new identity */
	SOTTO_ERR_NO_ACCOUNT = -43,    /* the local store holds no account yet */
	SOTTO_ERR_ROLLBACK = -44,      /* a message number reused with other content (a restored store) */
	SOTTO_ERR_MAILBOX_FULL = -45,  /* the recipient's mailbox on the server is full */
	SOTTO_ERR_SERVER_FULL = -46,   /* the server's database is at its size cap (or its disk full) */
	SOTTO_ERR_SAFETY_MISMATCH = -47, /* not the safety number of the contact's current key */
	SOTTO_ERR_ACCOUNT_GONE = -48,  /* the server no longer has this device's account */
	SOTTO_ERR_STALE_EPOCH = -49,   /* a group Commit made in an epoch the group has left */
	SOTTO_ERR_NOT_MEMBER = -50,    /* not a member of that group */
	SOTTO_ERR_UNKNOWN_GROUP = -51, /* no group of that id on the server */
	SOTTO_ERR_GROUP_FULL = -52,    /* the group is at the server's member limit */
	SOTTO_ERR_TOO_MANY_GROUPS = -53, /* an account is in as many groups as the server allows */
	SOTTO_ERR_CLASSICAL_REFUSED = -54, /* a classical (not post-quantum) session, refused */
	SOTTO_ERR_BLOB_HASH = -55,     /* a blob's bytes do not have the hash given for them */
	SOTTO_ERR_FILE_DIGEST = -56,   /* a decrypted file does not have the digest its message gives */
	SOTTO_ERR_INVITE_EXPIRED = -57, /* the invite expired or its server's operator revoked it */
	SOTTO_ERR_NO_GROUP_TOKEN = -58, /* the server keeps no group token for the group yet */
	SOTTO_ERR__LAST = -59
};

/* A short English description; never NULL. */
const char *sotto_strerror(int err);

#endif
