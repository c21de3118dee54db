/*
 * Unit tests of libshared/src/util.c: hex, UUID v4 (format, version and
 * variant bits, uniqueness), mf_is_uuid, SHA-256 against published vectors,
 * constant-time equality, base64url (RFC 4648 vectors, round trips, bad
 * input), mf_text_is_clean (UTF-8 validity, overlongs, surrogates, control
 * characters, truncated sequences), mf_parse_int (bounds and junk) and the
 * RFC 3339 clock format.
 */
#include <time.h>
#include "../unit.h"
#include "mf/util.h"

/* ---------- hex ---------- */

static void test_hex_encode(void **state)
{
    static const struct {
        const char *bytes;
        size_t n;
        const char *hex;
    } rows[] = {
        {"", 0, ""},
        {"\x00", 1, "00"},
        {"\x01\xab\xff", 3, "01abff"},
        {"\x0f\xf0\x10\x9a", 4, "0ff0109a"},
        {"abc", 3, "616263"},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        char out[32];
        memset(out, 'x', sizeof(out));
        mf_hex_encode(rows[i].bytes, rows[i].n, out);
        MF_CHECK_STR(rows[i].hex, out, rows[i].hex);
    }
}

static int is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

static void test_random_hex(void **state)
{
    char a[129], b[129];
    mf_random_hex(64, a);
    mf_random_hex(64, b);
    MF_CHECK_INT(a, strlen(a), 128);
    MF_CHECK_INT(a, is_lower_hex(a, 128), 1);
    MF_CHECK_INT("two random values differ", strcmp(a, b) != 0, 1);
    mf_random_hex(0, a);
    MF_CHECK_STR("zero bytes", a, "");
}

/* ---------- uuid ---------- */

static void check_uuid_v4_shape(const char *u)
{
    MF_CHECK_INT(u, strlen(u), 36);
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            MF_CHECK_INT(u, u[i], '-');
        else
            MF_CHECK_INT(u, is_lower_hex(&u[i], 1), 1);
    }
    MF_CHECK_INT("version nibble", u[14], '4');
    MF_CHECK_INT("variant nibble is 8, 9, a or b", strchr("89ab", u[19]) != NULL, 1);
    MF_CHECK_INT(u, mf_is_uuid(u, 36), 1);
}

static int cmp_uuid(const void *a, const void *b) { return memcmp(a, b, 37); }

static void test_uuid_v4(void **state)
{
    enum { N = 2000 };
    static char ids[N][37];
    for (int i = 0; i < N; i++) {
        mf_uuid_v4(ids[i]);
        check_uuid_v4_shape(ids[i]);
    }
    qsort(ids, N, sizeof(ids[0]), cmp_uuid);
    for (int i = 1; i < N; i++)
        if (strcmp(ids[i - 1], ids[i]) == 0)
            MF_CHECK_STR("duplicate UUID", ids[i], "(a value not seen before)");
}

static void test_is_uuid(void **state)
{
    static const struct {
        const char *s;
        int len; /* -1: strlen */
        int want;
    } rows[] = {
        {"123e4567-e89b-42d3-a456-426614174000", -1, 1},
        {"00000000-0000-0000-0000-000000000000", -1, 1},
        {"ffffffff-ffff-ffff-ffff-ffffffffffff", -1, 1},
        {"123E4567-E89B-42D3-A456-426614174000", -1, 1}, /* hex is case-insensitive */
        {"123e4567-e89b-42d3-a456-426614174000trailing", 36, 1},
        {"", -1, 0},
        {"123e4567-e89b-42d3-a456-42661417400", -1, 0},   /* 35 */
        {"123e4567-e89b-42d3-a456-4266141740000", -1, 0}, /* 37 */
        {"123e4567e89b-42d3-a456-4266141740000", -1, 0},  /* dash moved */
        {"123e4567-e89b-42d3-a4564-26614174000", -1, 0},
        {"123e4567-e89b-42d3-a456_426614174000", -1, 0},
        {"123e4567-e89b-42d3-a456-42661417400g", -1, 0},
        {"123e4567-e89b-42d3-a456-42661417400 ", -1, 0},
        {"{23e4567-e89b-42d3-a456-426614174000", -1, 0},
        {"123e4567-e89b-42d3-a456-4266141740\x00" "0", 36, 0},
        {"123e4567+e89b+42d3+a456+426614174000", -1, 0},
        {"123e4567-e89b-42d3-a456-426614174000", 0, 0},
        {"123e456-7e89b-42d3-a456-426614174000", -1, 0},
        {"------------------------------------", -1, 0},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        size_t len = rows[i].len < 0 ? strlen(rows[i].s) : (size_t)rows[i].len;
        char label[96];
        snprintf(label, sizeof(label), "row %zu: mf_is_uuid(\"%.50s\", %zu)", i, rows[i].s, len);
        MF_CHECK_INT(label, mf_is_uuid(rows[i].s, len), rows[i].want);
    }
}

/* ---------- sha256 ---------- */

static void test_sha256_vectors(void **state)
{
    static const struct {
        const char *data;
        size_t len;
        const char *hex;
    } rows[] = {
        {"", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"The quick brown fox jumps over the lazy dog", 43,
         "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"},
        {"\x00\x01\x02", 3, "ae4b3280e56e2faf83f414a6e3dabe9d5fbe18976544c05fed121accb85b53fc"},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        char out[65];
        mf_sha256_hex(rows[i].data, rows[i].len, out);
        MF_CHECK_STR(rows[i].data, out, rows[i].hex);
    }
    char *million = mf_t_repeat('a', 1000000), out[65];
    mf_sha256_hex(million, 1000000, out);
    MF_CHECK_STR("one million 'a'", out, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(million);
}

/* ---------- ct_equal ---------- */

static void test_ct_equal(void **state)
{
    static const struct {
        const char *a, *b;
        size_t len;
        int want;
    } rows[] = {
        {"", "", 0, 1},
        {"a", "b", 0, 1}, /* zero bytes compared */
        {"abc", "abc", 3, 1},
        {"abc", "abd", 3, 0},
        {"xbc", "abc", 3, 0},
        {"abc", "abC", 3, 0},
        {"abcX", "abcY", 3, 1}, /* only len bytes */
        {"a\0b", "a\0c", 3, 0},
        {"a\0b", "a\0b", 3, 1},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        char label[64];
        snprintf(label, sizeof(label), "row %zu", i);
        MF_CHECK_INT(label, mf_ct_equal(rows[i].a, rows[i].b, rows[i].len), rows[i].want);
    }
}

/* ---------- base64url ---------- */

static void test_base64url_vectors(void **state)
{
    static const struct {
        const char *data;
        size_t len;
        const char *text;
    } rows[] = {
        {"", 0, ""},           {"f", 1, "Zg"},           {"fo", 2, "Zm8"},          {"foo", 3, "Zm9v"},
        {"foob", 4, "Zm9vYg"}, {"fooba", 5, "Zm9vYmE"},  {"foobar", 6, "Zm9vYmFy"}, {"\xfb\xff", 2, "-_8"},
        {"\xff\xff\xfe", 3, "___-"}, {"\x00", 1, "AA"}, {"\x00\x00\x00", 3, "AAAA"},
        {"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09", 10, "AAECAwQFBgcICQ"},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        char *enc = mf_base64url_encode(rows[i].data, rows[i].len);
        MF_CHECK_STR(rows[i].text, enc, rows[i].text);
        free(enc);
        size_t n = 12345;
        unsigned char *dec = mf_base64url_decode(rows[i].text, strlen(rows[i].text), &n);
        if (dec == NULL)
            MF_CHECK_STR("decode returned NULL for", "(NULL)", rows[i].text);
        MF_CHECK_MEM(rows[i].text, dec, n, rows[i].data, rows[i].len);
        free(dec);
    }
}

static void test_base64url_round_trip(void **state)
{
    unsigned char data[200];
    for (size_t len = 0; len <= sizeof(data); len++) {
        mf_random_bytes(data, len);
        char *enc = mf_base64url_encode(data, len);
        char label[64];
        snprintf(label, sizeof(label), "round trip of %zu random bytes", len);
        MF_CHECK_INT(label, strlen(enc), (len * 4 + 2) / 3); /* no padding */
        MF_CHECK_INT(label, strspn(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                     strlen(enc));
        size_t n = 0;
        unsigned char *dec = mf_base64url_decode(enc, strlen(enc), &n);
        assert_non_null(dec);
        MF_CHECK_MEM(label, dec, n, data, len);
        free(dec);
        free(enc);
    }
}

static void test_base64url_bad_input(void **state)
{
    static const struct {
        const char *text;
        size_t len;
    } rows[] = {
        {"Z", 1},         /* one char cannot hold a byte */
        {"Zm9vY", 5},     /* 4k+1 chars */
        {"Zg==", 4},      /* padding is not base64url-without-padding */
        {"Zg=", 3},
        {"Zm9v+g", 6},    /* standard alphabet */
        {"Zm9v/g", 6},
        {"Zm 9", 4},
        {"Zm9\n", 4},
        {"Zm\0v", 4},     /* NUL inside the length */
        {"Zm9v\xc3\xa9", 6},
        {"!!!!", 4},
        {"Zm9.", 4},
        {"Zm9v=", 5},
        {"Zm9v%3D", 7},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        char label[96], shown[64];
        snprintf(label, sizeof(label), "decode(\"%s\") must fail",
                 mf_t_show(shown, sizeof(shown), rows[i].text, rows[i].len));
        size_t n = 777;
        unsigned char *dec = mf_base64url_decode(rows[i].text, rows[i].len, &n);
        MF_CHECK_INT(label, dec == NULL, 1);
        free(dec);
    }
}

/* ---------- mf_text_is_clean ---------- */

typedef struct {
    const char *what;
    const char *s;
    size_t len;
    int strict;    /* allow_newlines = 0 */
    int multiline; /* allow_newlines = 1 */
} text_row_t;

#define T(what, lit, strict, multi) {what, lit, sizeof(lit) - 1, strict, multi}

static const text_row_t text_rows[] = {
    T("empty", "", 1, 1),
    T("ascii", "hello, world ~!", 1, 1),
    T("2-byte U+00E9", "caf\xc3\xa9", 1, 1),
    T("2-byte lowest U+0080 (not overlong)", "\xc2\xa0", 1, 1),
    T("3-byte U+20AC", "\xe2\x82\xac", 1, 1),
    T("3-byte lowest U+0800", "\xe0\xa0\x80", 1, 1),
    T("4-byte U+1F600", "\xf0\x9f\x98\x80", 1, 1),
    T("4-byte lowest U+10000", "\xf0\x90\x80\x80", 1, 1),
    T("highest code point U+10FFFF", "\xf4\x8f\xbf\xbf", 1, 1),
    T("last before surrogates U+D7FF", "\xed\x9f\xbf", 1, 1),
    T("first after surrogates U+E000", "\xee\x80\x80", 1, 1),
    T("U+FFFD", "\xef\xbf\xbd", 1, 1),
    /* out of range */
    T("U+110000", "\xf4\x90\x80\x80", 0, 0),
    T("lead F5", "\xf5\x80\x80\x80", 0, 0),
    T("lead F7", "\xf7\xbf\xbf\xbf", 0, 0),
    T("5-byte lead F8", "\xf8\x88\x80\x80\x80", 0, 0),
    T("6-byte lead FC", "\xfc\x84\x80\x80\x80\x80", 0, 0),
    T("byte FE", "\xfe", 0, 0),
    T("byte FF", "a\xff", 0, 0),
    /* overlong */
    T("overlong '/' in 2 bytes (C0 AF)", "\xc0\xaf", 0, 0),
    T("overlong NUL (C0 80)", "\xc0\x80", 0, 0),
    T("overlong U+007F (C1 BF)", "\xc1\xbf", 0, 0),
    T("overlong '/' in 3 bytes", "\xe0\x80\xaf", 0, 0),
    T("overlong U+07FF in 3 bytes", "\xe0\x9f\xbf", 0, 0),
    T("overlong '/' in 4 bytes", "\xf0\x80\x80\xaf", 0, 0),
    T("overlong U+FFFF in 4 bytes", "\xf0\x8f\xbf\xbf", 0, 0),
    /* surrogates */
    T("high surrogate U+D800", "\xed\xa0\x80", 0, 0),
    T("low surrogate U+DFFF", "\xed\xbf\xbf", 0, 0),
    T("surrogate pair as CESU-8", "\xed\xa0\xbd\xed\xb8\x80", 0, 0),
    /* stray and truncated */
    T("lone continuation 80", "\x80", 0, 0),
    T("lone continuation BF", "ab\xbf", 0, 0),
    T("truncated 2-byte at end", "ab\xc3", 0, 0),
    T("truncated 3-byte at end", "\xe2\x82", 0, 0),
    T("truncated 4-byte at end", "\xf0\x9f\x98", 0, 0),
    T("lead then ASCII", "\xc3(", 0, 0),
    T("3-byte lead with ASCII second", "\xe2(\xa1", 0, 0),
    T("3-byte lead with ASCII third", "\xe2\x82(", 0, 0),
    T("4-byte lead with ASCII last", "\xf0\x9f\x98(", 0, 0),
    T("two leads", "\xc3\xc3\xa9", 0, 0),
    /* control characters */
    T("NUL inside the length", "a\0b", 0, 0),
    T("SOH", "\x01", 0, 0),
    T("US (0x1F)", "x\x1fy", 0, 0),
    T("DEL (0x7F)", "x\x7f", 0, 0),
    T("ESC sequence", "\x1b[31mred", 0, 0),
    T("vertical tab", "a\x0b" "b", 0, 0),
    T("form feed", "a\x0c" "b", 0, 0),
    T("backspace", "a\x08", 0, 0),
    T("newline", "line one\nline two", 0, 1),
    T("carriage return", "a\r\nb", 0, 1),
    T("tab", "a\tb", 0, 1),
    T("space and punctuation", " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", 1, 1),
};

static void test_text_is_clean(void **state)
{
    for (size_t i = 0; i < MF_T_ROWS(text_rows); i++) {
        const text_row_t *r = &text_rows[i];
        char label[160], shown[64];
        snprintf(label, sizeof(label), "row %zu, %s: \"%s\", allow_newlines=0", i, r->what,
                 mf_t_show(shown, sizeof(shown), r->s, r->len));
        MF_CHECK_INT(label, mf_text_is_clean(r->s, r->len, 0), r->strict);
        snprintf(label, sizeof(label), "row %zu, %s: \"%s\", allow_newlines=1", i, r->what,
                 mf_t_show(shown, sizeof(shown), r->s, r->len));
        MF_CHECK_INT(label, mf_text_is_clean(r->s, r->len, 1), r->multiline);
    }
}

static void test_text_is_clean_every_ascii_byte(void **state)
{
    for (int c = 0; c < 0x80; c++) {
        char s[1] = {(char)c}, label[48];
        int printable = c >= 0x20 && c != 0x7f;
        snprintf(label, sizeof(label), "byte 0x%02x, allow_newlines=0", c);
        MF_CHECK_INT(label, mf_text_is_clean(s, 1, 0), printable);
        snprintf(label, sizeof(label), "byte 0x%02x, allow_newlines=1", c);
        MF_CHECK_INT(label, mf_text_is_clean(s, 1, 1), printable || c == '\n' || c == '\r' || c == '\t');
    }
}

static void test_text_is_clean_respects_length(void **state)
{
    MF_CHECK_INT("bad byte after len", mf_text_is_clean("abc\x01", 3, 0), 1);
    MF_CHECK_INT("multi-byte cut by len", mf_text_is_clean("ab\xc3\xa9", 3, 0), 0);
    MF_CHECK_INT("empty", mf_text_is_clean("\x01", 0, 0), 1);
}

/* ---------- mf_parse_int ---------- */

typedef struct {
    const char *s;
    long long len; /* -1: strlen */
    long long min, max;
    int ok;
    long long want;
} int_row_t;

#define LL_MIN (-9223372036854775807LL - 1)
#define LL_MAX 9223372036854775807LL

static const int_row_t int_rows[] = {
    {"0", -1, 0, 10, 1, 0},
    {"7", -1, 0, 10, 1, 7},
    {"10", -1, 0, 10, 1, 10},   /* max is inclusive */
    {"11", -1, 0, 10, 0, 0},
    {"-10", -1, -10, 10, 1, -10}, /* min is inclusive */
    {"-11", -1, -10, 10, 0, 0},
    {"-1", -1, 0, 10, 0, 0},
    {"-0", -1, 0, 10, 1, 0},
    {"007", -1, 0, 10, 1, 7},
    {"8080", -1, 1, 65535, 1, 8080},
    {"65535", -1, 1, 65535, 1, 65535},
    {"65536", -1, 1, 65535, 0, 0},
    {"9223372036854775807", -1, LL_MIN, LL_MAX, 1, LL_MAX},
    {"-9223372036854775808", -1, LL_MIN, LL_MAX, 1, LL_MIN},
    {"9223372036854775808", -1, LL_MIN, LL_MAX, 0, 0},  /* overflow */
    {"-9223372036854775809", -1, LL_MIN, LL_MAX, 0, 0}, /* underflow */
    {"99999999999999999999999999999", -1, LL_MIN, LL_MAX, 0, 0},
    {"1234567890123456789012345678901234567890", -1, LL_MIN, LL_MAX, 0, 0},
    {"123", 2, 0, 1000, 1, 12}, /* only len bytes */
    {"", -1, 0, 10, 0, 0},
    {"5", 0, 0, 10, 0, 0},
    {"+5", -1, 0, 10, 0, 0},
    {" 5", -1, 0, 10, 0, 0},
    {"5 ", -1, 0, 10, 0, 0},
    {"5\n", -1, 0, 10, 0, 0},
    {"\t5", -1, 0, 10, 0, 0},
    {"5a", -1, 0, 10, 0, 0},
    {"a5", -1, 0, 10, 0, 0},
    {"-", -1, -10, 10, 0, 0},
    {"--5", -1, -10, 10, 0, 0},
    {"5-", -1, -10, 10, 0, 0},
    {"0x10", -1, 0, 100, 0, 0},
    {"1.5", -1, 0, 10, 0, 0},
    {"1e3", -1, 0, 10000, 0, 0},
    {"1,000", -1, 0, 10000, 0, 0},
    {"1_000", -1, 0, 10000, 0, 0},
    {"\xd9\xa3", -1, 0, 10, 0, 0}, /* ARABIC-INDIC DIGIT THREE */
    {"5\0" "5", 3, 0, 100, 0, 0},
};

static void test_parse_int(void **state)
{
    for (size_t i = 0; i < MF_T_ROWS(int_rows); i++) {
        const int_row_t *r = &int_rows[i];
        size_t len = r->len < 0 ? strlen(r->s) : (size_t)r->len;
        long long out = 424242;
        char label[160], shown[64];
        snprintf(label, sizeof(label), "row %zu: mf_parse_int(\"%s\", %zu, %lld, %lld)", i,
                 mf_t_show(shown, sizeof(shown), r->s, len), len, r->min, r->max);
        int rc = mf_parse_int(r->s, len, r->min, r->max, &out);
        MF_CHECK_INT(label, rc, r->ok ? 0 : MF_EINVALID_REQUEST);
        MF_CHECK_INT(label, out, r->ok ? r->want : 424242); /* untouched on failure */
    }
}

/* ---------- time ---------- */

static void test_time_rfc3339(void **state)
{
    char out[32];
    time_t before = time(NULL);
    mf_time_rfc3339(out);
    time_t after = time(NULL);
    /* 2026-11-27T01:02:03.456Z */
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    MF_CHECK_INT(out, strlen(out), strlen(shape));
    for (size_t i = 0; shape[i]; i++) {
        if (shape[i] == 'd')
            MF_CHECK_INT(out, out[i] >= '0' && out[i] <= '9', 1);
        else
            MF_CHECK_INT(out, out[i], shape[i]);
    }
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(out, "%Y-%m-%dT%H:%M:%S", &tm);
    MF_CHECK_INT(out, end != NULL && *end == '.', 1);
    time_t t = timegm(&tm);
    /* time() may read a coarser clock than the one behind mf_time_rfc3339: allow a second */
    MF_CHECK_INT("seconds are UTC and now", t >= before - 1 && t <= after + 1, 1);
}

static void test_now_monotonic(void **state)
{
    uint64_t a = mf_now_ms();
    double s = mf_now_s();
    uint64_t b = mf_now_ms();
    MF_CHECK_INT("mf_now_ms does not go back", b >= a, 1);
    MF_CHECK_INT("mf_now_s agrees with mf_now_ms", s * 1000 >= (double)a - 1 && s * 1000 <= (double)b + 1, 1);
}

/* ---------- memory ---------- */

static void test_strndup(void **state)
{
    char *a = mf_strdup("hello"), *b = mf_strndup("hello", 3), *c = mf_strndup("a\0b", 3);
    MF_CHECK_STR("mf_strdup", a, "hello");
    MF_CHECK_STR("mf_strndup", b, "hel");
    MF_CHECK_MEM("mf_strndup keeps NUL bytes", c, 4, "a\0b", 4);
    void *z = mf_malloc(0);
    assert_non_null(z);
    free(z);
    free(a);
    free(b);
    free(c);
}

/* ---------- mf_time_is_rfc3339 ---------- */

/*
 * RFC 3339 date-times that exist on the calendar: Z or a +hh:mm/-hh:mm
 * offset, optional fractions, lower-case t/z and the space separator RFC 3339
 * section 5.6 allows, second 60 (leap seconds); at most 40 bytes.
 */
static void test_time_is_rfc3339(void **state)
{
    static const struct {
        const char *s;
        int want;
    } rows[] = {
        /* valid */
        {"2026-11-27T01:02:03Z", 1},
        {"2026-11-27T01:02:03.456Z", 1},
        {"2026-11-27T01:02:03.1Z", 1},
        {"2026-11-27T01:02:03.123456789Z", 1},
        {"2026-11-27T01:02:03+05:30", 1},
        {"2026-11-27T01:02:03-08:00", 1},
        {"2026-11-27T01:02:03.5+00:00", 1},
        {"2026-11-27T01:02:03-00:00", 1},
        {"2026-11-27T01:02:03+15:59", 1},
        {"2026-11-27T01:02:03-15:59", 1},
        {"2026-11-27T01:02:03+16:00", 0}, /* beyond what PostgreSQL stores */
        {"2026-11-27T01:02:03+23:59", 0},
        {"2026-11-27t01:02:03z", 1},
        {"2026-11-27 01:02:03Z", 1},
        {"2024-02-29T00:00:00Z", 1}, /* leap day */
        {"2000-02-29T12:00:00Z", 1}, /* divisible by 400: leap */
        {"2026-12-31T23:59:60Z", 1}, /* leap second */
        {"2026-06-30T23:59:60.999+00:00", 1},
        {"2026-01-31T00:00:00Z", 1},
        {"2026-03-31T00:00:00Z", 1},
        {"2026-04-30T00:00:00Z", 1},
        {"2026-02-28T23:59:59Z", 1},
        {"0001-01-01T00:00:00Z", 1},
        {"9999-12-31T23:59:59Z", 1},
        {"2026-11-27T01:02:03.1234567890123456789Z", 1},      /* 40 bytes */
        {"2026-11-27T01:02:03.12345678901234+05:30", 1},      /* 40 bytes */
        /* not on the calendar */
        {"2026-02-29T00:00:00Z", 0},
        {"1900-02-29T00:00:00Z", 0}, /* divisible by 100: not leap */
        {"2100-02-29T00:00:00Z", 0},
        {"2026-02-30T00:00:00Z", 0},
        {"2024-02-30T00:00:00Z", 0},
        {"2026-04-31T00:00:00Z", 0},
        {"2026-06-31T00:00:00Z", 0},
        {"2026-09-31T00:00:00Z", 0},
        {"2026-11-31T00:00:00Z", 0},
        {"2026-01-32T00:00:00Z", 0},
        {"2026-01-00T00:00:00Z", 0},
        {"2026-13-01T00:00:00Z", 0},
        {"2026-00-10T00:00:00Z", 0},
        {"0000-01-01T00:00:00Z", 0},
        {"2026-11-27T24:00:00Z", 0},
        {"2026-11-27T23:60:00Z", 0},
        {"2026-11-27T23:59:61Z", 0},
        {"2026-11-27T99:99:99Z", 0},
        /* zone */
        {"2026-11-27T01:02:03", 0},
        {"2026-11-27T01:02:03.456", 0},
        {"2026-11-27T01:02:03+0530", 0},
        {"2026-11-27T01:02:03+05", 0},
        {"2026-11-27T01:02:03+5:30", 0},
        {"2026-11-27T01:02:03+05:30:00", 0},
        {"2026-11-27T01:02:03+24:00", 0},
        {"2026-11-27T01:02:03+05:60", 0},
        {"2026-11-27T01:02:03 Z", 0},
        {"2026-11-27T01:02:03Z ", 0},
        {"2026-11-27T01:02:03ZZ", 0},
        {"2026-11-27T01:02:03Z\n", 0},
        {"2026-11-27T01:02:03UTC", 0},
        {"2026-11-27T01:02:03 +05:30", 0},
        {"2026-11-27T01:02:03\xe2\x88\x92" "05:00", 0}, /* U+2212 MINUS SIGN */
        /* fractions */
        {"2026-11-27T01:02:03.Z", 0},
        {"2026-11-27T01:02:03,5Z", 0},
        {"2026-11-27T01:02:03..5Z", 0},
        {"2026-11-27T01:02:03.5.5Z", 0},
        /* shape */
        {"", 0},
        {"Z", 0},
        {"garbage", 0},
        {"not a date but long enough to look", 0},
        {"2026-11-27", 0},
        {"2026-11-27T01:02Z", 0},
        {"2026/11/27T01:02:03Z", 0},
        {"2026-11-27X01:02:03Z", 0},
        {"2026-11-27T01.02.03Z", 0},
        {"26-11-27T01:02:03Z", 0},
        {"2026-1-27T01:02:03Z", 0},
        {"2026-11-7T01:02:03Z", 0},
        {"2026-11-27T1:02:03Z", 0},
        {"+2026-11-27T01:02:03Z", 0},
        {"-2026-11-27T01:02:03Z", 0},
        {"20261127T010203Z", 0},
        {" 2026-11-27T01:02:03Z", 0},
        {"2O26-11-27T01:02:03Z", 0}, /* letter O */
        {"\xef\xbc\x92" "026-11-27T01:02:03Z", 0}, /* FULLWIDTH DIGIT TWO */
        /* too long */
        {"2026-11-27T01:02:03.12345678901234567890Z", 0},     /* 41 bytes */
        {"2026-11-27T01:02:03.123456789012345+05:30", 0},     /* 41 bytes */
        {"2026-11-27T01:02:03.123456789012345678901234567890123456789Z", 0},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        char label[160], shown[96];
        snprintf(label, sizeof(label), "row %zu: mf_time_is_rfc3339(\"%s\") (%zu bytes)", i,
                 mf_t_show(shown, sizeof(shown), rows[i].s, strlen(rows[i].s)), strlen(rows[i].s));
        MF_CHECK_INT(label, mf_time_is_rfc3339(rows[i].s), rows[i].want);
    }
}

/* Every day of 1999-2101 against the C library's calendar (timegm normalises impossible dates). */
static void test_time_is_rfc3339_every_day(void **state)
{
    for (int y = 1999; y <= 2101; y++) {
        for (int m = 1; m <= 12; m++) {
            for (int d = 28; d <= 32; d++) {
                struct tm tm;
                memset(&tm, 0, sizeof(tm));
                tm.tm_year = y - 1900;
                tm.tm_mon = m - 1;
                tm.tm_mday = d;
                tm.tm_hour = 12;
                time_t t = timegm(&tm);
                struct tm back;
                gmtime_r(&t, &back);
                int exists = back.tm_mday == d && back.tm_mon == m - 1;
                char s[32];
                snprintf(s, sizeof(s), "%04d-%02d-%02dT12:00:00Z", y, m, d);
                MF_CHECK_INT(s, mf_time_is_rfc3339(s), exists);
            }
        }
    }
}

/* What mf_time_rfc3339 writes is accepted. */
static void test_time_is_rfc3339_accepts_own_clock(void **state)
{
    char now[32];
    mf_time_rfc3339(now);
    MF_CHECK_INT(now, mf_time_is_rfc3339(now), 1);
}

/* ---------- mf_text_make_utf8 ---------- */

typedef struct {
    const char *what;
    const char *in, *out;
} utf8_row_t;

static const utf8_row_t utf8_rows[] = {
    /* valid: unchanged */
    {"empty", "", ""},
    {"ascii", "hello, world ~!", "hello, world ~!"},
    {"ascii control characters are valid UTF-8", "a\tb\x01\x1b[0m\x7f", "a\tb\x01\x1b[0m\x7f"},
    {"2-byte U+00E9", "caf\xc3\xa9", "caf\xc3\xa9"},
    {"C1 control U+0080 is valid UTF-8", "\xc2\x80", "\xc2\x80"},
    {"C1 control U+009F is valid UTF-8", "x\xc2\x9fy", "x\xc2\x9fy"},
    {"U+00A0", "\xc2\xa0", "\xc2\xa0"},
    {"U+07FF", "\xdf\xbf", "\xdf\xbf"},
    {"3-byte U+0800", "\xe0\xa0\x80", "\xe0\xa0\x80"},
    {"3-byte U+20AC", "\xe2\x82\xac", "\xe2\x82\xac"},
    {"U+D7FF before the surrogates", "\xed\x9f\xbf", "\xed\x9f\xbf"},
    {"U+E000 after the surrogates", "\xee\x80\x80", "\xee\x80\x80"},
    {"U+FFFD", "\xef\xbf\xbd", "\xef\xbf\xbd"},
    {"U+FFFF", "\xef\xbf\xbf", "\xef\xbf\xbf"},
    {"4-byte U+10000", "\xf0\x90\x80\x80", "\xf0\x90\x80\x80"},
    {"4-byte U+1F600", "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
    {"U+10FFFF", "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"},
    {"mixed scripts", "\xe5\xba\x97 caf\xc3\xa9 \xd0\x96 \xf0\x9f\x98\x80!", "\xe5\xba\x97 caf\xc3\xa9 \xd0\x96 \xf0\x9f\x98\x80!"},
    /* stray bytes */
    {"byte FF", "a\xff" "b", "a?b"},
    {"byte FE", "\xfe", "?"},
    {"lone continuation 80", "\x80", "?"},
    {"lone continuation BF", "ab\xbf", "ab?"},
    {"run of continuations", "\x80\x81\xbf", "???"},
    {"Latin-1 text", "caf\xe9 cr\xe8me", "caf? cr?me"},
    {"5-byte lead F8", "\xf8\x88\x80\x80\x80", "?????"},
    {"6-byte lead FC", "\xfc\x84\x80\x80\x80\x80", "??????"},
    /* out of range */
    {"U+110000", "\xf4\x90\x80\x80", "????"},
    {"lead F5", "\xf5\x80\x80\x80", "????"},
    {"lead F7", "\xf7\xbf\xbf\xbf", "????"},
    /* overlong */
    {"overlong '/' (C0 AF)", "\xc0\xaf", "??"},
    {"overlong NUL (C0 80)", "a\xc0\x80" "b", "a??b"},
    {"overlong U+007F (C1 BF)", "\xc1\xbf", "??"},
    {"overlong '/' in 3 bytes", "\xe0\x80\xaf", "???"},
    {"overlong U+07FF in 3 bytes", "\xe0\x9f\xbf", "???"},
    {"overlong '/' in 4 bytes", "\xf0\x80\x80\xaf", "????"},
    {"overlong U+FFFF in 4 bytes", "\xf0\x8f\xbf\xbf", "????"},
    /* surrogates */
    {"high surrogate U+D800", "\xed\xa0\x80", "???"},
    {"low surrogate U+DFFF", "x\xed\xbf\xbfy", "x???y"},
    {"surrogate pair as CESU-8", "\xed\xa0\xbd\xed\xb8\x80", "??????"},
    /* truncated */
    {"truncated 2-byte at end", "ab\xc3", "ab?"},
    {"truncated 3-byte at end", "\xe2\x82", "??"},
    {"truncated 4-byte at end", "\xf0\x9f\x98", "???"},
    {"valid then truncated", "\xe2\x82\xac\xe2\x82", "\xe2\x82\xac??"},
    {"lead then ASCII", "\xc3(", "?("},
    {"3-byte lead with ASCII second", "\xe2(\xa1", "?(?"},
    {"3-byte lead with ASCII third", "\xe2\x82(", "?\?("},
    {"4-byte lead with ASCII last", "\xf0\x9f\x98(", "??\?("},
    /* a bad byte next to a good sequence: the good one is kept whole */
    {"bad lead before a 2-byte", "\xc3\xc3\xa9", "?\xc3\xa9"},
    {"truncated 3-byte before a 3-byte", "\xe2\x82\xe2\x82\xac", "??\xe2\x82\xac"},
    {"truncated 4-byte before a 4-byte", "\xf0\x9f\x98\xf0\x9f\x98\x80", "???\xf0\x9f\x98\x80"},
    {"4-byte, FF, 3-byte", "\xf0\x9f\x98\x80\xff\xe2\x82\xac", "\xf0\x9f\x98\x80?\xe2\x82\xac"},
    {"surrogate between good text", "\xc3\xa9\xed\xa0\x80\xc3\xa9", "\xc3\xa9???\xc3\xa9"},
};

static void test_text_make_utf8(void **state)
{
    for (size_t i = 0; i < MF_T_ROWS(utf8_rows); i++) {
        const utf8_row_t *r = &utf8_rows[i];
        char buf[64], label[160], shown[96];
        snprintf(buf, sizeof(buf), "%s", r->in);
        snprintf(label, sizeof(label), "row %zu, %s: mf_text_make_utf8(\"%s\")", i, r->what,
                 mf_t_show(shown, sizeof(shown), r->in, strlen(r->in)));
        mf_text_make_utf8(buf);
        MF_CHECK_MEM(label, buf, strlen(buf), r->out, strlen(r->out));
    }
}

/* The UTF-8 encoding of cp into out; its length. */
static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Every scalar value U+0001..U+10FFFF is kept whole; every surrogate becomes three '?'. */
static void test_text_make_utf8_every_code_point(void **state)
{
    for (uint32_t cp = 1; cp <= 0x10ffff; cp++) {
        char s[8], label[48];
        size_t n = utf8_encode(cp, s);
        s[n] = '\0';
        mf_text_make_utf8(s);
        snprintf(label, sizeof(label), "U+%04X", (unsigned)cp);
        if (cp >= 0xd800 && cp <= 0xdfff)
            MF_CHECK_MEM(label, s, strlen(s), "???", 3);
        else {
            char want[8];
            utf8_encode(cp, want);
            MF_CHECK_MEM(label, s, strlen(s), want, n);
        }
    }
}

/* Random bytes: the result is valid UTF-8 (jansson's own check is the judge), each byte is kept or
 * became '?', and a second pass changes nothing. */
static void test_text_make_utf8_random(void **state)
{
    for (int round = 0; round < 20000; round++) {
        unsigned char raw[40];
        char in[41], out[41];
        size_t n = 1 + (size_t)(round % 40);
        mf_random_bytes(raw, n);
        for (size_t i = 0; i < n; i++) {
            /* mostly high bytes, so that sequences start and break often; never NUL */
            unsigned char c = raw[i];
            in[i] = (char)(c & 1 ? (c | 0x80) : c == 0 ? 'a' : c);
        }
        in[n] = '\0';
        memcpy(out, in, n + 1);
        mf_text_make_utf8(out);
        char label[160], shown[140];
        snprintf(label, sizeof(label), "random \"%s\"", mf_t_show(shown, sizeof(shown), in, n));
        MF_CHECK_INT(label, strlen(out), n);
        json_t *v = json_stringn(out, n);
        MF_CHECK_INT(label, v != NULL, 1);
        json_decref(v);
        for (size_t i = 0; i < n; i++)
            MF_CHECK_INT(label, out[i] == in[i] || out[i] == '?', 1);
        char again[41];
        memcpy(again, out, n + 1);
        mf_text_make_utf8(again);
        MF_CHECK_MEM(label, again, n, out, n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_encode),
        cmocka_unit_test(test_random_hex),
        cmocka_unit_test(test_uuid_v4),
        cmocka_unit_test(test_is_uuid),
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_ct_equal),
        cmocka_unit_test(test_base64url_vectors),
        cmocka_unit_test(test_base64url_round_trip),
        cmocka_unit_test(test_base64url_bad_input),
        cmocka_unit_test(test_text_is_clean),
        cmocka_unit_test(test_text_is_clean_every_ascii_byte),
        cmocka_unit_test(test_text_is_clean_respects_length),
        cmocka_unit_test(test_parse_int),
        cmocka_unit_test(test_time_rfc3339),
        cmocka_unit_test(test_now_monotonic),
        cmocka_unit_test(test_strndup),
        cmocka_unit_test(test_time_is_rfc3339),
        cmocka_unit_test(test_time_is_rfc3339_every_day),
        cmocka_unit_test(test_time_is_rfc3339_accepts_own_clock),
        cmocka_unit_test(test_text_make_utf8),
        cmocka_unit_test(test_text_make_utf8_every_code_point),
        cmocka_unit_test(test_text_make_utf8_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
