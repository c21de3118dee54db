/*
 * members.c: a tenant's people: members and their roles, domain and dataset
 * grants, invitations. (Being written.)
 */
#include "api.h"

void mf_api_register_members(void) {}
