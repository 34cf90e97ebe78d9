/*
 * The codec of the blob requests and their results (layout in proto_blob.h and
 * docs/PROTOCOL-wire.md).
 */
#include "wire/proto_blob.h"

#include "wire/proto.h"

int
proto_blob_encode(const struct proto_msg *m, struct buf *b, int *r)
{
	*r = 0;
	switch (m->type) {
	case PROTO_BLOB_BEGIN:
		buf_put(b, m->u.blob_begin.upload, PROTO_BLOB_UPLOAD_ID_LEN);
		buf_u64(b, m->u.blob_begin.size);
		return 1;
	case PROTO_BLOB_CHUNK:
		if (m->u.blob_chunk.len == 0 || m->u.blob_chunk.len > PROTO_BLOB_CHUNK_MAX) {
			*r = SOTTO_ERR_INVALID_ARG;
			return 1;
		}
		buf_put(b, m->u.blob_chunk.upload, PROTO_BLOB_UPLOAD_ID_LEN);
		buf_u64(b, m->u.blob_chunk.offset);
		buf_lv32(b, m->u.blob_chunk.data, m->u.blob_chunk.len);
		return 1;
	case PROTO_BLOB_COMMIT:
		buf_put(b, m->u.blob_commit.upload, PROTO_BLOB_UPLOAD_ID_LEN);
		buf_put(b, m->u.blob_commit.hash, PROTO_BLOB_HASH_LEN);
		buf_u16(b, m->u.blob_commit.recipients);
		return 1;
	case PROTO_BLOB_GET:
		if (m->u.blob_get.length == 0 || m->u.blob_get.length > PROTO_BLOB_CHUNK_MAX) {
			*r = SOTTO_ERR_INVALID_ARG;
			return 1;
		}
		buf_put(b, m->u.blob_get.hash, PROTO_BLOB_HASH_LEN);
		buf_u64(b, m->u.blob_get.offset);
		buf_u32(b, m->u.blob_get.length);
		return 1;
	case PROTO_BLOB_DONE:
		buf_put(b, m->u.blob_done.hash, PROTO_BLOB_HASH_LEN);
		return 1;
	default:
		return 0;
	}
}

int
proto_blob_decode(struct cur *c, struct proto_msg *m)
{
	size_t n = 0;

	switch (m->type) {
	case PROTO_BLOB_BEGIN:
		cur_copy(c, m->u.blob_begin.upload, PROTO_BLOB_UPLOAD_ID_LEN);
		m->u.blob_begin.size = cur_u64(c);
		return 1;
	case PROTO_BLOB_CHUNK:
		cur_copy(c, m->u.blob_chunk.upload, PROTO_BLOB_UPLOAD_ID_LEN);
		m->u.blob_chunk.offset = cur_u64(c);
		m->u.blob_chunk.data = cur_lv32(c, PROTO_BLOB_CHUNK_MAX, &n);
		if (m->u.blob_chunk.data != NULL && n == 0)
			cur_fail(c, SOTTO_ERR_MALFORMED);
		m->u.blob_chunk.len = n;
		return 1;
	case PROTO_BLOB_COMMIT:
		cur_copy(c, m->u.blob_commit.upload, PROTO_BLOB_UPLOAD_ID_LEN);
		cur_copy(c, m->u.blob_commit.hash, PROTO_BLOB_HASH_LEN);
		m->u.blob_commit.recipients = cur_u16(c);
		return 1;
	case PROTO_BLOB_GET:
		cur_copy(c, m->u.blob_get.hash, PROTO_BLOB_HASH_LEN);
		m->u.blob_get.offset = cur_u64(c);
		m->u.blob_get.length = cur_u32(c);
		if (cur_status(c) == 0 && (m->u.blob_get.length == 0 ||
		    m->u.blob_get.length > PROTO_BLOB_CHUNK_MAX))
			cur_fail(c, m->u.blob_get.length == 0 ? SOTTO_ERR_MALFORMED :
			    SOTTO_ERR_TOO_LARGE);
		return 1;
	case PROTO_BLOB_DONE:
		cur_copy(c, m->u.blob_done.hash, PROTO_BLOB_HASH_LEN);
		return 1;
	default:
		return 0;
	}
}

int
proto_blob_encode_result(const struct proto_msg *m, struct buf *b, int *r)
{
	*r = 0;
	switch (m->type & (uint8_t)~PROTO_RESPONSE) {
	case PROTO_BLOB_BEGIN:
	case PROTO_BLOB_CHUNK:
	case PROTO_BLOB_COMMIT:
		if (m->status != 0)
			return 0;
		buf_u64(b, m->u.blob_result.value);
		return 1;
	case PROTO_BLOB_GET:
		if (m->status != 0)
			return 0;
		if (m->u.blob_result.len > PROTO_BLOB_CHUNK_MAX) {
			*r = SOTTO_ERR_INVALID_ARG;
			return 1;
		}
		buf_u64(b, m->u.blob_result.value);
		buf_lv32(b, m->u.blob_result.data, m->u.blob_result.len);
		return 1;
	default:
		return 0;
	}
}

int
proto_blob_decode_result(struct cur *c, struct proto_msg *m)
{
	switch (m->type & (uint8_t)~PROTO_RESPONSE) {
	case PROTO_BLOB_BEGIN:
	case PROTO_BLOB_CHUNK:
	case PROTO_BLOB_COMMIT:
		if (m->status != 0)
			return 0;
		m->u.blob_result.value = cur_u64(c);
		return 1;
	case PROTO_BLOB_GET:
		if (m->status != 0)
			return 0;
		m->u.blob_result.value = cur_u64(c);
		m->u.blob_result.data = cur_lv32(c, PROTO_BLOB_CHUNK_MAX, &m->u.blob_result.len);
		return 1;
	default:
		return 0;
	}
}
