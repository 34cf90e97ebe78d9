/*
 * The blob requests and their answers (wire/proto_blob.h): the first input byte picks one
 * of their types, the rest is its body, so that every run reaches a blob decoder. A
 * decoded message must keep its caps (a chunk or a range of 1..PROTO_BLOB_CHUNK_MAX bytes)
 * and re-encode to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t types[] = {
	PROTO_BLOB_BEGIN, PROTO_BLOB_CHUNK, PROTO_BLOB_COMMIT, PROTO_BLOB_GET, PROTO_BLOB_DONE,
	PROTO_RESPONSE | PROTO_BLOB_BEGIN, PROTO_RESPONSE | PROTO_BLOB_CHUNK,
	PROTO_RESPONSE | PROTO_BLOB_COMMIT, PROTO_RESPONSE | PROTO_BLOB_GET,
	PROTO_RESPONSE | PROTO_BLOB_DONE,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct proto_msg m;
	static uint8_t msg[1 << 17];
	struct buf b;
	size_t len;

	if (size < 1 || size - 1 > sizeof(msg) - 6)
		return 0;
	msg[0] = PROTO_VERSION;
	msg[1] = types[data[0] % sizeof(types)];
	memset(msg + 2, 0, 4);
	msg[5] = (msg[1] & PROTO_RESPONSE) ? 0 : 1;
	memcpy(msg + 6, data + 1, size - 1);
	len = size + 5;
	if (proto_decode(msg, len, &m) != 0)
		return 0;
	if ((m.type == PROTO_BLOB_CHUNK && (m.u.blob_chunk.len == 0 ||
	    m.u.blob_chunk.len > PROTO_BLOB_CHUNK_MAX)) ||
	    (m.type == PROTO_BLOB_GET && (m.u.blob_get.length == 0 ||
	    m.u.blob_get.length > PROTO_BLOB_CHUNK_MAX)) ||
	    (m.type == (PROTO_RESPONSE | PROTO_BLOB_GET) &&
	    m.u.blob_result.len > PROTO_BLOB_CHUNK_MAX))
		abort();
	buf_init_dyn(&b, 1 << 20);
	if (proto_encode(&m, &b) != 0 || b.len != len || memcmp(b.p, msg, len) != 0)
		abort();
	buf_free(&b);
	return 0;
}
