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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
