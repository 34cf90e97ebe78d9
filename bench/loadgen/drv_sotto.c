/*
 * Sotto's protocol for the load generator: Noise_XX as initiator with the client's device
 * key, pinning the server key from its sotto:// address (wire/noise.h), frames
 * (wire/frame.h) and requests (wire/proto.h), all from src/wire/.
 *
 * Login: a device not yet registered sends REGISTER (open registration) for
 * "<tag>u<index>@<domain>" and is ready on its success. A registered device is known to the
 * server from the handshake alone; the server then sends PREKEY_LOW (the bench accounts hold
 * no prekeys), which the client takes as the acknowledgement of its login.
 * Messages: SEND of the 256-byte payload as the sealed envelope; PUSH delivers it; the
 * recipient answers with one RECEIVED for all envelopes of a read.
 *
 * Fan-out: client 0 creates one group (GROUP_CREATE) and adds every other client in one
 * GROUP_COMMIT with one Welcome for all of them. The delivery service does not parse MLS,
 * so the Commit and the Welcome are placeholder bytes; the message each GROUP_SEND carries
 * is the 256-byte payload, as large as a short PrivateMessage. A member is in once its
 * Welcome is pushed (the owner once its Commit is taken); GROUP_PUSH entries are
 * acknowledged with one GROUP_RECEIVED per read, as a client does after storing them.
 *
 * With SOTTO_LG_RESUME=1 in the environment every login also asks for a resumption ticket
 * (TICKET, wire/ticket.h) and its response acknowledges the login; a device holding a ticket
 * logs in with Noise_NNpsk0 (ticket || -> e, <- e ee) instead of Noise_XX.
 *
 * Sealed sends (issue 15), with SOTTO_LG_SEALED=K in the environment: each client sets a
 * delivery token after its login (DELIVERY_TOKEN, which then acknowledges the login) and
 * keeps its identified connection for receiving only. It sends on an unidentified
 * connection of its own (Noise_NK, no client key: -> e, es, <- e, ee), SEND_SEALED with the
 * recipient's token, as libsotto does; that connection carries K messages and is closed
 * once they are acknowledged (K = 100: libsotto's kept connection, CLIENT_SEALED_SENDS_MAX
 * in src/client/client_int.h; K = 1: a connection per message, a one-shot `sotto send`),
 * or, with K = 0, stays open for the whole run. Messages made while it is being opened or closed
 * wait in the client's queue; past SIDE_QUEUE_MAX of them (an open loop offering more
 * than the connections carry) a message is dropped and counts as an error and as not
 * delivered. The unidentified connections are
 * driven by net.c like clients (`struct side`), outside the core's list.
 */
#include "lg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "net.h"
#include "wire/address.h"
#include "wire/frame.h"
#include "wire/msgid.h"
#include "wire/noise.h"
#include "wire/proto.h"
#include "wire/ticket.h"

enum { PH_HS, PH_HS_RESUME, PH_REGISTER, PH_WAIT_LOGIN, PH_WAIT_TOKEN, PH_READY,
	PH_HS_SEALED };

struct sd {
	struct noise_hs hs;             /* secret while the handshake runs; wiped after */
	struct noise_transport t;       /* secret */
	struct frame_decoder dec;
	struct frame_reasm ra;
	int phase;
	int inited;
	uint32_t next_id, reg_id;
	size_t n_recv;
	uint64_t recv[PROTO_MAX_RECEIVED];
	uint64_t group_seq;             /* the last GROUP_PUSH seq, not yet acknowledged */
	int group_ack_due;
};

/* Keys of every client, made once per run. The device and identity secrets are test keys of
 * throwaway accounts; they are still wiped at exit. */
struct keys {
	uint8_t dev_sk[32], dev_pk[32];
	uint8_t id_sk[64], id_pk[32];
	uint8_t ticket[TICKET_LEN];
	uint8_t psk[TICKET_PSK_LEN];
	int has_ticket;
	uint64_t login_gen;             /* LOGIN: the generation to present next */
	uint8_t token[PROTO_TOKEN_LEN]; /* the client's delivery token (secret, test key) */
	int token_set;                  /* its verifier is registered */
};

#define SIDE_QUEUE_MAX 256

/* A message waiting for its client's unidentified connection. */
struct side_msg {
	uint32_t to;
	uint8_t payload[LG_PAYLOAD_LEN];
};

/* A client's unidentified connection and what waits for it; kept across reconnects
 * (net.c zeroes conn.ds on every close). */
struct side {
	struct lg_client conn;
	struct side_msg q[SIDE_QUEUE_MAX];
	size_t nq;
	uint32_t used;                  /* SEND_SEALEDs put on the current connection */
	uint32_t unacked;
};

static int side_start(struct lg_client *c, struct sd *s);

static int use_resume;
static int use_sealed;
static uint32_t sealed_per_conn;        /* K; 0: one connection for the whole run */
static struct side *sides;

static struct keys *keys;
static uint8_t server_x25519[32];       /* the pinned server key, converted once */
static uint8_t scratch[FRAME_MAX];
static struct proto_msg msg;            /* decoded and encoded one at a time */
static struct buf enc;
static struct proto_group_id fan_group; /* the fan-out group: "lg<tag>" */

static void
sotto_addr(struct lg_client *c)
{
	snprintf(c->addr, sizeof(c->addr), "%su%u@%s", c->g->tag, c->idx, c->g->domain);
}

static int
sides_prepare(struct lg *g, uint32_t per_conn)
{
	use_sealed = 1;
	sealed_per_conn = per_conn;
	if ((sides = calloc(g->n, sizeof(*sides))) == NULL)
		return SOTTO_ERR_NOMEM;
	for (uint32_t i = 0; i < g->n; i++) {
		struct lg_client *c = &sides[i].conn;

		c->g = g;
		c->idx = i;
		buf_init_dyn(&c->out, LG_OUT_MAX);
		buf_init_dyn(&c->in, LG_IN_MAX);
		if ((c->ds = calloc(1, g->drv->state_size)) == NULL)
			return SOTTO_ERR_NOMEM;
	}
	return 0;
}

/* The side a connection is, or NULL for a client's identified connection. */
static struct side *
side_of(struct lg_client *c)
{
	if (sides == NULL || c < &sides[0].conn || c > &sides[c->g->n - 1].conn)
		return NULL;
	return &sides[c->idx];
}

static int
sotto_prepare(struct lg *g)
{
	struct address_server as;
	int r;

	if (g->server == NULL) {
		fprintf(stderr, "loadgen: sotto needs --server sotto://KEY@host:port\n");
		return -1;
	}
	if ((r = address_server_parse(g->server, &as)) != 0) {
		fprintf(stderr, "loadgen: bad server address\n");
		return r;
	}
	/* noise_sotto_initiator() would convert the Ed25519 key on every handshake (a field
	 * square root, ~120 us here); the bench does it once, then the same init and pin. */
	if (crypto_sign_ed25519_pk_to_curve25519(server_x25519, as.key) != 0)
		return SOTTO_ERR_BAD_KEY;
	if ((keys = sodium_malloc(g->n * sizeof(*keys))) == NULL)
		return SOTTO_ERR_NOMEM;
	sodium_memzero(keys, g->n * sizeof(*keys));
	use_resume = getenv("SOTTO_LG_RESUME") != NULL &&
	    strcmp(getenv("SOTTO_LG_RESUME"), "1") == 0;
	for (uint32_t i = 0; i < g->n; i++) {
		crypto_box_keypair(keys[i].dev_pk, keys[i].dev_sk);
		crypto_sign_keypair(keys[i].id_pk, keys[i].id_sk);
		randombytes_buf(keys[i].token, sizeof(keys[i].token));
		sotto_addr(&g->clients[i]);
	}
	buf_init_dyn(&enc, 1 << 20);
	if (getenv("SOTTO_LG_SEALED") != NULL && *getenv("SOTTO_LG_SEALED") != '\0')
		return sides_prepare(g, (uint32_t)strtoul(getenv("SOTTO_LG_SEALED"), NULL, 10));
	return 0;
}

/* Bench addresses are short (tag, index, domain); longer ones are cut and then refused. */
static void
copy_addr(char dst[ADDRESS_MAX + 1], const char *src)
{
	size_t n = strnlen(src, ADDRESS_MAX);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int
put_msg(struct lg_client *c, struct sd *s, const struct proto_msg *m)
{
	int r;

	buf_reset(&enc);
	if ((r = proto_encode(m, &enc)) != 0)
		return r;
	/* Padded as libsotto pads (conn.c). */
	return frame_seal_padded(&s->t, enc.p, enc.len, proto_padding(m), &c->out);
}

/* One RECEIVED for every envelope pushed since the last one. */
static int
put_received(struct lg_client *c, struct sd *s)
{
	struct proto_msg rm;

	memset(&rm, 0, sizeof(rm));
	rm.type = PROTO_RECEIVED;
	rm.id = ++s->next_id;
	rm.u.received.n = s->n_recv;
	memcpy(rm.u.received.ids, s->recv, s->n_recv * sizeof(s->recv[0]));
	s->n_recv = 0;
	return put_msg(c, s, &rm);
}

/* One GROUP_RECEIVED up to the last group entry pushed. */
static int
put_group_received(struct lg_client *c, struct sd *s)
{
	struct proto_group_ack ack = { .group = fan_group, .seq = s->group_seq };
	struct proto_msg rm;

	memset(&rm, 0, sizeof(rm));
	rm.type = PROTO_GROUP_RECEIVED;
	rm.id = ++s->next_id;
	rm.u.group_received.n = 1;
	rm.u.group_received.items = &ack;
	s->group_ack_due = 0;
	return put_msg(c, s, &rm);
}

static int
sotto_fanout_setup(struct lg_client *owner)
{
	struct sd *s = owner->ds;
	struct proto_msg m;

	fan_group.len = (size_t)snprintf((char *)fan_group.id, sizeof(fan_group.id), "lg%s",
	    owner->g->tag);
	memset(&m, 0, sizeof(m));
	m.type = PROTO_GROUP_CREATE;
	m.id = ++s->next_id;
	m.u.group_create.group = fan_group;
	return put_msg(owner, s, &m);
}

/* The owner's Commit adding every other client, with one Welcome for all of them. */
static int
send_fanout_commit(struct lg_client *owner, struct sd *s)
{
	static const uint8_t commit[] = "placeholder Commit", welcome[] = "placeholder Welcome";
	struct lg *g = owner->g;
	struct proto_welcome w;
	const char **addrs;
	struct proto_msg m;
	int r;

	if ((addrs = calloc(g->n, sizeof(*addrs))) == NULL)
		return SOTTO_ERR_NOMEM;
	for (uint32_t i = 1; i < g->n; i++)
		addrs[i - 1] = g->clients[i].addr;
	memset(&m, 0, sizeof(m));
	m.type = PROTO_GROUP_COMMIT;
	m.id = ++s->next_id;
	m.u.group_commit.group = fan_group;
	m.u.group_commit.epoch = 0;
	m.u.group_commit.commit = (struct proto_blob){ commit, sizeof(commit) };
	m.u.group_commit.add.n = g->n - 1;
	m.u.group_commit.add.addrs = addrs;
	w.data = (struct proto_blob){ welcome, sizeof(welcome) };
	w.to = m.u.group_commit.add;
	m.u.group_commit.welcomes.n = 1;
	m.u.group_commit.welcomes.items = &w;
	r = put_msg(owner, s, &m);
	free(addrs);
	return r;
}

static int
sotto_fanout_send(struct lg_client *c, const uint8_t *payload, size_t len)
{
	struct sd *s = c->ds;
	struct proto_msg m;

	memset(&m, 0, sizeof(m));
	m.type = PROTO_GROUP_SEND;
	m.id = ++s->next_id;
	m.u.group_send.group = fan_group;
	msgid_new_now(m.u.group_send.client_msg_id);
	m.u.group_send.message = (struct proto_blob){ payload, len };
	return put_msg(c, s, &m);
}

static int
sotto_start(struct lg_client *c)
{
	struct sd *s = c->ds;
	uint8_t m1[NOISE_SOTTO_MSG1_LEN];
	size_t n;
	int r;

	frame_decoder_init(&s->dec);
	frame_reasm_init(&s->ra, FRAME_MSG_MAX_DEFAULT);
	s->inited = 1;
	if (side_of(c) != NULL)
		return side_start(c, s);
	if (use_resume && keys[c->idx].has_ticket) {
		uint8_t prologue[sizeof(TICKET_PROLOGUE) - 1 + TICKET_LEN];
		uint8_t body[TICKET_FRAME1_LEN];

		memcpy(prologue, TICKET_PROLOGUE, sizeof(TICKET_PROLOGUE) - 1);
		memcpy(prologue + sizeof(TICKET_PROLOGUE) - 1, keys[c->idx].ticket, TICKET_LEN);
		if ((r = noise_hs_init(&s->hs, TICKET_PATTERN, 1, prologue, sizeof(prologue),
		    NULL, NULL)) != 0)
			return r;
		noise_hs_set_psk(&s->hs, keys[c->idx].psk);
		memcpy(body, keys[c->idx].ticket, TICKET_LEN);
		if ((r = noise_hs_write(&s->hs, NULL, 0, body + TICKET_LEN, TICKET_MSG1_LEN,
		    &n)) != 0 || (r = frame_put_handshake(&c->out, body, TICKET_LEN + n)) != 0)
			return r;
		frame_decoder_expect(&s->dec, TICKET_MSG2_LEN);
		s->phase = PH_HS_RESUME;
		return 0;
	}
	if ((r = noise_hs_init(&s->hs, NOISE_SOTTO_PATTERN, 1,
	    (const uint8_t *)NOISE_SOTTO_PROLOGUE, strlen(NOISE_SOTTO_PROLOGUE),
	    keys[c->idx].dev_sk, NULL)) != 0)
		return r;
	noise_hs_pin_remote_static(&s->hs, server_x25519);
	if ((r = noise_hs_write(&s->hs, NULL, 0, m1, sizeof(m1), &n)) != 0 ||
	    (r = frame_put_handshake(&c->out, m1, n)) != 0)
		return r;
	frame_decoder_expect(&s->dec, NOISE_SOTTO_MSG2_LEN);
	s->phase = PH_HS;
	return 0;
}

static int
send_register(struct lg_client *c, struct sd *s)
{
	int r;

	memset(&msg, 0, sizeof(msg));
	msg.type = PROTO_REGISTER;
	msg.id = s->reg_id = ++s->next_id;
	copy_addr(msg.u.reg.address, c->addr);
	memcpy(msg.u.reg.identity_pk, keys[c->idx].id_pk, 32);
	memcpy(msg.u.reg.device_pk, keys[c->idx].dev_pk, 32);
	if ((r = proto_register_sign(&msg.u.reg, keys[c->idx].id_sk)) != 0)
		return r;
	return put_msg(c, s, &msg);
}

static int
send_ticket_request(struct lg_client *c, struct sd *s)
{
	struct proto_msg m;

	/* LOGIN, as libsotto sends it: the login generation and the next ticket. */
	memset(&m, 0, sizeof(m));
	m.type = PROTO_LOGIN;
	m.id = ++s->next_id;
	m.u.login.generation = keys[c->idx].login_gen;
	return put_msg(c, s, &m);
}

/* <- e, ee of a resumption; the LOGIN request is the first transport message, which
 * makes the server take the login. */
static int
on_resume(struct lg_client *c, struct sd *s, const uint8_t *f, size_t flen)
{
	uint8_t pl[8];
	size_t pn;
	int r;

	if ((r = noise_hs_read(&s->hs, f, flen, pl, sizeof(pl), &pn)) != 0 ||
	    (r = noise_hs_split(&s->hs, &s->t)) != 0)
		return r;
	noise_hs_wipe(&s->hs);
	frame_decoder_transport(&s->dec);
	s->phase = PH_WAIT_LOGIN;
	return send_ticket_request(c, s);
}

static int
on_handshake(struct lg_client *c, struct sd *s, const uint8_t *f, size_t flen)
{
	uint8_t pl[8], m3[NOISE_SOTTO_MSG3_LEN];
	size_t pn, n;
	int r;

	if ((r = noise_hs_read(&s->hs, f, flen, pl, sizeof(pl), &pn)) != 0 ||
	    (r = noise_hs_write(&s->hs, NULL, 0, m3, sizeof(m3), &n)) != 0 ||
	    (r = frame_put_handshake(&c->out, m3, n)) != 0 ||
	    (r = noise_hs_split(&s->hs, &s->t)) != 0)
		return r;
	noise_hs_wipe(&s->hs);
	frame_decoder_transport(&s->dec);
	if (!c->logged_in_once) {
		s->phase = PH_REGISTER;
		return send_register(c, s);
	}
	s->phase = PH_WAIT_LOGIN;
	return use_resume ? send_ticket_request(c, s) : 0;
}

/* The login is complete: with sealed sends, first the delivery token's verifier. */
static int
login_done(struct lg_client *c, struct sd *s)
{
	struct proto_msg m;

	if (!use_sealed || keys[c->idx].token_set) {
		s->phase = PH_READY;
		lg_ready(c);
		return 0;
	}
	memset(&m, 0, sizeof(m));
	m.type = PROTO_DELIVERY_TOKEN;
	m.id = ++s->next_id;
	proto_delivery_verifier(m.u.delivery.verifier, keys[c->idx].token);
	s->phase = PH_WAIT_TOKEN;
	return put_msg(c, s, &m);
}

/* SEND_SEALED of one message on side's connection, with its recipient's token. */
static int
put_sealed(struct side *sd, uint32_t to, const uint8_t *payload)
{
	struct lg_client *c = &sd->conn;
	struct sd *s = c->ds;
	struct proto_msg m;
	int r;

	memset(&m.u.send, 0, sizeof(m.u.send));
	m.type = PROTO_SEND_SEALED;
	m.id = ++s->next_id;
	m.status = 0;
	copy_addr(m.u.send.recipient, c->g->clients[to].addr);
	msgid_new_now(m.u.send.client_msg_id);
	m.u.send.envelope = payload;
	m.u.send.envelope_len = LG_PAYLOAD_LEN;
	m.u.send.has_identity = 1;
	memcpy(m.u.send.identity_pk, keys[to].id_pk, sizeof(m.u.send.identity_pk));
	memcpy(m.u.send.token, keys[to].token, PROTO_TOKEN_LEN);
	r = put_msg(c, s, &m);
	sodium_memzero(m.u.send.token, sizeof(m.u.send.token));
	if (r == 0) {
		sd->used++;
		sd->unacked++;
		net_mark(c);
	}
	return r;
}

/* Puts what waits on side's connection, as far as it may carry more. */
static int
side_drain(struct side *sd)
{
	size_t i = 0;
	int r = 0;

	while (i < sd->nq && (sealed_per_conn == 0 || sd->used < sealed_per_conn) &&
	    (r = put_sealed(sd, sd->q[i].to, sd->q[i].payload)) == 0)
		i++;
	memmove(sd->q, sd->q + i, (sd->nq - i) * sizeof(sd->q[0]));
	sd->nq -= i;
	return r;
}

static int
side_start(struct lg_client *c, struct sd *s)
{
	uint8_t m1[NOISE_SEALED_MSG1_LEN];
	size_t n;
	int r;

	if ((r = noise_hs_init(&s->hs, NOISE_SEALED_PATTERN, 1,
	    (const uint8_t *)NOISE_SOTTO_PROLOGUE, strlen(NOISE_SOTTO_PROLOGUE), NULL,
	    server_x25519)) != 0 ||
	    (r = noise_hs_write(&s->hs, NULL, 0, m1, sizeof(m1), &n)) != 0 ||
	    (r = frame_put_handshake(&c->out, m1, n)) != 0)
		return r;
	frame_decoder_expect(&s->dec, NOISE_SEALED_MSG2_LEN);
	s->phase = PH_HS_SEALED;
	return 0;
}

/* <- e, ee: the unidentified connection is up; what waits goes on it. */
static int
on_sealed_handshake(struct lg_client *c, struct sd *s, const uint8_t *f, size_t flen)
{
	struct side *sd = side_of(c);
	uint8_t pl[8];
	size_t pn;
	int r;

	if ((r = noise_hs_read(&s->hs, f, flen, pl, sizeof(pl), &pn)) != 0 ||
	    (r = noise_hs_split(&s->hs, &s->t)) != 0)
		return r;
	noise_hs_wipe(&s->hs);
	frame_decoder_transport(&s->dec);
	s->phase = PH_READY;
	/* lg_ready's counters without its scheduling: net_close undoes them. */
	c->state = LG_READY;
	c->g->n_ready++;
	if (c->g->n_connecting > 0)
		c->g->n_connecting--;
	sd->used = sd->unacked = 0;
	return side_drain(sd);
}

static int
on_sealed_result(struct lg_client *c)
{
	struct side *sd = side_of(c);

	if (msg.status != 0) {
		c->g->st.errors++;
		if (c->g->st.errors <= 5)
			fprintf(stderr, "loadgen: SEND_SEALED refused: %s\n",
			    sotto_strerror(msg.status));
	} else {
		lg_acked(&c->g->clients[c->idx]);
	}
	if (sd->unacked > 0)
		sd->unacked--;
	if (sealed_per_conn != 0 && sd->used >= sealed_per_conn && sd->unacked == 0)
		net_close(c);          /* reopened by sotto_reset if more waits */
	return 0;
}

static int
on_message(struct lg_client *c, struct sd *s, const uint8_t *p, size_t len)
{
	int r;

	if ((r = proto_decode(p, len, &msg)) != 0)
		return r;
	switch (msg.type) {
	case PROTO_PUSH:
		lg_delivered(c, msg.u.push.envelope, msg.u.push.envelope_len);
		s->recv[s->n_recv++] = msg.u.push.envelope_id;
		if (s->n_recv == PROTO_MAX_RECEIVED)
			return put_received(c, s);
		return 0;
	case PROTO_RESPONSE | PROTO_TICKET:
		if (msg.status != 0)
			return msg.status;
		memcpy(keys[c->idx].ticket, msg.u.ticket.ticket, TICKET_LEN);
		memcpy(keys[c->idx].psk, msg.u.ticket.psk, TICKET_PSK_LEN);
		sodium_memzero(&msg.u.ticket, sizeof(msg.u.ticket));
		keys[c->idx].has_ticket = 1;
		if (s->phase == PH_WAIT_LOGIN)
			return login_done(c, s);
		return 0;
	case PROTO_RESPONSE | PROTO_LOGIN:
		if (msg.status != 0)
			return msg.status;
		keys[c->idx].login_gen = msg.u.logged_in.generation;
		if (msg.u.logged_in.has_ticket) {
			memcpy(keys[c->idx].ticket, msg.u.logged_in.ticket.ticket, TICKET_LEN);
			memcpy(keys[c->idx].psk, msg.u.logged_in.ticket.psk, TICKET_PSK_LEN);
			keys[c->idx].has_ticket = 1;
		}
		sodium_memzero(&msg.u.logged_in, sizeof(msg.u.logged_in));
		if (s->phase == PH_WAIT_LOGIN)
			return login_done(c, s);
		return 0;
	case PROTO_PREKEY_LOW:
		if (s->phase == PH_WAIT_LOGIN && !use_resume)
			return login_done(c, s);
		return 0;
	case PROTO_RESPONSE | PROTO_DELIVERY_TOKEN:
		if (msg.status != 0)
			return msg.status;
		keys[c->idx].token_set = 1;
		if (s->phase == PH_WAIT_TOKEN) {
			s->phase = PH_READY;
			lg_ready(c);
		}
		return 0;
	case PROTO_RESPONSE | PROTO_SEND_SEALED:
		return on_sealed_result(c);
	case PROTO_RESPONSE | PROTO_REGISTER:
		if (s->phase != PH_REGISTER || msg.id != s->reg_id)
			return SOTTO_ERR_PROTOCOL;
		if (msg.status != 0)
			return msg.status;
		c->logged_in_once = 1;
		if (use_resume) {
			/* Ready with the first ticket in hand. */
			s->phase = PH_WAIT_LOGIN;
			return send_ticket_request(c, s);
		}
		return login_done(c, s);
	case PROTO_RESPONSE | PROTO_SEND:
		if (msg.status != 0) {
			c->g->st.errors++;
			if (c->g->st.errors <= 5)
				fprintf(stderr, "loadgen: SEND refused: %s\n", sotto_strerror(msg.status));
			return 0;
		}
		lg_acked(c);
		return 0;
	case PROTO_RESPONSE | PROTO_RECEIVED:
	case PROTO_RESPONSE | PROTO_GROUP_RECEIVED:
		if (msg.status != 0)
			c->g->st.errors++;
		return 0;
	case PROTO_RESPONSE | PROTO_GROUP_CREATE:
		if (msg.status != 0)
			return msg.status;
		return send_fanout_commit(c, s);
	case PROTO_RESPONSE | PROTO_GROUP_COMMIT:
		if (msg.status != 0)
			return msg.status;
		lg_joined(c);
		return 0;
	case PROTO_RESPONSE | PROTO_GROUP_SEND:
		if (msg.status != 0)
			return msg.status;
		lg_acked(c);
		return 0;
	case PROTO_GROUP_PUSH:
		if (msg.u.group_push.kind == PROTO_GROUP_WELCOME)
			lg_joined(c);
		else if (msg.u.group_push.kind == PROTO_GROUP_APPLICATION)
			lg_delivered(c, msg.u.group_push.data.p, msg.u.group_push.data.len);
		s->group_seq = msg.u.group_push.seq;
		s->group_ack_due = 1;
		return 0;
	default:
		return 0;
	}
}

static long
sotto_input(struct lg_client *c, const uint8_t *p, size_t len)
{
	struct sd *s = c->ds;
	size_t off = 0, used, flen, mlen;
	const uint8_t *f, *m;
	int r;

	while (off < len) {
		r = frame_decoder_feed(&s->dec, p + off, len - off, &used, &f, &flen);
		off += used;
		if (r < 0)
			return r;
		if (r == 0)
			break;
		if (s->phase == PH_HS || s->phase == PH_HS_RESUME || s->phase == PH_HS_SEALED) {
			r = s->phase == PH_HS ? on_handshake(c, s, f, flen) :
			    s->phase == PH_HS_RESUME ? on_resume(c, s, f, flen) :
			    on_sealed_handshake(c, s, f, flen);
			if (r != 0)
				return r;
			continue;
		}
		r = frame_open(&s->t, &s->ra, f, flen, scratch, &m, &mlen);
		if (r < 0)
			return r;
		if (r == 1 && (r = on_message(c, s, m, mlen)) != 0)
			return r;
		if (c->state == LG_CLOSING || c->state == LG_IDLE)
			return (long)len;
	}
	frame_decoder_done(&s->dec);
	return (long)len;
}

static void
sotto_after_read(struct lg_client *c)
{
	struct sd *s = c->ds;

	if (s->group_ack_due && put_group_received(c, s) != 0)
		lg_fail(c, "GROUP_RECEIVED encoding failed", -1);
	if (s->n_recv == 0)
		return;
	if (put_received(c, s) != 0)
		lg_fail(c, "RECEIVED encoding failed", -1);
}

/* Queues the message for c's unidentified connection, which is opened if it is not. */
static int
sealed_send(struct lg_client *c, struct lg_client *to, const uint8_t *payload, size_t len)
{
	struct side *sd = &sides[c->idx];

	if (len != LG_PAYLOAD_LEN)
		return -1;
	if (sd->nq == SIDE_QUEUE_MAX) {         /* dropped: counted as not delivered */
		c->g->st.errors++;
		return 0;
	}
	sd->q[sd->nq].to = to->idx;
	memcpy(sd->q[sd->nq].payload, payload, LG_PAYLOAD_LEN);
	sd->nq++;
	if (!sd->conn.handle_open)
		return net_connect(&sd->conn);
	if (sd->conn.state == LG_READY)
		return side_drain(sd);
	return 0;
}

static int
sotto_send(struct lg_client *c, struct lg_client *to, const uint8_t *payload, size_t len)
{
	struct sd *s = c->ds;
	struct proto_msg m;             /* only the SEND fields are read by proto_encode */

	if (use_sealed)
		return sealed_send(c, to, payload, len);
	m.type = PROTO_SEND;
	m.id = ++s->next_id;
	m.status = 0;
	copy_addr(m.u.send.recipient, to->addr);
	/* Time-ordered, as libsotto makes them (wire/msgid.h). */
	msgid_new_now(m.u.send.client_msg_id);
	m.u.send.envelope = payload;
	m.u.send.envelope_len = len;
	/* As libsotto sends it: the identity the envelope is sealed to, which sottod checks. */
	m.u.send.has_identity = 1;
	memcpy(m.u.send.identity_pk, keys[to->idx].id_pk, sizeof(m.u.send.identity_pk));
	return put_msg(c, s, &m);
}

static void
sotto_reset(struct lg_client *c)
{
	struct sd *s = c->ds;

	if (!s->inited)
		return;
	noise_hs_wipe(&s->hs);
	noise_transport_wipe(&s->t);
	frame_decoder_free(&s->dec);
	frame_reasm_free(&s->ra);
	s->inited = 0;
	/* net.c's close callback: the handle may be reused now. A side with messages
	 * waiting opens its next connection (net_connect zeroes the state, as net.c does
	 * after this returns). */
	if (side_of(c) != NULL && sides[c->idx].nq > 0 && net_connect(c) != 0)
		lg_fail(&c->g->clients[c->idx], "unidentified connection failed", -1);
}

const struct lg_driver lg_driver_sotto = {
	.name = "sotto",
	.state_size = sizeof(struct sd),
	.prepare = sotto_prepare,
	.start = sotto_start,
	.input = sotto_input,
	.after_read = sotto_after_read,
	.send = sotto_send,
	.reset = sotto_reset,
	.fanout_setup = sotto_fanout_setup,
	.fanout_send = sotto_fanout_send,
};
