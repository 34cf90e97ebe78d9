/* Sealed envelope opening, for a fixed recipient (identity from a fixed seed, so seeds made
 * for it open and the fuzzer reaches the padding and content parsers). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/init.h"
#include "crypto/sealed.h"
#include "crypto/suite_native.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct x3dh_identity rcpt;
	static int ready;
	struct sealed_opened o;

	if (!ready) {
		static const uint8_t seed[32] = { 'r', 'c', 'p', 't' };

		if (sotto_crypto_init() != 0 || suite_native_identity_from_seed(&rcpt, seed) != 0)
			abort();
		ready = 1;
	}
	if (sealed_open(&o, &rcpt, data, size) == 0) {
		if (o.sender_addr_len == 0 || o.sender_addr_len > SEALED_ADDR_MAX ||
		    o.cert_len > SEALED_CERT_MAX || o.msg_len == 0 || o.msg == NULL)
			abort();
		sealed_opened_free(&o);
	}
	return 0;
}
