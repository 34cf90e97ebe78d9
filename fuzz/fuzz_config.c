#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "server/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char why[128];

	config_defaults(&c);
	if (config_parse(&c, data, size, why, sizeof(why)) == 0) {
		/* Whatever parsed must be a usable config: strings terminated, port in range. */
		if (memchr(c.listen_host, 0, sizeof(c.listen_host)) == NULL ||
		    memchr(c.domain, 0, sizeof(c.domain)) == NULL || c.max_payload == 0)
			__builtin_trap();
	}
	return 0;
}
