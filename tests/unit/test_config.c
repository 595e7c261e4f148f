/* Unit tests for the zoo.cfg parser (src/server/config.{h,c}). */
#include "config_testkit.h"
#include "proto/zkproto.h"

static void setup(void) { config_testkit_setup("zk-config", NULL); }

TestSuite(config, .init = setup, .fini = config_testkit_teardown);

/* ---- accepted configurations ---- */

Test(config, typical_standalone)
{
    write_cfg("# The number of milliseconds of each tick\n"
              "tickTime=2000\n"
              "initLimit=10\n"
              "syncLimit=5\n"
              "\n"
              "dataDir=%s\n"
              "clientPort=2182\n"
              "   maxClientCnxns = 0   \n"
              "#autopurge.snapRetainCount=3\n"
              "autopurge.purgeInterval=1\n"
              "admin.enableServer=false\n");
    load_ok();
    cr_assert_eq(cfg.tick_ms, 2000);
    cr_assert_eq(cfg.init_limit, 10);
    cr_assert_eq(cfg.sync_limit, 5);
    cr_assert_str_eq(cfg.data_dir, dir);
    cr_assert_str_eq(cfg.data_log_dir, dir, "dataLogDir defaults to dataDir");
    cr_assert_eq(cfg.client_port, 2182);
    cr_assert_eq(cfg.max_client_cnxns, 0, "0 means unlimited");
    cr_assert_eq(cfg.min_session_timeout_ms, 4000);
    cr_assert_eq(cfg.max_session_timeout_ms, 40000);
    cr_assert_eq(cfg.myid, 0);
    cr_assert_eq(cfg.n_members, 0);
}

Test(config, defaults)
{
    write_cfg("dataDir=%s\n");
    load_ok();
    cr_assert_eq(cfg.tick_ms, 3000);
    cr_assert_eq(cfg.init_limit, 10);
    cr_assert_eq(cfg.sync_limit, 5);
    cr_assert_eq(cfg.client_port, 2181);
    cr_assert_str_eq(cfg.client_addr, "");
    cr_assert_eq(cfg.max_client_cnxns, 60);
    cr_assert_eq(cfg.min_session_timeout_ms, 2 * 3000);
    cr_assert_eq(cfg.max_session_timeout_ms, 20 * 3000);
    cr_assert_eq(cfg.max_buffer, ZK_MAX_BUFFER_DEFAULT);
    cr_assert_eq(cfg.snap_count, 100000);
    cr_assert_eq(cfg.extended_types, true);
    cr_assert_str_eq(cfg.fourlw_whitelist, "srvr");
    cr_assert_eq(cfg.lmdb_map_bytes, 64ULL << 30);
    cr_assert_str_eq(cfg.data_log_dir, dir);
    cr_assert_eq(cfg.n_members, 0);
    cr_assert_eq(cfg.myid, 0);
}

Test(config, session_timeout_defaults_follow_tick_time_wherever_it_appears)
{
    write_cfg("dataDir=%s\nminSessionTimeout=-1\ntickTime=100\n");
    load_ok();
    cr_assert_eq(cfg.min_session_timeout_ms, 200);
    cr_assert_eq(cfg.max_session_timeout_ms, 2000);
}

Test(config, explicit_values)
{
    write_cfg("tickTime=500\n"
              "dataDir=%s\n"
              "dataLogDir=/var/lib/zk-log\n"
              "clientPortAddress=127.0.0.1\n"
              "minSessionTimeout=1500\n"
              "maxSessionTimeout=90000\n"
              "jute.maxbuffer=4194304\n"
              "snapCount=5000\n"
              "extendedTypesEnabled=false\n"
              "lmdbMapSizeMB=1024\n"
              "4lw.commands.whitelist=srvr, ruok, mntr\n");
    load_ok();
    cr_assert_eq(cfg.tick_ms, 500);
    cr_assert_str_eq(cfg.data_log_dir, "/var/lib/zk-log");
    cr_assert_str_eq(cfg.client_addr, "127.0.0.1");
    cr_assert_eq(cfg.min_session_timeout_ms, 1500);
    cr_assert_eq(cfg.max_session_timeout_ms, 90000);
    cr_assert_eq(cfg.max_buffer, 4194304);
    cr_assert_eq(cfg.snap_count, 5000);
    cr_assert_eq(cfg.extended_types, false);
    cr_assert_eq(cfg.lmdb_map_bytes, 1024ULL << 20);
    cr_assert_str_eq(cfg.fourlw_whitelist, "srvr, ruok, mntr");
}

Test(config, only_min_given_max_defaults)
{
    write_cfg("tickTime=1000\ndataDir=%s\nminSessionTimeout=5000\n");
    load_ok();
    cr_assert_eq(cfg.min_session_timeout_ms, 5000);
    cr_assert_eq(cfg.max_session_timeout_ms, 20000);
}

Test(config, min_equal_max_is_fine)
{
    write_cfg("dataDir=%s\nminSessionTimeout=7000\nmaxSessionTimeout=7000\n");
    load_ok();
    cr_assert_eq(cfg.min_session_timeout_ms, 7000);
    cr_assert_eq(cfg.max_session_timeout_ms, 7000);
}

Test(config, three_node_ensemble)
{
    write_cfg("tickTime=2000\n"
              "initLimit=5\n"
              "syncLimit=2\n"
              "dataDir=%s\n"
              "clientPort=2181\n"
              "server.1=zk1.example.com:2888:3888\n"
              "server.2=10.0.0.2:2889:3889:participant\n"
              "server.3=zk3:2890:3890:participant;2183\n"
              "peerType=participant\n"
              "reconfigEnabled=false\n"
              "standaloneEnabled=false\n");
    write_myid("2\n");
    load_ok();
    cr_assert_eq(cfg.myid, 2);
    cr_assert_eq(cfg.n_members, 3);
    const struct zk_member *m = cfg.members;
    cr_assert_eq(m[0].id, 1);
    cr_assert_str_eq(m[0].host, "zk1.example.com");
    cr_assert_eq(m[0].peer_port, 2888);
    cr_assert_eq(m[0].election_port, 3888);
    cr_assert_eq(m[0].client_port, 0, "no ;clientPort part");
    cr_assert_eq(m[0].observer, false);
    cr_assert_eq(m[1].id, 2);
    cr_assert_str_eq(m[1].host, "10.0.0.2");
    cr_assert_eq(m[1].peer_port, 2889);
    cr_assert_eq(m[1].election_port, 3889);
    cr_assert_eq(m[1].client_port, 0);
    cr_assert_eq(m[1].observer, false);
    cr_assert_eq(m[2].id, 3);
    cr_assert_str_eq(m[2].host, "zk3");
    cr_assert_eq(m[2].peer_port, 2890);
    cr_assert_eq(m[2].election_port, 3890);
    cr_assert_eq(m[2].client_port, 2183);
    cr_assert_eq(m[2].observer, false);
    cr_assert_eq(cfg.client_port, 2181);
}

Test(config, member_client_part_with_address_and_observer)
{
    write_cfg("dataDir=%s\n"
              "server.1=h1:2888:3888;0.0.0.0:2181\n"
              "server.2=h2:2888:3888:observer;127.0.0.1:2182\n"
              "server.3 = h3 : 2888 : 3888 : participant ; 2183\n");
    write_myid("  3  \n");
    load_ok();
    cr_assert_eq(cfg.myid, 3);
    cr_assert_eq(cfg.n_members, 3);
    cr_assert_eq(cfg.members[0].client_port, 2181);
    cr_assert_eq(cfg.members[0].observer, false);
    cr_assert_str_eq(cfg.members[1].host, "h2");
    cr_assert_eq(cfg.members[1].client_port, 2182);
    cr_assert_eq(cfg.members[1].observer, true);
    cr_assert_str_eq(cfg.members[2].host, "h3");
    cr_assert_eq(cfg.members[2].peer_port, 2888);
    cr_assert_eq(cfg.members[2].election_port, 3888);
    cr_assert_eq(cfg.members[2].client_port, 2183);
    cr_assert_eq(cfg.members[2].observer, false);
}

Test(config, unknown_and_ignored_keys_are_accepted)
{
    write_cfg("dataDir=%s\n"
              "someFutureKey=whatever\n"
              "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n"
              "metricsProvider.className=org.apache.zookeeper.metrics.impl.NullMetricsProvider\n"
              "ssl.keyStore.location=/x.pem\n"
              "localSessionsEnabled=true\n"
              "forceSync=no\n"
              "preAllocSize=65536\n"
              "admin.serverPort=8080\n"
              "empty.value=\n");
    load_ok();
    cr_assert_str_eq(cfg.data_dir, dir);
}

Test(config, comments_blank_lines_and_crlf)
{
    write_cfg("\n   \n# comment = with equals\n\t# indented comment\r\n"
              "tickTime=1234\r\n"
              "dataDir=%s\r\n");
    load_ok();
    cr_assert_eq(cfg.tick_ms, 1234);
    cr_assert_str_eq(cfg.data_dir, dir);
}

Test(config, later_value_wins)
{
    write_cfg("dataDir=%s\nclientPort=1111\nclientPort=2222\n");
    load_ok();
    cr_assert_eq(cfg.client_port, 2222);
}

/* ---- refusals ---- */

Test(config, missing_file)
{
    snprintf(cfg_path, sizeof cfg_path, "%s/nope.cfg", dir);
    load_fails("nope.cfg", NULL);
}

Test(config, missing_data_dir)
{
    write_cfg("tickTime=2000\nclientPort=2181\n");
    load_fails("dataDir", NULL);
}

Test(config, empty_data_dir)
{
    write_cfg("dataDir=\n");
    load_fails("dataDir", NULL);
}

Test(config, non_numeric_tick_time)
{
    write_cfg("tickTime=abc\ndataDir=%s\n");
    load_fails("tickTime", "abc");
}

Test(config, tick_time_with_trailing_garbage)
{
    write_cfg("tickTime=2000ms\ndataDir=%s\n");
    load_fails("tickTime", "2000ms");
}

Test(config, tick_time_zero_or_negative)
{
    write_cfg("tickTime=0\ndataDir=%s\n");
    load_fails("tickTime", NULL);
    write_cfg("tickTime=-5\ndataDir=%s\n");
    load_fails("tickTime", NULL);
}

Test(config, client_port_out_of_range)
{
    static const char *const bad[] = {"70000", "65536", "0", "-1", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "dataDir=%%s\nclientPort=%s\n", bad[i]);
        write_cfg(text);
        load_fails("clientPort", bad[i]);
    }
    write_cfg("dataDir=%s\nclientPort=65535\n");
    load_ok();
    cr_assert_eq(cfg.client_port, 65535);
    write_cfg("dataDir=%s\nclientPort=1\n");
    load_ok();
    cr_assert_eq(cfg.client_port, 1);
}

Test(config, member_port_out_of_range)
{
    write_cfg("dataDir=%s\nserver.1=h:70000:3888\n");
    write_myid("1");
    load_fails("server.1", "70000");
    write_cfg("dataDir=%s\nserver.1=h:2888:0\n");
    load_fails("server.1", NULL);
    write_cfg("dataDir=%s\nserver.1=h:2888:3888;65536\n");
    load_fails("server.1", "65536");
}

Test(config, member_malformed)
{
    write_myid("1");
    write_cfg("dataDir=%s\nserver.1=h:2888\n");
    load_fails("server.1", "host:peerPort:electionPort");
    write_cfg("dataDir=%s\nserver.1=h:2888:3888:leader\n");
    load_fails("server.1", "leader");
    write_cfg("dataDir=%s\nserver.x=h:2888:3888\n");
    load_fails("server.x", NULL);
    write_cfg("dataDir=%s\nserver.1= :2888:3888\n");
    load_fails("server.1", NULL);
    write_cfg("dataDir=%s\nserver.1=h:abc:3888\n");
    load_fails("server.1", "abc");
}

Test(config, server_id_beyond_255_refused)
{
    /* ZooKeeper parses any positive id; ours are 1..255 (a session id's top byte), said at start */
    write_myid("1");
    write_cfg("dataDir=%s\nserver.1=a:2888:3888\nserver.256=b:2888:3888\n");
    load_fails("server.256", "1..255");
    write_cfg("dataDir=%s\nserver.1=a:2888:3888\nserver.255=b:2888:3888\n");
    load_ok();
}

Test(config, duplicate_server_id)
{
    write_cfg("dataDir=%s\n"
              "server.1=a:2888:3888\n"
              "server.2=b:2888:3888\n"
              "server.1=c:2888:3888\n");
    write_myid("1\n");
    load_fails("duplicate", "server.1");
}

Test(config, myid_missing)
{
    write_cfg("dataDir=%s\nserver.1=a:2888:3888\nserver.2=b:2888:3888\n");
    load_fails("myid", NULL);
}

Test(config, myid_not_listed)
{
    write_cfg("dataDir=%s\nserver.1=a:2888:3888\nserver.2=b:2888:3888\n");
    write_myid("4\n");
    load_fails("myid 4", "server.4");
}

Test(config, myid_not_a_number)
{
    write_cfg("dataDir=%s\nserver.1=a:2888:3888\n");
    write_myid("one\n");
    load_fails("myid", "one");
}

Test(config, myid_empty_file)
{
    write_cfg("dataDir=%s\nserver.1=a:2888:3888\n");
    write_myid("");
    load_fails("myid", NULL);
}

Test(config, min_above_max_session_timeout)
{
    write_cfg("dataDir=%s\nminSessionTimeout=30000\nmaxSessionTimeout=10000\n");
    load_fails("minSessionTimeout", "maxSessionTimeout");
    cr_assert_not_null(strstr(err, "30000"), "%s", err);
    cr_assert_not_null(strstr(err, "10000"), "%s", err);
}

Test(config, min_above_default_max_session_timeout)
{
    /* tickTime 1000: default max is 20000 */
    write_cfg("tickTime=1000\ndataDir=%s\nminSessionTimeout=25000\n");
    load_fails("minSessionTimeout", "20000");
}

Test(config, line_without_equals)
{
    write_cfg("dataDir=%s\n# fine\nthis line has no equals sign\n");
    load_fails("key=value", "this line has no equals sign");
    cr_assert_not_null(strstr(err, ":3:"), "message names the line number: %s", err);
    cr_assert_not_null(strstr(err, "zoo.cfg"), "message names the file: %s", err);
}

Test(config, bad_boolean)
{
    write_cfg("dataDir=%s\nextendedTypesEnabled=maybe\n");
    load_fails("extendedTypesEnabled", "maybe");
}

Test(config, too_many_members)
{
    char text[2048] = "dataDir=%s\n";
    for (int i = 1; i <= ZK_SERVERS_MAX + 1; i++) {
        char line[64];
        snprintf(line, sizeof line, "server.%d=h%d:2888:3888\n", i, i);
        strcat(text, line);
    }
    write_cfg(text);
    write_myid("1\n");
    load_fails("server", NULL);
}

/* ---- 4lw whitelist ---- */

static struct zk_config with_whitelist(const char *list)
{
    struct zk_config c;
    memset(&c, 0, sizeof c);
    snprintf(c.fourlw_whitelist, sizeof c.fourlw_whitelist, "%s", list);
    return c;
}

Test(config, fourlw_srvr_is_always_allowed)
{
    /* as ZooKeeper's FourLetterCommands: zkServer.sh depends on srvr */
    struct zk_config c = with_whitelist("ruok");
    cr_assert(config_fourlw_allowed(&c, "srvr"));
    cr_assert_not(config_fourlw_allowed(&c, "mntr"));
}

Test(config, fourlw_star_allows_everything)
{
    struct zk_config c = with_whitelist("*");
    cr_assert(config_fourlw_allowed(&c, "ruok"));
    cr_assert(config_fourlw_allowed(&c, "srvr"));
    cr_assert(config_fourlw_allowed(&c, "wchp"));
}

Test(config, fourlw_list)
{
    struct zk_config c = with_whitelist("srvr, ruok");
    cr_assert(config_fourlw_allowed(&c, "srvr"));
    cr_assert(config_fourlw_allowed(&c, "ruok"));
    cr_assert_not(config_fourlw_allowed(&c, "stat"));
    cr_assert_not(config_fourlw_allowed(&c, "mntr"));
    cr_assert_not(config_fourlw_allowed(&c, "srv"), "a prefix of a listed word");
    cr_assert_not(config_fourlw_allowed(&c, "ok"), "a suffix of a listed word");
    c = with_whitelist("srvr,ruok,mntr");
    cr_assert(config_fourlw_allowed(&c, "srvr"));
    cr_assert(config_fourlw_allowed(&c, "ruok"));
    cr_assert(config_fourlw_allowed(&c, "mntr"));
    cr_assert_not(config_fourlw_allowed(&c, "cons"));
    c = with_whitelist("  stat ,  conf  ");
    cr_assert(config_fourlw_allowed(&c, "stat"));
    cr_assert(config_fourlw_allowed(&c, "conf"));
    cr_assert_not(config_fourlw_allowed(&c, "mntr"));
}

Test(config, fourlw_prefix_does_not_allow_longer_word)
{
    struct zk_config c = with_whitelist("ru");
    cr_assert_not(config_fourlw_allowed(&c, "ruok"), "\"ru\" must not allow \"ruok\"");
    c = with_whitelist("ruo, sta");
    cr_assert_not(config_fourlw_allowed(&c, "ruok"));
    cr_assert_not(config_fourlw_allowed(&c, "stat"));
    c = with_whitelist("xruok");
    cr_assert_not(config_fourlw_allowed(&c, "ruok"));
    c = with_whitelist("ruokx, ruok2");
    cr_assert_not(config_fourlw_allowed(&c, "ruok"));
    c = with_whitelist("ruokx, ruok");
    cr_assert(config_fourlw_allowed(&c, "ruok"), "found after a longer match");
}

Test(config, fourlw_empty_list_allows_only_srvr)
{
    struct zk_config c = with_whitelist("");
    cr_assert_not(config_fourlw_allowed(&c, "ruok"));
    cr_assert(config_fourlw_allowed(&c, "srvr"));
}

Test(config, fourlw_from_file)
{
    write_cfg("dataDir=%s\n4lw.commands.whitelist=ruok\n");
    load_ok();
    cr_assert(config_fourlw_allowed(&cfg, "ruok"));
    cr_assert_not(config_fourlw_allowed(&cfg, "mntr"));
    write_cfg("dataDir=%s\n4lw.commands.whitelist=*\n");
    load_ok();
    cr_assert(config_fourlw_allowed(&cfg, "srvr"));
}

/* ---- the AdminServer and the Prometheus endpoint (config_admin.c) ---- */

Test(config, admin_and_metrics_defaults)
{
    write_cfg("dataDir=%s\n");
    load_ok();
    cr_assert(cfg.admin.enabled, "admin.enableServer defaults to true, as ZooKeeper");
    cr_assert_str_eq(cfg.admin.address, "0.0.0.0");
    cr_assert_eq(cfg.admin.port, 8080);
    cr_assert_str_eq(cfg.admin.command_url, "/commands");
    cr_assert_eq(cfg.admin.idle_timeout_ms, 30000);
    cr_assert_not(cfg.admin.metrics, "no metrics provider unless one is named");
    cr_assert_str_eq(cfg.admin.metrics_host, "0.0.0.0");
    cr_assert_eq(cfg.admin.metrics_port, 7000);
}

Test(config, admin_and_metrics_settings)
{
    write_cfg("dataDir=%s\nadmin.enableServer=false\nadmin.serverAddress=127.0.0.1\n"
              "admin.serverPort=9090\nadmin.commandURL=/zk/\nadmin.idleTimeout=1500\n"
              "admin.httpVersion=11\nadmin.forceHttps=false\n"
              "metricsProvider.className="
              "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n"
              "metricsProvider.httpHost=localhost\nmetricsProvider.httpPort=7001\n"
              "metricsProvider.exportJvmInfo=false\nmetricsProvider.numWorkerThreads=3\n");
    load_ok();
    cr_assert_not(cfg.admin.enabled);
    cr_assert_str_eq(cfg.admin.address, "127.0.0.1");
    cr_assert_eq(cfg.admin.port, 9090);
    cr_assert_str_eq(cfg.admin.command_url, "/zk", "a trailing / is dropped");
    cr_assert_eq(cfg.admin.idle_timeout_ms, 1500);
    cr_assert(cfg.admin.metrics);
    cr_assert_str_eq(cfg.admin.metrics_host, "localhost");
    cr_assert_eq(cfg.admin.metrics_port, 7001);
}

Test(config, admin_settings_as_properties)
{
    static const char *const items[] = {"zookeeper.admin.serverPort=9191",
                                        "zookeeper.admin.enableServer=false"};
    write_cfg("dataDir=%s\nadmin.serverPort=9292\n");
    load_props_ok(items, 2);
    cr_assert_eq(cfg.admin.port, 9292, "zoo.cfg wins over the -D property");
    cr_assert_not(cfg.admin.enabled);
}

Test(config, read_only_mode_setting)
{
    static const char *const jvm[] = {"readonlymode.enabled=true"};
    static const char *const prefixed[] = {"zookeeper.readonlymode.enabled=true"};
    write_cfg("dataDir=%s\n");
    load_ok();
    cr_assert_not(cfg.read_only_enabled, "off unless asked for, as in ZooKeeper");
    load_props_ok(jvm, 1);
    cr_assert(cfg.read_only_enabled, "ZooKeeper's spelling: the JVM property, no prefix");
    load_props_ok(prefixed, 1);
    cr_assert(cfg.read_only_enabled);
    write_cfg("dataDir=%s\nreadonlymode.enabled=true\n");
    load_ok();
    cr_assert(cfg.read_only_enabled);
    write_cfg("dataDir=%s\nreadonlymode.enabled=maybe\n");
    load_fails("readonlymode.enabled", NULL);
}

Test(config, admin_and_metrics_refusals)
{
    write_cfg("dataDir=%s\nmetricsProvider.className=com.example.MyProvider\n");
    load_fails("metricsProvider.className=com.example.MyProvider", "PrometheusMetricsProvider");
    write_cfg("dataDir=%s\nadmin.serverPort=0\n");
    load_fails("admin.serverPort", NULL);
    write_cfg("dataDir=%s\nadmin.enableServer=yes please\n");
    load_fails("admin.enableServer", NULL);
    write_cfg("dataDir=%s\nadmin.commandURL=commands\n");
    load_fails("admin.commandURL", NULL);
    write_cfg("dataDir=%s\nadmin.forceHttps=true\n");
    load_fails("admin.forceHttps", "not implemented");
    write_cfg("dataDir=%s\nadmin.needClientAuth=true\n");
    load_fails("admin.needClientAuth", NULL);
    write_cfg("dataDir=%s\nmetricsProvider.httpsPort=7443\n");
    load_fails("httpsPort", "HTTPS");
    write_cfg("dataDir=%s\nmetricsProvider.className="
              "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n"
              "metricsProvider.httpPort=8080\n");
    load_fails("admin.serverPort", "metricsProvider.httpPort");
}

Test(config, enforce_quota_setting)
{
    static const char *const on[] = {"zookeeper.enforceQuota=true"};
    write_cfg("dataDir=%s\n");
    load_ok();
    cr_assert_not(cfg.enforce_quota, "off unless asked for, as in ZooKeeper");
    load_props_ok(on, 1);
    cr_assert(cfg.enforce_quota, "the JVM property ZooKeeper reads");
    write_cfg("dataDir=%s\nenforceQuota=true\n");
    load_ok();
    cr_assert(cfg.enforce_quota, "zoo.cfg: ZooKeeper turns it into zookeeper.enforceQuota");
    write_cfg("dataDir=%s\nenforceQuota=sometimes\n");
    load_fails("enforceQuota", NULL);
}
