#include "mls/psk.h"

#include <string.h>
#include <sodium.h>

#include "mls/crypto.h"
#include "mls/tls_codec.h"

void
mls_psk_id_write(struct buf *b, const struct mls_psk *p)
{
	buf_u8(b, p->type);
	if (p->type == MLS_PSK_EXTERNAL)
		mls_buf_opaque(b, p->id, p->id_len);
	else {
		buf_u8(b, p->usage);
		mls_buf_opaque(b, p->group_id, p->group_id_len);
		buf_u64(b, p->epoch);
	}
	mls_buf_opaque(b, p->nonce, p->nonce_len);
}

void
mls_psk_id_read(struct cur *c, struct mls_psk *p)
{
	memset(p, 0, sizeof(*p));
	p->type = cur_u8(c);
	switch (p->type) {
	case MLS_PSK_EXTERNAL:
		p->id = mls_cur_opaque(c, MLS_PSK_ID_MAX, &p->id_len);
		break;
	case MLS_PSK_RESUMPTION:
		p->usage = cur_u8(c);
		p->group_id = mls_cur_opaque(c, MLS_PSK_ID_MAX, &p->group_id_len);
		p->epoch = cur_u64(c);
		break;
	default:
		cur_fail(c, SOTTO_ERR_MALFORMED);
		return;
	}
	p->nonce = mls_cur_opaque(c, MLS_PSK_ID_MAX, &p->nonce_len);
}

static int
psk_valid(const struct mls_psk *p)
{
	if (p->type != MLS_PSK_EXTERNAL && p->type != MLS_PSK_RESUMPTION)
		return 0;
	return p->id_len <= MLS_PSK_ID_MAX && p->group_id_len <= MLS_PSK_ID_MAX &&
	    p->nonce_len <= MLS_PSK_ID_MAX;
}

int
mls_psk_secret(uint8_t out[static MLS_HASH_LEN], const struct mls_psk *psks, size_t n)
{
	uint8_t extracted[MLS_HASH_LEN], input[MLS_HASH_LEN], acc[MLS_HASH_LEN];  /* SECRET */
	uint8_t label_mem[1 + 1 + 4 + MLS_PSK_ID_MAX + 8 + 4 + 2 * MLS_PSK_ID_MAX + 4];
	struct buf label;
	size_t i;
	int r = 0;

	if (n > MLS_PSK_COUNT_MAX)
		return SOTTO_ERR_TOO_LARGE;
	memset(acc, 0, sizeof(acc));
	for (i = 0; i < n && r == 0; i++) {
		if (!psk_valid(&psks[i])) {
			r = SOTTO_ERR_INVALID_ARG;
			break;
		}
		buf_init_fixed(&label, label_mem, sizeof(label_mem));
		mls_psk_id_write(&label, &psks[i]);
		buf_u16(&label, (uint16_t)i);
		buf_u16(&label, (uint16_t)n);
		if ((r = buf_status(&label)) != 0)
			break;
		mls_kdf_extract(extracted, NULL, 0, psks[i].psk, psks[i].psk_len);
		if ((r = mls_expand_with_label(input, MLS_HASH_LEN, extracted, "derived psk",
		    label.p, label.len)) != 0)
			break;
		mls_kdf_extract(acc, input, sizeof(input), acc, sizeof(acc));
	}
	if (r == 0)
		memcpy(out, acc, MLS_HASH_LEN);
	sodium_memzero(extracted, sizeof(extracted));
	sodium_memzero(input, sizeof(input));
	sodium_memzero(acc, sizeof(acc));
	return r;
}
