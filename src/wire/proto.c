/*
 * The request/response codec (layout in proto.h and docs/PROTOCOL-wire.md).
 */
#include "wire/proto.h"

#include <string.h>

#include <sodium.h>

#include "base/cursor.h"
#include "wire/frame.h"

#define PROTO_STATUS_MAX 0xffff

_Static_assert(PROTO_SIG_LEN == crypto_sign_BYTES, "Ed25519 signatures");

/* ADDRESS_MAX minus the length of address a (0 if it is longer: such a message is not
 * encoded). */
static int
address_shortfall(const char *a)
{
	return ADDRESS_MAX - (int)strnlen(a, ADDRESS_MAX);
}

int
proto_padding(const struct proto_msg *m)
{
	switch (m->type) {
	case PROTO_REGISTER:
		return address_shortfall(m->u.reg.address);
	case PROTO_FETCH_BUNDLE:
		return address_shortfall(m->u.fetch.address);
	case PROTO_SEND:
	case PROTO_SEND_SEALED:
		return address_shortfall(m->u.send.recipient);
	case PROTO_LOOKUP:
		return address_shortfall(m->u.lookup.address);
	case PROTO_CLAIM_KEY_PACKAGE:
		return address_shortfall(m->u.claim.address);
	case PROTO_RESPONSE | PROTO_SENDER_CERTIFICATE:
		if (m->status != 0)
			return FRAME_UNPADDED;
		return m->u.cert.len < CERT_LEN(ADDRESS_MAX) ?
		    (int)(CERT_LEN(ADDRESS_MAX) - m->u.cert.len) : 0;
	default:
		return FRAME_UNPADDED;
	}
}

int
proto_is_response(uint8_t type)
{
	uint8_t req = type & (uint8_t)~PROTO_RESPONSE;

	return (type & PROTO_RESPONSE) != 0 && req >= PROTO_REGISTER &&
	    req <= PROTO_GROUP_SEND_SEALED;
}

int
proto_is_notice(uint8_t type)
{
	return type == PROTO_PUSH || type == PROTO_PREKEY_LOW || type == PROTO_GROUP_PUSH ||
	    type == PROTO_KEY_PACKAGE_LOW;
}

const char *
proto_type_name(uint8_t type)
{
	switch (type & (uint8_t)~PROTO_RESPONSE) {
	case PROTO_REGISTER: return "REGISTER";
	case PROTO_UPLOAD_PREKEYS: return "UPLOAD_PREKEYS";
	case PROTO_FETCH_BUNDLE: return "FETCH_BUNDLE";
	case PROTO_SEND: return "SEND";
	case PROTO_RECEIVED: return "RECEIVED";
	case PROTO_SENDER_CERTIFICATE: return "SENDER_CERTIFICATE";
	case PROTO_LOOKUP: return "LOOKUP";
	case PROTO_TICKET: return "TICKET";
	case PROTO_LOGIN: return "LOGIN";
	case PROTO_UPLOAD_KEY_PACKAGES: return "UPLOAD_KEY_PACKAGES";
	case PROTO_CLAIM_KEY_PACKAGE: return "CLAIM_KEY_PACKAGE";
	case PROTO_GROUP_CREATE: return "GROUP_CREATE";
	case PROTO_GROUP_COMMIT: return "GROUP_COMMIT";
	case PROTO_GROUP_SEND: return "GROUP_SEND";
	case PROTO_GROUP_RECEIVED: return "GROUP_RECEIVED";
	case PROTO_BLOB_BEGIN: return "BLOB_BEGIN";
	case PROTO_BLOB_CHUNK: return "BLOB_CHUNK";
	case PROTO_BLOB_COMMIT: return "BLOB_COMMIT";
	case PROTO_BLOB_GET: return "BLOB_GET";
	case PROTO_BLOB_DONE: return "BLOB_DONE";
	case PROTO_SEND_SEALED: return "SEND_SEALED";
	case PROTO_DELIVERY_TOKEN: return "DELIVERY_TOKEN";
	case PROTO_GROUP_SEND_SEALED: return "GROUP_SEND_SEALED";
	case PROTO_PUSH: return "PUSH";
	case PROTO_PREKEY_LOW: return "PREKEY_LOW";
	case PROTO_GROUP_PUSH: return "GROUP_PUSH";
	case PROTO_KEY_PACKAGE_LOW: return "KEY_PACKAGE_LOW";
	default: return "UNKNOWN";
	}
}

void
proto_response(struct proto_msg *m, uint8_t request_type, uint32_t id, int status)
{
	memset(m, 0, sizeof(*m));
	m->type = (uint8_t)(PROTO_RESPONSE | request_type);
	m->id = id;
	m->status = status;
}

/* --- encoding --- */

static int
put_address(struct buf *b, const char *a)
{
	size_t n = strnlen(a, ADDRESS_MAX + 1);

	if (address_user_check(a, n) != 0)
		return SOTTO_ERR_INVALID_ARG;
	buf_lv16(b, a, n);
	return 0;
}

static void
put_spk(struct buf *b, const struct proto_signed_prekey *spk)
{
	buf_u32(b, spk->id);
	buf_put(b, spk->pub, PROTO_KEY_LEN);
	buf_put(b, spk->sig, PROTO_SIG_LEN);
}

static void
put_kem(struct buf *b, uint32_t id, const uint8_t *ek, const uint8_t *sig)
{
	buf_u32(b, id);
	buf_put(b, ek, PROTO_KEM_EK_LEN);
	buf_put(b, sig, PROTO_SIG_LEN);
}

static int
put_kem_upload(struct buf *b, const struct proto_upload_prekeys *u)
{
	size_t i;

	if (u->n_kem > PROTO_MAX_KEM_OTPK)
		return SOTTO_ERR_INVALID_ARG;
	buf_u8(b, u->has_kem_last_resort ? 1 : 0);
	if (u->has_kem_last_resort)
		put_kem(b, u->kem_last_resort.id, u->kem_last_resort.ek, u->kem_last_resort.sig);
	buf_u16(b, (uint16_t)u->n_kem);
	for (i = 0; i < u->n_kem; i++)
		put_kem(b, u->kem[i].id, u->kem[i].ek, u->kem[i].sig);
	return 0;
}

static void
put_ticket(struct buf *b, const struct proto_ticket_result *t)
{
	buf_put(b, t->psk, TICKET_PSK_LEN);
	buf_u64(b, t->expiry);
	buf_put(b, t->ticket, TICKET_LEN);
}

static int
encode_body(const struct proto_msg *m, struct buf *b)
{
	size_t i;
	int r;

	if (proto_group_encode(m, b, &r) || proto_blob_encode(m, b, &r))
		return r;
	switch (m->type) {
	case PROTO_REGISTER:
		if ((r = put_address(b, m->u.reg.address)) != 0)
			return r;
		if (m->u.reg.invite_len > PROTO_INVITE_MAX)
			return SOTTO_ERR_INVALID_ARG;
		buf_put(b, m->u.reg.identity_pk, PROTO_KEY_LEN);
		buf_put(b, m->u.reg.device_pk, PROTO_KEY_LEN);
		buf_put(b, m->u.reg.sig, PROTO_SIG_LEN);
		buf_lv16(b, m->u.reg.invite, m->u.reg.invite_len);
		return 0;
	case PROTO_UPLOAD_PREKEYS:
		if (m->u.upload.n_otpk > PROTO_MAX_OTPK)
			return SOTTO_ERR_INVALID_ARG;
		put_spk(b, &m->u.upload.spk);
		buf_u16(b, (uint16_t)m->u.upload.n_otpk);
		for (i = 0; i < m->u.upload.n_otpk; i++) {
			buf_u32(b, m->u.upload.otpk[i].id);
			buf_put(b, m->u.upload.otpk[i].pub, PROTO_KEY_LEN);
		}
		return put_kem_upload(b, &m->u.upload);
	case PROTO_FETCH_BUNDLE:
		return put_address(b, m->u.fetch.address);
	case PROTO_LOOKUP:
		return put_address(b, m->u.lookup.address);
	case PROTO_SEND:
	case PROTO_SEND_SEALED:
		if ((r = put_address(b, m->u.send.recipient)) != 0)
			return r;
		if (m->u.send.envelope_len == 0 || m->u.send.envelope_len > PROTO_ENVELOPE_MAX)
			return SOTTO_ERR_INVALID_ARG;
		buf_put(b, m->u.send.client_msg_id, PROTO_MSG_ID_LEN);
		if (m->type == PROTO_SEND_SEALED)
			buf_put(b, m->u.send.token, PROTO_TOKEN_LEN);
		buf_lv32(b, m->u.send.envelope, m->u.send.envelope_len);
		if (m->u.send.has_identity)
			buf_put(b, m->u.send.identity_pk, PROTO_KEY_LEN);
		return 0;
	case PROTO_LOGIN:
		buf_u64(b, m->u.login.generation);
		return 0;
	case PROTO_DELIVERY_TOKEN:
		buf_put(b, m->u.delivery.verifier, PROTO_TOKEN_LEN);
		return 0;
	case PROTO_RECEIVED:
		if (m->u.received.n == 0 || m->u.received.n > PROTO_MAX_RECEIVED)
			return SOTTO_ERR_INVALID_ARG;
		buf_u16(b, (uint16_t)m->u.received.n);
		for (i = 0; i < m->u.received.n; i++)
			buf_u64(b, m->u.received.ids[i]);
		return 0;
	case PROTO_SENDER_CERTIFICATE:
	case PROTO_TICKET:
		return 0;
	case PROTO_PUSH:
		if (m->u.push.envelope_len == 0 || m->u.push.envelope_len > PROTO_ENVELOPE_MAX)
			return SOTTO_ERR_INVALID_ARG;
		buf_u64(b, m->u.push.envelope_id);
		buf_u64(b, m->u.push.timestamp);
		buf_lv32(b, m->u.push.envelope, m->u.push.envelope_len);
		return 0;
	case PROTO_PREKEY_LOW:
		buf_u32(b, m->u.prekey_low.count);
		return 0;
	}

	if (!proto_is_response(m->type))
		return SOTTO_ERR_INVALID_ARG;
	if (m->status > 0 || m->status < -PROTO_STATUS_MAX)
		return SOTTO_ERR_INVALID_ARG;
	buf_u16(b, (uint16_t)-m->status);
	if (proto_group_encode_result(m, b, &r) || proto_blob_encode_result(m, b, &r))
		return r;
	if (m->status != 0)
		return 0;
	switch (m->type & (uint8_t)~PROTO_RESPONSE) {
	case PROTO_FETCH_BUNDLE:
		buf_put(b, m->u.bundle.identity_pk, PROTO_KEY_LEN);
		put_spk(b, &m->u.bundle.spk);
		buf_u8(b, m->u.bundle.has_otpk ? 1 : 0);
		if (m->u.bundle.has_otpk) {
			buf_u32(b, m->u.bundle.otpk.id);
			buf_put(b, m->u.bundle.otpk.pub, PROTO_KEY_LEN);
		}
		buf_u8(b, m->u.bundle.has_kem ? 1 : 0);
		if (m->u.bundle.has_kem)
			put_kem(b, m->u.bundle.kem_id, m->u.bundle.kem_ek, m->u.bundle.kem_sig);
		return 0;
	case PROTO_SEND:
	case PROTO_SEND_SEALED:
		buf_u64(b, m->u.sent.timestamp);
		return 0;
	case PROTO_SENDER_CERTIFICATE:
		if (m->u.cert.len == 0 || m->u.cert.len > CERT_MAX)
			return SOTTO_ERR_INVALID_ARG;
		buf_lv16(b, m->u.cert.cert, m->u.cert.len);
		return 0;
	case PROTO_TICKET:
		put_ticket(b, &m->u.ticket);
		return 0;
	case PROTO_LOGIN:
		buf_u64(b, m->u.logged_in.generation);
		buf_u8(b, m->u.logged_in.has_ticket ? 1 : 0);
		if (m->u.logged_in.has_ticket)
			put_ticket(b, &m->u.logged_in.ticket);
		return 0;
	default:
		return 0;
	}
}

int
proto_encode(const struct proto_msg *m, struct buf *out)
{
	size_t saved = out->len;
	int r;

	buf_u8(out, PROTO_VERSION);
	buf_u8(out, m->type);
	buf_u32(out, m->id);
	if ((r = encode_body(m, out)) == 0)
		r = buf_status(out);
	if (r != 0 && out->err == 0)
		out->len = saved;
	return r;
}

/* --- decoding --- */

static void
get_address(struct cur *c, char out[ADDRESS_MAX + 1])
{
	const uint8_t *a;
	size_t n;

	out[0] = '\0';
	a = cur_lv16(c, ADDRESS_MAX, &n);
	if (a == NULL)
		return;
	if (address_user_check((const char *)a, n) != 0) {
		cur_fail(c, SOTTO_ERR_MALFORMED);
		return;
	}
	memcpy(out, a, n);
	out[n] = '\0';
}

static void
get_spk(struct cur *c, struct proto_signed_prekey *spk)
{
	spk->id = cur_u32(c);
	cur_copy(c, spk->pub, PROTO_KEY_LEN);
	cur_copy(c, spk->sig, PROTO_SIG_LEN);
}

/* A count announced by the peer, checked against its cap before it is used. */
static size_t
get_count(struct cur *c, size_t min, size_t max)
{
	size_t n = cur_u16(c);

	if (cur_status(c) == 0 && (n < min || n > max)) {
		cur_fail(c, n > max ? SOTTO_ERR_TOO_LARGE : SOTTO_ERR_MALFORMED);
		return 0;
	}
	return cur_status(c) == 0 ? n : 0;
}

static void
get_kem(struct cur *c, struct proto_kem_prekey *k)
{
	k->id = cur_u32(c);
	k->ek = cur_ref(c, PROTO_KEM_EK_LEN);
	k->sig = cur_ref(c, PROTO_SIG_LEN);
}

/* A 0/1 flag byte; other values are malformed. */
static int
get_flag(struct cur *c)
{
	uint8_t f = cur_u8(c);

	if (cur_status(c) == 0 && f > 1)
		cur_fail(c, SOTTO_ERR_MALFORMED);
	return cur_status(c) == 0 ? f : 0;
}

/* The ML-KEM part of UPLOAD_PREKEYS: the flag, the last-resort key if flagged, and the
 * counted one-time keys. */
static void
get_kem_upload(struct cur *c, struct proto_upload_prekeys *u)
{
	size_t i, n;

	u->has_kem_last_resort = get_flag(c);
	if (u->has_kem_last_resort)
		get_kem(c, &u->kem_last_resort);
	n = get_count(c, 0, PROTO_MAX_KEM_OTPK);
	for (i = 0; i < n; i++)
		get_kem(c, &u->kem[i]);
	u->n_kem = n;
}

static const uint8_t *
get_envelope(struct cur *c, size_t *len)
{
	const uint8_t *e = cur_lv32(c, PROTO_ENVELOPE_MAX, len);

	if (e != NULL && *len == 0)
		cur_fail(c, SOTTO_ERR_MALFORMED);
	return e;
}

static void
get_ticket(struct cur *c, struct proto_ticket_result *t)
{
	cur_copy(c, t->psk, TICKET_PSK_LEN);
	t->expiry = cur_u64(c);
	cur_copy(c, t->ticket, TICKET_LEN);
}

static void
decode_body(struct cur *c, struct proto_msg *m)
{
	const uint8_t *p;
	size_t i, n;
	uint8_t flag;
	uint16_t status;

	if (proto_group_decode(c, m) || proto_blob_decode(c, m))
		return;
	switch (m->type) {
	case PROTO_REGISTER:
		get_address(c, m->u.reg.address);
		cur_copy(c, m->u.reg.identity_pk, PROTO_KEY_LEN);
		cur_copy(c, m->u.reg.device_pk, PROTO_KEY_LEN);
		cur_copy(c, m->u.reg.sig, PROTO_SIG_LEN);
		if ((p = cur_lv16(c, PROTO_INVITE_MAX, &n)) != NULL) {
			memcpy(m->u.reg.invite, p, n);
			m->u.reg.invite_len = n;
		}
		return;
	case PROTO_UPLOAD_PREKEYS:
		get_spk(c, &m->u.upload.spk);
		n = get_count(c, 0, PROTO_MAX_OTPK);
		for (i = 0; i < n; i++) {
			m->u.upload.otpk[i].id = cur_u32(c);
			cur_copy(c, m->u.upload.otpk[i].pub, PROTO_KEY_LEN);
		}
		m->u.upload.n_otpk = n;
		get_kem_upload(c, &m->u.upload);
		return;
	case PROTO_FETCH_BUNDLE:
		get_address(c, m->u.fetch.address);
		return;
	case PROTO_LOOKUP:
		get_address(c, m->u.lookup.address);
		return;
	case PROTO_SEND:
	case PROTO_SEND_SEALED:
		get_address(c, m->u.send.recipient);
		cur_copy(c, m->u.send.client_msg_id, PROTO_MSG_ID_LEN);
		if (m->type == PROTO_SEND_SEALED)
			cur_copy(c, m->u.send.token, PROTO_TOKEN_LEN);
		m->u.send.envelope = get_envelope(c, &m->u.send.envelope_len);
		/* Optional: an identity key, or nothing (fewer bytes are trailing ones). */
		if (cur_status(c) == 0 && cur_left(c) >= PROTO_KEY_LEN) {
			cur_copy(c, m->u.send.identity_pk, PROTO_KEY_LEN);
			m->u.send.has_identity = 1;
		}
		return;
	case PROTO_LOGIN:
		m->u.login.generation = cur_u64(c);
		return;
	case PROTO_DELIVERY_TOKEN:
		cur_copy(c, m->u.delivery.verifier, PROTO_TOKEN_LEN);
		return;
	case PROTO_RECEIVED:
		n = get_count(c, 1, PROTO_MAX_RECEIVED);
		for (i = 0; i < n; i++)
			m->u.received.ids[i] = cur_u64(c);
		m->u.received.n = n;
		return;
	case PROTO_SENDER_CERTIFICATE:
	case PROTO_TICKET:
		return;
	case PROTO_PUSH:
		m->u.push.envelope_id = cur_u64(c);
		m->u.push.timestamp = cur_u64(c);
		m->u.push.envelope = get_envelope(c, &m->u.push.envelope_len);
		return;
	case PROTO_PREKEY_LOW:
		m->u.prekey_low.count = cur_u32(c);
		return;
	}

	if (!proto_is_response(m->type)) {
		cur_fail(c, SOTTO_ERR_MALFORMED);
		return;
	}
	status = cur_u16(c);
	m->status = -(int)status;
	if (proto_group_decode_result(c, m) || proto_blob_decode_result(c, m))
		return;
	if (status != 0)
		return;
	switch (m->type & (uint8_t)~PROTO_RESPONSE) {
	case PROTO_FETCH_BUNDLE:
		cur_copy(c, m->u.bundle.identity_pk, PROTO_KEY_LEN);
		get_spk(c, &m->u.bundle.spk);
		flag = cur_u8(c);
		if (flag > 1) {
			cur_fail(c, SOTTO_ERR_MALFORMED);
			return;
		}
		m->u.bundle.has_otpk = flag;
		if (flag) {
			m->u.bundle.otpk.id = cur_u32(c);
			cur_copy(c, m->u.bundle.otpk.pub, PROTO_KEY_LEN);
		}
		m->u.bundle.has_kem = get_flag(c);
		if (m->u.bundle.has_kem) {
			m->u.bundle.kem_id = cur_u32(c);
			cur_copy(c, m->u.bundle.kem_ek, PROTO_KEM_EK_LEN);
			cur_copy(c, m->u.bundle.kem_sig, PROTO_SIG_LEN);
		}
		return;
	case PROTO_SEND:
	case PROTO_SEND_SEALED:
		m->u.sent.timestamp = cur_u64(c);
		return;
	case PROTO_SENDER_CERTIFICATE:
		if ((p = cur_lv16(c, CERT_MAX, &n)) != NULL) {
			if (n == 0)
				cur_fail(c, SOTTO_ERR_MALFORMED);
			memcpy(m->u.cert.cert, p, n);
			m->u.cert.len = n;
		}
		return;
	case PROTO_TICKET:
		get_ticket(c, &m->u.ticket);
		return;
	case PROTO_LOGIN:
		m->u.logged_in.generation = cur_u64(c);
		flag = cur_u8(c);
		if (flag > 1) {
			cur_fail(c, SOTTO_ERR_MALFORMED);
			return;
		}
		m->u.logged_in.has_ticket = flag;
		if (flag)
			get_ticket(c, &m->u.logged_in.ticket);
		return;
	default:
		return;
	}
}

int
proto_decode(const uint8_t *p, size_t len, struct proto_msg *m)
{
	struct cur c;
	uint8_t version;
	int r;

	memset(m, 0, sizeof(*m));
	cur_init(&c, p, len);
	version = cur_u8(&c);
	m->type = cur_u8(&c);
	m->id = cur_u32(&c);
	if ((r = cur_status(&c)) != 0)
		goto fail;
	if (version != PROTO_VERSION) {
		r = SOTTO_ERR_BAD_VERSION;
		goto fail;
	}
	decode_body(&c, m);
	if ((r = cur_finish(&c)) != 0)
		goto fail;
	return 0;
fail:
	/* Invite tokens are secret-ish: leave nothing behind. */
	sodium_memzero(m, sizeof(*m));
	return r;
}

/* --- registration signature --- */

static int
register_signed_bytes(const struct proto_register *r, struct buf *b)
{
	size_t n = strnlen(r->address, ADDRESS_MAX + 1);

	if (address_user_check(r->address, n) != 0)
		return SOTTO_ERR_INVALID_ARG;
	buf_put(b, PROTO_REGISTER_DOMAIN, sizeof(PROTO_REGISTER_DOMAIN));  /* with 0x00 */
	buf_lv16(b, r->address, n);
	buf_put(b, r->device_pk, PROTO_KEY_LEN);
	return buf_status(b);
}

int
proto_register_sign(struct proto_register *r, const uint8_t identity_sk[64])
{
	uint8_t mem[sizeof(PROTO_REGISTER_DOMAIN) + 2 + ADDRESS_MAX + PROTO_KEY_LEN];
	struct buf b;
	int rc;

	buf_init_fixed(&b, mem, sizeof(mem));
	if ((rc = register_signed_bytes(r, &b)) != 0)
		return rc;
	crypto_sign_detached(r->sig, NULL, b.p, b.len, identity_sk);
	return 0;
}

int
proto_register_verify(const struct proto_register *r)
{
	uint8_t mem[sizeof(PROTO_REGISTER_DOMAIN) + 2 + ADDRESS_MAX + PROTO_KEY_LEN];
	struct buf b;
	int rc;

	buf_init_fixed(&b, mem, sizeof(mem));
	if ((rc = register_signed_bytes(r, &b)) != 0)
		return rc;
	if (crypto_sign_verify_detached(r->sig, b.p, b.len, r->identity_pk) != 0)
		return SOTTO_ERR_BAD_SIGNATURE;
	return 0;
}

void
proto_delivery_verifier(uint8_t verifier[PROTO_TOKEN_LEN], const uint8_t token[PROTO_TOKEN_LEN])
{
	crypto_generichash(verifier, PROTO_TOKEN_LEN, token, PROTO_TOKEN_LEN,
	    (const uint8_t *)PROTO_TOKEN_LABEL, sizeof(PROTO_TOKEN_LABEL) - 1);
}
