/*
 * Our own delivery token (docs/PROTOCOL.md 7.0): made, registered with the server
 * (DELIVERY_TOKEN, its verifier only), rotated, and handed to contacts inside the session.
 * The store keeps it as the setting "delivery_token" = u32 generation || 32 token ||
 * u8 registered (sealed like every setting). A content sent to a contact that was not
 * given the current generation carries the token field; the contact's record notes the
 * generation in the same transaction as the ratchet step that encrypted it.
 */
#include "client/client_int.h"

#include <string.h>

#include <sodium.h>

#include "crypto/rand.h"

#define TOKEN_SETTING "delivery_token"
#define TOKEN_SETTING_LEN (4 + CONTENT_TOKEN_LEN + 1)

_Static_assert(CONTENT_TOKEN_LEN == STORE_TOKEN_LEN && CONTENT_TOKEN_LEN == PROTO_TOKEN_LEN,
    "one token length");

static int
token_write(struct sotto *s, uint32_t gen, const uint8_t token[CONTENT_TOKEN_LEN],
    int registered)
{
	uint8_t v[TOKEN_SETTING_LEN];
	int r;

	if (gen == 0)
		return SOTTO_ERR_INVALID_ARG;
	v[0] = (uint8_t)(gen >> 24);
	v[1] = (uint8_t)(gen >> 16);
	v[2] = (uint8_t)(gen >> 8);
	v[3] = (uint8_t)gen;
	memcpy(v + 4, token, CONTENT_TOKEN_LEN);
	v[4 + CONTENT_TOKEN_LEN] = registered ? 1 : 0;
	r = store_setting_put(s->st, TOKEN_SETTING, v, sizeof(v));
	sodium_memzero(v, sizeof(v));
	return r;
}

static int
token_read(struct sotto *s, uint32_t *gen, uint8_t token[CONTENT_TOKEN_LEN], int *registered)
{
	uint8_t *v = NULL;
	size_t len = 0;
	int r;

	if ((r = store_setting_get(s->st, TOKEN_SETTING, &v, &len)) != 0)
		return r;
	if (len != TOKEN_SETTING_LEN || v[4 + CONTENT_TOKEN_LEN] > 1) {
		r = SOTTO_ERR_CORRUPT;
		goto out;
	}
	*gen = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
	memcpy(token, v + 4, CONTENT_TOKEN_LEN);
	*registered = v[4 + CONTENT_TOKEN_LEN];
out:
	store_blob_free(v, len);
	return r;
}

int
client_token_put(struct sotto *s, uint32_t gen, const uint8_t token[CONTENT_TOKEN_LEN])
{
	return token_write(s, gen, token, 0);
}

int
client_token_get(struct sotto *s, uint32_t *gen, uint8_t token[CONTENT_TOKEN_LEN])
{
	int registered;

	return token_read(s, gen, token, &registered);
}

/* DELIVERY_TOKEN with the verifier of token, on our identified connection. */
static int
token_register(struct sotto *s, const uint8_t token[CONTENT_TOKEN_LEN], int timeout_ms)
{
	struct proto_msg req, resp;

	memset(&req, 0, sizeof(req));
	req.type = PROTO_DELIVERY_TOKEN;
	proto_delivery_verifier(req.u.delivery.verifier, token);
	return client_request(s, &req, &resp, timeout_ms);
}

int
client_token_maintain(struct sotto *s, int timeout_ms)
{
	uint8_t token[CONTENT_TOKEN_LEN];
	uint32_t gen = 0;
	int registered = 0, r;

	r = token_read(s, &gen, token, &registered);
	if (r == SOTTO_ERR_NOT_FOUND) {
		gen = 1;
		rand_bytes(token, sizeof(token));
		r = token_write(s, gen, token, 0);
	}
	if (r != 0 || registered)
		goto out;
	if ((r = token_register(s, token, timeout_ms)) == 0)
		r = token_write(s, gen, token, 1);
	else if (r == SOTTO_ERR_UNSUPPORTED || r == SOTTO_ERR_PROTOCOL)
		r = 0;          /* a server without delivery tokens: every send is identified */
out:
	sodium_memzero(token, sizeof(token));
	return r;
}

int
client_token_attach(struct sotto *s, struct content *c, struct store_contact *ct)
{
	uint32_t gen = 0;
	int registered = 0, r;

	c->has_token = 0;
	if (ct->trust == STORE_TRUST_BLOCKED)
		return c->type == CONTENT_TOKEN ? SOTTO_ERR_UNTRUSTED_IDENTITY : 0;
	r = token_read(s, &gen, c->token, &registered);
	/* None yet, or one the server does not know yet (it would refuse it): the contact
	 * writes identified until we give it one, with a content after it is registered. */
	if ((r == SOTTO_ERR_NOT_FOUND || (r == 0 && !registered)) && c->type != CONTENT_TOKEN) {
		sodium_memzero(c->token, sizeof(c->token));
		return 0;
	}
	if (r == 0 && !registered)
		r = SOTTO_ERR_STATE;    /* TOKEN: sotto_token_rotate sends it registered only */
	if (r != 0) {
		sodium_memzero(c->token, sizeof(c->token));
		return r;
	}
	if (ct->token_given == gen && c->type != CONTENT_TOKEN) {
		sodium_memzero(c->token, sizeof(c->token));
		return 0;
	}
	c->has_token = 1;
	ct->token_given = gen;
	return 0;
}

int
sotto_token_rotate(struct sotto *s)
{
	struct store_contact_list l = { 0 };
	uint8_t token[CONTENT_TOKEN_LEN];
	uint32_t gen = 0;
	int registered, r, queued = 0;

	if (!s->have_id || s->k->id.reg_state != STORE_REG_REGISTERED)
		return SOTTO_ERR_STATE;
	r = token_read(s, &gen, token, &registered);
	if (r != 0 && r != SOTTO_ERR_NOT_FOUND)
		goto out;
	if (gen == UINT32_MAX) {
		r = SOTTO_ERR_LIMIT;
		goto out;
	}
	gen++;
	rand_bytes(token, sizeof(token));
	/* Stored first, registered when the server is reachable (now, or at the next
	 * connect): from then on the old token is refused to everyone. */
	if ((r = token_write(s, gen, token, 0)) != 0)
		goto out;
	if (sotto_connect(s, CLIENT_TIMEOUT_MS) == 0 &&
	    (r = client_token_maintain(s, CLIENT_TIMEOUT_MS)) != 0 && s->t != NULL)
		goto out;
	if ((r = token_read(s, &gen, token, &registered)) != 0)
		goto out;
	if (!registered) {
		/* Not registered yet (no server now): registered at the next connect, and then
		 * given to each contact with our next content to it. */
		r = SOTTO_ERR_QUEUED;
		goto out;
	}
	/* Every contact we have a session with and do not block gets it (TOKEN content). */
	if ((r = store_contact_list(s->st, &l)) != 0)
		goto out;
	for (size_t i = 0; i < l.n; i++) {
		struct content c;
		int have;

		if (l.v[i].trust == STORE_TRUST_BLOCKED)
			continue;
		if ((have = client_session_exists(s, l.v[i].address)) < 0) {
			r = have;
			goto out;
		}
		if (!have)
			continue;       /* it gets the token with our first message */
		memset(&c, 0, sizeof(c));
		c.type = CONTENT_TOKEN;
		r = client_send_content(s, l.v[i].address, &c, 0, CLIENT_TIMEOUT_MS);
		sodium_memzero(&c, sizeof(c));
		if (r == SOTTO_ERR_QUEUED)
			queued = 1;
		else if (r != 0)
			goto out;
	}
	r = queued ? SOTTO_ERR_QUEUED : 0;
out:
	store_contact_list_free(&l);
	sodium_memzero(token, sizeof(token));
	return r;
}
