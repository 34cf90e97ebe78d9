/* Whether an address has an account on our server (LOOKUP): for the mail bridge's RCPT. */
#include "client/client_int.h"

#include <string.h>

#include "wire/address.h"

int
sotto_lookup(struct sotto *s, const char *address, int timeout_ms)
{
	struct proto_msg req, resp;
	int r;

	memset(&req, 0, sizeof(req));
	if ((r = address_user_normalize(address, req.u.lookup.address)) != 0)
		return r;
	req.type = PROTO_LOOKUP;
	return client_request(s, &req, &resp, timeout_ms);
}
