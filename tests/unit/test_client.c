/*
 * libsotto's client logic end to end over an in-process fake server (the transport
 * table in client/transport.h): every request and notice goes through the real proto
 * codec, and the fake keeps mailboxes, prekeys and sender certificates like sottod does.
 * The same behaviour through real sottod processes is in tests/integration/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "sotto/sotto.h"
#include "base/buf.h"
#include "client/client_int.h"
#include "client/content.h"
#include "client/store.h"
#include "client/store_int.h"
#include "client/transport.h"
#include "crypto/kem_prekey.h"
#include "crypto/mlkem.h"
#include "crypto/sealed.h"
#include "crypto/e2e_session.h"
#include "crypto/suite_native.h"
#include "wire/address.h"
#include "wire/cert.h"
#include "wire/proto.h"

#define FAKE_ACC_MAX 8
#define FAKE_OTPK_MAX 1000
#define FAKE_LOW 5
#define FAKE_KEM_MAX 250

struct fake_kem {
	uint32_t id;
	uint8_t ek[PROTO_KEM_EK_LEN];
	uint8_t sig[PROTO_SIG_LEN];
};

struct fake_account {
	char address[ADDRESS_MAX + 1];
	uint8_t ident[32], device[32];
	struct proto_signed_prekey spk;
	struct proto_prekey otpk[FAKE_OTPK_MAX];
	size_t n_otpk;
	int uploads;
	int has_kem_lr;
	struct fake_kem kem_lr;
	struct fake_kem kem[FAKE_KEM_MAX];
	size_t n_kem;
};

struct fake_env {
	uint64_t id;
	int rcpt, sender;
	uint8_t msgid[16];
	uint8_t *env;
	size_t len;
};

struct fake_server {
	uint8_t sk[64], pk[32];
	char address[ADDRESS_SERVER_MAX + 1];
	struct fake_account acc[FAKE_ACC_MAX];
	size_t n_acc;
	struct fake_env mail[4096];
	size_t n_mail;
	uint64_t next_env;
	int down;               /* open fails */
	int ignore_received;    /* RECEIVED does not delete (a crash before the ack) */
	int64_t cert_shift;     /* added to certificate expiries */
	int low_pending[FAKE_ACC_MAX];
	size_t sends;
	int64_t push_shift;     /* added to push timestamps, seconds */
	size_t fetches;         /* FETCH_BUNDLE requests */
	int kem_tamper;         /* FETCH_BUNDLE: 1 flips a bit of the ML-KEM signature, 2
	                         * zeroes it, 3 flips a bit of the key, 4 changes the id */
};

struct fake_conn {
	struct fake_server *srv;
	uint8_t device[32];
	int acc;
	uint64_t pushed;        /* envelopes up to this id were pushed on this connection */
	uint8_t *lent;
	size_t lent_len;
};

static struct fake_server srv;
static char tmp_root[256];

static int
find_acc_by_device(const uint8_t device[32])
{
	size_t i;

	for (i = 0; i < srv.n_acc; i++)
		if (memcmp(srv.acc[i].device, device, 32) == 0)
			return (int)i;
	return -1;
}

static int
find_acc(const char *address)
{
	size_t i;

	for (i = 0; i < srv.n_acc; i++)
		if (strcmp(srv.acc[i].address, address) == 0)
			return (int)i;
	return -1;
}

/* Encodes m and decodes it into out, borrowing from a buffer the conn owns. */
static int
fake_lend(struct fake_conn *c, const struct proto_msg *m, struct proto_msg *out)
{
	struct buf b;
	int r;

	free(c->lent);
	c->lent = NULL;
	buf_init_dyn(&b, 1u << 22);
	if ((r = proto_encode(m, &b)) != 0) {
		buf_free(&b);
		return r;
	}
	c->lent = b.p;
	c->lent_len = b.len;
	return proto_decode(c->lent, c->lent_len, out);
}

static int
fake_open(void **t, void *arg, const char *server, const uint8_t device_sk[32], int timeout_ms)
{
	struct fake_conn *c;

	(void)arg;
	(void)timeout_ms;
	if (srv.down)
		return SOTTO_ERR_IO;
	if (strcmp(server, srv.address) != 0)
		return SOTTO_ERR_AUTH;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return SOTTO_ERR_NOMEM;
	c->srv = &srv;
	crypto_scalarmult_base(c->device, device_sk);
	c->acc = find_acc_by_device(c->device);
	*t = c;
	return 0;
}

static void
fake_close(void *t)
{
	struct fake_conn *c = t;

	free(c->lent);
	free(c);
}

static int
fake_fd(void *t)
{
	(void)t;
	return -1;
}

static void
mail_delete(size_t i)
{
	free(srv.mail[i].env);
	memmove(&srv.mail[i], &srv.mail[i + 1], (srv.n_mail - i - 1) * sizeof(srv.mail[0]));
	srv.n_mail--;
}

static void
fake_kem_copy(struct fake_kem *to, const struct proto_kem_prekey *from)
{
	to->id = from->id;
	memcpy(to->ek, from->ek, PROTO_KEM_EK_LEN);
	memcpy(to->sig, from->sig, PROTO_SIG_LEN);
}

static void
fake_kem_tamper(struct proto_bundle *b)
{
	switch (srv.kem_tamper) {
	case 1: b->kem_sig[17] ^= 0x10; break;
	case 2: memset(b->kem_sig, 0, PROTO_SIG_LEN); break;
	case 3: b->kem_ek[1000] ^= 0x01; break;
	case 4: b->kem_id++; break;
	default: break;
	}
}

static int
fake_handle(struct fake_conn *c, const struct proto_msg *q, struct proto_msg *a)
{
	struct fake_account *acc;
	struct proto_msg *resp = calloc(1, sizeof(*resp));
	size_t i, j;
	int k, r = 0, st = 0;

	if (resp == NULL)
		return SOTTO_ERR_NOMEM;
	proto_response(resp, q->type, q->id, 0);
	switch (q->type) {
	case PROTO_REGISTER:
		if (proto_register_verify(&q->u.reg) != 0 ||
		    memcmp(q->u.reg.device_pk, c->device, 32) != 0) {
			st = SOTTO_ERR_AUTH;
			break;
		}
		/* A re-registration replaces the keys: the user reinstalled. */
		if ((k = find_acc(q->u.reg.address)) < 0) {
			k = (int)srv.n_acc++;
		}
		acc = &srv.acc[k];
		memset(acc, 0, sizeof(*acc));
		memcpy(acc->address, q->u.reg.address, sizeof(acc->address));
		memcpy(acc->ident, q->u.reg.identity_pk, 32);
		memcpy(acc->device, q->u.reg.device_pk, 32);
		c->acc = k;
		break;
	case PROTO_UPLOAD_PREKEYS:
		if (c->acc < 0) { st = SOTTO_ERR_AUTH; break; }
		acc = &srv.acc[c->acc];
		acc->spk = q->u.upload.spk;
		for (i = 0; i < q->u.upload.n_otpk && acc->n_otpk < FAKE_OTPK_MAX; i++)
			acc->otpk[acc->n_otpk++] = q->u.upload.otpk[i];
		if (q->u.upload.has_kem_last_resort) {
			acc->has_kem_lr = 1;
			fake_kem_copy(&acc->kem_lr, &q->u.upload.kem_last_resort);
		}
		for (i = 0; i < q->u.upload.n_kem && acc->n_kem < FAKE_KEM_MAX; i++)
			fake_kem_copy(&acc->kem[acc->n_kem++], &q->u.upload.kem[i]);
		acc->uploads++;
		break;
	case PROTO_FETCH_BUNDLE:
		srv.fetches++;
		if ((k = find_acc(q->u.fetch.address)) < 0) { st = SOTTO_ERR_NOT_FOUND; break; }
		acc = &srv.acc[k];
		proto_response(resp, q->type, q->id, 0);
		memcpy(resp->u.bundle.identity_pk, acc->ident, 32);
		resp->u.bundle.spk = acc->spk;
		if (acc->n_otpk > 0) {
			resp->u.bundle.has_otpk = 1;
			resp->u.bundle.otpk = acc->otpk[0];
			memmove(&acc->otpk[0], &acc->otpk[1], (acc->n_otpk - 1) * sizeof(acc->otpk[0]));
			acc->n_otpk--;
		}
		if (acc->n_kem > 0 || acc->has_kem_lr) {
			const struct fake_kem *fk = acc->n_kem > 0 ? &acc->kem[0] : &acc->kem_lr;

			resp->u.bundle.has_kem = 1;
			resp->u.bundle.kem_id = fk->id;
			memcpy(resp->u.bundle.kem_ek, fk->ek, PROTO_KEM_EK_LEN);
			memcpy(resp->u.bundle.kem_sig, fk->sig, PROTO_SIG_LEN);
			if (acc->n_kem > 0)
				memmove(&acc->kem[0], &acc->kem[1], --acc->n_kem * sizeof(acc->kem[0]));
			fake_kem_tamper(&resp->u.bundle);
		}
		if (acc->n_otpk < FAKE_LOW || (acc->has_kem_lr && acc->n_kem < FAKE_LOW))
			srv.low_pending[k] = 1;
		break;
	case PROTO_SEND:
		if (c->acc < 0) { st = SOTTO_ERR_AUTH; break; }
		if ((k = find_acc(q->u.send.recipient)) < 0) { st = SOTTO_ERR_NOT_FOUND; break; }
		srv.sends++;
		for (i = 0; i < srv.n_mail; i++)
			if (srv.mail[i].sender == c->acc &&
			    memcmp(srv.mail[i].msgid, q->u.send.client_msg_id, 16) == 0)
				break;
		resp->u.sent.timestamp = 1700000000000ull;
		if (i < srv.n_mail)
			break;          /* the same client message id: stored once */
		if (srv.n_mail == sizeof(srv.mail) / sizeof(srv.mail[0])) { st = SOTTO_ERR_LIMIT; break; }
		srv.mail[srv.n_mail].id = ++srv.next_env;
		srv.mail[srv.n_mail].rcpt = k;
		srv.mail[srv.n_mail].sender = c->acc;
		memcpy(srv.mail[srv.n_mail].msgid, q->u.send.client_msg_id, 16);
		srv.mail[srv.n_mail].env = malloc(q->u.send.envelope_len);
		memcpy(srv.mail[srv.n_mail].env, q->u.send.envelope, q->u.send.envelope_len);
		srv.mail[srv.n_mail].len = q->u.send.envelope_len;
		srv.n_mail++;
		break;
	case PROTO_RECEIVED:
		if (srv.ignore_received)
			break;
		for (j = 0; j < q->u.received.n; j++)
			for (i = 0; i < srv.n_mail; i++)
				if (srv.mail[i].id == q->u.received.ids[j] && srv.mail[i].rcpt == c->acc) {
					mail_delete(i);
					break;
				}
		break;
	case PROTO_DELIVERY_TOKEN:      /* taken (this fake has no sealed sends) */
		break;
	case PROTO_SENDER_CERTIFICATE:
		if (c->acc < 0) { st = SOTTO_ERR_AUTH; break; }
		acc = &srv.acc[c->acc];
		if ((r = cert_make(acc->address, acc->ident,
		    (uint64_t)((int64_t)time(NULL) + 3600 + srv.cert_shift), srv.sk,
		    resp->u.cert.cert, sizeof(resp->u.cert.cert), &resp->u.cert.len)) != 0)
			goto out;
		break;
	default:
		st = SOTTO_ERR_PROTOCOL;
	}
	if (st != 0)
		proto_response(resp, q->type, q->id, st);
	r = fake_lend(c, resp, a);
out:
	free(resp);
	return r;
}

static int
fake_request(void *t, struct proto_msg *req, struct proto_msg *resp, int timeout_ms)
{
	struct fake_conn *c = t;
	struct proto_msg *q;
	struct buf b;
	int r;

	(void)timeout_ms;
	if (srv.down)
		return SOTTO_ERR_CLOSED;
	req->id = 7;
	/* Through the codec both ways, as over the wire. */
	buf_init_dyn(&b, 1u << 22);
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return SOTTO_ERR_NOMEM;
	if ((r = proto_encode(req, &b)) == 0 && (r = proto_decode(b.p, b.len, q)) == 0)
		r = fake_handle(c, q, resp);
	free(q);
	buf_free(&b);
	return r;
}

static int
fake_next_event(void *t, struct proto_msg *ev, int timeout_ms)
{
	struct fake_conn *c = t;
	struct proto_msg m;
	size_t i;

	(void)timeout_ms;
	if (srv.down)
		return SOTTO_ERR_CLOSED;
	if (c->acc < 0)
		return SOTTO_ERR_TIMEOUT;
	memset(&m, 0, sizeof(m));
	if (srv.low_pending[c->acc]) {
		srv.low_pending[c->acc] = 0;
		m.type = PROTO_PREKEY_LOW;
		m.u.prekey_low.count = (uint32_t)srv.acc[c->acc].n_otpk;
		return fake_lend(c, &m, ev);
	}
	for (i = 0; i < srv.n_mail; i++) {
		if (srv.mail[i].rcpt == c->acc && srv.mail[i].id > c->pushed) {
			c->pushed = srv.mail[i].id;
			m.type = PROTO_PUSH;
			m.u.push.envelope_id = srv.mail[i].id;
			m.u.push.timestamp = (uint64_t)((int64_t)time(NULL) + srv.push_shift) * 1000;
			m.u.push.envelope = srv.mail[i].env;
			m.u.push.envelope_len = srv.mail[i].len;
			return fake_lend(c, &m, ev);
		}
	}
	return SOTTO_ERR_TIMEOUT;
}

static const struct transport_ops fake_ops = {
	.open = fake_open,
	.request = fake_request,
	.next_event = fake_next_event,
	.fd = fake_fd,
	.close = fake_close,
};

static void
fake_reset(void)
{
	struct address_server a;

	while (srv.n_mail > 0)
		mail_delete(srv.n_mail - 1);
	memset(&srv, 0, sizeof(srv));
	if (crypto_sign_keypair(srv.pk, srv.sk) != 0)
		abort();
	memset(&a, 0, sizeof(a));
	memcpy(a.key, srv.pk, 32);
	strcpy(a.host, "127.0.0.1");
	a.port = 7770;
	if (address_server_format(&a, srv.address, sizeof(srv.address)) != 0)
		abort();
}

static size_t
mailbox_count(const char *address)
{
	int k = find_acc(address);
	size_t i, n = 0;

	for (i = 0; i < srv.n_mail; i++)
		if (srv.mail[i].rcpt == k)
			n++;
	return n;
}

/* ---- client helpers ---- */

static const uint8_t PASS[] = "correct horse";

static void
home_path(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", tmp_root, name);
}

static struct sotto *
user_new(const char *name, const char *address)
{
	char home[512];
	struct sotto *s = NULL;

	home_path(home, sizeof(home), name);
	if (sotto_create(&s, home, PASS, sizeof(PASS) - 1, SOTTO_KDF_MIN) != 0)
		return NULL;
	client_set_transport(s, &fake_ops, NULL);
	if (sotto_init(s, address, srv.address, NULL, 1000) != 0) {
		sotto_close(s);
		return NULL;
	}
	return s;
}

static struct sotto *
user_open(const char *name)
{
	char home[512];
	struct sotto *s = NULL;

	home_path(home, sizeof(home), name);
	if (sotto_open(&s, home, PASS, sizeof(PASS) - 1) != 0)
		return NULL;
	client_set_transport(s, &fake_ops, NULL);
	return s;
}

#define EV_MAX 2100

struct seen {
	int n;
	int type[EV_MAX];
	unsigned warn[EV_MAX];
	uint64_t gap[EV_MAX];
	char body[EV_MAX][64];
	uint8_t id[EV_MAX][SOTTO_ID_LEN];
	uint32_t expiry[EV_MAX];
	char reason[EV_MAX][200];
};

static void
on_event(void *ctx, const struct sotto_event *ev)
{
	struct seen *s = ctx;
	size_t n;

	if (s->n >= EV_MAX)
		return;
	s->type[s->n] = ev->type;
	s->warn[s->n] = ev->warnings;
	s->gap[s->n] = ev->gap;
	memcpy(s->id[s->n], ev->id, SOTTO_ID_LEN);
	s->expiry[s->n] = ev->expiry;
	n = ev->body_len < 63 ? ev->body_len : 63;
	if (ev->body != NULL)
		memcpy(s->body[s->n], ev->body, n);
	s->body[s->n][n] = '\0';
	if (ev->reason != NULL)
		snprintf(s->reason[s->n], sizeof(s->reason[0]), "%s", ev->reason);
	s->n++;
}

static int
poll_all(struct sotto *s, struct seen *seen)
{
	int r;

	memset(seen, 0, sizeof(*seen));
	if ((r = sotto_connect(s, 1000)) != 0)
		return r;
	return sotto_poll(s, 0, on_event, seen);
}

static int
count_type(const struct seen *s, int type)
{
	int i, n = 0;

	for (i = 0; i < s->n; i++)
		n += s->type[i] == type;
	return n;
}

static void
rm_rf(const char *path)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "rm failed\n");
}

static void
fresh(void)
{
	rm_rf(tmp_root);
	mkdir(tmp_root, 0700);
	fake_reset();
}

/* ---- tests ---- */

TEST(content_codec)
{
	uint8_t ids[2][16];
	struct content c, d;
	struct buf b;
	size_t i;

	memset(&c, 0, sizeof(c));
	memset(ids, 0xab, sizeof(ids));
	c.type = CONTENT_RECEIPT;
	c.seq = 5;
	c.sent_ms = 99;
	c.expiry = 30;
	c.receipt_kind = CONTENT_READ;
	c.ids = (const uint8_t (*)[16])ids;
	c.n_ids = 2;
	buf_init_dyn(&b, 4096);
	REQUIRE(content_encode(&c, &b) == 0);
	REQUIRE(content_decode(b.p, b.len, &d) == 0);
	CHECK_EQ_INT(d.type, CONTENT_RECEIPT);
	CHECK_EQ_INT(d.seq, 5);
	CHECK_EQ_INT(d.expiry, 30);
	CHECK_EQ_INT(d.n_ids, 2);
	CHECK_MEM(d.ids[1], ids[1], 16);
	/* Every truncation and one trailing byte are refused. */
	for (i = 0; i < b.len; i++)
		CHECK(content_decode(b.p, i, &d) != 0);
	buf_u8(&b, 0);
	CHECK(content_decode(b.p, b.len, &d) == SOTTO_ERR_TRAILING);
	buf_free(&b);

	memset(&c, 0, sizeof(c));
	c.type = CONTENT_TEXT;
	c.seq = 1;
	c.body = (const uint8_t *)"hi";
	c.body_len = 2;
	buf_init_dyn(&b, 4096);
	REQUIRE(content_encode(&c, &b) == 0);
	REQUIRE(content_decode(b.p, b.len, &d) == 0);
	CHECK(d.body_len == 2 && memcmp(d.body, "hi", 2) == 0);
	b.p[1] = 9;     /* unknown type */
	CHECK(content_decode(b.p, b.len, &d) == SOTTO_ERR_MALFORMED);
	b.p[1] = CONTENT_TEXT;
	b.p[0] = 2;     /* unknown version */
	CHECK(content_decode(b.p, b.len, &d) != 0);
	buf_free(&b);
	c.seq = 0;      /* sequence numbers start at 1 */
	buf_init_dyn(&b, 4096);
	CHECK(content_encode(&c, &b) == SOTTO_ERR_INVALID_ARG);
	buf_free(&b);
}

/* The delivery token field: on any type, once, last; a TOKEN content needs it. */
TEST(content_token_field)
{
	struct content c, d;
	struct buf b;
	size_t i;

	memset(&c, 0, sizeof(c));
	c.type = CONTENT_TEXT;
	c.seq = 3;
	c.body = (const uint8_t *)"hi";
	c.body_len = 2;
	c.has_token = 1;
	memset(c.token, 0x5a, sizeof(c.token));
	buf_init_dyn(&b, 4096);
	REQUIRE(content_encode(&c, &b) == 0);
	/* header, lv32 body, then 0x01 || token, byte-exact as PROTOCOL.md 7.0 says */
	REQUIRE(b.len == CONTENT_HEADER_LEN + 4 + 2 + 1 + 32);
	CHECK_EQ_INT(b.p[CONTENT_HEADER_LEN + 6], CONTENT_FIELD_TOKEN);
	CHECK_MEM(b.p + CONTENT_HEADER_LEN + 7, c.token, 32);
	REQUIRE(content_decode(b.p, b.len, &d) == 0);
	CHECK(d.has_token == 1 && d.body_len == 2);
	CHECK_MEM(d.token, c.token, 32);
	for (i = 0; i < b.len; i++)
		CHECK(content_decode(b.p, i, &d) != 0 || (i == b.len - 33 && !d.has_token));
	b.p[CONTENT_HEADER_LEN + 6] = 0x02;     /* an unknown field */
	CHECK_EQ_INT(content_decode(b.p, b.len, &d), SOTTO_ERR_TRAILING);
	buf_free(&b);
	/* TOKEN: the field alone; without it the content is refused both ways. */
	memset(&c, 0, sizeof(c));
	c.type = CONTENT_TOKEN;
	c.seq = 4;
	buf_init_dyn(&b, 4096);
	CHECK_EQ_INT(content_encode(&c, &b), SOTTO_ERR_INVALID_ARG);
	c.has_token = 1;
	memset(c.token, 7, sizeof(c.token));
	buf_reset(&b);
	REQUIRE(content_encode(&c, &b) == 0);
	CHECK_EQ_INT(b.len, CONTENT_HEADER_LEN + 33);
	REQUIRE(content_decode(b.p, b.len, &d) == 0);
	CHECK(d.type == CONTENT_TOKEN && d.has_token && d.token[31] == 7);
	CHECK_EQ_INT(content_decode(b.p, CONTENT_HEADER_LEN, &d), SOTTO_ERR_MALFORMED);
	buf_free(&b);
}

/* Alice's token rides on her first message to Bob (no extra envelope) and on the first
 * after she stores a new generation; Bob's contact record keeps the newest. */
TEST(token_given_inside_the_session)
{
	struct sotto *a, *b;
	struct seen *ev = calloc(1, sizeof(*ev));
	struct store_contact ct;
	uint8_t tok[32];

	fresh();
	REQUIRE(ev != NULL);
	a = user_new("alice", "alice@example.org");
	b = user_new("bob", "bob@example.org");
	REQUIRE(a != NULL && b != NULL);
	memset(tok, 0x11, sizeof(tok));
	REQUIRE(client_token_put(a, 1, tok) == 0);
	REQUIRE(client_token_maintain(a, 1000) == 0);   /* registered: it may be given */
	CHECK_EQ_INT(sotto_send_text(a, "bob@example.org", "one", 3, NULL), 0);
	CHECK_EQ_INT(mailbox_count("bob@example.org"), 1);
	CHECK_EQ_INT(poll_all(b, ev), 1);
	CHECK_EQ_INT(ev->type[0], SOTTO_EVENT_MESSAGE);
	REQUIRE(store_contact_get(b->st, "alice@example.org", &ct) == 0);
	CHECK_EQ_INT(ct.token_state, STORE_TOKEN_OK);
	CHECK_EQ_INT(ct.token_seq, 1);
	CHECK_MEM(ct.token, tok, 32);
	REQUIRE(store_contact_get(a->st, "bob@example.org", &ct) == 0);
	CHECK_EQ_INT(ct.token_given, 1);
	/* Given once: the next message does not carry it. */
	CHECK_EQ_INT(sotto_send_text(a, "bob@example.org", "two", 3, NULL), 0);
	CHECK_EQ_INT(poll_all(b, ev), 1);
	REQUIRE(store_contact_get(b->st, "alice@example.org", &ct) == 0);
	CHECK_EQ_INT(ct.token_seq, 1);
	/* A new generation goes with the next message, and replaces the old one. */
	memset(tok, 0x22, sizeof(tok));
	REQUIRE(client_token_put(a, 2, tok) == 0);
	/* Not registered yet: not given (the server would refuse it). */
	CHECK_EQ_INT(sotto_send_text(a, "bob@example.org", "unregistered", 12, NULL), 0);
	CHECK_EQ_INT(poll_all(b, ev), 1);
	REQUIRE(store_contact_get(b->st, "alice@example.org", &ct) == 0);
	CHECK_EQ_INT(ct.token_seq, 1);
	REQUIRE(client_token_maintain(a, 1000) == 0);
	CHECK_EQ_INT(sotto_send_text(a, "bob@example.org", "three", 5, NULL), 0);
	CHECK_EQ_INT(poll_all(b, ev), 1);
	CHECK(strcmp(ev->body[0], "three") == 0);
	REQUIRE(store_contact_get(b->st, "alice@example.org", &ct) == 0);
	CHECK_EQ_INT(ct.token_seq, 4);
	CHECK_MEM(ct.token, tok, 32);
	/* Bob made his own when he registered (the fake server does not take it): his
	 * first content to Alice (the automatic delivery receipt) gave it to her. */
	{
		uint8_t bt[32];
		uint32_t gen = 0;

		CHECK_EQ_INT(sotto_send_text(b, "alice@example.org", "hi", 2, NULL), 0);
		CHECK(poll_all(a, ev) >= 1);
		REQUIRE(client_token_get(b, &gen, bt) == 0);
		CHECK_EQ_INT(gen, 1);
		REQUIRE(store_contact_get(a->st, "bob@example.org", &ct) == 0);
		CHECK_EQ_INT(ct.token_state, STORE_TOKEN_OK);
		CHECK_EQ_INT(ct.token_seq, 1);
		CHECK_MEM(ct.token, bt, 32);
	}
	sotto_close(a);
	sotto_close(b);
	free(ev);
}

TEST(exchange_receipts_history)
{
	struct sotto *a, *b;
	struct seen *ev = calloc(1, sizeof(*ev));
	struct sotto_message *h = NULL;
	struct sotto_contact ct;
	uint8_t id[SOTTO_ID_LEN];
	size_t n = 0;

	fresh();
	REQUIRE(ev != NULL);
	a = user_new("alice", "alice@example.org");
	b = user_new("bob", "bob@example.org");
	REQUIRE(a != NULL && b != NULL);
	CHECK(strcmp(sotto_address(a), "alice@example.org") == 0);
	CHECK_EQ_INT(sotto_send_text(a, "bob@example.org", "hello bob", 9, id), 0);
	CHECK_EQ_INT(mailbox_count("bob@example.org"), 1);
	CHECK_EQ_INT(poll_all(b, ev), 1);
	CHECK_EQ_INT(ev->type[0], SOTTO_EVENT_MESSAGE);
	CHECK(strcmp(ev->body[0], "hello bob") == 0);
	CHECK(memcmp(ev->id[0], id, SOTTO_ID_LEN) == 0);
	CHECK(ev->warn[0] & SOTTO_WARN_NEW_CONTACT);
	CHECK_EQ_INT(mailbox_count("bob@example.org"), 0);   /* acknowledged */
	CHECK_EQ_INT(sotto_contact(b, "alice@example.org", &ct), 0);
	CHECK(!ct.verified);

	/* Alice hears the automatic delivery receipt; her history shows it. */
	CHECK_EQ_INT(poll_all(a, ev), 1);
	CHECK_EQ_INT(ev->type[0], SOTTO_EVENT_RECEIPT);
	REQUIRE(sotto_history(a, "bob@example.org", 0, 10, &h, &n) == 0);
	REQUIRE(n == 1);
	CHECK(h[0].dir == SOTTO_OUT && (h[0].flags & SOTTO_MSG_DELIVERED));
	CHECK(strcmp((char *)h[0].body, "hello bob") == 0);
	sotto_history_free(h, n);

	/* The pull form: copies that outlive the call. */
	{
		struct sotto_event *evs = NULL;
		size_t nev = 0;

		REQUIRE(sotto_send_text(a, "bob@example.org", "pulled", 6, NULL) == 0);
		REQUIRE(sotto_connect(b, 1000) == 0);
		CHECK_EQ_INT(sotto_receive(b, 0, &evs, &nev), 1);
		REQUIRE(nev == 1);
		CHECK(evs[0].type == SOTTO_EVENT_MESSAGE && evs[0].body_len == 6 &&
		    memcmp(evs[0].body, "pulled", 6) == 0);
		CHECK(strcmp(evs[0].peer, "alice@example.org") == 0);
		sotto_events_free(evs, nev);
		CHECK(poll_all(a, ev) == 1 && ev->type[0] == SOTTO_EVENT_RECEIPT);
	}

	/* A reply and a read receipt. */
	CHECK_EQ_INT(sotto_send_text(b, "alice@example.org", "hi alice", 8, id), 0);
	CHECK_EQ_INT(poll_all(a, ev), 1);
	CHECK(strcmp(ev->body[0], "hi alice") == 0);
	CHECK(ev->warn[0] == 0);        /* she knew Bob from his bundle */
	CHECK_EQ_INT(sotto_send_receipt(a, "bob@example.org", SOTTO_RECEIPT_READ,
	    (const uint8_t (*)[SOTTO_ID_LEN])id, 1), 0);
	CHECK(poll_all(b, ev) >= 1);
	REQUIRE(sotto_history(b, "alice@example.org", 0, 10, &h, &n) == 0);
	REQUIRE(n == 3);
	CHECK(h[2].dir == SOTTO_OUT && (h[2].flags & SOTTO_MSG_READ));
	CHECK(h[1].dir == SOTTO_IN && h[1].seq == 2);
	CHECK(h[0].dir == SOTTO_IN && h[0].seq == 1);
	sotto_history_free(h, n);
	/* An unknown user. */
	CHECK_EQ_INT(sotto_send_text(a, "nobody@example.org", "x", 1, NULL), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(sotto_send_text(a, "Bad Address", "x", 1, NULL), SOTTO_ERR_BAD_ADDRESS);
	sotto_close(a);
	sotto_close(b);
	free(ev);
}

/* A FILE content (docs/PROTOCOL.md section 15) is refused with a warning by a client that
 * cannot fetch files yet, not shown as something else, and the session goes on. */
/* A FILE content is stored with its message, shown as a file message (its caption, no
 * key) and waits in the list of files to fetch (sotto/file.h). */
TEST(file_content_stored_and_pending)
{
	static const uint8_t h[32] = { 1 }, k[32] = { 2 }, d[32] = { 3 };
	uint8_t (*ids)[SOTTO_ID_LEN] = NULL;
	struct sotto *a, *b;
	struct seen *ev = calloc(1, sizeof(*ev));
	struct sotto_file f;
	struct content c;
	size_t n = 0;

	fresh();
	a = user_new("alice", "alice@example.org");
	b = user_new("bob", "bob@example.org");
	REQUIRE(a != NULL && b != NULL && ev != NULL);
	sotto_set_auto_receipts(b, 0);
	REQUIRE(sotto_send_text(a, "bob@example.org", "before", 6, NULL) == 0);
	memset(&c, 0, sizeof(c));
	c.type = CONTENT_FILE;
	c.file_size = 10;
	c.file_hash = h;
	c.file_key = k;
	c.file_digest = d;
	c.file_name = (const uint8_t *)"x.txt";
	c.file_name_len = 5;
	REQUIRE(client_send_content(a, "bob@example.org", &c, 0, CLIENT_TIMEOUT_MS) == 0);
	REQUIRE(sotto_send_text(a, "bob@example.org", "after", 5, NULL) == 0);
	CHECK_EQ_INT(poll_all(b, ev), 3);
	CHECK(ev->type[0] == SOTTO_EVENT_MESSAGE && strcmp(ev->body[0], "before") == 0);
	CHECK(ev->type[1] == SOTTO_EVENT_MESSAGE && strcmp(ev->body[1], "") == 0);
	CHECK(ev->type[2] == SOTTO_EVENT_MESSAGE && strcmp(ev->body[2], "after") == 0);
	REQUIRE(sotto_files_pending(b, &ids, &n) == 0);
	CHECK_EQ_INT(n, 1);
	if (n == 1) {
		CHECK_MEM(ids[0], c.id, SOTTO_ID_LEN);
		REQUIRE(sotto_file_info(b, ids[0], &f) == 0);
		CHECK(strcmp(f.name, "x.txt") == 0 && f.size == 10 && f.dir == SOTTO_IN &&
		    f.path[0] == '\0' && strcmp(f.peer, "alice@example.org") == 0);
	}
	free(ids);
	CHECK_EQ_INT(mailbox_count("bob@example.org"), 0);
	sotto_close(a);
	sotto_close(b);
	free(ev);
}

TEST(many_messages_both_ways)
{
	struct sotto *a, *b;
	struct seen *ev = calloc(1, sizeof(*ev));
	char msg[32];
	int i, got_a = 0, got_b = 0, r;

	fresh();
	a = user_new("alice", "alice@example.org");
	b = user_new("bob", "bob@example.org");
	REQUIRE(a != NULL && b != NULL && ev != NULL);
	sotto_set_auto_receipts(a, 0);
	sotto_set_auto_receipts(b, 0);
	for (i = 0; i < 300; i++) {
		snprintf(msg, sizeof(msg), "a%d", i);
		REQUIRE(sotto_send_text(a, "bob@example.org", msg, strlen(msg), NULL) == 0);
		snprintf(msg, sizeof(msg), "b%d", i);
		REQUIRE(sotto_send_text(b, "alice@example.org", msg, strlen(msg), NULL) == 0);
		if (i % 37 == 0) {
			r = poll_all(a, ev);
			got_a += r > 0 ? r : 0;
			r = poll_all(b, ev);
			got_b += r > 0 ? r : 0;
		}
	}
	r = poll_all(a, ev);
	got_a += r;
	r = poll_all(b, ev);
	got_b += r;
	CHECK_EQ_INT(got_a, 300);
	CHECK_EQ_INT(got_b, 300);
	CHECK(strcmp(ev->body[ev->n - 1], "a299") == 0);
	for (i = 0; i < ev->n; i++)
		CHECK(ev->warn[i] == 0);
	sotto_close(a);
	sotto_close(b);
	free(ev);
}

TEST(outbox_retry_same_id)
{
	struct sotto *a, *b;
	struct seen *ev = calloc(1, sizeof(*ev));
	uint8_t id[SOTTO_ID_LEN];
	size_t sends;

	fresh();
	a = user_new("alice", "alice@example.org");
	b = user_new("bob", "bob@example.org");
	REQUIRE(a != NULL && b != NULL && ev != NULL);
	REQUIRE(sotto_send_text(a, "bob@example.org", "one", 3, NULL) == 0);
	/* The server goes away: the message is encrypted and kept. */
	srv.down = 1;
	sotto_disconnect(a);
	CHECK(sotto_send_text(a, "bob@example.org", "two", 3, id) == SOTTO_ERR_QUEUED);
	CHECK_EQ_INT(sotto_outbox_count(a), 1);
	sotto_close(a);
	srv.down = 0;
	/* A restart later: connecting sends the outbox. */
	a = user_open("alice");
	REQUIRE(a != NULL);
	sends = srv.sends;
	CHECK_EQ_INT(sotto_connect(a, 1000), 0);
	CHECK_EQ_INT(srv.sends, sends + 1);
	CHECK_EQ_INT(sotto_outbox_count(a), 0);
	/* A retry of an id the server already has is stored once. */
	CHECK_EQ_INT(mailbox_count("bob@example.org"), 2);
	CHECK_EQ_INT(poll_all(b, ev), 2);
	CHECK(strcmp(ev->body[1], "two") == 0);
	CHECK(memcmp(ev->id[1], id, SOTTO_ID_LEN) == 0);
	sotto_close(a);
	sotto_close(b);
	free(ev);
}

/* Without a session and without the server (no bundle), the content itself is queued;
 * the next connect starts the session and sends it, once. */
TEST(first_message_queued_without_session)
{
	struct sotto *a, *b;
	struct seen *ev = calloc(1, sizeof(*ev));
	struct sotto_message *h = NULL;
	uint8_t id[SOTTO_ID_LEN], id2[SOTTO_ID_LEN];
	size_t n = 0, sends;

	fresh();
	a = user_new("alice", "alice@example.org");
	b = user_new("bob", "bob@example.org");
	REQUIRE(a != NULL && b != NULL && ev != NULL);
	srv.down = 1;
	sotto_disconnect(a);
	CHECK(sotto_send_text(a, "bob@example.org", "one", 3, id) == SOTTO_ERR_QUEUED);
	CHECK(sotto_send_text(a, "bob@example.org", "two", 3, id2) == SOTTO_ERR_QUEUED);
	CHECK_EQ_INT(sotto_outbox_count(a), 2);
	REQUIRE(sotto_history(a, NULL, 0, 10, &h, &n) == 0);
	CHECK(n == 2 && memcmp(h[0].id, id, SOTTO_ID_LEN) == 0 &&
	    (h[0].flags & SOTTO_MSG_PENDING) && (h[1].flags & SOTTO_MSG_PENDING));
	sotto_history_free(h, n);
	sotto_close(a);
	srv.down = 0;
	a = user_open("alice");
	REQUIRE(a != NULL);
	sends = srv.sends;
	CHECK_EQ_INT(sotto_connect(a, 1000), 0);
	CHECK_EQ_INT(srv.sends, sends + 2);
	CHECK_EQ_INT(sotto_outbox_count(a), 0);
	REQUIRE(sotto_history(a, NULL, 0, 10, &h, &n) == 0);
	CHECK(n == 2 && !(h[0].flags & SOTTO_MSG_PENDING) && !(h[1].flags & SOTTO_MSG_PENDING));
	sotto_history_free(h, n);
	/* nothing is sent again */
	sotto_disconnect(a);
	CHECK_EQ_INT(sotto_connect(a, 1000), 0);
	CHECK_EQ_INT(srv.sends, sends + 2);
	CHECK_EQ_INT(poll_all(b, ev), 2);
	CHECK(strcmp(ev->body[0], "one") == 0 && strcmp(ev->body[1], "two") == 0);
	CHECK(memcmp(ev->id[0], id, SOTTO_ID_LEN) == 0 && memcmp(ev->id[1], id2, SOTTO_ID_LEN) == 0);
	sotto_close(a);
	sotto_close(b);
	free(ev);
}

TEST(redelivery_dropped_and_gap_reported)
{
	struct sotto *a, *b;
	struct seen *ev = calloc(1, sizeof(*ev));
	uint8_t env_copy[PROTO_ENVELOPE_MAX];
	size_t env_len;

	fresh();
	a = user_new("alice", "alice@example.org");
	b = user_new("bob", "bob@example.org");
	REQUIRE(a != NULL && b != NULL && ev != NULL);
	sotto_set_auto_receipts(b, 0);
	REQUIRE(sotto_send_text(a, "bob@example.org", "m1", 2, NULL) == 0);
	/* Bob stores it but his acknowledgement is lost (a crash): it comes again. */
	srv.ignore_received = 1;
	CHECK_EQ_INT(poll_all(b, ev), 1);
	sotto_close(b);
	srv.ignore_received = 0;
	b = user_open("bob");
	REQUIRE(b != NULL);
	sotto_set_auto_receipts(b, 0);
	CHECK_EQ_INT(poll_all(b, ev), 0);
	CHECK_EQ_INT(mailbox_count("bob@example.org"), 0);

	/* A hostile server replays an envelope under a new id: dropped. */
	REQUIRE(sotto_send_text(a, "bob@example.org", "m2", 2, NULL) == 0);
	REQUIRE(srv.n_mail == 1);
	env_len = srv.mail[0].len;
	memcpy(env_copy, srv.mail[0].env, env_len);
	CHECK_EQ_INT(poll_all(b, ev), 1);
	srv.mail[0].id = ++srv.next_env;
	srv.mail[0].rcpt = find_acc("bob@example.org");
	srv.mail[0].sender = -1;
	srv.mail[0].env = malloc(env_len);
	memcpy(srv.mail[0].env, env_copy, env_len);
	srv.mail[0].len = env_len;
	srv.n_mail = 1;
	sotto_disconnect(b);
	CHECK_EQ_INT(poll_all(b, ev), 0);
	CHECK_EQ_INT(srv.n_mail, 0);

	/* The server loses two messages: the next one reports the gap. */
	REQUIRE(sotto_send_text(a, "bob@example.org", "m3", 2, NULL) == 0);
	REQUIRE(sotto_send_text(a, "bob@example.org", "m4", 2, NULL) == 0);
	while (srv.n_mail > 0)
		mail_delete(0);
	REQUIRE(sotto_send_text(a, "bob@example.org", "m5", 2, NULL) == 0);
	CHECK_EQ_INT(poll_all(b, ev), 1);
	CHECK(strcmp(ev->body[0], "m5") == 0);
	CHECK(ev->warn[0] & SOTTO_WARN_GAP);
	CHECK_EQ_INT(ev->gap[0], 2);
	sotto_close(a);
	sotto_close(b);
	free(ev);
}

TEST(key_change_policy)
{
	struct sotto *a, *b, *c;
	struct seen *ev = calloc(1, sizeof(*ev));
	struct sotto_contact ct;
	char sn_a[SOTTO_SAFETY_LEN + 1], sn_b[SOTTO_SAFETY_LEN + 1], d[61];
	char home[512];

	fresh();
	a = user_new("alice", "alice@example.org");
	b = user_new("bob", "bob@example.org");
	c = user_new("carol", "carol@example.org");
	REQUIRE(a != NULL && b != NULL && c != NULL && ev != NULL);
	REQUIRE(sotto_send_text(b, "alice@example.org", "hi", 2, NULL) == 0);
	REQUIRE(sotto_send_text(c, "alice@example.org", "hi", 2, NULL) == 0);
	CHECK_EQ_INT(poll_all(a, ev), 2);
	CHECK(poll_all(b, ev) >= 0);
	/* Same safety number on both sides. */
	REQUIRE(sotto_safety_number(a, "bob@example.org", sn_a, d) == 0);
	REQUIRE(sotto_safety_number(b, "alice@example.org", sn_b, NULL) == 0);
	CHECK(strcmp(sn_a, sn_b) == 0);
	CHECK_EQ_INT(strlen(sn_a), SOTTO_SAFETY_LEN);
	CHECK_EQ_INT(strlen(d), 60);
	CHECK_EQ_INT(sotto_verify(a, "bob@example.org"), 0);
	CHECK_EQ_INT(sotto_verify(a, "nobody@example.org"), SOTTO_ERR_NOT_FOUND);

	/* Bob and Carol reinstall: new keys, same addresses. */
	sotto_close(b);
	sotto_close(c);
	home_path(home, sizeof(home), "bob");
	rm_rf(home);
	home_path(home, sizeof(home), "carol");
	rm_rf(home);
	b = user_new("bob", "bob@example.org");
	c = user_new("carol", "carol@example.org");
	REQUIRE(b != NULL && c != NULL);
	REQUIRE(sotto_send_text(b, "alice@example.org", "new bob", 7, NULL) == 0);
	REQUIRE(sotto_send_text(c, "alice@example.org", "new carol", 9, NULL) == 0);
	CHECK_EQ_INT(poll_all(a, ev), 2);
	/* Verified Bob: shown with a warning, sending refused until trust. */
	CHECK(strcmp(ev->body[0], "new bob") == 0);
	CHECK((ev->warn[0] & (SOTTO_WARN_KEY_CHANGED | SOTTO_WARN_KEY_BLOCKED)) ==
	    (SOTTO_WARN_KEY_CHANGED | SOTTO_WARN_KEY_BLOCKED));
	/* Unverified Carol: a notice, sending goes on. */
	CHECK(strcmp(ev->body[1], "new carol") == 0);
	CHECK(ev->warn[1] == SOTTO_WARN_KEY_CHANGED);
	CHECK_EQ_INT(sotto_send_text(a, "bob@example.org", "x", 1, NULL),
	    SOTTO_ERR_UNTRUSTED_IDENTITY);
	CHECK_EQ_INT(sotto_send_text(a, "carol@example.org", "ok", 2, NULL), 0);
	REQUIRE(sotto_contact(a, "bob@example.org", &ct) == 0);
	CHECK(ct.trust == SOTTO_TRUST_BLOCKED);
	CHECK_EQ_INT(sotto_safety_number(a, "bob@example.org", sn_b, NULL), 0);
	CHECK(strcmp(sn_a, sn_b) != 0);
	CHECK_EQ_INT(sotto_trust(a, "bob@example.org"), 0);
	REQUIRE(sotto_contact(a, "bob@example.org", &ct) == 0);
	CHECK(ct.trust == SOTTO_TRUST_OK && !ct.verified);
	CHECK_EQ_INT(sotto_send_text(a, "bob@example.org", "welcome back", 12, NULL), 0);
	CHECK_EQ_INT(poll_all(b, ev), 1);
	CHECK(strcmp(ev->body[0], "welcome back") == 0);
	CHECK(ev->warn[0] == 0);
	sotto_close(a);
	sotto_close(b);
	sotto_close(c);
	free(ev);
}

/* Seals a message from `from` by hand, with a chosen certificate and sender address. */
static void
inject(struct sotto *from, const char *claimed, const uint8_t *cert, size_t cert_len,
    const char *to)
{
	struct sealed_content sc;
	struct buf env;
	int k = find_acc(to);

	memset(&sc, 0, sizeof(sc));
	sc.sender_addr = claimed;
	sc.sender_addr_len = strlen(claimed);
	sc.cert = cert;
	sc.cert_len = cert_len;
	sc.msg_type = 2;
	sc.msg = (const uint8_t *)"not a ratchet message";
	sc.msg_len = 21;
	buf_init_dyn(&env, 65536);
	if (sealed_seal(&env, &from->k->xid, srv.acc[k].ident, &sc) != 0)
		abort();
	srv.mail[srv.n_mail].id = ++srv.next_env;
	srv.mail[srv.n_mail].rcpt = k;
	srv.mail[srv.n_mail].sender = -1;
	srv.mail[srv.n_mail].env = env.p;
	srv.mail[srv.n_mail].len = env.len;
	srv.n_mail++;
}

TEST(sealed_sender_checks)
{
	struct sotto *a, *b, *m;
	struct seen *ev = calloc(1, sizeof(*ev));
	uint8_t cert[CERT_MAX], other_sk[64], other_pk[32];
	size_t cert_len;
	int k;

	fresh();
	a = user_new("alice", "alice@example.org");
	b = user_new("bob", "bob@example.org");
	m = user_new("mallory", "mallory@example.org");
	REQUIRE(a != NULL && b != NULL && m != NULL && ev != NULL);
	REQUIRE(sotto_send_text(a, "bob@example.org", "real", 4, NULL) == 0);
	CHECK_EQ_INT(poll_all(b, ev), 1);

	/* Mallory claims to be Alice with her own (valid) certificate. */
	k = find_acc("mallory@example.org");
	REQUIRE(cert_make("mallory@example.org", srv.acc[k].ident, (uint64_t)time(NULL) + 600,
	    srv.sk, cert, sizeof(cert), &cert_len) == 0);
	inject(m, "alice@example.org", cert, cert_len, "bob@example.org");
	/* A certificate for Alice's address and Mallory's key, signed by another server. */
	crypto_sign_keypair(other_pk, other_sk);
	REQUIRE(cert_make("alice@example.org", srv.acc[k].ident, (uint64_t)time(NULL) + 600,
	    other_sk, cert, sizeof(cert), &cert_len) == 0);
	inject(m, "alice@example.org", cert, cert_len, "bob@example.org");
	/* An expired certificate. */
	REQUIRE(cert_make("mallory@example.org", srv.acc[k].ident, (uint64_t)time(NULL) - 1,
	    srv.sk, cert, sizeof(cert), &cert_len) == 0);
	inject(m, "mallory@example.org", cert, cert_len, "bob@example.org");
	/* Garbage instead of an envelope. */
	srv.mail[srv.n_mail].id = ++srv.next_env;
	srv.mail[srv.n_mail].rcpt = find_acc("bob@example.org");
	srv.mail[srv.n_mail].sender = -1;
	srv.mail[srv.n_mail].env = calloc(1, 200);
	srv.mail[srv.n_mail].len = 200;
	srv.n_mail++;

	CHECK_EQ_INT(poll_all(b, ev), 4);
	CHECK_EQ_INT(count_type(ev, SOTTO_EVENT_WARNING), 4);
	CHECK(strstr(ev->reason[0], "does not match") != NULL);
	CHECK(strstr(ev->reason[1], "signed") != NULL);
	CHECK(strstr(ev->reason[2], "expired") != NULL);
	CHECK(strstr(ev->reason[3], "opened") != NULL);
	CHECK_EQ_INT(mailbox_count("bob@example.org"), 0);     /* not retried forever */

	/* A certificate that expired after the server accepted the envelope is fine: the
	 * check gets past it (and fails later, on the fake ratchet message). */
	REQUIRE(cert_make("mallory@example.org", srv.acc[k].ident, (uint64_t)time(NULL) - 5,
	    srv.sk, cert, sizeof(cert), &cert_len) == 0);
	inject(m, "mallory@example.org", cert, cert_len, "bob@example.org");
	srv.push_shift = -10;
	CHECK_EQ_INT(poll_all(b, ev), 1);
	srv.push_shift = 0;
	CHECK(strstr(ev->reason[0], "expired") == NULL);
	CHECK(strstr(ev->reason[0], "decrypted") != NULL || strstr(ev->reason[0], "session") != NULL);
	/* Nothing of theirs was stored; Alice's session still works. */
	REQUIRE(sotto_send_text(a, "bob@example.org", "still real", 10, NULL) == 0);
	CHECK_EQ_INT(poll_all(b, ev), 1);
	CHECK(strcmp(ev->body[0], "still real") == 0 && ev->warn[0] == 0);
	sotto_close(a);
	sotto_close(b);
	sotto_close(m);
	free(ev);
}

/* n new users u0.. each send "hey" to Alice (each fetches one of her bundles). */
static void
strangers_write(int n)
{
	char name[32], addr[64];
	struct sotto *u;

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "u%d", i);
		snprintf(addr, sizeof(addr), "u%d@example.org", i);
		u = user_new(name, addr);
		REQUIRE(u != NULL);
		CHECK_EQ_INT(sotto_send_text(u, "alice@example.org", "hey", 3, NULL), 0);
		sotto_close(u);
	}
}

TEST(prekeys_replenished_and_rotated)
{
	struct sotto *a, *b;
	struct seen *ev = calloc(1, sizeof(*ev));
	uint32_t old_spk;
	int k;

	fresh();
	a = user_new("alice", "alice@example.org");
	b = user_new("bob", "bob@example.org");
	REQUIRE(a != NULL && b != NULL && ev != NULL);
	k = find_acc("alice@example.org");
	CHECK_EQ_INT(srv.acc[k].n_otpk, CLIENT_OTPK_BATCH);
	srv.acc[k].n_otpk = FAKE_LOW + 1;
	/* Two strangers write; the stock falls under the mark and Alice refills it. */
	strangers_write(2);
	CHECK_EQ_INT(poll_all(a, ev), 2);
	CHECK_EQ_INT(srv.acc[k].n_otpk, FAKE_LOW - 1 + CLIENT_OTPK_BATCH);

	/* Bob fetches Alice's bundle, then Alice rotates her signed prekey before his first
	 * message arrives: the previous one is kept, so it still opens. */
	old_spk = srv.acc[k].spk.id;
	REQUIRE(sotto_send_text(b, "alice@example.org", "in flight", 9, NULL) == 0);
	sotto_disconnect(a);
	a->spk_rotate = 0;
	CHECK_EQ_INT(sotto_connect(a, 1000), 0);
	CHECK(srv.acc[k].spk.id != old_spk);
	CHECK_EQ_INT(sotto_poll(a, 0, on_event, ev), 1);
	CHECK(strcmp(ev->body[ev->n - 1], "in flight") == 0);
	sotto_close(a);
	sotto_close(b);
	free(ev);
}

/* Every ML-KEM prekey on the server (one-time and last-resort) is signed by the
 * identity key over its id, and its decapsulation key is in the owner's store (and opens
 * an encapsulation to the published key); returns how many were checked. */
static int
check_kem_prekeys(struct sotto *s, const struct fake_account *acc)
{
	uint8_t ct[MLKEM768_CT_LEN], ss[32], ss2[32];
	struct store_kem_prekey k;
	int n = 0;

	for (size_t i = 0; i <= acc->n_kem; i++) {
		const struct fake_kem *fk = i < acc->n_kem ? &acc->kem[i] : &acc->kem_lr;

		if (i == acc->n_kem && !acc->has_kem_lr)
			break;
		CHECK_EQ_INT(kem_prekey_verify(fk->sig, fk->id, fk->ek, acc->ident), 0);
		CHECK_EQ_INT(store_kem_prekey_get(s->st, fk->id, &k), 0);
		CHECK_EQ_INT(k.last_resort, i == acc->n_kem);
		CHECK_MEM(k.dk + STORE_KEM_EK_OFFSET, fk->ek, MLKEM768_EK_LEN);
		CHECK_EQ_INT(mlkem768_encaps(ct, ss, fk->ek, MLKEM768_EK_LEN), 0);
		CHECK_EQ_INT(mlkem768_decaps(ss2, k.dk, sizeof(k.dk), ct, sizeof(ct)), 0);
		CHECK_MEM(ss, ss2, 32);
		store_kem_prekey_wipe(&k);
		n++;
	}
	return n;
}

TEST(kem_prekeys_signed_replenished_and_rotated)
{
	struct sotto *a;
	struct seen *ev = calloc(1, sizeof(*ev));
	uint32_t old_lr;
	int k;

	fresh();
	a = user_new("alice", "alice@example.org");
	REQUIRE(a != NULL && ev != NULL);
	k = find_acc("alice@example.org");
	CHECK_EQ_INT(srv.acc[k].has_kem_lr, 1);
	CHECK_EQ_INT(srv.acc[k].n_kem, CLIENT_OTPK_BATCH);
	CHECK_EQ_INT(check_kem_prekeys(a, &srv.acc[k]), CLIENT_OTPK_BATCH + 1);
	/* The ML-KEM stock runs low (the X25519 one does not): Alice refills both. */
	srv.acc[k].n_kem = FAKE_LOW + 1;
	strangers_write(2);
	CHECK_EQ_INT(poll_all(a, ev), 2);
	CHECK_EQ_INT(srv.acc[k].n_kem, FAKE_LOW - 1 + CLIENT_OTPK_BATCH);
	CHECK_EQ_INT(check_kem_prekeys(a, &srv.acc[k]), FAKE_LOW - 1 + CLIENT_OTPK_BATCH + 1);
	/* The last-resort key rotates with the signed prekey. */
	old_lr = srv.acc[k].kem_lr.id;
	sotto_disconnect(a);
	a->spk_rotate = 0;
	CHECK_EQ_INT(sotto_connect(a, 1000), 0);
	CHECK(srv.acc[k].kem_lr.id != old_lr);
	CHECK_EQ_INT(check_kem_prekeys(a, &srv.acc[k]), FAKE_LOW - 1 + CLIENT_OTPK_BATCH + 1);
	sotto_close(a);
	free(ev);
}

/* A store from before ML-KEM prekeys (none stored, none on the server) gets a last-resort
 * one and a batch of one-time ones at its next connection. */
TEST(kem_prekeys_added_to_old_account)
{
	struct sotto *a;
	int k;

	fresh();
	a = user_new("alice", "alice@example.org");
	REQUIRE(a != NULL);
	k = find_acc("alice@example.org");
	REQUIRE(store_exec(a->st, "DELETE FROM kem_prekey") == 0);
	srv.acc[k].has_kem_lr = 0;
	srv.acc[k].n_kem = 0;
	sotto_disconnect(a);
	CHECK_EQ_INT(sotto_connect(a, 1000), 0);
	CHECK_EQ_INT(srv.acc[k].has_kem_lr, 1);
	CHECK_EQ_INT(srv.acc[k].n_kem, CLIENT_OTPK_BATCH);
	CHECK_EQ_INT(check_kem_prekeys(a, &srv.acc[k]), CLIENT_OTPK_BATCH + 1);
	/* Connecting again uploads nothing more. */
	sotto_disconnect(a);
	CHECK_EQ_INT(sotto_connect(a, 1000), 0);
	CHECK_EQ_INT(srv.acc[k].n_kem, CLIENT_OTPK_BATCH);
	sotto_close(a);
}

/* A bundle whose ML-KEM prekey is not signed by the identity (a bit of the signature, a
 * zero signature, a bit of the key, another id) is refused, and no session is made; the
 * same bundle untouched works. */
TEST(kem_prekey_bad_signature_refused)
{
	struct sotto *a, *b;
	uint8_t *state = NULL;
	size_t state_len = 0;
	int t;

	fresh();
	a = user_new("alice", "alice@example.org");
	b = user_new("bob", "bob@example.org");
	REQUIRE(a != NULL && b != NULL);
	for (t = 1; t <= 4; t++) {
		srv.kem_tamper = t;
		CHECK_EQ_INT(sotto_send_text(b, "alice@example.org", "hi", 2, NULL),
		    SOTTO_ERR_BAD_SIGNATURE);
		CHECK_EQ_INT(store_session_get(b->st, "alice@example.org", &state, &state_len),
		    SOTTO_ERR_NOT_FOUND);
	}
	srv.kem_tamper = 0;
	CHECK_EQ_INT(sotto_send_text(b, "alice@example.org", "hi", 2, NULL), 0);
	CHECK_EQ_INT(store_session_get(b->st, "alice@example.org", &state, &state_len), 0);
	store_blob_free(state, state_len);
	sotto_close(a);
	sotto_close(b);
}

/* Polls; the number of texts and mails received (receipts are not counted), or an error. */
static int
poll_texts(struct sotto *s, struct seen *ev)
{
	int r = poll_all(s, ev);

	return r < 0 ? r : count_type(ev, SOTTO_EVENT_MESSAGE);
}

/* pq of the contact's session as the API reports it: 1, 0, or -1 without a session. */
static int
contact_pq(struct sotto *s, const char *peer)
{
	struct sotto_contact c;

	if (sotto_contact(s, peer, &c) != 0 || !c.has_session)
		return -1;
	return c.pq;
}

/* A peer that publishes no ML-KEM prekeys (libsignal, a client from before): its bundles
 * have none. */
static void
strip_kem(const char *address)
{
	int k = find_acc(address);

	REQUIRE(k >= 0);
	srv.acc[k].has_kem_lr = 0;
	srv.acc[k].n_kem = 0;
}

/* Two Sotto clients: the session is PQXDH on both sides; the one-time ML-KEM prekey it
 * used is deleted from the responder's store, a last-resort one (once the one-time ones
 * are gone) is kept. */
TEST(pqxdh_sessions_between_sotto_clients)
{
	struct sotto *a, *b, *c;
	struct seen *ev = calloc(1, sizeof(*ev));
	struct store_kem_prekey k;
	uint32_t used, lr;
	int ka;

	fresh();
	a = user_new("alice", "alice@example.org");
	b = user_new("bob", "bob@example.org");
	c = user_new("carol", "carol@example.org");
	REQUIRE(a != NULL && b != NULL && c != NULL && ev != NULL);
	ka = find_acc("alice@example.org");
	used = srv.acc[ka].kem[0].id;
	CHECK_EQ_INT(sotto_send_text(b, "alice@example.org", "pq hello", 8, NULL), 0);
	CHECK_EQ_INT(contact_pq(b, "alice@example.org"), 1);
	CHECK_EQ_INT(store_kem_prekey_get(a->st, used, &k), 0);
	store_kem_prekey_wipe(&k);
	CHECK_EQ_INT(poll_texts(a, ev), 1);
	CHECK(strcmp(ev->body[ev->n - 1], "pq hello") == 0);
	CHECK_EQ_INT(contact_pq(a, "bob@example.org"), 1);
	CHECK_EQ_INT(store_kem_prekey_get(a->st, used, &k), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(sotto_send_text(a, "bob@example.org", "pq reply", 8, NULL), 0);
	CHECK_EQ_INT(poll_texts(b, ev), 1);
	/* The one-time ML-KEM keys are gone: Carol's session uses the last-resort one, which
	 * Alice keeps. */
	srv.acc[ka].n_kem = 0;
	lr = srv.acc[ka].kem_lr.id;
	CHECK_EQ_INT(sotto_send_text(c, "alice@example.org", "via last resort", 15, NULL), 0);
	CHECK_EQ_INT(poll_texts(a, ev), 1);
	CHECK(strcmp(ev->body[ev->n - 1], "via last resort") == 0);
	CHECK_EQ_INT(contact_pq(a, "carol@example.org"), 1);
	{
		struct sotto_contact *v = NULL;
		size_t n = 0;

		CHECK_EQ_INT(sotto_contacts(a, &v, &n), 0);
		CHECK_EQ_INT(n, 2);
		for (size_t i = 0; i < n; i++)
			CHECK(v[i].has_session && v[i].pq);
		sotto_contacts_free(v, n);
	}
	CHECK_EQ_INT(store_kem_prekey_get(a->st, lr, &k), 0);
	CHECK_EQ_INT(k.last_resort, 1);
	store_kem_prekey_wipe(&k);
	sotto_close(a);
	sotto_close(b);
	sotto_close(c);
	free(ev);
}

/* A peer without ML-KEM prekeys gets a classical session, shown as such on both sides;
 * once the peer (a current client) answers, it replaces the session with a PQXDH one,
 * since we publish ML-KEM prekeys. */
TEST(classical_session_shown_then_upgraded_by_peer)
{
	struct sotto *a, *b;
	struct seen *ev = calloc(1, sizeof(*ev));

	fresh();
	a = user_new("alice", "alice@example.org");
	b = user_new("bob", "bob@example.org");
	REQUIRE(a != NULL && b != NULL && ev != NULL);
	sotto_set_auto_receipts(b, 0);
	strip_kem("bob@example.org");
	CHECK_EQ_INT(contact_pq(a, "bob@example.org"), -1);
	CHECK_EQ_INT(sotto_send_text(a, "bob@example.org", "classic", 7, NULL), 0);
	CHECK_EQ_INT(contact_pq(a, "bob@example.org"), 0);
	CHECK_EQ_INT(poll_texts(b, ev), 1);
	CHECK_EQ_INT(contact_pq(b, "alice@example.org"), 0);
	CHECK_EQ_INT(sotto_send_text(b, "alice@example.org", "back", 4, NULL), 0);
	CHECK_EQ_INT(contact_pq(b, "alice@example.org"), 1);
	CHECK_EQ_INT(poll_texts(a, ev), 1);
	CHECK(strcmp(ev->body[ev->n - 1], "back") == 0);
	CHECK_EQ_INT(contact_pq(a, "bob@example.org"), 1);
	sotto_close(a);
	sotto_close(b);
	free(ev);
}

/* With post-quantum sessions required: no session to a peer without ML-KEM prekeys, a
 * classical first message is not accepted, and PQXDH still works; the setting persists. */
TEST(require_pq_refuses_classical_sessions)
{
	struct sotto *a, *b, *c;
	struct seen *ev = calloc(1, sizeof(*ev));
	uint8_t *state = NULL;
	size_t len = 0;

	fresh();
	a = user_new("alice", "alice@example.org");
	b = user_new("bob", "bob@example.org");
	c = user_new("carol", "carol@example.org");
	REQUIRE(a != NULL && b != NULL && c != NULL && ev != NULL);
	CHECK_EQ_INT(sotto_require_pq(a), 0);
	CHECK_EQ_INT(sotto_set_require_pq(a, 1), 0);
	CHECK_EQ_INT(sotto_require_pq(a), 1);
	strip_kem("bob@example.org");
	CHECK_EQ_INT(sotto_send_text(a, "bob@example.org", "no", 2, NULL),
	    SOTTO_ERR_CLASSICAL_REFUSED);
	CHECK_EQ_INT(store_session_get(a->st, "bob@example.org", &state, &len),
	    SOTTO_ERR_NOT_FOUND);
	/* Carol gets a bundle of Alice's without ML-KEM prekeys (as from an old server):
	 * her classical first message is not accepted. */
	{
		int ka = find_acc("alice@example.org");
		int lr = srv.acc[ka].has_kem_lr;
		size_t n = srv.acc[ka].n_kem;

		strip_kem("alice@example.org");
		CHECK_EQ_INT(sotto_send_text(c, "alice@example.org", "classic", 7, NULL), 0);
		srv.acc[ka].has_kem_lr = lr;
		srv.acc[ka].n_kem = n;
	}
	CHECK_EQ_INT(poll_texts(a, ev), 0);
	CHECK_EQ_INT(ev->n, 1);         /* a decryption failure, shown */
	CHECK_EQ_INT(store_session_get(a->st, "carol@example.org", &state, &len),
	    SOTTO_ERR_NOT_FOUND);
	/* Bob (who has a PQXDH-capable client) writes to Alice: accepted. */
	CHECK_EQ_INT(sotto_send_text(b, "alice@example.org", "pq", 2, NULL), 0);
	CHECK_EQ_INT(poll_texts(a, ev), 1);
	CHECK_EQ_INT(contact_pq(a, "bob@example.org"), 1);
	CHECK_EQ_INT(sotto_set_require_pq(a, 0), 0);
	CHECK_EQ_INT(sotto_require_pq(a), 0);
	sotto_close(a);
	sotto_close(b);
	sotto_close(c);
	free(ev);
}

/* A classical session (the peer had no ML-KEM prekeys) becomes post-quantum on its own
 * once the peer publishes them: the next send looks (at most once a day) and starts a
 * PQXDH session; the peer takes it as any new session, and the conversation goes on. */
TEST(classical_session_upgrades_when_peer_publishes_kem)
{
	struct sotto *a, *b;
	struct seen *ev = calloc(1, sizeof(*ev));
	size_t fetches;
	int kb;

	fresh();
	a = user_new("alice", "alice@example.org");
	b = user_new("bob", "bob@example.org");
	REQUIRE(a != NULL && b != NULL && ev != NULL);
	kb = find_acc("bob@example.org");
	/* Bob is a client from before ML-KEM prekeys (which sends nothing unasked). */
	sotto_set_auto_receipts(b, 0);
	REQUIRE(store_exec(b->st, "DELETE FROM kem_prekey") == 0);
	strip_kem("bob@example.org");
	CHECK_EQ_INT(sotto_send_text(a, "bob@example.org", "one", 3, NULL), 0);
	CHECK_EQ_INT(contact_pq(a, "bob@example.org"), 0);
	CHECK_EQ_INT(poll_texts(b, ev), 1);
	/* Still classical: the send looks once (a fetch), then not again that day. (Bob's
	 * client here is a current one, which publishes ML-KEM prekeys as it reconnects: they
	 * are taken away again for an old client.) */
	strip_kem("bob@example.org");
	fetches = srv.fetches;
	CHECK_EQ_INT(sotto_send_text(a, "bob@example.org", "two", 3, NULL), 0);
	CHECK_EQ_INT(srv.fetches, fetches + 1);
	CHECK_EQ_INT(sotto_send_text(a, "bob@example.org", "three", 5, NULL), 0);
	CHECK_EQ_INT(srv.fetches, fetches + 1);
	CHECK_EQ_INT(contact_pq(a, "bob@example.org"), 0);
	CHECK_EQ_INT(poll_texts(b, ev), 2);
	/* Bob updates: his next connection publishes ML-KEM prekeys. */
	REQUIRE(store_exec(b->st, "DELETE FROM kem_prekey") == 0);
	strip_kem("bob@example.org");
	sotto_disconnect(b);
	CHECK_EQ_INT(sotto_connect(b, 1000), 0);
	CHECK_EQ_INT(srv.acc[kb].has_kem_lr, 1);
	/* A day later Alice's next send finds them and starts PQXDH. */
	REQUIRE(store_setting_delete(a->st, "pq-check/bob@example.org") == 0);
	CHECK_EQ_INT(sotto_send_text(a, "bob@example.org", "four", 4, NULL), 0);
	CHECK_EQ_INT(contact_pq(a, "bob@example.org"), 1);
	CHECK_EQ_INT(poll_texts(b, ev), 1);
	CHECK(strcmp(ev->body[ev->n - 1], "four") == 0);
	CHECK_EQ_INT(contact_pq(b, "alice@example.org"), 1);
	CHECK_EQ_INT(sotto_send_text(b, "alice@example.org", "five", 4, NULL), 0);
	CHECK_EQ_INT(poll_texts(a, ev), 1);
	CHECK(strcmp(ev->body[ev->n - 1], "five") == 0);
	CHECK_EQ_INT(contact_pq(a, "bob@example.org"), 1);
	sotto_close(a);
	sotto_close(b);
	free(ev);
}

TEST(disappearing_messages)
{
	struct sotto *a, *b;
	struct seen *ev = calloc(1, sizeof(*ev));
	struct sotto_message *h = NULL;
	struct sotto_contact ct;
	size_t n = 0;

	fresh();
	a = user_new("alice", "alice@example.org");
	b = user_new("bob", "bob@example.org");
	REQUIRE(a != NULL && b != NULL && ev != NULL);
	REQUIRE(sotto_send_text(a, "bob@example.org", "keep me", 7, NULL) == 0);
	CHECK_EQ_INT(poll_all(b, ev), 1);
	CHECK_EQ_INT(sotto_set_expiry(b, "alice@example.org", 1), 0);
	CHECK_EQ_INT(sotto_set_expiry(b, "nobody@example.org", 1), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(poll_all(a, ev), 2);      /* the receipt and the timer */
	CHECK_EQ_INT(count_type(ev, SOTTO_EVENT_TIMER), 1);
	REQUIRE(sotto_contact(a, "bob@example.org", &ct) == 0);
	CHECK_EQ_INT(ct.expiry, 1);
	REQUIRE(sotto_send_text(a, "bob@example.org", "burn after reading", 18, NULL) == 0);
	CHECK_EQ_INT(poll_all(b, ev), 1);
	REQUIRE(sotto_history(b, "alice@example.org", 0, 10, &h, &n) == 0);
	CHECK_EQ_INT(n, 2);
	CHECK(n == 2 && h[1].expires_at != 0 && h[0].expires_at == 0);
	sotto_history_free(h, n);
	sleep(2);
	CHECK_EQ_INT(sotto_expire(a), 1);
	CHECK_EQ_INT(sotto_expire(b), 1);
	REQUIRE(sotto_history(b, "alice@example.org", 0, 10, &h, &n) == 0);
	CHECK(n == 1 && strcmp((char *)h[0].body, "keep me") == 0);
	sotto_history_free(h, n);
	REQUIRE(sotto_history(a, NULL, 0, 10, &h, &n) == 0);
	CHECK(n == 1 && strcmp((char *)h[0].body, "keep me") == 0);
	sotto_history_free(h, n);
	sotto_close(a);
	sotto_close(b);
	free(ev);
}

TEST(default_home_is_dot_sotto_in_home)
{
	char out[600], want[600];
	const char *h = getenv("HOME");
	char *saved = h != NULL ? strdup(h) : NULL;

	REQUIRE(setenv("HOME", tmp_root, 1) == 0);
	snprintf(want, sizeof(want), "%s/.sotto", tmp_root);
	CHECK_EQ_INT(sotto_default_home(out, sizeof(out)), 0);
	CHECK(strcmp(out, want) == 0);
	CHECK_EQ_INT(sotto_default_home(out, strlen(want)), SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(sotto_store_exists(out), 0);
	if (saved != NULL)
		CHECK(setenv("HOME", saved, 1) == 0);
	else
		CHECK(unsetenv("HOME") == 0);
	free(saved);
}

TEST(wrong_passphrase_and_reopen)
{
	struct sotto *a = NULL;
	char home[512];

	fresh();
	a = user_new("alice", "alice@example.org");
	REQUIRE(a != NULL);
	CHECK_EQ_INT(sotto_init(a, "alice@example.org", srv.address, NULL, 1000), SOTTO_ERR_STATE);
	sotto_close(a);
	home_path(home, sizeof(home), "alice");
	a = NULL;
	CHECK_EQ_INT(sotto_open(&a, home, (const uint8_t *)"wrong", 5), SOTTO_ERR_PASSPHRASE);
	CHECK(a == NULL);
	CHECK_EQ_INT(sotto_create(&a, home, PASS, sizeof(PASS) - 1, SOTTO_KDF_MIN), SOTTO_ERR_EXISTS);
	CHECK_EQ_INT(sotto_store_exists(home), 1);
	home_path(home, sizeof(home), "nobody");
	CHECK_EQ_INT(sotto_store_exists(home), 0);
	CHECK_EQ_INT(sotto_open(&a, home, PASS, sizeof(PASS) - 1), SOTTO_ERR_NOT_FOUND);
	CHECK_EQ_INT(sotto_store_exists(home), 0);     /* the failed open made nothing */
	a = user_open("alice");
	REQUIRE(a != NULL);
	CHECK(strcmp(sotto_address(a), "alice@example.org") == 0);
	CHECK(strcmp(sotto_server(a), srv.address) == 0);
	sotto_close(a);
}

/* ---- sessions: replays, simultaneous starts, archives, rollbacks, failures ---- */

/* Puts a copy of env into rcpt's mailbox under a new id (a redelivery or a replay). */
static void
mail_inject(const char *rcpt, const uint8_t *env, size_t len)
{
	struct fake_env *e = &srv.mail[srv.n_mail++];

	memset(e, 0, sizeof(*e));
	e->id = ++srv.next_env;
	e->rcpt = find_acc(rcpt);
	e->sender = -1;
	e->env = malloc(len);
	if (e->env == NULL)
		abort();
	memcpy(e->env, env, len);
	e->len = len;
}

/* Takes rcpt's newest envelope out of the mailbox (held back by the server). */
static uint8_t *
mail_take_last(const char *rcpt, size_t *len)
{
	int k = find_acc(rcpt);
	uint8_t *p;
	size_t i;

	for (i = srv.n_mail; i-- > 0;) {
		if (srv.mail[i].rcpt != k)
			continue;
		p = srv.mail[i].env;
		*len = srv.mail[i].len;
		srv.mail[i].env = NULL;
		mail_delete(i);
		return p;
	}
	return NULL;
}

/* Seals msg (type) from `from`, with from's own certificate, into to's mailbox. */
static void
inject_msg(struct sotto *from, uint8_t type, const uint8_t *msg, size_t len, const char *to)
{
	struct sealed_content sc;
	struct buf env;
	int k = find_acc(to);

	memset(&sc, 0, sizeof(sc));
	sc.sender_addr = from->k->id.address;
	sc.sender_addr_len = strlen(from->k->id.address);
	sc.cert = from->cert;
	sc.cert_len = from->cert_len;
	sc.msg_type = type;
	sc.msg = msg;
	sc.msg_len = len;
	buf_init_dyn(&env, 65536);
	if (sealed_seal(&env, &from->k->xid, srv.acc[k].ident, &sc) != 0)
		abort();
	mail_inject(to, env.p, env.len);
	buf_free(&env);
}

static int
count_warn(const struct seen *s, unsigned w)
{
	int i, n = 0;

	for (i = 0; i < s->n; i++)
		n += (s->warn[i] & w) != 0;
	return n;
}

/* Both start a session at the same moment; then the server delivers Alice's first
 * (prekey) envelope again. It is a replay: acknowledged, not an error that blocks Bob's
 * mailbox, and everything after it arrives. */
TEST(simultaneous_start_redelivered_prekey_acked)
{
	struct sotto *a, *b;
	struct seen *ev = calloc(1, sizeof(*ev));
	uint8_t *first;
	size_t first_len = 0;

	fresh();
	a = user_new("alice", "alice@example.org");
	b = user_new("bob", "bob@example.org");
	REQUIRE(a != NULL && b != NULL && ev != NULL);
	sotto_set_auto_receipts(a, 0);
	sotto_set_auto_receipts(b, 0);
	REQUIRE(sotto_send_text(a, "bob@example.org", "from alice", 10, NULL) == 0);
	REQUIRE(sotto_send_text(b, "alice@example.org", "from bob", 8, NULL) == 0);
	first = mail_take_last("bob@example.org", &first_len);
	REQUIRE(first != NULL);
	mail_inject("bob@example.org", first, first_len);
	CHECK_EQ_INT(poll_all(b, ev), 1);
	CHECK(strcmp(ev->body[0], "from alice") == 0);
	CHECK_EQ_INT(poll_all(a, ev), 1);
	CHECK(strcmp(ev->body[0], "from bob") == 0);
	/* Alice answers in the session Bob started, which Bob now takes up again. */
	REQUIRE(sotto_send_text(a, "bob@example.org", "a2", 2, NULL) == 0);
	CHECK_EQ_INT(poll_all(b, ev), 1);
	CHECK(strcmp(ev->body[0], "a2") == 0);
	/* The first envelope again (a retry duplicate, or a replay by the server). */
	mail_inject("bob@example.org", first, first_len);
	CHECK_EQ_INT(poll_all(b, ev), 0);
	CHECK_EQ_INT(mailbox_count("bob@example.org"), 0);
	/* Nothing is blocked, both ways. */
	REQUIRE(sotto_send_text(a, "bob@example.org", "a3", 2, NULL) == 0);
	CHECK_EQ_INT(poll_all(b, ev), 1);
	CHECK(strcmp(ev->body[0], "a3") == 0 && ev->warn[0] == 0);
	REQUIRE(sotto_send_text(b, "alice@example.org", "b2", 2, NULL) == 0);
	CHECK_EQ_INT(poll_all(a, ev), 1);
	CHECK(strcmp(ev->body[0], "b2") == 0);
	free(first);
	sotto_close(a);
	sotto_close(b);
	free(ev);
}

/* Envelopes of every kind of wrong: each is acknowledged and reported, none blocks the
 * mailbox, and good messages after them arrive. */
TEST(garbage_envelopes_never_block)
{
	struct sotto *a, *b, *m;
	struct seen *ev = calloc(1, sizeof(*ev));
	struct x3dh_init_info info;
	struct decrypt_error de;
	struct buf pk;
	uint8_t junk[300], *env;
	size_t env_len = 0;
	int i, n_bad = 0, n;

	fresh();
	a = user_new("alice", "alice@example.org");
	b = user_new("bob", "bob@example.org");
	m = user_new("mallory", "mallory@example.org");
	REQUIRE(a != NULL && b != NULL && m != NULL && ev != NULL);
	sotto_set_auto_receipts(b, 0);
	REQUIRE(sotto_send_text(a, "bob@example.org", "hello", 5, NULL) == 0);
	CHECK_EQ_INT(poll_all(b, ev), 1);
	REQUIRE(sotto_send_text(m, "alice@example.org", "hi", 2, NULL) == 0);  /* a certificate */
	randombytes_buf(junk, sizeof(junk));

	/* Not an envelope; a truncated and a flipped real one. */
	mail_inject("bob@example.org", junk, sizeof(junk)), n_bad++;
	mail_inject("bob@example.org", junk, 1), n_bad++;
	REQUIRE(sotto_send_text(a, "bob@example.org", "held", 4, NULL) == 0);
	env = mail_take_last("bob@example.org", &env_len);
	REQUIRE(env != NULL);
	mail_inject("bob@example.org", env, env_len - 7), n_bad++;
	env[env_len / 2] ^= 0x20;
	mail_inject("bob@example.org", env, env_len), n_bad++;
	free(env);
	/* From Mallory, who has no session with Bob: junk of each message type. */
	inject_msg(m, E2E_SESSION_MSG_NORMAL, junk, 100, "bob@example.org"), n_bad++;
	inject_msg(m, E2E_SESSION_MSG_PREKEY, junk, 100, "bob@example.org"), n_bad++;
	inject_msg(m, E2E_SESSION_MSG_DECRYPT_ERROR, junk, 47, "bob@example.org"), n_bad++;
	/* A well-formed receipt from someone who is no contact. */
	memset(&de, 0, sizeof(de));
	de.reason = DECRYPT_ERROR_UNREADABLE;
	de.time_ms = 1;
	buf_init_dyn(&pk, 4096);
	REQUIRE(decrypt_error_encode(&de, &pk) == 0);
	inject_msg(m, E2E_SESSION_MSG_DECRYPT_ERROR, pk.p, pk.len, "bob@example.org"), n_bad++;
	/* A well-formed prekey message naming a signed prekey Bob never had. */
	memset(&info, 0, sizeof(info));
	info.spk_id = 999;
	REQUIRE(crypto_scalarmult_base(info.base_pub, junk) == 0);
	memcpy(info.ident_pub, m->k->xid.pub, 32);
	info.ident_pub_len = 32;
	buf_reset(&pk);
	REQUIRE(suite_native.prekey_wrap(&pk, &info, junk, 120) == 0);
	inject_msg(m, E2E_SESSION_MSG_PREKEY, pk.p, pk.len, "bob@example.org"), n_bad++;
	/* From Alice herself, in her session with Bob: bytes that are no ratchet message. */
	inject_msg(a, E2E_SESSION_MSG_NORMAL, junk, 200, "bob@example.org"), n_bad++;
	buf_free(&pk);

	REQUIRE(sotto_send_text(a, "bob@example.org", "still here", 10, NULL) == 0);
	n = poll_all(b, ev);
	CHECK_EQ_INT(n, n_bad + 1);
	CHECK_EQ_INT(count_type(ev, SOTTO_EVENT_WARNING), n_bad);
	CHECK_EQ_INT(count_type(ev, SOTTO_EVENT_MESSAGE), 1);
	for (i = 0; i < ev->n; i++)
		if (ev->type[i] == SOTTO_EVENT_MESSAGE)
			CHECK(strcmp(ev->body[i], "still here") == 0);
	CHECK_EQ_INT(mailbox_count("bob@example.org"), 0);
	/* The failures whose sender Bob knew went back to it as receipts, one per sender.
	 * Alice's client shows hers; Mallory, who never wrote to Bob in a session, gets a
	 * receipt she has no session for: a warning, and no receipt back (no loops). */
	CHECK_EQ_INT(poll_all(m, ev), 1);
	CHECK(ev->type[0] == SOTTO_EVENT_WARNING && ev->warn[0] == SOTTO_WARN_REJECTED);
	CHECK_EQ_INT(mailbox_count("bob@example.org"), 0);
	CHECK_EQ_INT(poll_all(a, ev), 2);                   /* Mallory's "hi", Bob's receipt */
	CHECK_EQ_INT(count_warn(ev, SOTTO_WARN_UNREADABLE), 1);
	for (i = 0; i < ev->n; i++)
		if (ev->warn[i] & SOTTO_WARN_UNREADABLE)
			CHECK(strstr(ev->reason[i], "bob@example.org could not read") != NULL);
	/* Alice starts over; it all still works both ways. */
	REQUIRE(sotto_send_text(a, "bob@example.org", "fresh", 5, NULL) == 0);
	CHECK_EQ_INT(poll_all(b, ev), 1);
	CHECK(strcmp(ev->body[0], "fresh") == 0);
	REQUIRE(sotto_send_text(b, "alice@example.org", "back", 4, NULL) == 0);
	CHECK_EQ_INT(poll_all(a, ev), 1);
	CHECK(strcmp(ev->body[0], "back") == 0);
	sotto_close(a);
	sotto_close(b);
	sotto_close(m);
	free(ev);
}

/* A first message sent without a one-time prekey, replayed after more than 8 ratchet
 * steps: the session it started is known, so it is a replay, and the current session
 * stays as it is (a new one from it would make Bob's replies unreadable). */
TEST(replayed_first_message_keeps_session)
{
	struct sotto *a, *b;
	struct seen *ev = calloc(1, sizeof(*ev));
	uint8_t *first, *before = NULL, *after = NULL;
	size_t first_len = 0, before_len = 0, after_len = 0;
	char txt[16];
	int i;

	fresh();
	a = user_new("alice", "alice@example.org");
	b = user_new("bob", "bob@example.org");
	REQUIRE(a != NULL && b != NULL && ev != NULL);
	sotto_set_auto_receipts(a, 0);
	sotto_set_auto_receipts(b, 0);
	srv.acc[find_acc("bob@example.org")].n_otpk = 0;    /* the bundle's fallback */
	REQUIRE(sotto_send_text(a, "bob@example.org", "first", 5, NULL) == 0);
	first = mail_take_last("bob@example.org", &first_len);
	REQUIRE(first != NULL);
	mail_inject("bob@example.org", first, first_len);
	CHECK_EQ_INT(poll_all(b, ev), 1);
	for (i = 0; i < 10; i++) {      /* 20 ratchet steps */
		snprintf(txt, sizeof(txt), "b%d", i);
		REQUIRE(sotto_send_text(b, "alice@example.org", txt, strlen(txt), NULL) == 0);
		CHECK_EQ_INT(poll_all(a, ev), 1);
		snprintf(txt, sizeof(txt), "a%d", i);
		REQUIRE(sotto_send_text(a, "bob@example.org", txt, strlen(txt), NULL) == 0);
		CHECK_EQ_INT(poll_all(b, ev), 1);
	}
	REQUIRE(store_session_get(b->st, "alice@example.org", &before, &before_len) == 0);
	mail_inject("bob@example.org", first, first_len);
	CHECK_EQ_INT(poll_all(b, ev), 0);
	CHECK_EQ_INT(mailbox_count("bob@example.org"), 0);
	REQUIRE(store_session_get(b->st, "alice@example.org", &after, &after_len) == 0);
	CHECK(before_len == after_len && memcmp(before, after, before_len) == 0);
	/* Later messages decrypt, both ways. */
	REQUIRE(sotto_send_text(b, "alice@example.org", "reply", 5, NULL) == 0);
	CHECK_EQ_INT(poll_all(a, ev), 1);
	CHECK(strcmp(ev->body[0], "reply") == 0);
	REQUIRE(sotto_send_text(a, "bob@example.org", "more", 4, NULL) == 0);
	CHECK_EQ_INT(poll_all(b, ev), 1);
	CHECK(strcmp(ev->body[0], "more") == 0);
	store_blob_free(before, before_len);
	store_blob_free(after, after_len);
	free(first);
	sotto_close(a);
	sotto_close(b);
	free(ev);
}

/* Alice starts four sessions one after another (her store lost each), and a message on
 * each comes late, after the newest session's first: all decrypt, in sessions Bob keeps
 * archived. */
TEST(late_messages_on_older_sessions_decrypt)
{
	struct sotto *a, *b;
	struct seen *ev = calloc(1, sizeof(*ev));
	uint8_t *held[4];
	size_t held_len[4];
	char txt[32];
	int k, i, found;

	fresh();
	a = user_new("alice", "alice@example.org");
	b = user_new("bob", "bob@example.org");
	REQUIRE(a != NULL && b != NULL && ev != NULL);
	sotto_set_auto_receipts(a, 0);
	sotto_set_auto_receipts(b, 0);
	for (k = 0; k < 4; k++) {
		snprintf(txt, sizeof(txt), "s%d first", k);
		REQUIRE(sotto_send_text(a, "bob@example.org", txt, strlen(txt), NULL) == 0);
		CHECK_EQ_INT(poll_all(b, ev), 1);
		REQUIRE(sotto_send_text(b, "alice@example.org", "ok", 2, NULL) == 0);
		CHECK_EQ_INT(poll_all(a, ev), 1);
		snprintf(txt, sizeof(txt), "s%d late", k);
		REQUIRE(sotto_send_text(a, "bob@example.org", txt, strlen(txt), NULL) == 0);
		held[k] = mail_take_last("bob@example.org", &held_len[k]);
		REQUIRE(held[k] != NULL);
		if (k < 3)
			REQUIRE(store_session_delete(a->st, "bob@example.org") == 0);
	}
	for (k = 0; k < 4; k++) {
		mail_inject("bob@example.org", held[k], held_len[k]);
		free(held[k]);
	}
	CHECK_EQ_INT(poll_all(b, ev), 4);
	for (k = 0; k < 4; k++) {
		snprintf(txt, sizeof(txt), "s%d late", k);
		for (i = 0, found = 0; i < ev->n; i++)
			found += strcmp(ev->body[i], txt) == 0 && ev->type[i] == SOTTO_EVENT_MESSAGE;
		CHECK_EQ_INT(found, 1);
	}
	CHECK_EQ_INT(count_type(ev, SOTTO_EVENT_WARNING), 0);
	REQUIRE(sotto_send_text(b, "alice@example.org", "end", 3, NULL) == 0);
	CHECK_EQ_INT(poll_all(a, ev), 1);
	CHECK(strcmp(ev->body[0], "end") == 0);
	sotto_close(a);
	sotto_close(b);
	free(ev);
}

/* Decryption-failure receipts: at most one per contact per interval, never one for a
 * receipt, and a stale receipt does not make the sender start over again. */
TEST(decrypt_error_receipts_limited)
{
	struct sotto *a, *b;
	struct seen *ev = calloc(1, sizeof(*ev));
	struct decrypt_error de;
	struct buf rb;
	uint8_t *cur = NULL;
	size_t cur_len = 0;
	int i;

	fresh();
	a = user_new("alice", "alice@example.org");
	b = user_new("bob", "bob@example.org");
	REQUIRE(a != NULL && b != NULL && ev != NULL);
	sotto_set_auto_receipts(a, 0);
	sotto_set_auto_receipts(b, 0);
	REQUIRE(sotto_send_text(a, "bob@example.org", "hello", 5, NULL) == 0);
	CHECK_EQ_INT(poll_all(b, ev), 1);
	REQUIRE(sotto_send_text(b, "alice@example.org", "hi", 2, NULL) == 0);
	CHECK_EQ_INT(poll_all(a, ev), 1);
	/* Bob loses his session; three of Alice's messages fail, one poll each. */
	REQUIRE(store_session_delete(b->st, "alice@example.org") == 0);
	for (i = 0; i < 3; i++) {
		REQUIRE(sotto_send_text(a, "bob@example.org", "lost", 4, NULL) == 0);
		CHECK_EQ_INT(poll_all(b, ev), 1);
		CHECK(ev->type[0] == SOTTO_EVENT_WARNING && ev->warn[0] == SOTTO_WARN_REJECTED);
	}
	CHECK_EQ_INT(mailbox_count("alice@example.org"), 1);    /* one receipt, not three */
	/* Receipts are not answered: a malformed one only warns. */
	inject_msg(a, E2E_SESSION_MSG_DECRYPT_ERROR, (const uint8_t *)"junk", 4, "bob@example.org");
	CHECK_EQ_INT(poll_all(b, ev), 1);
	CHECK(strstr(ev->reason[0], "malformed decryption-failure receipt") != NULL);
	CHECK_EQ_INT(mailbox_count("alice@example.org"), 1);
	/* Alice: told once, session archived. */
	CHECK_EQ_INT(poll_all(a, ev), 1);
	CHECK(ev->warn[0] == SOTTO_WARN_UNREADABLE && strstr(ev->reason[0], "new session") != NULL);
	CHECK_EQ_INT(store_session_get(a->st, "bob@example.org", &cur, &cur_len),
	    SOTTO_ERR_NOT_FOUND);
	/* A receipt about a message older than that restart: shown, nothing archived. */
	REQUIRE(sotto_send_text(a, "bob@example.org", "new", 3, NULL) == 0);
	CHECK_EQ_INT(poll_all(b, ev), 1);
	CHECK(strcmp(ev->body[0], "new") == 0);
	memset(&de, 0, sizeof(de));
	de.reason = DECRYPT_ERROR_UNREADABLE;
	de.time_ms = 1000;
	buf_init_dyn(&rb, 64);
	REQUIRE(decrypt_error_encode(&de, &rb) == 0);
	inject_msg(b, E2E_SESSION_MSG_DECRYPT_ERROR, rb.p, rb.len, "alice@example.org");
	buf_free(&rb);
	CHECK_EQ_INT(poll_all(a, ev), 1);
	CHECK(ev->warn[0] == SOTTO_WARN_UNREADABLE && strstr(ev->reason[0], "new session") == NULL);
	CHECK(strstr(ev->reason[0], "1970-01-01 00:00:01 UTC") != NULL);
	REQUIRE(store_session_get(a->st, "bob@example.org", &cur, &cur_len) == 0);
	store_blob_free(cur, cur_len);
	REQUIRE(sotto_send_text(a, "bob@example.org", "still", 5, NULL) == 0);
	CHECK_EQ_INT(poll_all(b, ev), 1);
	CHECK(strcmp(ev->body[0], "still") == 0);
	sotto_close(a);
	sotto_close(b);
	free(ev);
}

/* Caps the store's file at its current size plus extra pages (a full disk). */
static int
store_limit(struct sotto *s, long long extra)
{
	sqlite3_stmt *q = NULL;
	long long pages = -1;
	char sql[96];

	if (sqlite3_prepare_v2(s->st->db, "PRAGMA page_count", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		pages = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	if (pages < 0)
		return -1;
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld", extra < 0 ? 1000000000 :
	    pages + extra);
	return sqlite3_exec(s->st->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* An error of the recipient's own (a full store) acknowledges nothing: the envelope stays
 * on the server and arrives once there is room. */
TEST(full_store_keeps_envelope_for_later)
{
	struct sotto *a, *b;
	struct seen *ev = calloc(1, sizeof(*ev));
	static char big[60 * 1024];

	fresh();
	a = user_new("alice", "alice@example.org");
	b = user_new("bob", "bob@example.org");
	REQUIRE(a != NULL && b != NULL && ev != NULL);
	sotto_set_auto_receipts(b, 0);
	REQUIRE(sotto_send_text(a, "bob@example.org", "hello", 5, NULL) == 0);
	CHECK_EQ_INT(poll_all(b, ev), 1);
	memset(big, 'x', sizeof(big));
	REQUIRE(sotto_send_text(a, "bob@example.org", big, sizeof(big), NULL) == 0);
	REQUIRE(store_limit(b, 0) == 0);
	CHECK_EQ_INT(poll_all(b, ev), SOTTO_ERR_STORAGE);
	CHECK_EQ_INT(ev->n, 0);
	CHECK_EQ_INT(mailbox_count("bob@example.org"), 1);
	REQUIRE(store_limit(b, -1) == 0);
	sotto_disconnect(b);
	CHECK_EQ_INT(poll_all(b, ev), 1);
	CHECK(ev->type[0] == SOTTO_EVENT_MESSAGE && ev->warn[0] == 0);
	CHECK_EQ_INT(mailbox_count("bob@example.org"), 0);
	sotto_close(a);
	sotto_close(b);
	free(ev);
}

/* The ratchet message inside an envelope to b. */
static int
open_for(struct sotto *b, const uint8_t *env, size_t len, struct sealed_opened *o)
{
	memset(o, 0, sizeof(*o));
	return sealed_open(o, &b->k->xid, env, len);
}

/* Decrypts o in a fresh copy of b's stored session with its sender (state untouched). */
static int
peek_plain(struct sotto *b, const struct sealed_opened *o, struct buf *pt)
{
	struct e2e_session *ss = NULL;
	uint8_t *st = NULL;
	size_t st_len = 0;
	int r;

	if ((r = store_session_get(b->st, o->sender_addr, &st, &st_len)) == 0 &&
	    (r = e2e_session_deserialize(&ss, &suite_native, st, st_len)) == 0)
		r = e2e_session_decrypt(ss, pt, o->msg_type, o->msg, o->msg_len);
	e2e_session_free(ss);
	store_blob_free(st, st_len);
	return r;
}

/* Alice's store is restored from a copy after she sent a message; her next message reuses
 * its message key. The two share no keystream, and Bob says he dropped the second. */
TEST(restored_sender_store_reported)
{
	static const char t1[] = "first text", t2[] = "other text";
	struct sotto *a, *b;
	struct seen *ev = calloc(1, sizeof(*ev));
	struct sealed_opened o1, o2;
	struct buf p1, p2;
	uint8_t *e1, *e2;
	size_t e1_len = 0, e2_len = 0, i, ct_len, hlen;
	char home[512], cmd[1700];
	int differs = 0;

	fresh();
	a = user_new("alice", "alice@example.org");
	b = user_new("bob", "bob@example.org");
	REQUIRE(a != NULL && b != NULL && ev != NULL);
	sotto_set_auto_receipts(a, 0);
	sotto_set_auto_receipts(b, 0);
	REQUIRE(sotto_send_text(a, "bob@example.org", "hello", 5, NULL) == 0);
	CHECK_EQ_INT(poll_all(b, ev), 1);
	REQUIRE(sotto_send_text(b, "alice@example.org", "hi", 2, NULL) == 0);
	CHECK_EQ_INT(poll_all(a, ev), 1);
	/* The backup. */
	sotto_close(a);
	home_path(home, sizeof(home), "alice");
	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s.bak'", home, home);
	REQUIRE(system(cmd) == 0);
	a = user_open("alice");
	REQUIRE(a != NULL);
	sotto_set_auto_receipts(a, 0);
	REQUIRE(sotto_send_text(a, "bob@example.org", t1, sizeof(t1) - 1, NULL) == 0);
	e1 = mail_take_last("bob@example.org", &e1_len);
	/* The restore. */
	sotto_close(a);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mv '%s.bak' '%s'", home, home, home);
	REQUIRE(system(cmd) == 0);
	a = user_open("alice");
	REQUIRE(a != NULL);
	sotto_set_auto_receipts(a, 0);
	REQUIRE(sotto_send_text(a, "bob@example.org", t2, sizeof(t2) - 1, NULL) == 0);
	e2 = mail_take_last("bob@example.org", &e2_len);
	REQUIRE(e1 != NULL && e2 != NULL);
	/* Same message key (ratchet key and number), other nonces, no common keystream. */
	REQUIRE(open_for(b, e1, e1_len, &o1) == 0 && open_for(b, e2, e2_len, &o2) == 0);
	REQUIRE(o1.msg_len == o2.msg_len && o1.msg_len > SUITE_NATIVE_OVERHEAD);
	/* A PQ session's header (version 3) carries the KEM part before the nonce. */
	hlen = o1.msg[0] != SUITE_NATIVE_VERSION_PQ ? SUITE_NATIVE_HEADER_LEN :
	    (o1.msg[SUITE_NATIVE_HEADER_LEN_1] & SUITE_NATIVE_KEM_FLAG_CT) ?
	    SUITE_NATIVE_HEADER_LEN_PQ_CT : SUITE_NATIVE_HEADER_LEN_PQ;
	CHECK_EQ_INT(o1.msg[0], SUITE_NATIVE_VERSION_PQ);
	REQUIRE(o1.msg_len > hlen + 16);
	CHECK(memcmp(o1.msg, o2.msg, hlen - SUITE_NATIVE_NONCE_LEN) == 0);
	CHECK(memcmp(o1.msg + hlen - SUITE_NATIVE_NONCE_LEN, o2.msg + hlen - SUITE_NATIVE_NONCE_LEN,
	    SUITE_NATIVE_NONCE_LEN) != 0);
	buf_init_dyn(&p1, 4096);
	buf_init_dyn(&p2, 4096);
	REQUIRE(peek_plain(b, &o1, &p1) == 0 && peek_plain(b, &o2, &p2) == 0);
	ct_len = o1.msg_len - hlen - 16;
	REQUIRE(p1.len == ct_len && p2.len == ct_len);
	for (i = 0; i < ct_len; i++)
		differs |= (o1.msg[hlen + i] ^ o2.msg[hlen + i]) != (p1.p[i] ^ p2.p[i]);
	CHECK(differs);
	/* Bob reads the first and reports dropping the second. */
	mail_inject("bob@example.org", e1, e1_len);
	mail_inject("bob@example.org", e2, e2_len);
	CHECK_EQ_INT(poll_all(b, ev), 2);
	CHECK(ev->type[0] == SOTTO_EVENT_MESSAGE && strcmp(ev->body[0], t1) == 0);
	CHECK(ev->type[1] == SOTTO_EVENT_WARNING && (ev->warn[1] & SOTTO_WARN_REJECTED));
	CHECK(strstr(ev->reason[1], "reused a message number") != NULL);
	CHECK_EQ_INT(mailbox_count("bob@example.org"), 0);
	/* Alice is told, and her next message starts a new session that Bob reads. */
	CHECK_EQ_INT(poll_all(a, ev), 1);
	CHECK(ev->warn[0] & SOTTO_WARN_UNREADABLE);
	REQUIRE(sotto_send_text(a, "bob@example.org", "again", 5, NULL) == 0);
	CHECK_EQ_INT(poll_all(b, ev), 1);
	CHECK(strcmp(ev->body[0], "again") == 0);
	sealed_opened_free(&o1);
	sealed_opened_free(&o2);
	buf_wipe_free(&p1);
	buf_wipe_free(&p2);
	free(e1);
	free(e2);
	sotto_close(a);
	sotto_close(b);
	free(ev);
}

int
main(void)
{
	/* In memory when possible: these tests are about the client's logic; test_store
	 * covers what reaches the disk. */
	snprintf(tmp_root, sizeof(tmp_root), "/dev/shm/sotto-test-client-%d", (int)getpid());
	if (access("/dev/shm", W_OK) != 0)
		snprintf(tmp_root, sizeof(tmp_root), "/tmp/sotto-test-client-%d", (int)getpid());
	RUN(content_codec);
	RUN(file_content_stored_and_pending);
	RUN(content_token_field);
	RUN(token_given_inside_the_session);
	RUN(kem_prekeys_signed_replenished_and_rotated);
	RUN(kem_prekeys_added_to_old_account);
	RUN(kem_prekey_bad_signature_refused);
	RUN(pqxdh_sessions_between_sotto_clients);
	RUN(classical_session_shown_then_upgraded_by_peer);
	RUN(require_pq_refuses_classical_sessions);
	RUN(classical_session_upgrades_when_peer_publishes_kem);
	RUN(exchange_receipts_history);
	RUN(many_messages_both_ways);
	RUN(outbox_retry_same_id);
	RUN(first_message_queued_without_session);
	RUN(redelivery_dropped_and_gap_reported);
	RUN(key_change_policy);
	RUN(sealed_sender_checks);
	RUN(prekeys_replenished_and_rotated);
	RUN(disappearing_messages);
	RUN(default_home_is_dot_sotto_in_home);
	RUN(wrong_passphrase_and_reopen);
	RUN(simultaneous_start_redelivered_prekey_acked);
	RUN(garbage_envelopes_never_block);
	RUN(replayed_first_message_keeps_session);
	RUN(late_messages_on_older_sessions_decrypt);
	RUN(restored_sender_store_reported);
	RUN(full_store_keeps_envelope_for_later);
	RUN(decrypt_error_receipts_limited);
	fake_reset();
	rm_rf(tmp_root);
	return check_summary();
}
