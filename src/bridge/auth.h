/*
 * Bridge authentication, shared by the SMTP and IMAP engines. The user name is the
 * user's address; the password is a random bridge password made at init and shown to the
 * user once (`sotto bridge --show-password` shows it again from the client's store). Only
 * its crypto_pwhash_str hash is kept by the bridge; it is checked with
 * crypto_pwhash_str_verify on libuv's thread pool so a check never stalls the loop.
 *
 * Every machine user can reach a loopback port, so guessing is limited per user name
 * tried, never per address or for everyone: a failure is answered only after a delay
 * that doubles with each further failure for that name (after a few at the base delay),
 * and a right password is answered as soon as its hash is checked, whatever happened to
 * that name before. So nobody can lock the owner's mail client out, and guessing the
 * 130-bit password stays bounded by the hash rate: at most max_inflight checks hash at
 * once (64 MiB each) and the rest wait their turn in arrival order (a waiting check whose
 * connection goes away is dropped unhashed). The table of names is capped; the name that
 * failed least recently is forgotten first.
 */
#ifndef SOTTO_BRIDGE_AUTH_H
#define SOTTO_BRIDGE_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>
#include <uv.h>

#include "sotto/error.h"
#include "sotto/limits.h"

/* The password itself is libsotto's (sotto_bridge_password). */
#define BRIDGE_PASSWORD_CHARS SOTTO_BRIDGE_PASSWORD_CHARS
#define BRIDGE_PASSWORD_MAX 256        /* longest password the engines will take */
#define BRIDGE_AUTH_HASH_BYTES SOTTO_BRIDGE_HASH_MAX

/* Hashes a password with explicit costs (tests use the minimum). */
int bridge_auth_hash_password(const char *pw, size_t pwlen, unsigned long long opslimit,
    size_t memlimit, char hash[static BRIDGE_AUTH_HASH_BYTES]) SOTTO_MUST_CHECK;

struct bridge_auth_config {
	const char *user;               /* the one accepted user name (the user's address) */
	const char *pw_hash;            /* crypto_pwhash_str output */
	unsigned free_failures;         /* per name at the base delay; 0: 3 */
	uint64_t fail_delay_ms;         /* base delay before answering a failure; 0: 1000 */
	uint64_t delay_max_ms;          /* the doubling delay's cap; 0: 5 minutes */
	unsigned max_inflight;          /* concurrent hash checks (64 MiB each); 0: 2 */
};

/* User names whose failures are remembered; the least recently failed is forgotten. */
#define BRIDGE_AUTH_NAMES 64
/* Checks waiting for a hash slot; more are refused for now (SOTTO_ERR_LIMIT). Each
 * connection has at most one, so the listeners' connection caps keep far below it. */
#define BRIDGE_AUTH_QUEUE_MAX 256

struct bridge_auth;
struct bridge_auth_req;

int bridge_auth_new(struct bridge_auth **out, uv_loop_t *loop,
    const struct bridge_auth_config *cfg) SOTTO_MUST_CHECK;
/* Frees now, or once the checks in flight finish (their callbacks are not called). */
void bridge_auth_free(struct bridge_auth *a);

/* result: 0 accepted; SOTTO_ERR_AUTH wrong user or password (the failure delay has
 * already passed); SOTTO_ERR_LIMIT too many checks waiting; other negative values are
 * internal failures (answer as temporary). */
typedef void (*bridge_auth_cb)(void *arg, int result);

/* Starts a check; the credentials are copied (and wiped after use), so the caller may
 * wipe its own copy at once. cb runs later on the loop thread, never from inside this
 * call. *req lets the caller cancel when its connection goes away. */
int bridge_auth_check(struct bridge_auth *a, const uint8_t *user, size_t ulen,
    const uint8_t *pw, size_t pwlen, bridge_auth_cb cb, void *arg,
    struct bridge_auth_req **req) SOTTO_MUST_CHECK;
/* The callback of req will not be called. */
void bridge_auth_cancel(struct bridge_auth_req *req);

/* The per-name limiter alone, with an explicit clock (exposed for tests): records a
 * failure for user name (ASCII case-insensitive) and returns how long to wait before
 * answering it. */
uint64_t bridge_auth_failed(struct bridge_auth *a, const uint8_t *user, size_t ulen,
    uint64_t now_ms);

/* The check itself, synchronous: 0 if user matches (ASCII case-insensitively) and the
 * password verifies against hash, else SOTTO_ERR_AUTH. Always runs the hash, so a
 * wrong user name costs as much as a wrong password. */
int bridge_auth_verify(const char *want_user, const char *hash, const uint8_t *user,
    size_t ulen, const uint8_t *pw, size_t pwlen) SOTTO_MUST_CHECK;

#endif
