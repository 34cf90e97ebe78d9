/*
 * Invites: made with a lifetime (STORE_INVITE_LIFETIME_DEFAULT unless told) and a number
 * of registrations, listed by an id that is the start of the token's hash (the token
 * itself is never stored, so it cannot be shown again), and revoked by that id or by the
 * token.
 */
#include "server/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/config.h"

void
admin_invite_make(char token[INVITE_TOKEN_SIZE], uint8_t hash[STORE_TOKEN_HASH_LEN])
{
	uint8_t raw[INVITE_RAW_LEN];

	/* A token that began with '-' would read as an option on the command line
	 * (`sottod invites revoke TOKEN`, `sotto init --invite TOKEN`): draw again. */
	do {
		randombytes_buf(raw, sizeof(raw));
		sodium_bin2base64(token, INVITE_TOKEN_SIZE, raw, sizeof(raw),
		    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	} while (token[0] == '-');
	crypto_generichash(hash, STORE_TOKEN_HASH_LEN, (const uint8_t *)token, strlen(token),
	    NULL, 0);
	sodium_memzero(raw, sizeof(raw));
}

int
admin_invite_expiry(const char *arg, int64_t now, int64_t *expires)
{
	uint32_t secs = STORE_INVITE_LIFETIME_DEFAULT;

	if (arg != NULL && strcmp(arg, "never") == 0) {
		*expires = 0;
		return EXIT_OK;
	}
	if (arg != NULL && config_parse_duration(arg, &secs) != 0) {
		fprintf(stderr, "sottod: --expires %s: want a duration such as 30m, 12h, 7d or 2w "
		    "(at most %u days), or never\n", arg, CONFIG_DURATION_MAX / 86400);
		return EXIT_USAGE;
	}
	*expires = now + secs;
	return EXIT_OK;
}

/* UTC, for people ("2026-12-13 18:40 UTC") or for a table column ("2026-12-13T18:40Z"). */
static void
format_time(int64_t t, int column, char *out, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;
	size_t n = 0;

	if (gmtime_r(&tt, &tm) != NULL)
		n = column ? strftime(out, cap, "%Y-%m-%dT%H:%MZ", &tm) :
		    strftime(out, cap, "%Y-%m-%d %H:%M UTC", &tm);
	if (n == 0)
		snprintf(out, cap, "%lld", (long long)t);
}

void
admin_invite_until(int64_t expires, char *out, size_t cap)
{
	char when[32];

	if (expires == 0) {
		snprintf(out, cap, "for ever");
		return;
	}
	format_time(expires, 0, when, sizeof(when));
	snprintf(out, cap, "until %s", when);
}

static void
id_hex(const uint8_t *id, char out[STORE_INVITE_ID_LEN * 2 + 1])
{
	sodium_bin2hex(out, STORE_INVITE_ID_LEN * 2 + 1, id, STORE_INVITE_ID_LEN);
}

int
admin_invite_create(struct server_store *st, const char *expires_arg, const char *uses_arg)
{
	char token[INVITE_TOKEN_SIZE], id[STORE_INVITE_ID_LEN * 2 + 1], until[48];
	uint8_t hash[STORE_TOKEN_HASH_LEN];
	unsigned long uses = 1;
	int64_t expires;
	char *end = NULL;
	int r;

	if ((r = admin_invite_expiry(expires_arg, (int64_t)time(NULL), &expires)) != EXIT_OK)
		return r;
	if (uses_arg != NULL) {
		uses = strtoul(uses_arg, &end, 10);
		if (uses_arg[0] < '0' || uses_arg[0] > '9' || *end != '\0' || uses < 1 ||
		    uses > INVITE_USES_MAX) {
			fprintf(stderr, "sottod: --uses %s: want a number of registrations from 1 to "
			    "%d\n", uses_arg, INVITE_USES_MAX);
			return EXIT_USAGE;
		}
	}
	admin_invite_make(token, hash);
	r = st->ops->invite_add(st, hash, expires, (uint32_t)uses);
	if (r != 0) {
		sodium_memzero(token, sizeof(token));
		fprintf(stderr, "sottod: cannot store the invite: %s\n", sotto_strerror(r));
		return EXIT_DATA;
	}
	id_hex(hash, id);
	admin_invite_until(expires, until, sizeof(until));
	fprintf(stderr, "sottod: invite %s registers %lu account%s, %s\n", id, uses,
	    uses == 1 ? "" : "s", until);
	printf("%s\n", token);
	sodium_memzero(token, sizeof(token));
	return EXIT_OK;
}

struct invites_ctx {
	int json;
	size_t n;
	int64_t now;
};

static const char *
invite_state(const struct store_invite_info *in, int64_t now)
{
	if (in->revoked != 0)
		return "revoked";
	if (in->uses == 0)
		return "used";
	if (in->expires != 0 && in->expires <= now)
		return "expired";
	return "valid";
}

/* A JSON value: the number, or null for 0 (never). */
static void
json_time(char *out, size_t cap, int64_t t)
{
	if (t == 0)
		snprintf(out, cap, "null");
	else
		snprintf(out, cap, "%lld", (long long)t);
}

static int
print_invite(void *arg, const struct store_invite_info *in)
{
	struct invites_ctx *c = arg;
	char id[STORE_INVITE_ID_LEN * 2 + 1], created[32], expires[32], used[32], revoked[32];
	char name[STORE_NAME_MAX + 3];

	id_hex(in->id, id);
	if (c->json) {
		json_time(expires, sizeof(expires), in->expires);
		json_time(used, sizeof(used), in->used);
		json_time(revoked, sizeof(revoked), in->revoked);
		/* Names are [a-z0-9._-]: nothing to escape. */
		if (in->name[0] != '\0')
			snprintf(name, sizeof(name), "\"%s\"", in->name);
		else
			snprintf(name, sizeof(name), "null");
		printf("%s\n  {\"id\": \"%s\", \"created\": %lld, \"expires\": %s, "
		    "\"uses_left\": %u, \"last_used\": %s, \"revoked\": %s, \"state\": \"%s\", "
		    "\"name\": %s}", c->n > 0 ? "," : "", id, (long long)in->created, expires,
		    in->uses, used, revoked, invite_state(in, c->now), name);
	} else {
		format_time(in->created, 1, created, sizeof(created));
		if (in->expires == 0)
			snprintf(expires, sizeof(expires), "never");
		else
			format_time(in->expires, 1, expires, sizeof(expires));
		printf("%-12s  %-17s  %-17s  %6u  %-7s  %s\n", id, created, expires, in->uses,
		    invite_state(in, c->now), in->name);
	}
	c->n++;
	return 0;
}

int
admin_invites_list(struct server_store *st, int json)
{
	struct invites_ctx c = { json, 0, (int64_t)time(NULL) };
	int r;

	if (json)
		printf("[");
	else
		printf("%-12s  %-17s  %-17s  %6s  %-7s  %s\n", "ID", "CREATED", "EXPIRES",
		    "USES", "STATE", "NAME");
	r = st->ops->invites_list(st, print_invite, &c);
	if (json)
		printf("%s]\n", c.n > 0 ? "\n" : "");
	if (r != 0) {
		fprintf(stderr, "sottod: cannot list the invites: %s\n", sotto_strerror(r));
		return EXIT_DATA;
	}
	return EXIT_OK;
}

int
admin_invites_revoke(struct server_store *st, const char *which)
{
	uint8_t hash[STORE_TOKEN_HASH_LEN];
	size_t len = 0;
	int r;

	/* An id is 12 hex digits; a token (24 base64url characters) never is. */
	if (strlen(which) == STORE_INVITE_ID_LEN * 2 &&
	    sodium_hex2bin(hash, sizeof(hash), which, strlen(which), NULL, &len, NULL) == 0 &&
	    len == STORE_INVITE_ID_LEN) {
		/* an id */
	} else {
		crypto_generichash(hash, sizeof(hash), (const uint8_t *)which, strlen(which),
		    NULL, 0);
		len = sizeof(hash);
	}
	r = st->ops->invite_revoke(st, hash, len, (int64_t)time(NULL));
	if (r == SOTTO_ERR_NOT_FOUND) {
		fprintf(stderr, "sottod: no invite %s (`sottod invites list` shows their ids)\n",
		    len == sizeof(hash) ? "with that token" : which);
		return EXIT_USAGE;
	}
	if (r == SOTTO_ERR_EXISTS) {
		fprintf(stderr, "sottod: several invites have the id %s: revoke by token\n", which);
		return EXIT_USAGE;
	}
	if (r != 0) {
		fprintf(stderr, "sottod: cannot revoke the invite: %s\n", sotto_strerror(r));
		return EXIT_DATA;
	}
	fprintf(stderr, "sottod: invite revoked; it registers nobody from now on\n");
	return EXIT_OK;
}
