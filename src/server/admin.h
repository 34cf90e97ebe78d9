/*
 * The administrator's commands of sottod beside `run` (main.c parses the command line and
 * opens the data directory; these do the work): invites, the running server's address
 * and status, and backups. Each returns one of the exit codes below.
 */
#ifndef SOTTO_SERVER_ADMIN_H
#define SOTTO_SERVER_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "server/store.h"

enum exit_code {
	EXIT_OK = 0,
	EXIT_FAILURE_RUN = 1,   /* stopped by an error while running; status: not running */
	EXIT_USAGE = 2,         /* bad command line; status: running but degraded */
	EXIT_CONFIG = 3,        /* sottod.conf or a flag has a bad value */
	EXIT_DATA = 4,          /* data directory, server key or database unusable */
	EXIT_LISTEN = 5         /* cannot listen on the address */
};

#define INVITE_RAW_LEN 18
#define INVITE_TOKEN_SIZE sodium_base64_ENCODED_LEN(INVITE_RAW_LEN, \
    sodium_base64_VARIANT_URLSAFE_NO_PADDING)
#define INVITE_USES_MAX 1000000

/* admin_invite.c */

/* A new invite token (secret until used: printed once) and the hash the database keeps. */
void admin_invite_make(char token[INVITE_TOKEN_SIZE], uint8_t hash[STORE_TOKEN_HASH_LEN]);
/* When an invite made now ends: arg is a duration (config_parse_duration), "never"
 * (*expires 0), or NULL for STORE_INVITE_LIFETIME_DEFAULT. EXIT_OK or EXIT_USAGE (said). */
int admin_invite_expiry(const char *arg, int64_t now, int64_t *expires);
/* Human time of an invite's end for messages: "until 2026-12-13 18:40 UTC" or "for ever". */
void admin_invite_until(int64_t expires, char *out, size_t cap);
/* `sottod invite [--expires D] [--uses N]`: prints the token on stdout. */
int admin_invite_create(struct server_store *st, const char *expires, const char *uses);
/* `sottod invites list [--json]` */
int admin_invites_list(struct server_store *st, int json);
/* `sottod invites revoke ID|TOKEN` */
int admin_invites_revoke(struct server_store *st, const char *which);

/* admin_backup.c */

/*
 * `sottod backup --data DIR DEST`: a consistent copy of the running (or stopped) server's
 * database, taken through the store (st, opened on DIR), and of its keys and settings,
 * into DEST (a new or empty directory, made 0700). DEST is then a data directory:
 * `sottod run --data DEST` serves it.
 */
int admin_backup(const char *dir, const char *dest, struct server_store *st);

/* admin_status.c */

/* `sottod status` exit codes, for monitoring (EXIT_OK: running and healthy). */
enum status_exit {
	STATUS_EXIT_DOWN = 1,           /* not running (or not answering) */
	STATUS_EXIT_DEGRADED = 2        /* running, with a problem it names */
};

/*
 * The running server's answer on DIR/sottod.sock (status.h) into out, NUL-terminated:
 * 0, SOTTO_ERR_UNREACHABLE when nothing answers there (no server runs on DIR), or
 * SOTTO_ERR_TOO_LARGE when DIR is too long a path for a Unix socket.
 */
int admin_status_query(const char *dir, char *out, size_t cap) SOTTO_MUST_CHECK;
/* `sottod status [--json]`: an exit code of enum status_exit or EXIT_OK. */
int admin_status(const char *dir, int json);
/*
 * The address the running server on DIR bound (DIR/sottod.address), into out: 0, or
 * SOTTO_ERR_UNREACHABLE when no server runs there.
 */
int admin_running_address(const char *dir, char *out, size_t cap) SOTTO_MUST_CHECK;

#endif
