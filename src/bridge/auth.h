/*
 * Bridge authentication, shared by the SMTP and IMAP engines. The user name is the
 * user's address; the password is a random bridge password made at init and shown to the
 * user once (`sotto bridge --show-password` shows it again from the client's store). Only
 * its crypto_pwhash_str hash is kept by the bridge; it is checked with
 * crypto_pwhash_str_verify on libuv's thread pool so a check never stalls the loop.
 *
 * Guessing is rate-limited twice: per source address (every failure is answered only
 * after a delay; after a few failures the address is locked out for a time that doubles
 * with each further failure, and attempts during a lockout are refused unchecked), and
 * globally (too many failures in a minute from anywhere refuse every attempt for the rest
 * of that minute). A refused attempt is a temporary failure: SMTP 454 4.7.0, IMAP NO.
 */
#ifndef SOTTO_BRIDGE_AUTH_H
#define SOTTO_BRIDGE_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>
#include <uv.h>

#include "sotto/error.h"

/* 26 symbols of base32 (a-z, 2-7): 130 bits. */
#define BRIDGE_PASSWORD_CHARS 26
#define BRIDGE_PASSWORD_MAX 256        /* longest password the engines will take */
#define BRIDGE_USER_MAX 320            /* a user address, DECISIONS.md */
#define BRIDGE_AUTH_HASH_BYTES crypto_pwhash_STRBYTES

/* A fresh password (secret; NUL-terminated, wipe after showing it) and its hash (not
 * secret) at the interactive cost. */
int bridge_auth_new_password(char pw[static BRIDGE_PASSWORD_CHARS + 1],
    char hash[static BRIDGE_AUTH_HASH_BYTES]) SOTTO_MUST_CHECK;
/* Hashes a password with explicit costs (tests use the minimum). */
int bridge_auth_hash_password(const char *pw, size_t pwlen, unsigned long long opslimit,
    size_t memlimit, char hash[static BRIDGE_AUTH_HASH_BYTES]) SOTTO_MUST_CHECK;

struct bridge_auth_config {
	const char *user;               /* the one accepted user name (the user's address) */
	const char *pw_hash;            /* crypto_pwhash_str output */
	unsigned free_failures;         /* per address before lockouts start; 0: 3 */
	uint64_t fail_delay_ms;         /* delay before answering a failure; 0: 1000 */
	uint64_t lockout_ms;            /* first lockout, doubling; 0: 2000 */
	uint64_t lockout_max_ms;        /* 0: 5 minutes */
	unsigned global_per_min;        /* failures per minute from anywhere; 0: 30 */
	unsigned max_inflight;          /* concurrent hash checks (64 MiB each); 0: 2 */
};

struct bridge_auth;
struct bridge_auth_req;

int bridge_auth_new(struct bridge_auth **out, uv_loop_t *loop,
    const struct bridge_auth_config *cfg) SOTTO_MUST_CHECK;
/* Frees now, or once the checks in flight finish (their callbacks are not called). */
void bridge_auth_free(struct bridge_auth *a);

/* result: 0 accepted; SOTTO_ERR_AUTH wrong user or password (the failure delay has
 * already passed); SOTTO_ERR_LIMIT refused for now (rate limit or too many checks in
 * flight); other negative values are internal failures (answer as temporary). */
typedef void (*bridge_auth_cb)(void *arg, int result);

/* Starts a check; the credentials are copied (and wiped after use), so the caller may
 * wipe its own copy at once. cb runs later on the loop thread, never from inside this
 * call. *req lets the caller cancel when its connection goes away. */
int bridge_auth_check(struct bridge_auth *a, const char *peer, const uint8_t *user,
    size_t ulen, const uint8_t *pw, size_t pwlen, bridge_auth_cb cb, void *arg,
    struct bridge_auth_req **req) SOTTO_MUST_CHECK;
/* The callback of req will not be called. */
void bridge_auth_cancel(struct bridge_auth_req *req);

/* The rate limiter alone, with an explicit clock (exposed for tests). */
int bridge_auth_admit(struct bridge_auth *a, const char *peer, uint64_t now_ms)
    SOTTO_MUST_CHECK;
/* Records an outcome; returns how long to wait before answering. */
uint64_t bridge_auth_record(struct bridge_auth *a, const char *peer, int ok, uint64_t now_ms);

/* The check itself, synchronous: 0 if user matches (ASCII case-insensitively) and the
 * password verifies against hash, else SOTTO_ERR_AUTH. Always runs the hash, so a
 * wrong user name costs as much as a wrong password. */
int bridge_auth_verify(const char *want_user, const char *hash, const uint8_t *user,
    size_t ulen, const uint8_t *pw, size_t pwlen) SOTTO_MUST_CHECK;

#endif
