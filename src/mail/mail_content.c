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

int
mail_content_id(const uint8_t key[MAIL_ID_KEY_LEN], const char *addr, const uint8_t *mail,
    size_t len, uint8_t id[MAIL_CONTENT_ID_LEN])
{
	static const char label[] = "sotto bridge mail id v1";
	crypto_generichash_state st;
	size_t alen = strlen(addr);
	uint8_t n[2] = { (uint8_t)(alen >> 8), (uint8_t)alen };
	int r;

	r = crypto_generichash_init(&st, key, MAIL_ID_KEY_LEN, MAIL_CONTENT_ID_LEN);
	if (r == 0)
		r = crypto_generichash_update(&st, (const uint8_t *)label, sizeof(label));
	if (r == 0)
		r = crypto_generichash_update(&st, n, sizeof(n));
	if (r == 0)
		r = crypto_generichash_update(&st, (const uint8_t *)addr, alen);
	if (r == 0)
		r = crypto_generichash_update(&st, mail, len);
	if (r == 0)
		r = crypto_generichash_final(&st, id, MAIL_CONTENT_ID_LEN);
	sodium_memzero(&st, sizeof(st));
	return r == 0 ? 0 : SOTTO_ERR_INTERNAL;
}

void
mail_content_history_id(const char *peer, const uint8_t id[MAIL_CONTENT_ID_LEN],
    uint8_t out[SOTTO_ID_LEN])
{
	static const char label[] = "sotto received mail v1";
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, SOTTO_ID_LEN);
	crypto_generichash_update(&st, (const uint8_t *)label, sizeof(label));
	crypto_generichash_update(&st, (const uint8_t *)peer, strlen(peer) + 1);
	crypto_generichash_update(&st, id, MAIL_CONTENT_ID_LEN);
	crypto_generichash_final(&st, out, SOTTO_ID_LEN);
	sodium_memzero(&st, sizeof(st));
}

int
mail_content_assemble(const uint8_t *const *parts, const size_t *lens, size_t n,
    uint8_t **mail, size_t *len)
{
	struct mail_part first, p;
	uint8_t *data = NULL, *have = NULL;
	size_t i, got = 0;
	int r = SOTTO_ERR_MALFORMED;

	*mail = NULL;
	*len = 0;
	if (n == 0)
		return 0;
	if (mail_content_parse(parts[0], lens[0], &first) != 0)
		return SOTTO_ERR_MALFORMED;
	if (n < first.count)
		return 0;
	if ((data = malloc(first.total)) == NULL || (have = calloc(first.count, 1)) == NULL) {
		r = SOTTO_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (mail_content_parse(parts[i], lens[i], &p) != 0 ||
		    memcmp(p.id, first.id, sizeof(p.id)) != 0 || p.total != first.total ||
		    p.count != first.count)
			goto out;
		if (have[p.index])
			continue;
		have[p.index] = 1;
		got++;
		memcpy(data + (size_t)p.index * MAIL_CONTENT_CHUNK, p.data, p.len);
	}
	if (got < first.count) {
		r = 0;
		goto out;
	}
	*mail = data;
	*len = first.total;
	data = NULL;
	r = 1;
out:
	if (data != NULL) {
		sodium_memzero(data, first.total);
		free(data);
	}
	free(have);
	return r;
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
