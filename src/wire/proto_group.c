/*
 * The codec of the group requests and notices (layout in proto_group.h and
 * docs/PROTOCOL-wire.md). Every list is checked item by item while decoding, so that the
 * iterators over its raw bytes cannot fail later.
 */
#include "wire/proto.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

/* --- encoding --- */

static int
put_group_id(struct buf *b, const struct proto_group_id *g)
{
	if (g->len == 0 || g->len > PROTO_GROUP_ID_MAX)
		return SOTTO_ERR_INVALID_ARG;
	buf_u8(b, (uint8_t)g->len);
	buf_put(b, g->id, g->len);
	return 0;
}

static int
put_data(struct buf *b, const struct proto_blob *d, size_t max)
{
	if (d->len == 0 || d->len > max)
		return SOTTO_ERR_INVALID_ARG;
	buf_lv32(b, d->p, d->len);
	return 0;
}

static int
put_addr_list(struct buf *b, const struct proto_addr_list *l, size_t min)
{
	size_t n;

	if (l->n < min || l->n > PROTO_GROUP_LIST_MAX)
		return SOTTO_ERR_INVALID_ARG;
	buf_u16(b, (uint16_t)l->n);
	if (l->addrs == NULL) {
		buf_put(b, l->raw, l->raw_len);
		return 0;
	}
	for (size_t i = 0; i < l->n; i++) {
		n = strnlen(l->addrs[i], ADDRESS_MAX + 1);
		if (address_user_check(l->addrs[i], n) != 0)
			return SOTTO_ERR_INVALID_ARG;
		buf_lv16(b, l->addrs[i], n);
	}
	return 0;
}

static int
put_welcomes(struct buf *b, const struct proto_welcome_list *l)
{
	int r;

	if (l->n > PROTO_GROUP_LIST_MAX)
		return SOTTO_ERR_INVALID_ARG;
	buf_u16(b, (uint16_t)l->n);
	if (l->items == NULL) {
		buf_put(b, l->raw, l->raw_len);
		return 0;
	}
	for (size_t i = 0; i < l->n; i++)
		if ((r = put_data(b, &l->items[i].data, PROTO_GROUP_DATA_MAX)) != 0 ||
		    (r = put_addr_list(b, &l->items[i].to, 1)) != 0)
			return r;
	return 0;
}

static int
put_acks(struct buf *b, const struct proto_group_acks *l)
{
	int r;

	if (l->n == 0 || l->n > PROTO_MAX_GROUP_ACKS)
		return SOTTO_ERR_INVALID_ARG;
	buf_u16(b, (uint16_t)l->n);
	if (l->items == NULL) {
		buf_put(b, l->raw, l->raw_len);
		return 0;
	}
	for (size_t i = 0; i < l->n; i++) {
		if ((r = put_group_id(b, &l->items[i].group)) != 0)
			return r;
		buf_u64(b, l->items[i].seq);
	}
	return 0;
}

static int
put_kp(struct buf *b, const struct proto_blob *kp, int optional)
{
	if ((kp->len == 0 && !optional) || kp->len > PROTO_KEY_PACKAGE_MAX)
		return SOTTO_ERR_INVALID_ARG;
	buf_lv16(b, kp->p, kp->len);
	return 0;
}

static int
put_address1(struct buf *b, const char *a)
{
	size_t n = strnlen(a, ADDRESS_MAX + 1);

	if (address_user_check(a, n) != 0)
		return SOTTO_ERR_INVALID_ARG;
	buf_lv16(b, a, n);
	return 0;
}

int
proto_group_encode(const struct proto_msg *m, struct buf *b, int *r)
{
	const struct proto_upload_key_packages *u = &m->u.upload_kp;
	const struct proto_group_commit *gc = &m->u.group_commit;
	const struct proto_group_push *gp = &m->u.group_push;

	*r = 0;
	switch (m->type) {
	case PROTO_UPLOAD_KEY_PACKAGES:
		if (u->n > PROTO_MAX_KEY_PACKAGES) {
			*r = SOTTO_ERR_INVALID_ARG;
			return 1;
		}
		buf_u16(b, (uint16_t)u->n);
		for (size_t i = 0; i < u->n && *r == 0; i++)
			*r = put_kp(b, &u->kp[i], 0);
		if (*r == 0)
			*r = put_kp(b, &u->last_resort, 1);
		return 1;
	case PROTO_CLAIM_KEY_PACKAGE:
		*r = put_address1(b, m->u.claim.address);
		return 1;
	case PROTO_GROUP_CREATE:
		if ((*r = put_group_id(b, &m->u.group_create.group)) == 0)
			buf_put(b, m->u.group_create.verifier, PROTO_GROUP_TOKEN_LEN);
		return 1;
	case PROTO_GROUP_COMMIT:
		if ((*r = put_group_id(b, &gc->group)) != 0)
			return 1;
		buf_u64(b, gc->epoch);
		buf_put(b, gc->verifier, PROTO_GROUP_TOKEN_LEN);
		if ((*r = put_data(b, &gc->commit, PROTO_GROUP_DATA_MAX)) != 0 ||
		    (*r = put_addr_list(b, &gc->add, 0)) != 0 ||
		    (*r = put_addr_list(b, &gc->remove, 0)) != 0)
			return 1;
		*r = put_welcomes(b, &gc->welcomes);
		return 1;
	case PROTO_GROUP_SEND:
	case PROTO_GROUP_SEND_SEALED:
		if ((*r = put_group_id(b, &m->u.group_send.group)) != 0)
			return 1;
		if (m->type == PROTO_GROUP_SEND_SEALED)
			buf_put(b, m->u.group_send.token, PROTO_GROUP_TOKEN_LEN);
		buf_put(b, m->u.group_send.client_msg_id, sizeof(m->u.group_send.client_msg_id));
		*r = put_data(b, &m->u.group_send.message, PROTO_GROUP_DATA_MAX);
		return 1;
	case PROTO_GROUP_RECEIVED:
		*r = put_acks(b, &m->u.group_received);
		return 1;
	case PROTO_GROUP_PUSH:
		if (gp->kind < PROTO_GROUP_WELCOME || gp->kind > PROTO_GROUP_MISSED ||
		    (gp->flags & ~PROTO_GROUP_FLAG_REMOVED) != 0 ||
		    (gp->kind == PROTO_GROUP_MISSED && gp->data.len != PROTO_GROUP_MISSED_LEN)) {
			*r = SOTTO_ERR_INVALID_ARG;
			return 1;
		}
		buf_u8(b, gp->kind);
		buf_u8(b, gp->flags);
		if ((*r = put_group_id(b, &gp->group)) != 0)
			return 1;
		buf_u64(b, gp->seq);
		buf_u64(b, gp->epoch);
		buf_u64(b, gp->timestamp);
		*r = put_data(b, &gp->data, PROTO_GROUP_DATA_MAX);
		return 1;
	case PROTO_KEY_PACKAGE_LOW:
		buf_u32(b, m->u.kp_low.count);
		buf_u8(b, m->u.kp_low.has_last_resort ? 1 : 0);
		return 1;
	default:
		return 0;
	}
}

int
proto_group_encode_result(const struct proto_msg *m, struct buf *b, int *r)
{
	const struct proto_claimed_key_package *ck = &m->u.claimed;

	*r = 0;
	switch (m->type & (uint8_t)~PROTO_RESPONSE) {
	case PROTO_UPLOAD_KEY_PACKAGES:
		if (m->status != 0)
			return 0;
		buf_u32(b, m->u.kp_count.count);
		buf_u8(b, m->u.kp_count.has_last_resort ? 1 : 0);
		return 1;
	case PROTO_CLAIM_KEY_PACKAGE:
		if (m->status != 0)
			return 0;
		buf_put(b, ck->identity_pk, sizeof(ck->identity_pk));
		buf_u8(b, ck->last_resort ? 1 : 0);
		*r = put_kp(b, &ck->kp, 0);
		return 1;
	case PROTO_GROUP_COMMIT:
	case PROTO_GROUP_SEND_SEALED:
		if (m->status == SOTTO_ERR_STALE_EPOCH) {
			buf_u64(b, m->u.group_result.epoch);
			return 1;
		}
		/* fall through */
	case PROTO_GROUP_SEND:
		if (m->status != 0)
			return 0;
		buf_u64(b, m->u.group_result.seq);
		buf_u64(b, m->u.group_result.epoch);
		return 1;
	default:
		return 0;
	}
}

/* --- decoding --- */

static void
get_group_id(struct cur *c, struct proto_group_id *g)
{
	size_t n = cur_u8(c);

	if (cur_status(c) == 0 && (n == 0 || n > PROTO_GROUP_ID_MAX)) {
		cur_fail(c, n == 0 ? SOTTO_ERR_MALFORMED : SOTTO_ERR_TOO_LARGE);
		return;
	}
	cur_copy(c, g->id, n);
	g->len = cur_status(c) == 0 ? n : 0;
}

static void
get_data(struct cur *c, struct proto_blob *d)
{
	d->p = cur_lv32(c, PROTO_GROUP_DATA_MAX, &d->len);
	if (d->p != NULL && d->len == 0)
		cur_fail(c, SOTTO_ERR_MALFORMED);
}

static void
get_kp(struct cur *c, struct proto_blob *kp, int optional)
{
	kp->p = cur_lv16(c, PROTO_KEY_PACKAGE_MAX, &kp->len);
	if (kp->p != NULL && kp->len == 0 && !optional)
		cur_fail(c, SOTTO_ERR_MALFORMED);
}

static void
get_address1(struct cur *c, char out[ADDRESS_MAX + 1])
{
	const uint8_t *a;
	size_t n;

	out[0] = '\0';
	if ((a = cur_lv16(c, ADDRESS_MAX, &n)) == NULL)
		return;
	if (address_user_check((const char *)a, n) != 0) {
		cur_fail(c, SOTTO_ERR_MALFORMED);
		return;
	}
	memcpy(out, a, n);
	out[n] = '\0';
}

/* A u16 count then that many valid addresses, kept raw. Counts are not allocated from. */
static void
get_addr_list(struct cur *c, struct proto_addr_list *l, size_t min)
{
	const uint8_t *start;
	char a[ADDRESS_MAX + 1];
	size_t n = cur_u16(c), before = cur_left(c);

	if (cur_status(c) == 0 && n < min) {
		cur_fail(c, SOTTO_ERR_MALFORMED);
		return;
	}
	start = cur_ref(c, 0);
	for (size_t i = 0; i < n && cur_status(c) == 0; i++)
		get_address1(c, a);
	if (cur_status(c) != 0)
		return;
	l->n = n;
	l->addrs = NULL;
	l->raw = start;
	l->raw_len = before - cur_left(c);
}

static void
get_welcomes(struct cur *c, struct proto_welcome_list *l)
{
	struct proto_welcome w;
	const uint8_t *start;
	size_t n = cur_u16(c), before = cur_left(c);

	start = cur_ref(c, 0);
	for (size_t i = 0; i < n && cur_status(c) == 0; i++) {
		get_data(c, &w.data);
		get_addr_list(c, &w.to, 1);
	}
	if (cur_status(c) != 0)
		return;
	l->n = n;
	l->items = NULL;
	l->raw = start;
	l->raw_len = before - cur_left(c);
}

static void
get_acks(struct cur *c, struct proto_group_acks *l)
{
	struct proto_group_id g;
	const uint8_t *start;
	size_t n = cur_u16(c), before = cur_left(c);

	if (cur_status(c) == 0 && (n == 0 || n > PROTO_MAX_GROUP_ACKS)) {
		cur_fail(c, n == 0 ? SOTTO_ERR_MALFORMED : SOTTO_ERR_TOO_LARGE);
		return;
	}
	start = cur_ref(c, 0);
	for (size_t i = 0; i < n && cur_status(c) == 0; i++) {
		get_group_id(c, &g);
		(void)cur_u64(c);
	}
	if (cur_status(c) != 0)
		return;
	l->n = n;
	l->items = NULL;
	l->raw = start;
	l->raw_len = before - cur_left(c);
}

static int
get_flag(struct cur *c)
{
	uint8_t f = cur_u8(c);

	if (f > 1)
		cur_fail(c, SOTTO_ERR_MALFORMED);
	return f == 1;
}

int
proto_group_decode(struct cur *c, struct proto_msg *m)
{
	struct proto_upload_key_packages *u = &m->u.upload_kp;
	struct proto_group_commit *gc = &m->u.group_commit;
	struct proto_group_push *gp = &m->u.group_push;
	size_t n;

	switch (m->type) {
	case PROTO_UPLOAD_KEY_PACKAGES:
		n = cur_u16(c);
		if (cur_status(c) == 0 && n > PROTO_MAX_KEY_PACKAGES) {
			cur_fail(c, SOTTO_ERR_TOO_LARGE);
			return 1;
		}
		for (size_t i = 0; i < n && cur_status(c) == 0; i++)
			get_kp(c, &u->kp[i], 0);
		u->n = cur_status(c) == 0 ? n : 0;
		get_kp(c, &u->last_resort, 1);
		return 1;
	case PROTO_CLAIM_KEY_PACKAGE:
		get_address1(c, m->u.claim.address);
		return 1;
	case PROTO_GROUP_CREATE:
		get_group_id(c, &m->u.group_create.group);
		cur_copy(c, m->u.group_create.verifier, PROTO_GROUP_TOKEN_LEN);
		return 1;
	case PROTO_GROUP_COMMIT:
		get_group_id(c, &gc->group);
		gc->epoch = cur_u64(c);
		cur_copy(c, gc->verifier, PROTO_GROUP_TOKEN_LEN);
		get_data(c, &gc->commit);
		get_addr_list(c, &gc->add, 0);
		get_addr_list(c, &gc->remove, 0);
		get_welcomes(c, &gc->welcomes);
		return 1;
	case PROTO_GROUP_SEND:
	case PROTO_GROUP_SEND_SEALED:
		get_group_id(c, &m->u.group_send.group);
		if (m->type == PROTO_GROUP_SEND_SEALED)
			cur_copy(c, m->u.group_send.token, PROTO_GROUP_TOKEN_LEN);
		cur_copy(c, m->u.group_send.client_msg_id, sizeof(m->u.group_send.client_msg_id));
		get_data(c, &m->u.group_send.message);
		return 1;
	case PROTO_GROUP_RECEIVED:
		get_acks(c, &m->u.group_received);
		return 1;
	case PROTO_GROUP_PUSH:
		gp->kind = cur_u8(c);
		gp->flags = cur_u8(c);
		if (cur_status(c) == 0 && (gp->kind < PROTO_GROUP_WELCOME ||
		    gp->kind > PROTO_GROUP_MISSED || (gp->flags & ~PROTO_GROUP_FLAG_REMOVED))) {
			cur_fail(c, SOTTO_ERR_MALFORMED);
			return 1;
		}
		get_group_id(c, &gp->group);
		gp->seq = cur_u64(c);
		gp->epoch = cur_u64(c);
		gp->timestamp = cur_u64(c);
		get_data(c, &gp->data);
		if (cur_status(c) == 0 && gp->kind == PROTO_GROUP_MISSED &&
		    gp->data.len != PROTO_GROUP_MISSED_LEN)
			cur_fail(c, SOTTO_ERR_MALFORMED);
		return 1;
	case PROTO_KEY_PACKAGE_LOW:
		m->u.kp_low.count = cur_u32(c);
		m->u.kp_low.has_last_resort = get_flag(c);
		return 1;
	default:
		return 0;
	}
}

int
proto_group_decode_result(struct cur *c, struct proto_msg *m)
{
	struct proto_claimed_key_package *ck = &m->u.claimed;

	switch (m->type & (uint8_t)~PROTO_RESPONSE) {
	case PROTO_UPLOAD_KEY_PACKAGES:
		if (m->status != 0)
			return 0;
		m->u.kp_count.count = cur_u32(c);
		m->u.kp_count.has_last_resort = get_flag(c);
		return 1;
	case PROTO_CLAIM_KEY_PACKAGE:
		if (m->status != 0)
			return 0;
		cur_copy(c, ck->identity_pk, sizeof(ck->identity_pk));
		ck->last_resort = get_flag(c);
		get_kp(c, &ck->kp, 0);
		return 1;
	case PROTO_GROUP_COMMIT:
	case PROTO_GROUP_SEND_SEALED:
		if (m->status == SOTTO_ERR_STALE_EPOCH) {
			m->u.group_result.epoch = cur_u64(c);
			return 1;
		}
		/* fall through */
	case PROTO_GROUP_SEND:
		if (m->status != 0)
			return 0;
		m->u.group_result.seq = cur_u64(c);
		m->u.group_result.epoch = cur_u64(c);
		return 1;
	default:
		return 0;
	}
}

void
proto_group_verifier(uint8_t verifier[PROTO_GROUP_TOKEN_LEN],
    const uint8_t token[PROTO_GROUP_TOKEN_LEN])
{
	crypto_generichash(verifier, PROTO_GROUP_TOKEN_LEN, token, PROTO_GROUP_TOKEN_LEN,
	    (const uint8_t *)PROTO_GROUP_VERIFIER_LABEL, sizeof(PROTO_GROUP_VERIFIER_LABEL) - 1);
}

/* --- iterators over decoded lists --- */

int
proto_addr_list_next(const struct proto_addr_list *l, size_t *off, char out[ADDRESS_MAX + 1])
{
	struct cur c;

	if (l->addrs != NULL) {
		if (*off >= l->n)
			return SOTTO_ERR_NOT_FOUND;
		snprintf(out, ADDRESS_MAX + 1, "%s", l->addrs[(*off)++]);
		return 0;
	}
	if (*off >= l->raw_len)
		return SOTTO_ERR_NOT_FOUND;
	cur_init(&c, l->raw + *off, l->raw_len - *off);
	get_address1(&c, out);
	if (cur_status(&c) != 0)
		return SOTTO_ERR_INTERNAL;      /* checked when decoded */
	*off = l->raw_len - cur_left(&c);
	return 0;
}

int
proto_welcome_list_next(const struct proto_welcome_list *l, size_t *off,
    struct proto_welcome *out)
{
	struct cur c;
	char a[ADDRESS_MAX + 1];
	size_t i, n, before;

	if (l->items != NULL) {
		if (*off >= l->n)
			return SOTTO_ERR_NOT_FOUND;
		*out = l->items[(*off)++];
		return 0;
	}
	if (*off >= l->raw_len)
		return SOTTO_ERR_NOT_FOUND;
	cur_init(&c, l->raw + *off, l->raw_len - *off);
	get_data(&c, &out->data);
	n = cur_u16(&c);
	before = cur_left(&c);
	out->to.raw = cur_ref(&c, 0);
	for (i = 0; i < n && cur_status(&c) == 0; i++)
		get_address1(&c, a);
	if (cur_status(&c) != 0)
		return SOTTO_ERR_INTERNAL;
	out->to.n = n;
	out->to.addrs = NULL;
	out->to.raw_len = before - cur_left(&c);
	*off = l->raw_len - cur_left(&c);
	return 0;
}

int
proto_group_acks_next(const struct proto_group_acks *l, size_t *off, struct proto_group_ack *out)
{
	struct cur c;

	if (l->items != NULL) {
		if (*off >= l->n)
			return SOTTO_ERR_NOT_FOUND;
		*out = l->items[(*off)++];
		return 0;
	}
	if (*off >= l->raw_len)
		return SOTTO_ERR_NOT_FOUND;
	cur_init(&c, l->raw + *off, l->raw_len - *off);
	get_group_id(&c, &out->group);
	out->seq = cur_u64(&c);
	if (cur_status(&c) != 0)
		return SOTTO_ERR_INTERNAL;
	*off = l->raw_len - cur_left(&c);
	return 0;
}
