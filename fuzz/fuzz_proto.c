/*
 * Every wire decoder: requests/responses/notices (and re-encoding a decoded message gives
 * the same bytes), sender certificates, user and server addresses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "wire/address.h"
#include "wire/cert.h"
#include "wire/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct proto_msg m;
	struct cert_sender cs;
	struct address_server as;
	struct buf b;
	char s[512];
	static const uint8_t zero_pk[32];

	if (sodium_init() < 0)
		abort();
	if (proto_decode(data, size, &m) == 0) {
		buf_init_dyn(&b, 1 << 20);
		if (proto_encode(&m, &b) != 0 || b.len != size || memcmp(b.p, data, size) != 0)
			abort();
		buf_free(&b);
	}
	if (cert_parse(data, size, &cs) == 0 && address_user_check(cs.address,
	    strlen(cs.address)) != 0)
		abort();
	(void)cert_verify(data, size, zero_pk, 0, &cs);
	if (size < sizeof(s)) {
		memcpy(s, data, size);
		s[size] = '\0';
		if (address_server_parse(s, &as) == 0) {
			char back[ADDRESS_SERVER_MAX];

			if (address_server_format(&as, back, sizeof(back)) != 0 || strcmp(back, s) != 0)
				abort();
		}
		(void)address_user_check((const char *)data, size);
	}
	return 0;
}
