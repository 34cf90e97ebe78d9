/*
 * The mail bridge's password (sotto_bridge_password). Its hash lives in the identity record,
 * which the struct sotto already holds decrypted, so it is read from there and written back
 * from there: no second decryption of the record, and no stale copy that a later write of
 * the identity could put back. The clear password is a sealed setting, so that
 * `sotto bridge --show-password` can show it again.
 */
#include "client/client_int.h"

#include <string.h>

#include <sodium.h>

#include "client/store.h"

#define BRIDGE_PASSWORD_SETTING "bridge.password"

_Static_assert(SOTTO_BRIDGE_HASH_MAX == crypto_pwhash_STRBYTES, "crypto_pwhash_str output");
_Static_assert(SOTTO_BRIDGE_HASH_MAX <= STORE_PWHASH_MAX + 1, "the hash fits the identity");

/* 26 symbols of base32 (a-z, 2-7): 130 bits, hashed with Argon2id at the interactive cost
 * (the bridge checks it at every login). */
static int
new_password(char pw[static SOTTO_BRIDGE_PASSWORD_CHARS + 1],
    char hash[static SOTTO_BRIDGE_HASH_MAX])
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	size_t i;

	for (i = 0; i < SOTTO_BRIDGE_PASSWORD_CHARS; i++)
		pw[i] = alphabet[randombytes_uniform(32)];
	pw[SOTTO_BRIDGE_PASSWORD_CHARS] = '\0';
	if (crypto_pwhash_str(hash, pw, SOTTO_BRIDGE_PASSWORD_CHARS,
	    crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		return SOTTO_ERR_NOMEM;
	return 0;
}

int
sotto_bridge_password(struct sotto *s, char pw[SOTTO_BRIDGE_PASSWORD_CHARS + 1],
    char hash[SOTTO_BRIDGE_HASH_MAX], int *created)
{
	struct store_identity *id;
	char old[sizeof(id->bridge_pw_hash)];
	uint8_t *v = NULL;
	size_t len = 0, hlen;
	int r;

	*created = 0;
	pw[0] = '\0';
	hash[0] = '\0';
	if (!s->have_id)
		return SOTTO_ERR_STATE;
	id = &s->k->id;
	hlen = strnlen(id->bridge_pw_hash, sizeof(id->bridge_pw_hash));
	r = store_setting_get(s->st, BRIDGE_PASSWORD_SETTING, &v, &len);
	if (r == 0 && len == SOTTO_BRIDGE_PASSWORD_CHARS && hlen > 0 &&
	    hlen < SOTTO_BRIDGE_HASH_MAX) {
		memcpy(pw, v, len);
		pw[len] = '\0';
		memcpy(hash, id->bridge_pw_hash, hlen + 1);
		store_blob_free(v, len);
		return 0;
	}
	if (r == 0)
		store_blob_free(v, len);
	else if (r != SOTTO_ERR_NOT_FOUND)
		return r;
	/* none yet (or half of one): make a new one, both halves in one transaction */
	memcpy(old, id->bridge_pw_hash, sizeof(old));
	if ((r = new_password(pw, hash)) != 0)
		goto out;
	memcpy(id->bridge_pw_hash, hash, strlen(hash) + 1);
	if ((r = store_begin(s->st)) != 0)
		goto out;
	if ((r = store_identity_put(s->st, id)) != 0 ||
	    (r = store_setting_put(s->st, BRIDGE_PASSWORD_SETTING, (const uint8_t *)pw,
	    SOTTO_BRIDGE_PASSWORD_CHARS)) != 0 || (r = store_commit(s->st)) != 0) {
		store_rollback(s->st);
		goto out;
	}
	*created = 1;
out:
	if (r != 0) {
		memcpy(id->bridge_pw_hash, old, sizeof(old));
		sodium_memzero(pw, SOTTO_BRIDGE_PASSWORD_CHARS + 1);
		hash[0] = '\0';
	}
	return r;
}
