/*
 * sotto_send_mail: a whole RFC 5322 message to one recipient. It is split into parts
 * (mail/mail_content.h), each one MAIL content sent like a text (queued in the outbox
 * first, so a part the server cannot take now goes out later, in order). The sender's
 * history gets one entry for the mail, under the id the recipient files it under
 * (mail_content_history_id of our address and the mail id), so a receipt for the mail
 * marks it; the parts themselves are not history entries.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client/client_int.h"
#include "client/content.h"
#include "client/group_api.h"
#include "mail/mail_content.h"
#include "sotto/group.h"
#include "wire/address.h"

/* The key of mail_content_id: made once, kept sealed in the store. */
static int
mail_id_key(struct sotto *s, uint8_t key[MAIL_ID_KEY_LEN])
{
	uint8_t *v = NULL;
	size_t len = 0;
	int r;

	r = store_setting_get(s->st, MAIL_ID_KEY_SETTING, &v, &len);
	if (r == 0) {
		if (len == MAIL_ID_KEY_LEN)
			memcpy(key, v, len);
		store_blob_free(v, len);
		return len == MAIL_ID_KEY_LEN ? 0 : SOTTO_ERR_CORRUPT;
	}
	if (r != SOTTO_ERR_NOT_FOUND)
		return r;
	randombytes_buf(key, MAIL_ID_KEY_LEN);
	return store_setting_put(s->st, MAIL_ID_KEY_SETTING, key, MAIL_ID_KEY_LEN);
}

/* Our history entry of the mail (a second submission of the same bytes finds it). */
static int
mail_out_entry(struct sotto *s, const char *to, const uint8_t hid[SOTTO_ID_LEN],
    const uint8_t *msg, size_t len)
{
	struct store_contact ct;
	struct store_message m;
	uint64_t now = client_now();
	int have, r;

	if ((have = client_contact_find(s, to, &ct)) < 0)
		return have;
	memset(&m, 0, sizeof(m));
	memcpy(m.peer, to, strlen(to) + 1);
	memcpy(m.id, hid, sizeof(m.id));
	m.dir = STORE_DIR_OUT;
	m.type = STORE_MSG_MAIL;
	m.local_time = now;
	m.expires_at = have && ct.expiry_seconds ? now + ct.expiry_seconds : 0;
	m.body = (uint8_t *)(uintptr_t)msg;
	m.body_len = len;
	r = store_message_add(s->st, &m);
	return r == SOTTO_ERR_EXISTS ? 0 : r;
}

int
sotto_send_mail(struct sotto *s, const char *to, const uint8_t *msg, size_t len,
    uint8_t id[SOTTO_ID_LEN])
{
	uint8_t key[MAIL_ID_KEY_LEN], mid[MAIL_CONTENT_ID_LEN], hid[SOTTO_ID_LEN];
	char addr[ADDRESS_MAX + 1];
	struct content c;
	struct buf part;
	uint32_t count = 0, i;
	int r, queued = 0;

	if (msg == NULL || len == 0)
		return SOTTO_ERR_INVALID_ARG;
	if (len > SOTTO_MAIL_MAX)
		return SOTTO_ERR_MESSAGE_TOO_LARGE;
	if ((r = address_user_normalize(to, addr)) != 0)
		return r;
	if (!s->have_id || s->k->id.reg_state != STORE_REG_REGISTERED)
		return SOTTO_ERR_STATE;
	buf_init_dyn(&part, MAIL_CONTENT_HEADER + MAIL_CONTENT_CHUNK);
	if ((r = mail_content_count(len, &count)) != 0 || (r = mail_id_key(s, key)) != 0)
		goto out;
	r = mail_content_id(key, addr, msg, len, mid);
	sodium_memzero(key, sizeof(key));
	if (r != 0)
		goto out;
	mail_content_history_id(sotto_address(s), mid, hid);
	for (i = 0; i < count; i++) {
		if ((r = mail_content_part(mid, msg, len, i, &part)) != 0)
			goto out;
		memset(&c, 0, sizeof(c));
		c.type = CONTENT_MAIL;
		c.body = part.p;
		c.body_len = part.len;
		r = client_send_content(s, addr, &c, 0, CLIENT_TIMEOUT_MS);
		if (r == SOTTO_ERR_QUEUED)
			queued = 1;     /* the rest queues behind it, in order */
		else if (r != 0)
			goto out;       /* refused: nothing more of it goes */
		/* the entry once the first part is queued: nothing was refused for good */
		if (i == 0 && (r = mail_out_entry(s, addr, hid, msg, len)) != 0)
			goto out;
	}
	r = queued ? SOTTO_ERR_QUEUED : 0;
	if (id != NULL)
		memcpy(id, hid, SOTTO_ID_LEN);
out:
	buf_wipe_free(&part);
	return r;
}

int
sotto_group_send_mail(struct sotto *s, const char *group, const uint8_t *msg, size_t len,
    uint8_t id[SOTTO_ID_LEN])
{
	uint8_t key[MAIL_ID_KEY_LEN], mid[MAIL_CONTENT_ID_LEN], hid[SOTTO_ID_LEN];
	char gaddr[SOTTO_ADDRESS_MAX + 1];
	const char *dom;
	int r;

	if (msg == NULL || len == 0 || group == NULL)
		return SOTTO_ERR_INVALID_ARG;
	if (len > SOTTO_MAIL_MAX)
		return SOTTO_ERR_MESSAGE_TOO_LARGE;
	if (!s->have_id || s->k->id.reg_state != STORE_REG_REGISTERED)
		return SOTTO_ERR_STATE;
	/* keyed by the group's address as by a recipient's (docs/PROTOCOL.md 14.5) */
	if ((dom = strrchr(sotto_address(s), '@')) == NULL ||
	    (r = sotto_group_address(group, dom + 1, gaddr)) != 0)
		return SOTTO_ERR_NOT_FOUND;
	if ((r = mail_id_key(s, key)) != 0)
		return r;
	r = mail_content_id(key, gaddr, msg, len, mid);
	sodium_memzero(key, sizeof(key));
	if (r != 0)
		return r;
	mail_content_history_id(sotto_address(s), mid, hid);
	if ((r = client_group_mail_out(s, group, msg, len, mid, hid)) == 0 && id != NULL)
		memcpy(id, hid, SOTTO_ID_LEN);
	return r;
}
