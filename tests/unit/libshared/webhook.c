/*
 * Unit tests of libshared/src/webhook.c: the address classification table
 * (IPv4, IPv6, and IPv4 inside IPv6), the policy, URL validation, the
 * signature against known answers (computed independently with Python's
 * hmac module) and the Slack-compatible body.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include "../unit.h"
#include "mf/webhook.h"

/* The class of a literal address. */
static mf_addr_class_t class_of(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (strchr(text, ':') != NULL) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, text, &in->sin_addr), 1);
    }
    return mf_webhook_addr_class((const struct sockaddr *)&ss);
}

static void test_address_classes(void **state)
{
    static const struct {
        const char *addr;
        mf_addr_class_t want;
    } rows[] = {
        {"93.184.216.34", MF_ADDR_PUBLIC},
        {"8.8.8.8", MF_ADDR_PUBLIC},
        {"127.0.0.1", MF_ADDR_LOOPBACK},
        {"127.255.255.254", MF_ADDR_LOOPBACK},
        {"10.0.0.1", MF_ADDR_PRIVATE},
        {"172.16.0.1", MF_ADDR_PRIVATE},
        {"172.31.255.255", MF_ADDR_PRIVATE},
        {"172.32.0.1", MF_ADDR_PUBLIC},
        {"172.15.255.255", MF_ADDR_PUBLIC},
        {"192.168.1.1", MF_ADDR_PRIVATE},
        {"169.254.169.254", MF_ADDR_LINK_LOCAL},
        {"169.254.0.1", MF_ADDR_LINK_LOCAL},
        {"0.0.0.0", MF_ADDR_UNSPECIFIED},
        {"0.1.2.3", MF_ADDR_UNSPECIFIED},
        {"224.0.0.1", MF_ADDR_MULTICAST},
        {"239.255.255.250", MF_ADDR_MULTICAST},
        {"255.255.255.255", MF_ADDR_BROADCAST},
        {"240.0.0.1", MF_ADDR_RESERVED},
        {"100.64.0.1", MF_ADDR_CGNAT},
        {"100.127.255.255", MF_ADDR_CGNAT},
        {"100.128.0.1", MF_ADDR_PUBLIC},
        {"100.63.255.255", MF_ADDR_PUBLIC},
        {"198.18.0.1", MF_ADDR_RESERVED},
        {"2606:2800:220:1:248:1893:25c8:1946", MF_ADDR_PUBLIC},
        {"::1", MF_ADDR_LOOPBACK},
        {"::", MF_ADDR_UNSPECIFIED},
        {"fc00::1", MF_ADDR_PRIVATE},
        {"fd12:3456::1", MF_ADDR_PRIVATE},
        {"fe80::1", MF_ADDR_LINK_LOCAL},
        {"febf::1", MF_ADDR_LINK_LOCAL},
        {"fec0::1", MF_ADDR_PRIVATE},
        {"ff02::1", MF_ADDR_MULTICAST},
        {"::ffff:127.0.0.1", MF_ADDR_LOOPBACK},
        {"::ffff:10.1.2.3", MF_ADDR_PRIVATE},
        {"::ffff:169.254.169.254", MF_ADDR_LINK_LOCAL},
        {"::ffff:8.8.8.8", MF_ADDR_PUBLIC},
        {"::127.0.0.1", MF_ADDR_LOOPBACK},
        {"64:ff9b::a9fe:a9fe", MF_ADDR_LINK_LOCAL},
        {"64:ff9b::808:808", MF_ADDR_PUBLIC},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++)
        MF_CHECK_STR(rows[i].addr, mf_webhook_addr_class_name(class_of(rows[i].addr)),
                     mf_webhook_addr_class_name(rows[i].want));
}

static void test_policy(void **state)
{
    mf_webhook_policy_t none = {0, 0}, loop = {1, 0}, priv = {0, 1};
    MF_CHECK_INT("public always", mf_webhook_policy_allows(&none, MF_ADDR_PUBLIC), 1);
    MF_CHECK_INT("loopback refused", mf_webhook_policy_allows(&none, MF_ADDR_LOOPBACK), 0);
    MF_CHECK_INT("loopback allowed", mf_webhook_policy_allows(&loop, MF_ADDR_LOOPBACK), 1);
    MF_CHECK_INT("loopback does not open private", mf_webhook_policy_allows(&loop, MF_ADDR_PRIVATE), 0);
    MF_CHECK_INT("private allowed", mf_webhook_policy_allows(&priv, MF_ADDR_PRIVATE), 1);
    MF_CHECK_INT("private does not open loopback", mf_webhook_policy_allows(&priv, MF_ADDR_LOOPBACK), 0);
    mf_webhook_policy_t all = {1, 1};
    static const mf_addr_class_t never[] = {MF_ADDR_LINK_LOCAL, MF_ADDR_UNSPECIFIED, MF_ADDR_MULTICAST,
                                            MF_ADDR_BROADCAST,  MF_ADDR_CGNAT,       MF_ADDR_RESERVED};
    for (size_t i = 0; i < MF_T_ROWS(never); i++)
        MF_CHECK_INT(mf_webhook_addr_class_name(never[i]), mf_webhook_policy_allows(&all, never[i]), 0);
}

static void test_url_check(void **state)
{
    static const struct {
        const char *url;
        int loopback;
        const char *host; /* NULL: refused */
        int port;
        const char *msg;
    } rows[] = {
        {"https://hooks.example.com/x?y=1", 0, "hooks.example.com", 443, NULL},
        {"https://hooks.example.com:8443/", 0, "hooks.example.com", 8443, NULL},
        {"https://[2001:db8::1]:9000/h", 0, "2001:db8::1", 9000, NULL},
        {"http://127.0.0.1:8080/hook", 1, "127.0.0.1", 8080, NULL},
        {"http://hooks.example.com/", 0, NULL, 0, "https"},
        {"ftp://hooks.example.com/", 1, NULL, 0, "https"},
        {"https://user:pw@hooks.example.com/", 0, NULL, 0, "credentials"},
        {"https://user@hooks.example.com/", 0, NULL, 0, "credentials"},
        {"hooks.example.com/path", 0, NULL, 0, "URL"},
        {"https://exa mple.com/", 0, NULL, 0, "URL"},
        {"", 0, NULL, 0, "URL"},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        mf_webhook_policy_t p = {rows[i].loopback, 0};
        mf_webhook_dest_t d;
        char err[256] = "";
        int rc = mf_webhook_url_check(rows[i].url, &p, &d, err, sizeof(err));
        if (rows[i].host != NULL) {
            MF_CHECK_INT(rows[i].url, rc, 0);
            MF_CHECK_STR(rows[i].url, d.host, rows[i].host);
            MF_CHECK_INT(rows[i].url, d.port, rows[i].port);
        } else {
            MF_CHECK_INT(rows[i].url, rc, MF_EINVALID_REQUEST);
            MF_CHECK_CONTAINS(rows[i].url, err, rows[i].msg);
        }
    }
    char *long_url = mf_t_repeat('a', MF_WEBHOOK_URL_MAX + 1);
    memcpy(long_url, "https://", 8);
    mf_webhook_policy_t p = {0, 0};
    mf_webhook_dest_t d;
    char err[256];
    MF_CHECK_INT("too long", mf_webhook_url_check(long_url, &p, &d, err, sizeof(err)), MF_EINVALID_REQUEST);
    free(long_url);
}

/* Literal destinations need no DNS: the check is the classification under the policy. */
static void test_dest_check_literals(void **state)
{
    static const struct {
        const char *host;
        int loopback;
        int want;
        const char *msg;
    } rows[] = {
        {"127.0.0.1", 0, MF_EFORBIDDEN, "loopback"},
        {"127.0.0.1", 1, 0, NULL},
        {"::1", 0, MF_EFORBIDDEN, "loopback"},
        {"10.0.0.1", 1, MF_EFORBIDDEN, "private"},
        {"169.254.169.254", 1, MF_EFORBIDDEN, "link-local"},
        {"::ffff:127.0.0.1", 0, MF_EFORBIDDEN, "loopback"},
        {"0.0.0.0", 1, MF_EFORBIDDEN, "unspecified"},
        {"93.184.216.34", 0, 0, NULL},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        mf_webhook_policy_t p = {rows[i].loopback, 0};
        mf_webhook_dest_t d = {.port = 443};
        snprintf(d.host, sizeof(d.host), "%s", rows[i].host);
        char err[256] = "";
        MF_CHECK_INT(rows[i].host, mf_webhook_dest_check(&d, &p, err, sizeof(err)), rows[i].want);
        if (rows[i].msg != NULL)
            MF_CHECK_CONTAINS(rows[i].host, err, rows[i].msg);
    }
}

static void test_signature_known_answers(void **state)
{
    static const struct {
        const char *secret;
        long long ts;
        const char *body;
        const char *want;
    } rows[] = {
        {"whsec_0123456789abcdef", 1700000000, "{\"event\":\"schema.changed\"}",
         "t=1700000000,v1=6520294adafe7573b69b14c7eb8069bb5dd26d67da2347996f119621b355ee9b"},
        {"key", 1, "", "t=1,v1=53123bc365c2fe4bee48bc5cc6cd6c19699147d43513154ed34277c7c063e80f"},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        char sig[MF_WEBHOOK_SIGNATURE_MAX];
        mf_webhook_sign(rows[i].secret, rows[i].ts, rows[i].body, strlen(rows[i].body), sig);
        MF_CHECK_STR(rows[i].secret, sig, rows[i].want);
    }
}

static void test_slack_body(void **state)
{
    static const struct {
        const char *event;
        const char *text;
    } rows[] = {
        {"{'event':'schema.breaking_change','tenant':{'name':'acme'},'dataset':{'namespace':'default','name':'orders'},"
         "'detail':{'from':2,'to':3}}",
         "[MetaFuse acme] schema.breaking_change on default/orders: schema version 2 -> 3"},
        {"{'event':'quality.failed','tenant':{'name':'acme'},'dataset':{'namespace':'pg','name':'t'},"
         "'detail':{'failed':[{'assertion':'not_null','success':false}],'assertions':3}}",
         "[MetaFuse acme] quality.failed on pg/t: 1 of 3 quality assertions failed"},
        {"{'event':'quota.warning','tenant':{'name':'acme'},'dataset':null,'detail':{}}",
         "[MetaFuse acme] quota.warning"},
    };
    for (size_t i = 0; i < MF_T_ROWS(rows); i++) {
        json_t *ev = mf_t_jq(rows[i].event);
        char *text = json_dumps(ev, JSON_COMPACT);
        char *body = mf_webhook_slack_body(text);
        json_t *got = json_loads(body, 0, NULL);
        json_t *want = json_pack("{s:s}", "text", rows[i].text);
        MF_CHECK_JSON(rows[i].text, got, want);
        json_decref(want);
        json_decref(got);
        free(body);
        free(text);
        json_decref(ev);
    }
    assert_null(mf_webhook_slack_body("[1]"));
    assert_null(mf_webhook_slack_body("not json"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address_classes),       cmocka_unit_test(test_policy),
        cmocka_unit_test(test_url_check),             cmocka_unit_test(test_dest_check_literals),
        cmocka_unit_test(test_signature_known_answers), cmocka_unit_test(test_slack_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
