#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "server/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char why[128], dur[32];
	uint32_t secs = 0;

	config_defaults(&c);
	if (config_parse(&c, data, size, why, sizeof(why)) == 0) {
		/* Whatever parsed must be a usable config: strings terminated, port in range. */
		if (memchr(c.listen_host, 0, sizeof(c.listen_host)) == NULL ||
		    memchr(c.domain, 0, sizeof(c.domain)) == NULL ||
		    memchr(c.metrics_host, 0, sizeof(c.metrics_host)) == NULL ||
		    (c.metrics_host[0] == '\0' && c.metrics_port != 0) || c.max_payload == 0)
			__builtin_trap();
	}
	/* The same bytes as a duration (`sottod invite --expires`). */
	if (size < sizeof(dur)) {
		memcpy(dur, data, size);
		dur[size] = '\0';
		if (config_parse_duration(dur, &secs) == 0 &&
		    (secs == 0 || secs > CONFIG_DURATION_MAX))
			__builtin_trap();
	}
	return 0;
}
