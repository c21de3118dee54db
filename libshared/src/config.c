/*
 * config.c: MF_CONFIG_TABLE expanded into a static array of definitions and
 * a parallel array of current values. Values are written only by
 * mf_config_load/mf_config_set before threads start; afterwards they are
 * read-only, so readers need no lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mf/config.h"
#include "mf/util.h"

typedef enum { MF_CFG_T_INT, MF_CFG_T_STR } mf_cfg_type_t;

typedef struct {
    const char *env;
    mf_cfg_type_t type;
    const char *def;
    long long min, max;
    const char *doc;
} mf_cfg_def_t;

static const mf_cfg_def_t defs[] = {
#define MF__CFG_ROW(id, env, type, def, min, max, doc) {env, MF_CFG_T_##type, def, min, max, doc},
    MF_CONFIG_TABLE(MF__CFG_ROW)
#undef MF__CFG_ROW
};

static struct {
    long long i;
    char *s;
} values[MF_CFG__COUNT];
static int loaded_defaults;

static int validate(mf_config_key_t key, const char *value, char *err, size_t errlen)
{
    const mf_cfg_def_t *d = &defs[key];
    if (d->type == MF_CFG_T_INT) {
        long long v;
        if (mf_parse_int(value, strlen(value), d->min, d->max, &v) != 0) {
            snprintf(err, errlen, "%s must be an integer between %lld and %lld (got \"%.40s\")", d->env, d->min,
                     d->max, value);
            return MF_EINVALID_REQUEST;
        }
        values[key].i = v;
        return 0;
    }
    size_t len = strlen(value);
    if ((long long)len < d->min || (long long)len > d->max || !mf_text_is_clean(value, len, 0)) {
        snprintf(err, errlen, "%s must be %lld to %lld printable characters", d->env, d->min, d->max);
        return MF_EINVALID_REQUEST;
    }
    if (key == MF_CFG_LOG_LEVEL && strcmp(value, "debug") && strcmp(value, "info") && strcmp(value, "warn") &&
        strcmp(value, "error")) {
        snprintf(err, errlen, "%s must be debug, info, warn or error (got \"%.40s\")", d->env, value);
        return MF_EINVALID_REQUEST;
    }
    if (key == MF_CFG_KEY_ENV && strspn(value, "abcdefghijklmnopqrstuvwxyz0123456789") != len) {
        snprintf(err, errlen, "%s must be lowercase letters and digits", d->env);
        return MF_EINVALID_REQUEST;
    }
    free(values[key].s);
    values[key].s = mf_strdup(value);
    return 0;
}

static void load_defaults(void)
{
    char err[256];
    if (loaded_defaults)
        return;
    loaded_defaults = 1;
    for (int k = 0; k < MF_CFG__COUNT; k++)
        if (validate((mf_config_key_t)k, defs[k].def, err, sizeof(err)) != 0)
            mf_panic(__FILE__, __LINE__, err);
}

int mf_config_load(char *err, size_t errlen)
{
    load_defaults();
    for (int k = 0; k < MF_CFG__COUNT; k++) {
        const char *v = getenv(defs[k].env);
        if (v != NULL && validate((mf_config_key_t)k, v, err, errlen) != 0)
            return MF_EINVALID_REQUEST;
    }
    return 0;
}

int mf_config_set(mf_config_key_t key, const char *value, char *err, size_t errlen)
{
    load_defaults();
    MF_ASSERT(key >= 0 && key < MF_CFG__COUNT);
    return validate(key, value, err, errlen);
}

long long mf_config_int(mf_config_key_t key)
{
    load_defaults();
    MF_ASSERT(defs[key].type == MF_CFG_T_INT);
    return values[key].i;
}

const char *mf_config_str(mf_config_key_t key)
{
    load_defaults();
    MF_ASSERT(defs[key].type == MF_CFG_T_STR);
    return values[key].s;
}

void mf_config_print_doc(void *fp)
{
    FILE *f = fp;
    fprintf(f, "| variable | type | default | allowed | meaning |\n|---|---|---|---|---|\n");
    for (int k = 0; k < MF_CFG__COUNT; k++) {
        const mf_cfg_def_t *d = &defs[k];
        if (d->type == MF_CFG_T_INT)
            fprintf(f, "| `%s` | integer | `%s` | %lld to %lld | %s |\n", d->env, d->def, d->min, d->max, d->doc);
        else
            fprintf(f, "| `%s` | string | `%s` | %lld to %lld chars | %s |\n", d->env, d->def, d->min, d->max,
                    d->doc);
    }
}
