#include "mail/mail_content.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/cursor.h"

int
mail_content_count(size_t len, uint32_t *count)
{
	*count = 0;
	if (len == 0)
		return SOTTO_ERR_INVALID_ARG;
	if (len > MAIL_CONTENT_MAX)
		return SOTTO_ERR_TOO_LARGE;
	*count = (uint32_t)((len + MAIL_CONTENT_CHUNK - 1) / MAIL_CONTENT_CHUNK);
	return 0;
}

/* Bytes of part index in a mail of total bytes split into count parts. */
static size_t
part_len(uint32_t total, uint32_t count, uint32_t index)
{
	if (index + 1 < count)
		return MAIL_CONTENT_CHUNK;
	return total - (size_t)(count - 1) * MAIL_CONTENT_CHUNK;
}

int
mail_content_part(const uint8_t id[MAIL_CONTENT_ID_LEN], const uint8_t *mail, size_t len,
    uint32_t index, struct buf *out)
{
	uint32_t count;
	size_t n;
	int r;

	if ((r = mail_content_count(len, &count)) != 0)
		return r;
	if (index >= count)
		return SOTTO_ERR_INVALID_ARG;
	n = part_len((uint32_t)len, count, index);
	buf_reset(out);
	buf_u8(out, MAIL_CONTENT_VERSION);
	buf_put(out, id, MAIL_CONTENT_ID_LEN);
	buf_u32(out, (uint32_t)len);
	buf_u32(out, index);
	buf_u32(out, count);
	buf_put(out, mail + (size_t)index * MAIL_CONTENT_CHUNK, n);
	return buf_status(out);
}

int
mail_content_parse(const uint8_t *p, size_t len, struct mail_part *out)
{
	struct cur c;
	uint32_t count;
	int r;

	memset(out, 0, sizeof(*out));
	cur_init(&c, p, len);
	if (cur_u8(&c) != MAIL_CONTENT_VERSION && cur_status(&c) == 0)
		return SOTTO_ERR_BAD_VERSION;
	cur_copy(&c, out->id, sizeof(out->id));
	out->total = cur_u32(&c);
	out->index = cur_u32(&c);
	out->count = cur_u32(&c);
	if ((r = cur_status(&c)) != 0)
		return r;
	if (out->total == 0 || out->total > MAIL_CONTENT_MAX)
		return SOTTO_ERR_MALFORMED;
	if (mail_content_count(out->total, &count) != 0 || count != out->count ||
	    out->index >= count)
		return SOTTO_ERR_MALFORMED;
	out->len = part_len(out->total, count, out->index);
	out->data = cur_ref(&c, out->len);
	if ((r = cur_finish(&c)) != 0) {
		out->data = NULL;
		out->len = 0;
		return r;
	}
	return 0;
}

/* ---- reassembly ---- */

struct asm_mail {
	char peer[SOTTO_ADDRESS_MAX + 1];
	uint8_t id[MAIL_CONTENT_ID_LEN];
	uint32_t total, count, got;
	uint8_t *data;                  /* total bytes; secret */
	uint8_t *have;                  /* one bit per part */
	int64_t first_row;
	uint64_t first_time;
	uint64_t touched;
};

struct mail_asm {
	struct asm_mail *v;
	size_t n, max_pending, bytes, max_bytes;
	uint64_t clock;
};

int
mail_asm_new(struct mail_asm **out, size_t max_pending, size_t max_bytes)
{
	struct mail_asm *a;

	*out = NULL;
	if (max_pending == 0 || max_bytes < MAIL_CONTENT_MAX)
		return SOTTO_ERR_INVALID_ARG;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return SOTTO_ERR_NOMEM;
	if ((a->v = calloc(max_pending, sizeof(*a->v))) == NULL) {
		free(a);
		return SOTTO_ERR_NOMEM;
	}
	a->max_pending = max_pending;
	a->max_bytes = max_bytes;
	*out = a;
	return 0;
}

static void
asm_drop(struct mail_asm *a, size_t i)
{
	struct asm_mail *m = &a->v[i];

	if (m->data != NULL) {
		sodium_memzero(m->data, m->total);
		free(m->data);
	}
	free(m->have);
	a->bytes -= m->total;
	a->v[i] = a->v[a->n - 1];
	memset(&a->v[a->n - 1], 0, sizeof(a->v[0]));
	a->n--;
}

static size_t
asm_lru(const struct mail_asm *a)
{
	size_t i, best = 0;

	for (i = 1; i < a->n; i++)
		if (a->v[i].touched < a->v[best].touched)
			best = i;
	return best;
}

int
mail_asm_add(struct mail_asm *a, const char *peer, int64_t row, uint64_t time,
    const struct mail_part *p, uint8_t **mail, size_t *len)
{
	struct asm_mail *m = NULL;
	size_t i, plen = strlen(peer);

	*mail = NULL;
	*len = 0;
	if (plen > SOTTO_ADDRESS_MAX)
		return SOTTO_ERR_INVALID_ARG;
	for (i = 0; i < a->n; i++) {
		if (strcmp(a->v[i].peer, peer) == 0 &&
		    memcmp(a->v[i].id, p->id, MAIL_CONTENT_ID_LEN) == 0) {
			m = &a->v[i];
			break;
		}
	}
	if (m != NULL && (m->total != p->total || m->count != p->count)) {
		asm_drop(a, i);
		return SOTTO_ERR_MALFORMED;
	}
	if (m == NULL) {
		/* room first: the cap holds before anything is allocated */
		while (a->n > 0 && (a->n == a->max_pending || a->bytes + p->total > a->max_bytes))
			asm_drop(a, asm_lru(a));
		m = &a->v[a->n];
		memset(m, 0, sizeof(*m));
		if ((m->data = malloc(p->total)) == NULL ||
		    (m->have = calloc((p->count + 7) / 8, 1)) == NULL) {
			free(m->data);
			m->data = NULL;
			return SOTTO_ERR_NOMEM;
		}
		memcpy(m->peer, peer, plen + 1);
		memcpy(m->id, p->id, MAIL_CONTENT_ID_LEN);
		m->total = p->total;
		m->count = p->count;
		m->first_row = row;
		m->first_time = time;
		a->bytes += p->total;
		i = a->n++;
	}
	m->touched = ++a->clock;
	if (m->have[p->index / 8] & (1u << (p->index % 8)))
		return 0;       /* a duplicate */
	memcpy(m->data + (size_t)p->index * MAIL_CONTENT_CHUNK, p->data, p->len);
	m->have[p->index / 8] |= (uint8_t)(1u << (p->index % 8));
	if (row < m->first_row)
		m->first_row = row;
	if (time < m->first_time)
		m->first_time = time;
	if (++m->got < m->count)
		return 0;
	*mail = m->data;
	*len = m->total;
	m->data = NULL;
	asm_drop(a, i);
	return 1;
}

size_t
mail_asm_expire(struct mail_asm *a, uint64_t before)
{
	size_t i = 0, n = 0;

	while (i < a->n) {
		if (a->v[i].first_time < before) {
			asm_drop(a, i);         /* moves the last one into i */
			n++;
		} else {
			i++;
		}
	}
	return n;
}

int64_t
mail_asm_oldest_row(const struct mail_asm *a)
{
	int64_t row = INT64_MAX;
	size_t i;

	for (i = 0; i < a->n; i++)
		if (a->v[i].first_row < row)
			row = a->v[i].first_row;
	return row;
}

size_t
mail_asm_pending(const struct mail_asm *a)
{
	return a->n;
}

void
mail_asm_free(struct mail_asm *a)
{
	if (a == NULL)
		return;
	while (a->n > 0)
		asm_drop(a, a->n - 1);
	free(a->v);
	free(a);
}

/* ---- progress ---- */

int
mail_progress_encode(const struct mail_progress *p, struct buf *out)
{
	size_t i;

	if (p->n > MAIL_DONE_MAX || p->row < 0)
		return SOTTO_ERR_INVALID_ARG;
	buf_reset(out);
	buf_u64(out, (uint64_t)p->row);
	buf_u16(out, (uint16_t)p->n);
	for (i = 0; i < p->n; i++)
		buf_put(out, p->done[i], MAIL_CONTENT_ID_LEN);
	return buf_status(out);
}

int
mail_progress_decode(const uint8_t *v, size_t len, struct mail_progress *p)
{
	struct cur c;
	uint64_t row;
	size_t i;

	memset(p, 0, sizeof(*p));
	cur_init(&c, v, len);
	row = cur_u64(&c);
	p->n = cur_u16(&c);
	if (cur_status(&c) == 0 && (row > INT64_MAX || p->n > MAIL_DONE_MAX)) {
		memset(p, 0, sizeof(*p));
		return SOTTO_ERR_MALFORMED;
	}
	for (i = 0; i < p->n && cur_status(&c) == 0; i++)
		cur_copy(&c, p->done[i], MAIL_CONTENT_ID_LEN);
	if (cur_finish(&c) != 0) {
		memset(p, 0, sizeof(*p));
		return SOTTO_ERR_MALFORMED;
	}
	p->row = (int64_t)row;
	return 0;
}

int
mail_progress_has(const struct mail_progress *p, const uint8_t id[MAIL_CONTENT_ID_LEN])
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (memcmp(p->done[i], id, MAIL_CONTENT_ID_LEN) == 0)
			return 1;
	return 0;
}

void
mail_progress_add(struct mail_progress *p, const uint8_t id[MAIL_CONTENT_ID_LEN])
{
	if (p->n == MAIL_DONE_MAX) {
		memmove(p->done[0], p->done[1], (MAIL_DONE_MAX - 1) * MAIL_CONTENT_ID_LEN);
		p->n--;
	}
	memcpy(p->done[p->n++], id, MAIL_CONTENT_ID_LEN);
}
