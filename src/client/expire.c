/* Disappearing messages: the per-conversation timer and the sweep. */
#include "client/client_int.h"

#include <string.h>

#include "wire/address.h"

int
sotto_set_expiry(struct sotto *s, const char *peer, uint32_t seconds)
{
	struct store_contact c;
	struct content content;
	char addr[ADDRESS_MAX + 1];
	int r;

	if (seconds > SOTTO_EXPIRY_MAX)
		return SOTTO_ERR_INVALID_ARG;
	if ((r = address_user_normalize(peer, addr)) != 0)
		return r;
	peer = addr;
	if ((r = store_contact_get(s->st, peer, &c)) != 0)
		return r;
	if (c.trust == STORE_TRUST_BLOCKED)
		return SOTTO_ERR_UNTRUSTED_IDENTITY;
	/* Stored first: the control message carries the contact's timer. */
	c.expiry_seconds = seconds;
	if ((r = store_contact_put(s->st, &c)) != 0)
		return r;
	memset(&content, 0, sizeof(content));
	content.type = CONTENT_TIMER;
	return client_send_content(s, peer, &content, 0, CLIENT_TIMEOUT_MS);
}

int
sotto_expire(struct sotto *s)
{
	size_t n = 0;
	int r;

	if ((r = store_expire(s->st, client_now(), &n)) != 0)
		return r;
	return n > (size_t)0x7fffffff ? 0x7fffffff : (int)n;
}
