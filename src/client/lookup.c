/* Whether an address has an account on our server (LOOKUP): for the mail bridge's RCPT. */
#include "client/client_int.h"

#include <string.h>

#include "wire/address.h"

int
sotto_lookup(struct sotto *s, const char *address, int timeout_ms)
{
	struct proto_msg req, resp;
	size_t n = strnlen(address, ADDRESS_MAX + 1);

	if (n > ADDRESS_MAX || address_user_check(address, n) != 0)
		return SOTTO_ERR_INVALID_ARG;
	memset(&req, 0, sizeof(req));
	req.type = PROTO_LOOKUP;
	memcpy(req.u.lookup.address, address, n + 1);
	return client_request(s, &req, &resp, timeout_ms);
}
