/*
 * error.c: lookups over MF_ERROR_TABLE. The enum starts at -999 so every
 * error is negative and 0 stays success; index = err - MF__ERR_FIRST - 1.
 */
#include <string.h>
#include "mf/error.h"

typedef struct {
    const char *code;
    int status;
    const char *message;
} mf_error_entry_t;

static const mf_error_entry_t errors[] = {
#define MF__ERR_ROW(name, code, status, msg) {code, status, msg},
    MF_ERROR_TABLE(MF__ERR_ROW)
#undef MF__ERR_ROW
};

static const mf_error_entry_t *lookup(int err)
{
    long long idx = (long long)err - MF__ERR_FIRST - 1; /* wide: any int is a valid argument */
    if (idx < 0 || idx >= (long long)(sizeof(errors) / sizeof(errors[0])))
        return &errors[MF_EINTERNAL - MF__ERR_FIRST - 1];
    return &errors[idx];
}

const char *mf_error_code(int err) { return lookup(err)->code; }
int mf_error_status(int err) { return lookup(err)->status; }
const char *mf_error_message(int err) { return lookup(err)->message; }

int mf_error_from_code(const char *code)
{
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
        if (strcmp(errors[i].code, code) == 0)
            return MF__ERR_FIRST + 1 + (int)i;
    return MF_EINTERNAL;
}
