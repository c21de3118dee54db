/*
 * list.h: cursor pagination, the same for every list route.
 *
 * A list statement takes ($limit, $after) where $after is the JSON array of
 * the last row's sort key (or NULL) and returns one row with two columns:
 * items (a JSON array of at most $limit items) and next_key (the sort key of
 * the last item as a JSON array, or NULL on the last page). The cursor the
 * client sees is next_key in base64url: opaque, stable, tamper-evident only
 * in that a bad one is a 400.
 */
#ifndef MF_LIST_H
#define MF_LIST_H

#include "mf/http.h"

typedef struct {
    char limit[16];
    char *after; /* JSON text or NULL; owned (freed by mf_list_params_free) */
} mf_list_params_t;

/* Read limit (1-500, default 50) and cursor from the query. Answers 400 itself on bad values. */
int mf_list_params_or_respond(mf_req_t *r, mf_list_params_t *out) MF_MUST_CHECK;
void mf_list_params_free(mf_list_params_t *p);
/* The whole list route: read limit and cursor, run stmt with ($limit, $after, extra...) in the
 * caller's tenant (or untenanted for platform routes) and answer the page. Answers errors itself. */
int mf_list_query_or_respond(mf_req_t *r, const mf_pg_stmt_t *stmt, int nextra, const char *const *extra,
                             int tenanted) MF_MUST_CHECK;
/* Answer 200 {"items":...,"next_cursor":...} from a (items, next_key) result row. */
void mf_list_respond(mf_req_t *r, PGresult *res);

#endif
