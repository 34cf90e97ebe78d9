/* Contacts, verification by safety number, trust after a key change, and history. */
#include "client/client_int.h"
#include "client/group_api.h"
#include "client/group_events.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/safety.h"
#include "crypto/e2e_session.h"
#include "wire/address.h"

_Static_assert(SOTTO_SAFETY_LEN == SAFETY_FORMATTED_LEN, "safety number length");

static void
contact_export(struct sotto_contact *out, const struct store_contact *c)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->address, c->address, strlen(c->address) + 1);
	memcpy(out->identity_key, c->identity_pk, 32);
	out->verified = c->verified != 0;
	out->trust = (enum sotto_trust)c->trust;
	out->first_seen = c->first_seen;
	out->changed_at = c->changed_at;
	out->expiry = c->expiry_seconds;
}

/* Whether there is a current session with c and whether it is post-quantum. */
static int
contact_session(struct sotto *s, struct sotto_contact *c)
{
	uint8_t *state = NULL;
	size_t len = 0;
	int r = store_session_get(s->st, c->address, &state, &len);

	if (r == SOTTO_ERR_NOT_FOUND)
		return 0;
	if (r == 0 && (r = e2e_session_state_is_pq(state, len)) >= 0) {
		c->has_session = 1;
		c->pq = r;
		r = 0;
	}
	store_blob_free(state, len);
	return r;
}

static int
contact_load(struct sotto *s, const char *address, struct store_contact *c)
{
	char addr[ADDRESS_MAX + 1];
	int r;

	if ((r = address_user_normalize(address, addr)) != 0)
		return r;
	return store_contact_get(s->st, addr, c);
}

int
sotto_contacts(struct sotto *s, struct sotto_contact **out, size_t *n)
{
	struct store_contact_list l = { 0 };
	size_t i;
	int r;

	*out = NULL;
	*n = 0;
	if ((r = store_contact_list(s->st, &l)) != 0)
		return r;
	if (l.n > 0 && (*out = calloc(l.n, sizeof(**out))) == NULL) {
		store_contact_list_free(&l);
		return SOTTO_ERR_NOMEM;
	}
	for (i = 0; i < l.n && r == 0; i++) {
		contact_export(&(*out)[i], &l.v[i]);
		r = contact_session(s, &(*out)[i]);
	}
	if (r == 0)
		*n = l.n;
	store_contact_list_free(&l);
	if (r != 0) {
		free(*out);
		*out = NULL;
	}
	return r;
}

void
sotto_contacts_free(struct sotto_contact *v, size_t n)
{
	(void)n;
	free(v);
}

int
sotto_contact(struct sotto *s, const char *address, struct sotto_contact *out)
{
	struct store_contact c;
	int r;

	if ((r = contact_load(s, address, &c)) != 0)
		return r;
	contact_export(out, &c);
	return contact_session(s, out);
}

/* The 60 digits of the safety number with contact c's key as stored. */
static int
contact_digits(struct sotto *s, const struct store_contact *c, char d[SAFETY_DIGITS + 1])
{
	if (!s->have_id)
		return SOTTO_ERR_STATE;
	return safety_number(d, s->k->id.identity_pk, 32, (const uint8_t *)s->k->id.address,
	    strlen(s->k->id.address), c->identity_pk, 32, (const uint8_t *)c->address,
	    strlen(c->address), SAFETY_ITERATIONS);
}

int
sotto_safety_number(struct sotto *s, const char *peer, char out[SOTTO_SAFETY_LEN + 1],
    char digits[61])
{
	struct store_contact c;
	char d[SAFETY_DIGITS + 1];
	int r;

	if (!s->have_id)
		return SOTTO_ERR_STATE;
	if ((r = contact_load(s, peer, &c)) != 0 || (r = contact_digits(s, &c, d)) != 0)
		return r;
	safety_format(out, d);
	if (digits != NULL)
		memcpy(digits, d, sizeof(d));
	return 0;
}

int
sotto_contact_fetch(struct sotto *s, const char *address, int timeout_ms)
{
	struct store_contact c;
	struct proto_msg req, resp;
	char addr[ADDRESS_MAX + 1];
	int r;

	if ((r = address_user_normalize(address, addr)) != 0)
		return r;
	if ((r = store_contact_get(s->st, addr, &c)) != SOTTO_ERR_NOT_FOUND)
		return r;
	if ((r = sotto_connect(s, timeout_ms)) != 0)
		return r;
	/* The identity key comes with a prekey bundle; there is no request for it alone.
	 * The one-time prekey handed out is not used (the recipient keeps enough). */
	memset(&req, 0, sizeof(req));
	req.type = PROTO_FETCH_BUNDLE;
	memcpy(req.u.fetch.address, addr, strlen(addr) + 1);
	if ((r = client_request(s, &req, &resp, timeout_ms)) != 0)
		return r;
	if ((r = store_begin(s->st)) != 0)
		return r;
	/* Another process may have made the contact meanwhile: its key stays. */
	if ((r = store_contact_get(s->st, addr, &c)) == SOTTO_ERR_NOT_FOUND) {
		memset(&c, 0, sizeof(c));
		memcpy(c.address, addr, strlen(addr) + 1);
		memcpy(c.identity_pk, resp.u.bundle.identity_pk, 32);
		c.trust = STORE_TRUST_OK;
		c.first_seen = client_now();
		c.send_seq = 1;
		r = store_contact_put(s->st, &c);
	}
	if (r == 0)
		return store_commit(s->st);
	store_rollback(s->st);
	return r;
}

/* Digits of a safety number as the user typed it: 60 digits, spaces and newlines
 * between them allowed. */
static int
parse_digits(const char *in, char d[SAFETY_DIGITS + 1])
{
	size_t n = 0;

	for (; *in != '\0'; in++) {
		if (*in == ' ' || *in == '\t' || *in == '\n')
			continue;
		if (*in < '0' || *in > '9' || n == SAFETY_DIGITS)
			return SOTTO_ERR_SAFETY_MISMATCH;
		d[n++] = *in;
	}
	d[n] = '\0';
	return n == SAFETY_DIGITS ? 0 : SOTTO_ERR_SAFETY_MISMATCH;
}

int
sotto_verify_number(struct sotto *s, const char *peer, const char *number)
{
	struct store_contact c;
	char want[SAFETY_DIGITS + 1], have[SAFETY_DIGITS + 1];
	int r;

	if (number == NULL)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = parse_digits(number, want)) != 0)
		return r;
	/* The key read, compared and marked in one transaction: a key that changes in
	 * between is never the one marked verified. */
	if ((r = store_begin(s->st)) != 0)
		return r;
	if ((r = contact_load(s, peer, &c)) != 0 || (r = contact_digits(s, &c, have)) != 0)
		goto fail;
	if (strcmp(want, have) != 0) {
		r = SOTTO_ERR_SAFETY_MISMATCH;
		goto fail;
	}
	if (c.trust == STORE_TRUST_BLOCKED) {
		r = SOTTO_ERR_UNTRUSTED_IDENTITY;
		goto fail;
	}
	c.verified = 1;
	c.trust = STORE_TRUST_OK;
	if ((r = store_contact_put(s->st, &c)) != 0)
		goto fail;
	return store_commit(s->st);
fail:
	store_rollback(s->st);
	return r;
}

int
sotto_verify(struct sotto *s, const char *peer)
{
	struct store_contact c;
	int r;

	if ((r = contact_load(s, peer, &c)) != 0)
		return r;
	/* A blocked key is accepted with sotto_trust first, then compared. */
	if (c.trust == STORE_TRUST_BLOCKED)
		return SOTTO_ERR_UNTRUSTED_IDENTITY;
	c.verified = 1;
	c.trust = STORE_TRUST_OK;
	return store_contact_put(s->st, &c);
}

int
sotto_trust(struct sotto *s, const char *peer)
{
	struct store_contact c;
	int r;

	if ((r = contact_load(s, peer, &c)) != 0)
		return r;
	if (c.trust != STORE_TRUST_OK)
		c.verified = 0;
	c.trust = STORE_TRUST_OK;
	return store_contact_put(s->st, &c);
}

int
sotto_block(struct sotto *s, const char *peer)
{
	struct store_contact c;
	int r;

	if ((r = contact_load(s, peer, &c)) != 0)
		return r;
	c.trust = STORE_TRUST_BLOCKED;
	if ((r = store_contact_put(s->st, &c)) != 0)
		return r;
	return sotto_token_rotate(s);
}

/* Public flags of a stored message: an outgoing one still in the outbox is pending. */
static int
history_flags(struct sotto *s, const struct store_message *m, unsigned *flags)
{
	int r = 0;

	*flags = m->flags & (STORE_FLAG_DELIVERED | STORE_FLAG_READ | STORE_FLAG_KEY_CHANGED |
	    STORE_FLAG_GAP_BEFORE);
	if (m->flags & STORE_FLAG_FAILED)
		*flags |= SOTTO_MSG_FAILED;
	if (m->flags & STORE_FLAG_UNREADABLE)
		*flags |= SOTTO_MSG_UNREADABLE;
	if (m->dir == STORE_DIR_OUT && !(m->flags & STORE_FLAG_FAILED) &&
	    (r = store_outbox_has(s->st, m->id)) == 1)
		*flags |= SOTTO_MSG_PENDING;
	return r < 0 ? r : 0;
}

/* Copies l into a fresh array for the caller (bodies too); l is freed. */
static int
history_copy(struct sotto *s, struct store_message_list *l, struct sotto_message **out,
    size_t *n)
{
	struct sotto_message *v = NULL;
	size_t i;
	int r = 0;

	if (l->n > 0 && (v = calloc(l->n, sizeof(*v))) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < l->n; i++) {
		const struct store_message *m = &l->v[i];
		const uint8_t *body = m->body;
		size_t body_len = m->body_len;
		struct content fc;

		/* a file's body is its content (key included): show its caption only */
		if (m->type == STORE_MSG_FILE) {
			if (content_decode(m->body, m->body_len, &fc) != 0) {
				sotto_history_free(v, i);
				v = NULL;
				r = SOTTO_ERR_CORRUPT;
				goto out;
			}
			body = fc.body;
			body_len = fc.body_len;
		}

		v[i].row = m->row;
		memcpy(v[i].peer, m->peer, strlen(m->peer) + 1);
		memcpy(v[i].id, m->id, SOTTO_ID_LEN);
		v[i].dir = m->dir == STORE_DIR_OUT ? SOTTO_OUT : SOTTO_IN;
		v[i].content = m->type == STORE_MSG_MAIL ? SOTTO_CONTENT_MAIL :
		    m->type == STORE_MSG_FILE ? SOTTO_CONTENT_FILE : SOTTO_CONTENT_TEXT;
		v[i].seq = m->seq;
		v[i].time = m->server_time != 0 ? m->server_time : m->local_time;
		v[i].expires_at = m->expires_at;
		if ((r = history_flags(s, m, &v[i].flags)) != 0 ||
		    (v[i].body = malloc(body_len + 1)) == NULL) {
			sotto_history_free(v, i);
			v = NULL;
			r = r != 0 ? r : SOTTO_ERR_NOMEM;
			goto out;
		}
		if (body_len > 0)
			memcpy(v[i].body, body, body_len);
		v[i].body[body_len] = '\0';
		v[i].body_len = body_len;
		/* a group's change: its names as the body */
		if (m->type == STORE_MSG_GROUP_EVENT &&
		    (r = client_group_note_history(m, &v[i])) != 0) {
			sotto_history_free(v, i + 1);
			v = NULL;
			goto out;
		}
	}
	if ((r = client_group_history_names(s, v, l->n, l->v)) != 0) {
		sotto_history_free(v, l->n);
		v = NULL;
		goto out;
	}
	*out = v;
	*n = l->n;
out:
	store_message_list_free(l);
	return r;
}

/* One page of history: after a row id (oldest first) or, with newest, before one. */
static int
history_page(struct sotto *s, const char *peer, int64_t pos, size_t max, int newest,
    struct sotto_message **out, size_t *n)
{
	struct store_message_list l = { 0 };
	char addr[ADDRESS_MAX + 1];
	int r;

	*out = NULL;
	*n = 0;
	if (peer != NULL) {
		if ((r = address_user_normalize(peer, addr)) != 0)
			return r;
		peer = addr;
	}
	r = newest ? store_message_list_before(s->st, peer, pos, max, &l) :
	    store_message_list(s->st, peer, pos, max, &l);
	if (r != 0)
		return r;
	return history_copy(s, &l, out, n);
}

int
sotto_history(struct sotto *s, const char *peer, int64_t after, size_t max,
    struct sotto_message **out, size_t *n)
{
	return history_page(s, peer, after, max, 0, out, n);
}

int
sotto_history_before(struct sotto *s, const char *peer, int64_t before, size_t max,
    struct sotto_message **out, size_t *n)
{
	return history_page(s, peer, before, max, 1, out, n);
}

void
sotto_history_free(struct sotto_message *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++) {
		if (v[i].body != NULL) {
			sodium_memzero(v[i].body, v[i].body_len);
			free(v[i].body);
		}
	}
	free(v);
}

void
sotto_id_hex(char out[2 * SOTTO_ID_LEN + 1], const uint8_t id[SOTTO_ID_LEN])
{
	sodium_bin2hex(out, 2 * SOTTO_ID_LEN + 1, id, SOTTO_ID_LEN);
}
