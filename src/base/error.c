#include "sotto/error.h"

static const char *const messages[] = {
	[0] = "success",
	[-SOTTO_ERR_INTERNAL] = "internal error",
	[-SOTTO_ERR_NOMEM] = "out of memory",
	[-SOTTO_ERR_INVALID_ARG] = "invalid argument",
	[-SOTTO_ERR_TRUNCATED] = "input truncated",
	[-SOTTO_ERR_TRAILING] = "unexpected trailing bytes",
	[-SOTTO_ERR_TOO_LARGE] = "size over limit",
	[-SOTTO_ERR_BAD_VERSION] = "unsupported version",
	[-SOTTO_ERR_BAD_KEY] = "invalid key",
	[-SOTTO_ERR_BAD_SIGNATURE] = "bad signature",
	[-SOTTO_ERR_DECRYPT] = "decryption failed: message not authentic",
	[-SOTTO_ERR_REPLAY] = "message already received",
	[-SOTTO_ERR_TOO_MANY_SKIPPED] = "too many skipped messages",
	[-SOTTO_ERR_MALFORMED] = "malformed input",
	[-SOTTO_ERR_CRYPTO] = "cryptographic operation refused",
	[-SOTTO_ERR_IO] = "input/output error",
	[-SOTTO_ERR_STATE] = "operation not valid in this state",
	[-SOTTO_ERR_NOT_FOUND] = "not found",
	[-SOTTO_ERR_EXISTS] = "already exists",
	[-SOTTO_ERR_LIMIT] = "limit reached",
	[-SOTTO_ERR_AUTH] = "not authorised",
	[-SOTTO_ERR_PROTOCOL] = "protocol violation",
	[-SOTTO_ERR_TIMEOUT] = "timed out",
	[-SOTTO_ERR_CLOSED] = "connection closed",
	[-SOTTO_ERR_STORAGE] = "storage failure",
	[-SOTTO_ERR_EXPIRED] = "expired",
	[-SOTTO_ERR_UNTRUSTED_IDENTITY] = "identity key changed and is not trusted",
	[-SOTTO_ERR_PASSPHRASE] = "wrong passphrase",
	[-SOTTO_ERR_UNSUPPORTED] = "unsupported",
	[-SOTTO_ERR_NO_SESSION] = "no session with this contact",
	[-SOTTO_ERR_CORRUPT] = "stored data is corrupt",
	[-SOTTO_ERR_QUOTA] = "your account's storage quota on the server is full (messages you "
	    "sent wait there until their recipients fetch them; try again later)",
	[-SOTTO_ERR_QUEUED] = "queued in the outbox, not yet on the server",
	[-SOTTO_ERR_UNKNOWN_USER] = "no such user on that server",
	[-SOTTO_ERR_OTHER_DOMAIN] = "that address is on a domain this server does not serve",
	[-SOTTO_ERR_INVITE_UNKNOWN] = "no such invite on that server (mistyped?)",
	[-SOTTO_ERR_INVITE_USED] = "that invite was already used",
	[-SOTTO_ERR_NOT_SOTTO] = "the server does not speak the Sotto protocol (wrong port?)",
	[-SOTTO_ERR_MESSAGE_TOO_LARGE] = "message larger than the server accepts",
	[-SOTTO_ERR_UNREACHABLE] = "cannot reach the server (connection refused or no answer)",
	[-SOTTO_ERR_BAD_ADDRESS] = "not a valid address (expected name@domain)",
	[-SOTTO_ERR_DEVICE_CLONED] = "another copy of this device's store is in use",
	[-SOTTO_ERR_IDENTITY_CHANGED] = "the recipient registered a new identity",
	[-SOTTO_ERR_NO_ACCOUNT] = "no account in this store (run 'sotto init' first)",
	[-SOTTO_ERR_ROLLBACK] = "a message number was reused for other content (a restored store)",
	[-SOTTO_ERR_MAILBOX_FULL] = "the recipient's mailbox on the server is full (they must "
	    "fetch their messages first; try again later)",
	[-SOTTO_ERR_SERVER_FULL] = "the server's storage is full (try again later, or tell its "
	    "operator)",
	[-SOTTO_ERR_SAFETY_MISMATCH] = "that is not the safety number of the contact's current key",
	[-SOTTO_ERR_ACCOUNT_GONE] = "the server no longer has this device's account (reset or deleted)",
	[-SOTTO_ERR_STALE_EPOCH] = "the group changed since this change was made (apply the newer "
	    "changes and try again)",
	[-SOTTO_ERR_NOT_MEMBER] = "not a member of that group",
	[-SOTTO_ERR_UNKNOWN_GROUP] = "no such group on the server",
	[-SOTTO_ERR_GROUP_FULL] = "the group is at the server's limit of members",
	[-SOTTO_ERR_TOO_MANY_GROUPS] = "an account is already in as many groups as the server allows",
	[-SOTTO_ERR_CLASSICAL_REFUSED] = "classical session refused: post-quantum sessions are "
	    "required (the peer has no ML-KEM prekey)",
	[-SOTTO_ERR_BLOB_HASH] = "the blob's bytes do not have the hash given for them",
	[-SOTTO_ERR_FILE_DIGEST] = "the decrypted file does not have the digest its message gives",
	[-SOTTO_ERR_INVITE_EXPIRED] = "that invite has expired or was revoked",
	[-SOTTO_ERR_NO_GROUP_TOKEN] = "the group has no group token on the server yet",
};

_Static_assert(sizeof(messages) / sizeof(messages[0]) == (unsigned)-SOTTO_ERR__LAST,
    "every error code has a message");

const char *
sotto_strerror(int err)
{
	if (err > 0 || err <= SOTTO_ERR__LAST || messages[-err] == 0)
		return "unknown error";
	return messages[-err];
}
