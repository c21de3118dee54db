/* webhooks.c: (being built) */
#include "api.h"

void mf_api_register_webhooks(void) {}
