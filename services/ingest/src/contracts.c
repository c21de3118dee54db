/*
 * contracts.c: block data contracts at the intake. A post whose events would
 * leave a dataset breaking a block contract is answered 409
 * contract_violation (naming each violation; in a batch, each refused item
 * as events[i]) and nothing is queued: a batch is queued whole or not at all.
 *
 * The judgement is SQL's (mf_contract_intake, migrations/0016_contracts.sql,
 * the same evaluation the write path runs), one statement per post. Tenants
 * without a block contract, the common case, skip it: each loop thread
 * remembers for MF_CONTRACT_CACHE_SECS that a tenant had none (every
 * statement reports it), so such a tenant pays one statement per thread and
 * period, and a new block contract applies at intake within that time. The
 * worker judges every event again when it applies it, so what slips through
 * (the cache's window, a contract created after the post) fails there
 * (ingest_failures, the contract's message) and writes nothing.
 *
 * Postgres unreachable or busy: the intake fails open and queues the events,
 * as it does for quota limits (it needs only Redis); the worker's judgement
 * at apply time still refuses what breaks a block contract.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ingest.h"
#include "mf/config.h"
#include "mf/http.h"
#include "mf/ingest_queue.h"
#include "mf/log.h"
#include "mf/util.h"

#define CACHE_SLOTS 256

/* A tenant known, until expires_ms, to have no block contract. */
typedef struct {
    char tenant_id[40];
    uint64_t expires_ms;
} no_block_slot_t;

static __thread no_block_slot_t no_block[CACHE_SLOTS];

/* The events of a post while their judgement is out. */
typedef struct {
    json_t *events;
    int single;
} intake_t;

static mf_pg_stmt_t intake_stmt = {"mf_contract_intake",
                                   "SELECT has_block, refused::text FROM mf_contract_intake($1::uuid, $2::jsonb)", -1};

__attribute__((constructor)) static void register_statement(void) { mf_pg_register(&intake_stmt); }

static no_block_slot_t *slot_of(const char *tenant_id)
{
    uint32_t h = 2166136261u;
    for (const char *s = tenant_id; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return &no_block[h % CACHE_SLOTS];
}

static int known_without_block(const char *tenant_id)
{
    const no_block_slot_t *s = slot_of(tenant_id);
    return strcmp(s->tenant_id, tenant_id) == 0 && s->expires_ms > mf_now_ms();
}

static void remember(const char *tenant_id, int has_block)
{
    no_block_slot_t *s = slot_of(tenant_id);
    if (has_block) {
        if (strcmp(s->tenant_id, tenant_id) == 0)
            s->expires_ms = 0;
        return;
    }
    snprintf(s->tenant_id, sizeof(s->tenant_id), "%s", tenant_id);
    s->expires_ms = mf_now_ms() + 1000 * (uint64_t)mf_config_int(MF_CFG_CONTRACT_CACHE_SECS);
}

static void intake_free(void *p)
{
    intake_t *in = p;
    json_decref(in->events);
    free(in);
}

/* Hand the events on to the queue (which takes the request's data for itself). */
static void enqueue_judged(mf_req_t *r, intake_t *in)
{
    json_t *events = in->events;
    int single = in->single;
    in->events = NULL;
    mf_req_set_data(r, NULL, NULL);
    intake_free(in);
    mf_ingest_enqueue(r, events, single);
}

/* The room a batch's list leaves, within the error message (MF_ERROR_MESSAGE_MAX), for saying how
 * many refused events it could not name. */
#define REFUSED_MORE_ROOM 48

/* Answer 409 naming each refused event ([{index, message}]); single posts need no index. A batch's
 * list names whole events while they fit, then says how many more were refused, so a client never
 * takes a cut list for the whole of it. */
static void respond_refused(mf_req_t *r, json_t *refused, int single)
{
    char msg[MF_ERROR_MESSAGE_MAX];
    size_t len = 0, i, n = json_array_size(refused);
    json_t *item;
    msg[0] = '\0';
    if (single) {
        const char *m = json_string_value(json_object_get(json_array_get(refused, 0), "message"));
        mf_respond_error(r, MF_ECONTRACT_VIOLATION, "%s", m ? m : "");
        return;
    }
    json_array_foreach(refused, i, item)
    {
        const char *m = json_string_value(json_object_get(item, "message"));
        char one[MF_ERROR_MESSAGE_MAX];
        int k = snprintf(one, sizeof(one), "%sevents[%lld]: %s", i > 0 ? ". " : "",
                         json_integer_value(json_object_get(item, "index")), m ? m : "");
        if (k < 0) { /* an output error (not expected with these formats): nothing to add for it */
            one[0] = '\0';
            k = 0;
        }
        size_t room = sizeof(msg) - len - (i + 1 < n ? REFUSED_MORE_ROOM : 0);
        if ((size_t)k >= room) {
            if (i == 0) { /* the first event is named even when its own message is too long: cut */
                memcpy(msg, one, room - 1);
                msg[room - 1] = '\0';
                len = room - 1;
                i++;
            }
            if (i < n)
                snprintf(msg + len, sizeof(msg) - len, ". %zu more refused event%s not listed", n - i,
                         n - i == 1 ? "" : "s");
            break;
        }
        memcpy(msg + len, one, (size_t)k + 1);
        len += (size_t)k;
    }
    mf_respond_error(r, MF_ECONTRACT_VIOLATION, "%s", msg);
}

static void on_judged(mf_req_t *r, PGresult *res)
{
    intake_t *in = mf_req_data(r);
    if (res == NULL || PQntuples(res) != 1) {
        static __thread uint64_t last_log_ms;
        if (mf_now_ms() - last_log_ms >= 10000) {
            last_log_ms = mf_now_ms();
            MF_LOG_WARN_(NULL, "contract check skipped at intake (fail open): the database did not answer");
        }
        enqueue_judged(r, in);
        return;
    }
    remember(mf_req_identity(r)->tenant_id, PQgetvalue(res, 0, 0)[0] == 't');
    json_t *refused = json_loads(PQgetvalue(res, 0, 1), 0, NULL);
    if (json_array_size(refused) > 0) {
        respond_refused(r, refused, in->single);
        json_decref(refused);
        return;
    }
    json_decref(refused);
    enqueue_judged(r, in);
}

void mf_ingest_judge_and_enqueue(mf_req_t *r, json_t *events, int single)
{
    const char *tenant_id = mf_req_identity(r)->tenant_id;
    if (known_without_block(tenant_id)) {
        mf_ingest_enqueue(r, events, single);
        return;
    }
    intake_t *in = mf_calloc(1, sizeof(*in));
    in->events = events;
    in->single = single;
    mf_req_set_data(r, in, intake_free);
    size_t len;
    char *text = mf_json_dump(events, &len);
    const char *params[] = {tenant_id, text};
    mf_req_query_untenanted(r, &intake_stmt, 2, params, on_judged);
    free(text);
}

void mf_ingest_judge_decoded(mf_req_t *r, json_t *(*decode)(json_t *body, mf_json_err_t *err))
{
    mf_json_err_t err;
    json_t *event = decode(mf_req_body(r), &err);
    if (event == NULL) {
        mf_respond_error(r, MF_EINVALID_REQUEST, "%s", err.msg);
        return;
    }
    json_t *events = json_array();
    json_array_append_new(events, event);
    mf_ingest_judge_and_enqueue(r, events, 1);
}
