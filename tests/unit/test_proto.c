#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "check.h"
#include "wire/cert.h"
#include "wire/msgid.h"
#include "wire/proto.h"

static uint8_t envelope[300];
static uint8_t kem_ek[3][PROTO_KEM_EK_LEN], kem_sig[3][PROTO_SIG_LEN];

static const char *const group_addrs[] = { "bob@b.example", "carol@c.example", "d@b.example" };
static const struct proto_welcome group_welcomes[] = {
	{ { envelope, 200 }, { 2, group_addrs, NULL, 0 } },
	{ { envelope + 200, 1 }, { 1, group_addrs + 2, NULL, 0 } },
};
static const struct proto_group_ack group_acks[] = {
	{ { "g1", 2 }, 5 },
	{ { { 0xff }, PROTO_GROUP_ID_MAX }, UINT64_MAX },
};

/* One sample of each group request and notice (proto_group.h) from m[n] on. */
static size_t
group_samples(struct proto_msg *m, size_t n)
{
	m[n].type = PROTO_UPLOAD_KEY_PACKAGES;
	m[n].id = 10;
	m[n].u.upload_kp.n = 2;
	m[n].u.upload_kp.kp[0] = (struct proto_blob){ envelope, 100 };
	m[n].u.upload_kp.kp[1] = (struct proto_blob){ envelope + 100, 1 };
	m[n].u.upload_kp.last_resort = (struct proto_blob){ envelope + 101, 50 };
	n++;
	m[n].type = PROTO_UPLOAD_KEY_PACKAGES;  /* nothing at all: a valid, empty upload */
	m[n].id = 11;
	n++;
	m[n].type = PROTO_CLAIM_KEY_PACKAGE;
	m[n].id = 12;
	strcpy(m[n].u.claim.address, "bob@b.example");
	n++;
	m[n].type = PROTO_GROUP_CREATE;
	m[n].id = 13;
	memcpy(m[n].u.group_create.group.id, "g1", 2);
	m[n].u.group_create.group.len = 2;
	randombytes_buf(m[n].u.group_create.verifier, PROTO_GROUP_TOKEN_LEN);
	n++;
	m[n].type = PROTO_GROUP_COMMIT;
	m[n].id = 14;
	memset(m[n].u.group_commit.group.id, 0xab, PROTO_GROUP_ID_MAX);
	m[n].u.group_commit.group.len = PROTO_GROUP_ID_MAX;
	m[n].u.group_commit.epoch = 41;
	randombytes_buf(m[n].u.group_commit.verifier, PROTO_GROUP_TOKEN_LEN);
	m[n].u.group_commit.commit = (struct proto_blob){ envelope, 250 };
	m[n].u.group_commit.add = (struct proto_addr_list){ 3, group_addrs, NULL, 0 };
	m[n].u.group_commit.remove = (struct proto_addr_list){ 1, group_addrs + 1, NULL, 0 };
	m[n].u.group_commit.welcomes = (struct proto_welcome_list){ 2, group_welcomes, NULL, 0 };
	n++;
	m[n].type = PROTO_GROUP_COMMIT;         /* no membership change */
	m[n].id = 15;
	memcpy(m[n].u.group_commit.group.id, "g", 1);
	m[n].u.group_commit.group.len = 1;
	m[n].u.group_commit.commit = (struct proto_blob){ envelope, 1 };
	n++;
	m[n].type = PROTO_GROUP_SEND;
	m[n].id = 16;
	memcpy(m[n].u.group_send.group.id, "g1", 2);
	m[n].u.group_send.group.len = 2;
	randombytes_buf(m[n].u.group_send.client_msg_id, 16);
	m[n].u.group_send.message = (struct proto_blob){ envelope, sizeof(envelope) };
	n++;
	m[n].type = PROTO_GROUP_SEND_SEALED;
	m[n].id = 26;
	memcpy(m[n].u.group_send.group.id, "g2", 2);
	m[n].u.group_send.group.len = 2;
	randombytes_buf(m[n].u.group_send.token, PROTO_GROUP_TOKEN_LEN);
	randombytes_buf(m[n].u.group_send.client_msg_id, 16);
	m[n].u.group_send.message = (struct proto_blob){ envelope, 3 };
	n++;
	m[n].type = PROTO_GROUP_RECEIVED;
	m[n].id = 17;
	m[n].u.group_received = (struct proto_group_acks){ 2, group_acks, NULL, 0 };
	n++;
	m[n].type = PROTO_GROUP_PUSH;
	m[n].u.group_push.kind = PROTO_GROUP_COMMIT_ENTRY;
	m[n].u.group_push.flags = PROTO_GROUP_FLAG_REMOVED;
	memcpy(m[n].u.group_push.group.id, "g1", 2);
	m[n].u.group_push.group.len = 2;
	m[n].u.group_push.seq = 9;
	m[n].u.group_push.epoch = 3;
	m[n].u.group_push.timestamp = 1700000000123ull;
	m[n].u.group_push.data = (struct proto_blob){ envelope, 30 };
	n++;
	m[n].type = PROTO_GROUP_PUSH;
	m[n].u.group_push.kind = PROTO_GROUP_MISSED;
	memcpy(m[n].u.group_push.group.id, "g1", 2);
	m[n].u.group_push.group.len = 2;
	m[n].u.group_push.seq = 8;
	m[n].u.group_push.timestamp = 1700000000123ull;
	m[n].u.group_push.data = (struct proto_blob){ envelope, PROTO_GROUP_MISSED_LEN };
	n++;
	m[n].type = PROTO_KEY_PACKAGE_LOW;
	m[n].u.kp_low.count = 3;
	m[n].u.kp_low.has_last_resort = 1;
	n++;
	/* The one answer with a body besides success: a late Commit learns the epoch. */
	proto_response(&m[n], PROTO_GROUP_COMMIT, 18, SOTTO_ERR_STALE_EPOCH);
	m[n].u.group_result.epoch = 42;
	n++;
	/* ... and a sealed message of the previous epoch learns the current one. */
	proto_response(&m[n], PROTO_GROUP_SEND_SEALED, 19, SOTTO_ERR_STALE_EPOCH);
	m[n].u.group_result.epoch = 43;
	n++;
	return n;
}

/* Fills the result of a successful group response. */
static void
group_results(struct proto_msg *r)
{
	if (r->status != 0 || !proto_is_response(r->type))
		return;
	switch (r->type & (uint8_t)~PROTO_RESPONSE) {
	case PROTO_UPLOAD_KEY_PACKAGES:
		r->u.kp_count.count = 17;
		r->u.kp_count.has_last_resort = 1;
		break;
	case PROTO_CLAIM_KEY_PACKAGE:
		randombytes_buf(r->u.claimed.identity_pk, 32);
		r->u.claimed.last_resort = 1;
		r->u.claimed.kp = (struct proto_blob){ envelope, 120 };
		break;
	case PROTO_GROUP_COMMIT:
	case PROTO_GROUP_SEND:
	case PROTO_GROUP_SEND_SEALED:
		r->u.group_result.seq = 77;
		r->u.group_result.epoch = 5;
		break;
	default:
		break;
	}
}

/* One filled sample of every message kind; returns how many. */
/* The blob requests (wire/proto_blob.h), at their caps. */
static size_t
blob_samples(struct proto_msg *m, size_t n)
{
	static uint8_t chunk[PROTO_BLOB_CHUNK_MAX];

	m[n].type = PROTO_BLOB_BEGIN;
	m[n].id = 30;
	randombytes_buf(m[n].u.blob_begin.upload, PROTO_BLOB_UPLOAD_ID_LEN);
	m[n].u.blob_begin.size = 0x0000000140000000ull;
	n++;
	m[n].type = PROTO_BLOB_CHUNK;
	m[n].id = 31;
	randombytes_buf(m[n].u.blob_chunk.upload, PROTO_BLOB_UPLOAD_ID_LEN);
	m[n].u.blob_chunk.offset = 0x10000;
	m[n].u.blob_chunk.data = chunk;
	m[n].u.blob_chunk.len = sizeof(chunk);
	n++;
	m[n].type = PROTO_BLOB_COMMIT;
	m[n].id = 32;
	randombytes_buf(m[n].u.blob_commit.upload, PROTO_BLOB_UPLOAD_ID_LEN);
	randombytes_buf(m[n].u.blob_commit.hash, PROTO_BLOB_HASH_LEN);
	m[n].u.blob_commit.recipients = 0xffff;
	n++;
	m[n].type = PROTO_BLOB_GET;
	m[n].id = 33;
	randombytes_buf(m[n].u.blob_get.hash, PROTO_BLOB_HASH_LEN);
	m[n].u.blob_get.offset = 5;
	m[n].u.blob_get.length = PROTO_BLOB_CHUNK_MAX;
	n++;
	m[n].type = PROTO_BLOB_DONE;
	m[n].id = 34;
	randombytes_buf(m[n].u.blob_done.hash, PROTO_BLOB_HASH_LEN);
	n++;
	return n;
}

static size_t
samples(struct proto_msg *m, size_t cap)
{
	size_t n = 0, i;

	memset(m, 0, cap * sizeof(*m));
	randombytes_buf(envelope, sizeof(envelope));
	randombytes_buf(kem_ek, sizeof(kem_ek));
	randombytes_buf(kem_sig, sizeof(kem_sig));

	m[n].type = PROTO_REGISTER;
	m[n].id = 1;
	strcpy(m[n].u.reg.address, "alice@example.org");
	randombytes_buf(m[n].u.reg.identity_pk, 32);
	randombytes_buf(m[n].u.reg.device_pk, 32);
	randombytes_buf(m[n].u.reg.sig, 64);
	memcpy(m[n].u.reg.invite, "token-123", 9);
	m[n].u.reg.invite_len = 9;
	n++;
	m[n] = m[n - 1];
	m[n].u.reg.invite_len = 0;
	n++;

	m[n].type = PROTO_UPLOAD_PREKEYS;
	m[n].id = 2;
	m[n].u.upload.spk.id = 77;
	randombytes_buf(m[n].u.upload.spk.pub, 32);
	randombytes_buf(m[n].u.upload.spk.sig, 64);
	m[n].u.upload.n_otpk = 3;
	for (i = 0; i < 3; i++) {
		m[n].u.upload.otpk[i].id = (uint32_t)(1000 + i);
		randombytes_buf(m[n].u.upload.otpk[i].pub, 32);
	}
	n++;
	/* with ML-KEM prekeys: a last-resort one and two one-time ones */
	m[n] = m[n - 1];
	m[n].u.upload.has_kem_last_resort = 1;
	m[n].u.upload.kem_last_resort.id = 500;
	m[n].u.upload.kem_last_resort.ek = kem_ek[0];
	m[n].u.upload.kem_last_resort.sig = kem_sig[0];
	m[n].u.upload.n_kem = 2;
	for (i = 0; i < 2; i++) {
		m[n].u.upload.kem[i].id = (uint32_t)(501 + i);
		m[n].u.upload.kem[i].ek = kem_ek[1 + i];
		m[n].u.upload.kem[i].sig = kem_sig[1 + i];
	}
	n++;
	/* one-time ML-KEM prekeys only */
	m[n] = m[n - 1];
	m[n].u.upload.has_kem_last_resort = 0;
	n++;

	m[n].type = PROTO_FETCH_BUNDLE;
	m[n].id = 3;
	strcpy(m[n].u.fetch.address, "bob.b_c-d@mail.example.com");
	n++;

	m[n].type = PROTO_SEND;
	m[n].id = 0xfffffffe;
	strcpy(m[n].u.send.recipient, "bob@b.example");
	randombytes_buf(m[n].u.send.client_msg_id, 16);
	m[n].u.send.envelope = envelope;
	m[n].u.send.envelope_len = sizeof(envelope);
	n++;

	/* SEND with the recipient identity it expects */
	m[n] = m[n - 1];
	m[n].u.send.has_identity = 1;
	randombytes_buf(m[n].u.send.identity_pk, 32);
	n++;

	m[n].type = PROTO_RECEIVED;
	m[n].id = 5;
	m[n].u.received.n = 3;
	m[n].u.received.ids[0] = 1;
	m[n].u.received.ids[1] = UINT64_MAX;
	m[n].u.received.ids[2] = 42;
	n++;

	m[n].type = PROTO_SENDER_CERTIFICATE;
	m[n].id = 6;
	n++;

	m[n].type = PROTO_PUSH;
	m[n].u.push.envelope_id = 99;
	m[n].u.push.timestamp = 1700000000123ull;
	m[n].u.push.envelope = envelope;
	m[n].u.push.envelope_len = 10;
	n++;

	m[n].type = PROTO_PREKEY_LOW;
	m[n].u.prekey_low.count = 4;
	n++;

	m[n].type = PROTO_LOOKUP;
	m[n].id = 7;
	strcpy(m[n].u.lookup.address, "carol@mail.example.com");
	n++;

	m[n].type = PROTO_TICKET;
	m[n].id = 8;
	n++;

	m[n].type = PROTO_LOGIN;
	m[n].id = 9;
	m[n].u.login.generation = 0x0102030405060708ull;
	n++;

	n = group_samples(m, n);
	n = blob_samples(m, n);
	for (i = PROTO_REGISTER; i <= PROTO_BLOB_DONE; i++) {
		proto_response(&m[n], (uint8_t)i, (uint32_t)(100 + i), 0);
		n++;
		proto_response(&m[n], (uint8_t)i, (uint32_t)(200 + i), SOTTO_ERR_NOT_FOUND);
		n++;
	}
	/* Fill the successful results. */
	for (i = 0; i < n; i++) {
		if (m[i].type == (PROTO_RESPONSE | PROTO_FETCH_BUNDLE) && m[i].status == 0) {
			randombytes_buf(m[i].u.bundle.identity_pk, 32);
			m[i].u.bundle.spk.id = 5;
			randombytes_buf(m[i].u.bundle.spk.pub, 32);
			randombytes_buf(m[i].u.bundle.spk.sig, 64);
			m[i].u.bundle.has_otpk = 1;
			m[i].u.bundle.otpk.id = 6;
			randombytes_buf(m[i].u.bundle.otpk.pub, 32);
			m[n] = m[i];
			m[n].u.bundle.has_otpk = 0;
			memset(&m[n].u.bundle.otpk, 0, sizeof(m[n].u.bundle.otpk));
			m[n + 1] = m[i];
			m[n + 1].u.bundle.has_kem = 1;
			m[n + 1].u.bundle.kem_id = 0xfffffff0;
			memcpy(m[n + 1].u.bundle.kem_ek, kem_ek[2], PROTO_KEM_EK_LEN);
			memcpy(m[n + 1].u.bundle.kem_sig, kem_sig[2], PROTO_SIG_LEN);
		}
		if (m[i].type == (PROTO_RESPONSE | PROTO_SEND) && m[i].status == 0)
			m[i].u.sent.timestamp = 123456789;
		group_results(&m[i]);
		if ((m[i].type & PROTO_RESPONSE) && m[i].status == 0 &&
		    (m[i].type & ~PROTO_RESPONSE) >= PROTO_BLOB_BEGIN) {
			m[i].u.blob_result.value = 0x0102030405060708ull;
			if (m[i].type == (PROTO_RESPONSE | PROTO_BLOB_GET)) {
				m[i].u.blob_result.data = envelope;
				m[i].u.blob_result.len = 100;
			}
		}
		if (m[i].type == (PROTO_RESPONSE | PROTO_SENDER_CERTIFICATE) && m[i].status == 0) {
			m[i].u.cert.len = 200;
			randombytes_buf(m[i].u.cert.cert, 200);
		}
		if (m[i].type == (PROTO_RESPONSE | PROTO_TICKET) && m[i].status == 0) {
			randombytes_buf(m[i].u.ticket.psk, TICKET_PSK_LEN);
			m[i].u.ticket.expiry = 1800000000;
			randombytes_buf(m[i].u.ticket.ticket, TICKET_LEN);
		}
		if (m[i].type == (PROTO_RESPONSE | PROTO_LOGIN) && m[i].status == 0) {
			m[i].u.logged_in.generation = 7;
			m[i].u.logged_in.has_ticket = 1;
			randombytes_buf(m[i].u.logged_in.ticket.psk, TICKET_PSK_LEN);
			m[i].u.logged_in.ticket.expiry = 1800000000;
			randombytes_buf(m[i].u.logged_in.ticket.ticket, TICKET_LEN);
		}
	}
	n += 2; /* the bundles without a one-time prekey and with an ML-KEM prekey */
	return n;
}

TEST(proto_roundtrip_every_message)
{
	static struct proto_msg m[120], d;
	size_t n = samples(m, 120), i;
	struct buf a, b;

	CHECK(n >= 25);
	for (i = 0; i < n; i++) {
		buf_init_dyn(&a, 1 << 20);
		buf_init_dyn(&b, 1 << 20);
		CHECK_EQ_INT(proto_encode(&m[i], &a), 0);
		CHECK_EQ_INT(proto_decode(a.p, a.len, &d), 0);
		CHECK_EQ_INT(d.type, m[i].type);
		CHECK_EQ_INT(d.id, m[i].id);
		CHECK_EQ_INT(d.status, m[i].status);
		CHECK_EQ_INT(proto_encode(&d, &b), 0);
		CHECK_EQ_INT(a.len, b.len);
		CHECK(a.len == b.len && memcmp(a.p, b.p, a.len) == 0);
		buf_free(&a);
		buf_free(&b);
	}
	/* Field checks on a few. */
	buf_init_dyn(&a, 1 << 20);
	REQUIRE(proto_encode(&m[6], &a) == 0);
	REQUIRE(proto_decode(a.p, a.len, &d) == 0);
	CHECK(strcmp(d.u.send.recipient, "bob@b.example") == 0);
	CHECK_EQ_INT(d.u.send.envelope_len, sizeof(envelope));
	CHECK_MEM(d.u.send.envelope, envelope, sizeof(envelope));
	CHECK_MEM(d.u.send.client_msg_id, m[6].u.send.client_msg_id, 16);
	/* The envelope is borrowed from the input. */
	CHECK(d.u.send.envelope >= a.p && d.u.send.envelope < a.p + a.len);
	buf_free(&a);
	buf_init_dyn(&a, 1 << 20);
	REQUIRE(proto_encode(&m[0], &a) == 0);
	REQUIRE(proto_decode(a.p, a.len, &d) == 0);
	CHECK_EQ_INT(d.u.reg.invite_len, 9);
	CHECK_MEM(d.u.reg.invite, "token-123", 9);
	CHECK_MEM(d.u.reg.device_pk, m[0].u.reg.device_pk, 32);
	buf_free(&a);
}

TEST(proto_every_truncation_and_trailing_rejected)
{
	static struct proto_msg m[120], d;
	size_t n = samples(m, 120), i, k, optional;
	int accepted = 0, trailing_ok = 0;
	struct buf a;

	for (i = 0; i < n; i++) {
		buf_init_dyn(&a, 1 << 20);
		REQUIRE(proto_encode(&m[i], &a) == 0);
		/* SEND's identity is optional: without it, the rest is a whole SEND. */
		optional = m[i].type == PROTO_SEND && m[i].u.send.has_identity ? a.len - 32 : 0;
		for (k = 0; k < a.len; k++) {
			/* A copy of exactly k bytes, so ASan sees any over-read. */
			uint8_t *t = malloc(k ? k : 1);

			REQUIRE(t != NULL);
			memcpy(t, a.p, k);
			if (proto_decode(t, k, &d) == 0 && (k != optional || d.u.send.has_identity))
				accepted++;
			free(t);
		}
		buf_u8(&a, 0);
		if (proto_decode(a.p, a.len, &d) == SOTTO_ERR_TRAILING)
			trailing_ok++;
		buf_free(&a);
	}
	CHECK_EQ_INT(accepted, 0);
	CHECK_EQ_INT(trailing_ok, (int)n);
}

static int
decode_hex(const char *hex)
{
	uint8_t p[600];
	struct proto_msg d;
	long n = check_unhex(hex, p, sizeof(p));

	if (n < 0)
		return -999;
	return proto_decode(p, (size_t)n, &d);
}

TEST(proto_rejects_bad_fields)
{
	/* version 2 */
	CHECK_EQ_INT(decode_hex("02060000000100"), SOTTO_ERR_BAD_VERSION);
	CHECK_EQ_INT(decode_hex("010600000001"), 0);
	/* unknown types, and a response to an unknown request */
	CHECK_EQ_INT(decode_hex("011800000001"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(decode_hex("01980000000100000"), -999);
	CHECK_EQ_INT(decode_hex("0198000000010000"), SOTTO_ERR_MALFORMED);
	/* LOGIN: exactly a u64 generation; its result a generation and a ticket flag */
	CHECK_EQ_INT(decode_hex("0109000000010000000000000007"), 0);
	CHECK_EQ_INT(decode_hex("01090000000100000000000007"), SOTTO_ERR_TRUNCATED);
	CHECK_EQ_INT(decode_hex("010900000001000000000000000700"), SOTTO_ERR_TRAILING);
	CHECK_EQ_INT(decode_hex("0189000000010000000000000000000700"), 0);
	CHECK_EQ_INT(decode_hex("0189000000010000000000000000000702"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(decode_hex("0189000000010000000000000000000701"), SOTTO_ERR_TRUNCATED);
	CHECK_EQ_INT(decode_hex("0189000000010029"), 0);
	/* TICKET takes no body; its result is exactly psk, expiry and ticket */
	CHECK_EQ_INT(decode_hex("010800000001"), 0);
	CHECK_EQ_INT(decode_hex("01080000000100"), SOTTO_ERR_TRAILING);
	CHECK_EQ_INT(decode_hex("0188000000010000"), SOTTO_ERR_TRUNCATED);
	/* LOOKUP without its address */
	CHECK_EQ_INT(decode_hex("010700000001"), SOTTO_ERR_TRUNCATED);
	CHECK_EQ_INT(decode_hex("0180000000010000"), SOTTO_ERR_MALFORMED);
	/* RECEIVED with 0 and with 257 ids */
	CHECK_EQ_INT(decode_hex("0105000000010000"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(decode_hex("0105000000010101"), SOTTO_ERR_TOO_LARGE);
	/* FETCH_BUNDLE with an uppercase address and one without '@' */
	CHECK_EQ_INT(decode_hex("0103000000010003414062"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(decode_hex("010300000001000161"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(decode_hex("0103000000010003614062"), 0);
	/* FETCH_BUNDLE address length over 320, refused before reading it */
	CHECK_EQ_INT(decode_hex("0103000000010141"), SOTTO_ERR_TOO_LARGE);
	/* PUSH with an envelope length over the cap, and an empty one */
	CHECK_EQ_INT(decode_hex("0140000000000000000000000001000000000000000200010001"),
	    SOTTO_ERR_TOO_LARGE);
	CHECK_EQ_INT(decode_hex("014000000000000000000000000100000000000000020000000000"),
	    SOTTO_ERR_MALFORMED);
	/* a bundle whose one-time prekey flag is 2 */
	{
		char hex[600];
		size_t i;

		strcpy(hex, "01830000000100000");
		strcpy(hex, "018300000001" "0000");
		for (i = 0; i < 32 + 4 + 32 + 64; i++)
			strcat(hex, "00");
		strcat(hex, "02");
		CHECK_EQ_INT(decode_hex(hex), SOTTO_ERR_MALFORMED);
		hex[strlen(hex) - 1] = '0';
		CHECK_EQ_INT(decode_hex(hex), SOTTO_ERR_TRUNCATED);    /* no ML-KEM flag */
		strcat(hex, "00");
		CHECK_EQ_INT(decode_hex(hex), 0);
	}
}

/* The decoded lists of a GROUP_COMMIT and GROUP_RECEIVED read back item by item. */
TEST(proto_group_lists_read_back)
{
	static struct proto_msg m[120], d;
	size_t n = samples(m, 120), off;
	struct proto_welcome w;
	struct proto_group_ack a;
	char addr[ADDRESS_MAX + 1];
	struct buf b;
	int found = 0;

	for (size_t i = 0; i < n; i++) {
		if (m[i].type != PROTO_GROUP_COMMIT || m[i].u.group_commit.add.n != 3)
			continue;
		found++;
		buf_init_dyn(&b, 1 << 20);
		REQUIRE(proto_encode(&m[i], &b) == 0);
		REQUIRE(proto_decode(b.p, b.len, &d) == 0);
		CHECK_EQ_INT(d.u.group_commit.epoch, 41);
		CHECK_EQ_INT(d.u.group_commit.group.len, PROTO_GROUP_ID_MAX);
		off = 0;
		for (int k = 0; k < 3; k++) {
			REQUIRE(proto_addr_list_next(&d.u.group_commit.add, &off, addr) == 0);
			CHECK(strcmp(addr, group_addrs[k]) == 0);
		}
		CHECK_EQ_INT(proto_addr_list_next(&d.u.group_commit.add, &off, addr),
		    SOTTO_ERR_NOT_FOUND);
		off = 0;
		REQUIRE(proto_welcome_list_next(&d.u.group_commit.welcomes, &off, &w) == 0);
		CHECK(w.data.len == 200 && memcmp(w.data.p, envelope, 200) == 0);
		CHECK_EQ_INT(w.to.n, 2);
		REQUIRE(proto_welcome_list_next(&d.u.group_commit.welcomes, &off, &w) == 0);
		CHECK_EQ_INT(w.to.n, 1);
		{
			size_t o2 = 0;

			REQUIRE(proto_addr_list_next(&w.to, &o2, addr) == 0);
			CHECK(strcmp(addr, "d@b.example") == 0);
		}
		CHECK_EQ_INT(proto_welcome_list_next(&d.u.group_commit.welcomes, &off, &w),
		    SOTTO_ERR_NOT_FOUND);
		buf_free(&b);
	}
	for (size_t i = 0; i < n; i++) {
		if (m[i].type != PROTO_GROUP_RECEIVED)
			continue;
		found++;
		buf_init_dyn(&b, 1 << 20);
		REQUIRE(proto_encode(&m[i], &b) == 0);
		REQUIRE(proto_decode(b.p, b.len, &d) == 0);
		off = 0;
		REQUIRE(proto_group_acks_next(&d.u.group_received, &off, &a) == 0);
		CHECK(a.group.len == 2 && memcmp(a.group.id, "g1", 2) == 0 && a.seq == 5);
		REQUIRE(proto_group_acks_next(&d.u.group_received, &off, &a) == 0);
		CHECK(a.group.len == PROTO_GROUP_ID_MAX && a.seq == UINT64_MAX);
		CHECK_EQ_INT(proto_group_acks_next(&d.u.group_received, &off, &a),
		    SOTTO_ERR_NOT_FOUND);
		buf_free(&b);
	}
	CHECK_EQ_INT(found, 2);
}

/* Caps and bad fields of the group messages, on hand-made bytes. */
TEST(proto_group_rejects_bad_fields)
{
	/* 01 type 00000001 then the body */
	CHECK_EQ_INT(decode_hex("010c0000000100"), SOTTO_ERR_MALFORMED);       /* empty group id */
	CHECK_EQ_INT(decode_hex("010c0000000141"), SOTTO_ERR_TOO_LARGE);       /* 65 bytes */
	CHECK_EQ_INT(decode_hex("010c000000010167" "0000000000000000000000000000000000000000000000000000000000000000"), 0);     /* with its verifier */
	CHECK_EQ_INT(decode_hex("010c000000010167"), SOTTO_ERR_TRUNCATED); /* without */
	/* GROUP_SEND_SEALED: group "g", a token, a client id, an empty message */
	CHECK_EQ_INT(decode_hex("0117000000010167" "0000000000000000000000000000000000000000000000000000000000000000" "00000000000000000000000000000000"
	    "00000000"), SOTTO_ERR_MALFORMED);
	/* ... and without its token: what would be a GROUP_SEND is short */
	CHECK_EQ_INT(decode_hex("0117000000010167" "00000000000000000000000000000000" "00000001"
	    "61"), SOTTO_ERR_TRUNCATED);
	CHECK_EQ_INT(decode_hex("010a000000010065" "0000"), SOTTO_ERR_TOO_LARGE); /* 101 kps */
	CHECK_EQ_INT(decode_hex("010a0000000100010000" "0000"), SOTTO_ERR_MALFORMED); /* empty kp */
	CHECK_EQ_INT(decode_hex("010a000000010000" "2001"), SOTTO_ERR_TOO_LARGE); /* 8193 */
	CHECK_EQ_INT(decode_hex("010a000000010000" "0000"), 0);
	CHECK_EQ_INT(decode_hex("010f000000010000"), SOTTO_ERR_MALFORMED);     /* no acks */
	CHECK_EQ_INT(decode_hex("010f000000010101"), SOTTO_ERR_TOO_LARGE);     /* 257 acks */
	/* GROUP_SEND with an empty message */
	CHECK_EQ_INT(decode_hex("010e00000001016700000000000000000000000000000000" "00000000"),
	    SOTTO_ERR_MALFORMED);
	/* GROUP_COMMIT: group "g", epoch 0, a verifier, commit "c", an invalid address in the
	 * adds */
	CHECK_EQ_INT(decode_hex("010d0000000101670000000000000000" "0000000000000000000000000000000000000000000000000000000000000000" "0000000163"
	    "0001" "0001" "41" "0000" "0000"), SOTTO_ERR_MALFORMED);
	/* ... and a Welcome for nobody */
	CHECK_EQ_INT(decode_hex("010d0000000101670000000000000000" "0000000000000000000000000000000000000000000000000000000000000000" "0000000163"
	    "0000" "0000" "0001" "0000000177" "0000"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(decode_hex("010d0000000101670000000000000000" "0000000000000000000000000000000000000000000000000000000000000000" "0000000163"
	    "0000" "0000" "0000"), 0);
	/* GROUP_PUSH of an unknown kind, of an unknown flag */
	CHECK_EQ_INT(decode_hex("0142000000000500016700000000000000010000000000000001"
	    "0000000000000001" "0000000178"), SOTTO_ERR_MALFORMED);
	/* GROUP_PUSH missed (PROTOCOL-wire.md's example: entries 2..8 of group "g"), and one
	 * whose data is not the 8-byte count */
	CHECK_EQ_INT(decode_hex("0142000000000400016700000000000000080000000000000000"
	    "0000018c00000000" "00000008" "0000000000000007"), 0);
	CHECK_EQ_INT(decode_hex("0142000000000400016700000000000000080000000000000000"
	    "0000018c00000000" "0000000178"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(decode_hex("0142000000000302016700000000000000010000000000000001"
	    "0000000000000001" "0000000178"), SOTTO_ERR_MALFORMED);
	CHECK_EQ_INT(decode_hex("0142000000000301016700000000000000010000000000000001"
	    "0000000000000001" "0000000178"), 0);
}

TEST(proto_encode_refuses_invalid)
{
	struct proto_msg m;
	struct buf b;

	buf_init_dyn(&b, 1 << 20);
	memset(&m, 0, sizeof(m));
	m.type = PROTO_FETCH_BUNDLE;
	strcpy(m.u.fetch.address, "No@example.org");
	CHECK_EQ_INT(proto_encode(&m, &b), SOTTO_ERR_INVALID_ARG);
	m.type = PROTO_RECEIVED;
	m.u.received.n = PROTO_MAX_RECEIVED + 1;
	CHECK_EQ_INT(proto_encode(&m, &b), SOTTO_ERR_INVALID_ARG);
	m.type = PROTO_UPLOAD_PREKEYS;
	m.u.upload.n_otpk = PROTO_MAX_OTPK + 1;
	CHECK_EQ_INT(proto_encode(&m, &b), SOTTO_ERR_INVALID_ARG);
	m.type = 0x33;
	CHECK_EQ_INT(proto_encode(&m, &b), SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(b.len, 0);
	/* The largest upload fits and round-trips. */
	memset(&m, 0, sizeof(m));
	m.type = PROTO_UPLOAD_PREKEYS;
	m.u.upload.n_otpk = PROTO_MAX_OTPK;
	CHECK_EQ_INT(proto_encode(&m, &b), 0);
	{
		static struct proto_msg d;

		CHECK_EQ_INT(proto_decode(b.p, b.len, &d), 0);
		CHECK_EQ_INT(d.u.upload.n_otpk, PROTO_MAX_OTPK);
	}
	buf_free(&b);
}

/* The ML-KEM part of UPLOAD_PREKEYS: keys borrowed from the input and equal to what was
 * encoded; a flag other than 0/1 and a count over the cap refused; in a bundle too. */
TEST(proto_kem_prekeys)
{
	static struct proto_msg m[120], d;
	size_t n = samples(m, 120), i, up = n, kem_at;
	struct buf a;

	for (i = 0; i < n && up == n; i++)
		if (m[i].type == PROTO_UPLOAD_PREKEYS && m[i].u.upload.has_kem_last_resort)
			up = i;
	REQUIRE(up < n);
	buf_init_dyn(&a, 1 << 20);
	REQUIRE(proto_encode(&m[up], &a) == 0);
	/* header 6, spk 100, count 2, 3 X25519 keys of 36 */
	kem_at = 6 + 100 + 2 + 3 * 36;
	CHECK_EQ_INT(a.len, kem_at + 1 + 3 * (4 + PROTO_KEM_EK_LEN + 64) + 2);
	REQUIRE(proto_decode(a.p, a.len, &d) == 0);
	CHECK_EQ_INT(d.u.upload.has_kem_last_resort, 1);
	CHECK_EQ_INT(d.u.upload.kem_last_resort.id, 500);
	CHECK_MEM(d.u.upload.kem_last_resort.ek, kem_ek[0], PROTO_KEM_EK_LEN);
	CHECK_EQ_INT(d.u.upload.n_kem, 2);
	CHECK_EQ_INT(d.u.upload.kem[1].id, 502);
	CHECK_MEM(d.u.upload.kem[1].ek, kem_ek[2], PROTO_KEM_EK_LEN);
	CHECK_MEM(d.u.upload.kem[1].sig, kem_sig[2], PROTO_SIG_LEN);
	CHECK(d.u.upload.kem[1].ek >= a.p && d.u.upload.kem[1].ek < a.p + a.len);
	a.p[kem_at] = 2;
	CHECK_EQ_INT(proto_decode(a.p, a.len, &d), SOTTO_ERR_MALFORMED);
	a.p[kem_at] = 1;
	a.p[kem_at + 1 + 4 + PROTO_KEM_EK_LEN + 64] = 0;
	a.p[kem_at + 1 + 4 + PROTO_KEM_EK_LEN + 64 + 1] = PROTO_MAX_KEM_OTPK + 1;
	CHECK_EQ_INT(proto_decode(a.p, a.len, &d), SOTTO_ERR_TOO_LARGE);
	buf_free(&a);
	m[up].u.upload.n_kem = PROTO_MAX_KEM_OTPK + 1;
	buf_init_dyn(&a, 1 << 20);
	CHECK_EQ_INT(proto_encode(&m[up], &a), SOTTO_ERR_INVALID_ARG);
	buf_free(&a);
	/* A bundle: the flag is the byte after the X25519 part. */
	for (i = 0; i < n; i++)
		if (m[i].type == (PROTO_RESPONSE | PROTO_FETCH_BUNDLE) && m[i].u.bundle.has_kem)
			break;
	REQUIRE(i < n);
	buf_init_dyn(&a, 1 << 20);
	REQUIRE(proto_encode(&m[i], &a) == 0);
	REQUIRE(proto_decode(a.p, a.len, &d) == 0);
	CHECK_EQ_INT(d.u.bundle.kem_id, 0xfffffff0);
	CHECK_MEM(d.u.bundle.kem_ek, kem_ek[2], PROTO_KEM_EK_LEN);
	CHECK_MEM(d.u.bundle.kem_sig, kem_sig[2], PROTO_SIG_LEN);
	kem_at = a.len - (1 + 4 + PROTO_KEM_EK_LEN + 64);
	a.p[kem_at] = 3;
	CHECK_EQ_INT(proto_decode(a.p, a.len, &d), SOTTO_ERR_MALFORMED);
	buf_free(&a);
}

TEST(proto_register_signature)
{
	uint8_t id_pk[32], id_sk[64], other_pk[32], other_sk[64];
	struct proto_register r;

	memset(&r, 0, sizeof(r));
	crypto_sign_keypair(id_pk, id_sk);
	crypto_sign_keypair(other_pk, other_sk);
	strcpy(r.address, "alice@example.org");
	memcpy(r.identity_pk, id_pk, 32);
	randombytes_buf(r.device_pk, 32);
	CHECK_EQ_INT(proto_register_sign(&r, id_sk), 0);
	CHECK_EQ_INT(proto_register_verify(&r), 0);
	/* Bound to the device key, the address and the identity key. */
	r.device_pk[0] ^= 1;
	CHECK_EQ_INT(proto_register_verify(&r), SOTTO_ERR_BAD_SIGNATURE);
	r.device_pk[0] ^= 1;
	strcpy(r.address, "alice@example.net");
	CHECK_EQ_INT(proto_register_verify(&r), SOTTO_ERR_BAD_SIGNATURE);
	strcpy(r.address, "alice@example.org");
	memcpy(r.identity_pk, other_pk, 32);
	CHECK_EQ_INT(proto_register_verify(&r), SOTTO_ERR_BAD_SIGNATURE);
	memcpy(r.identity_pk, id_pk, 32);
	CHECK_EQ_INT(proto_register_verify(&r), 0);
}

TEST(cert_make_and_verify)
{
	uint8_t spk[32], ssk[64], opk[32], osk[64], idk[32], blob[CERT_MAX];
	struct cert_sender cs;
	size_t len, k;
	int accepted = 0;

	crypto_sign_keypair(spk, ssk);
	crypto_sign_keypair(opk, osk);
	randombytes_buf(idk, 32);
	REQUIRE(cert_make("alice@example.org", idk, 2000, ssk, blob, sizeof(blob), &len) == 0);
	CHECK(len <= CERT_MAX);
	CHECK_EQ_INT(cert_verify(blob, len, spk, 1999, &cs), 0);
	CHECK(strcmp(cs.address, "alice@example.org") == 0);
	CHECK_MEM(cs.identity_pk, idk, 32);
	CHECK_EQ_INT(cs.expiry, 2000);
	/* Expired at and after the expiry. */
	CHECK_EQ_INT(cert_verify(blob, len, spk, 2000, &cs), SOTTO_ERR_EXPIRED);
	CHECK_EQ_INT(cert_verify(blob, len, spk, 5000, &cs), SOTTO_ERR_EXPIRED);
	/* Another server's key. */
	CHECK_EQ_INT(cert_verify(blob, len, opk, 1000, &cs), SOTTO_ERR_BAD_SIGNATURE);
	/* Every flipped byte is refused. */
	for (k = 0; k < len; k++) {
		blob[k] ^= 0x20;
		if (cert_verify(blob, len, spk, 1000, &cs) == 0)
			accepted++;
		blob[k] ^= 0x20;
	}
	CHECK_EQ_INT(accepted, 0);
	for (k = 0; k < len; k++)
		CHECK(cert_verify(blob, k, spk, 1000, &cs) != 0);
	blob[len] = 0;
	CHECK_EQ_INT(cert_verify(blob, len + 1, spk, 1000, &cs), SOTTO_ERR_TRAILING);
	CHECK_EQ_INT(cert_parse(blob, len, &cs), 0);
	/* A forged expiry with the original signature. */
	blob[len - 64 - 1] ^= 1;
	CHECK_EQ_INT(cert_verify(blob, len, spk, 1000, &cs), SOTTO_ERR_BAD_SIGNATURE);
	/* Bad inputs to make. */
	CHECK_EQ_INT(cert_make("Alice@x", idk, 1, ssk, blob, sizeof(blob), &len),
	    SOTTO_ERR_INVALID_ARG);
	CHECK_EQ_INT(cert_make("a@x", idk, 1, ssk, blob, 50, &len), SOTTO_ERR_TOO_LARGE);
}

/* 48-bit milliseconds big-endian, then random: ids sort by their time. */
TEST(msgid_time_ordered)
{
	uint8_t a[MSGID_LEN], b[MSGID_LEN], c[MSGID_LEN];
	static const uint8_t when[6] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab };

	msgid_new(a, 0x0123456789abull);
	msgid_new(b, 0x0123456789abull);
	msgid_new(c, 0x0123456789acull);
	CHECK(memcmp(a, when, 6) == 0);
	CHECK(memcmp(b, when, 6) == 0);
	CHECK(memcmp(a + 6, b + 6, MSGID_LEN - 6) != 0);
	CHECK(memcmp(a, c, MSGID_LEN) < 0);
	CHECK(memcmp(b, c, MSGID_LEN) < 0);
	/* Only the low 48 bits of the time are kept. */
	msgid_new(a, 0xffff000000000001ull);
	CHECK(a[0] == 0 && a[4] == 0 && a[5] == 1);
	/* Made now: its time is the wall clock's. */
	{
		uint64_t before = (uint64_t)time(NULL) * 1000, ms = 0;

		msgid_new_now(a);
		for (int i = 0; i < 6; i++)
			ms = ms << 8 | a[i];
		CHECK(ms >= before && ms <= before + 2000);
	}
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	RUN(proto_roundtrip_every_message);
	RUN(msgid_time_ordered);
	RUN(proto_every_truncation_and_trailing_rejected);
	RUN(proto_rejects_bad_fields);
	RUN(proto_group_lists_read_back);
	RUN(proto_group_rejects_bad_fields);
	RUN(proto_encode_refuses_invalid);
	RUN(proto_register_signature);
	RUN(proto_kem_prekeys);
	RUN(cert_make_and_verify);
	return check_summary();
}
