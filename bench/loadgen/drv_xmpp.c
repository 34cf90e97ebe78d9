/*
 * XMPP c2s for the load generator: stream, SASL ANONYMOUS (or PLAIN for pre-created users
 * "lg<index>" / "lgpass"), stream restart, resource binding (ready with the bound full JID),
 * then <message type='chat'/> stanzas to the recipient's full JID with the payload as body.
 * No presence is sent: a message to a full JID goes to that resource directly (RFC 6121
 * 8.5.3.1), and rosters and presence would add work no other system does.
 */
#include "lg.h"

#include <stdio.h>
#include <string.h>

#include "net.h"
#include "xmpp.h"

enum { PH_FEATURES, PH_AUTH, PH_FEATURES2, PH_BIND, PH_READY };

struct xd {
	int phase;
};

static int
xmpp_prepare(struct lg *g)
{
	(void)g;
	return 0;
}

static int
xmpp_start(struct lg_client *c)
{
	struct xd *x = c->ds;

	c->addr[0] = '\0';
	xmpp_put_open(&c->out, c->g->domain);
	x->phase = PH_FEATURES;
	return buf_status(&c->out);
}

static int
on_element(struct lg_client *c, struct xd *x, const struct xmpp_unit *u)
{
	char text[LG_ADDR_MAX], type[32];
	size_t n;
	int r;

	if (strcmp(u->name, "stream:features") == 0) {
		if (x->phase == PH_FEATURES) {
			if (strcmp(c->g->xmpp_auth, "plain") == 0) {
				char user[32];

				snprintf(user, sizeof(user), "lg%u", c->idx);
				xmpp_put_auth_plain(&c->out, user, "lgpass");
			} else {
				xmpp_put_auth_anonymous(&c->out);
			}
			x->phase = PH_AUTH;
		} else if (x->phase == PH_FEATURES2) {
			if (!xmpp_has_child(u, "bind"))
				return SOTTO_ERR_PROTOCOL;
			xmpp_put_bind(&c->out, "bind1");
			x->phase = PH_BIND;
		}
		return 0;
	}
	if (strcmp(u->name, "success") == 0 && x->phase == PH_AUTH) {
		xmpp_put_open(&c->out, c->g->domain);
		x->phase = PH_FEATURES2;
		return 0;
	}
	if (strcmp(u->name, "failure") == 0 || strcmp(u->name, "stream:error") == 0)
		return SOTTO_ERR_AUTH;
	if (strcmp(u->name, "iq") == 0 && x->phase == PH_BIND) {
		if (xmpp_attr(u, "type", type, sizeof(type)) != 0 || strcmp(type, "result") != 0)
			return SOTTO_ERR_AUTH;
		if ((r = xmpp_child_text(u, "jid", text, sizeof(text), &n)) != 0)
			return r;
		memcpy(c->addr, text, n + 1);
		x->phase = PH_READY;
		lg_ready(c);
		return 0;
	}
	if (strcmp(u->name, "message") == 0) {
		static char body[4096];

		if (xmpp_attr(u, "type", type, sizeof(type)) == 0 && strcmp(type, "error") == 0) {
			c->g->st.errors++;
			return 0;
		}
		if (xmpp_child_text(u, "body", body, sizeof(body), &n) == 0)
			lg_delivered(c, (const uint8_t *)body, n);
		return 0;
	}
	return 0;
}

static long
xmpp_input(struct lg_client *c, const uint8_t *p, size_t len)
{
	struct xd *x = c->ds;
	struct xmpp_unit u;
	size_t off = 0, used;
	int r;

	while (off < len) {
		r = xmpp_next(p + off, len - off, &used, &u);
		if (r < 0)
			return r;
		off += used;
		if (r == 0)
			break;
		if (u.kind == XMPP_STREAM_CLOSE)
			return SOTTO_ERR_CLOSED;
		if (u.kind == XMPP_ELEMENT && (r = on_element(c, x, &u)) != 0)
			return r;
		if (c->state == LG_CLOSING || c->state == LG_IDLE)
			return (long)len;
	}
	return (long)off;
}

static int
xmpp_send(struct lg_client *c, struct lg_client *to, const uint8_t *payload, size_t len)
{
	char id[24];

	snprintf(id, sizeof(id), "m%u", c->seq);
	xmpp_put_message(&c->out, to->addr, id, payload, len);
	return buf_status(&c->out);
}

const struct lg_driver lg_driver_xmpp = {
	.name = "xmpp",
	.state_size = sizeof(struct xd),
	.prepare = xmpp_prepare,
	.start = xmpp_start,
	.input = xmpp_input,
	.send = xmpp_send,
};
