/* export.c: (being built) */
#include "api.h"

void mf_api_register_export(void) {}
