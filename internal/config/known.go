package config

// The keyword names HAProxy 2.6 has, from its configuration manual (sections 3 and
// 4.1). A keyword listed here but missing from hitless's tables is reported as "not
// supported yet"; a keyword in neither is unknown.

const haproxyGlobalKeywords = "ca-base chroot cluster-secret cpu-map crt-base daemon default-path description deviceatlas-json-file " +
	"deviceatlas-log-level deviceatlas-separator deviceatlas-properties-cookie expose-experimental-directives external-check " +
	"fd-hard-limit gid grace group h1-accept-payload-with-any-method h1-case-adjust h1-case-adjust-file h2-workaround-bogus-websocket-clients " +
	"hard-stop-after insecure-fork-wanted insecure-setuid-wanted issuers-chain-path localpeer log log-send-hostname log-tag " +
	"lua-load lua-load-per-thread lua-prepend-path master-worker mworker-max-reloads nbthread node numa-cpu-mapping pidfile " +
	"pp2-never-send-local presetenv resetenv set-dumpable set-var setenv ssl-default-bind-ciphers ssl-default-bind-ciphersuites " +
	"ssl-default-bind-client-sigalgs ssl-default-bind-curves ssl-default-bind-options ssl-default-bind-sigalgs " +
	"ssl-default-server-ciphers ssl-default-server-ciphersuites ssl-default-server-client-sigalgs ssl-default-server-curves " +
	"ssl-default-server-options ssl-default-server-sigalgs ssl-dh-param-file ssl-server-verify ssl-skip-self-issued-ca " +
	"server-state-base server-state-file stats strict-limits uid ulimit-n unix-bind unsetenv user wurfl-cache-size wurfl-data-file wurfl-information-list " +
	"wurfl-information-list-separator wurfl-patch-file 51degrees-data-file 51degrees-property-name-list " +
	"51degrees-property-separator 51degrees-cache-size quiet zero-warning busy-polling max-spread-checks maxconn maxconnrate " +
	"maxcomprate maxcompcpuusage maxpipes maxsessrate maxsslconn maxsslrate maxzlibmem noepoll nokqueue noevports nopoll " +
	"nosplice nogetaddrinfo noreuseport profiling.tasks spread-checks ssl-engine ssl-mode-async ssl-load-extra-files " +
	"ssl-load-extra-del-ext tune.buffers.limit tune.buffers.reserve tune.bufsize tune.comp.maxlevel tune.fail-alloc " +
	"tune.fd.edge-triggered tune.h2.header-table-size tune.h2.initial-window-size tune.h2.max-concurrent-streams " +
	"tune.h2.max-frame-size tune.http.cookielen tune.http.logurilen tune.http.maxhdr tune.idle-pool.shared tune.idletimer " +
	"tune.lua.forced-yield tune.lua.maxmem tune.lua.session-timeout tune.lua.task-timeout tune.lua.service-timeout " +
	"tune.maxaccept tune.maxpollevents tune.maxrewrite tune.pattern.cache-size tune.pipesize tune.pool-high-fd-ratio " +
	"tune.pool-low-fd-ratio tune.rcvbuf.client tune.rcvbuf.server tune.recv_enough tune.runqueue-depth tune.sched.low-latency " +
	"tune.sndbuf.client tune.sndbuf.server tune.ssl.cachesize tune.ssl.force-private-cache tune.ssl.hard-maxrecord " +
	"tune.ssl.keylog tune.ssl.lifetime tune.ssl.maxrecord tune.ssl.default-dh-param tune.ssl.ssl-ctx-cache-size " +
	"tune.ssl.capture-buffer-size tune.ssl.capture-cipherlist-size tune.vars.global-max-size tune.vars.proc-max-size " +
	"tune.vars.reqres-max-size tune.vars.sess-max-size tune.vars.txn-max-size tune.zlib.memlevel tune.zlib.windowsize " +
	"debug httpclient.resolvers.disabled httpclient.resolvers.id httpclient.resolvers.prefer httpclient.ssl.ca-file " +
	"httpclient.ssl.verify thread-group thread-groups stats-file"

const haproxyProxyKeywords = "acl backlog balance bind capture cookie declare default-server default_backend description " +
	"disabled dispatch email-alert enabled errorfile errorfiles errorloc errorloc302 errorloc303 error-log-format force-persist " +
	"filter fullconn grace hash-balance-factor hash-type http-after-response http-check http-error http-request " +
	"http-response http-reuse http-send-name-header id ignore-persist load-server-state-from-file log log-format " +
	"log-format-sd log-tag max-keep-alive-queue max-session-srv-conns maxconn mode monitor monitor-uri option " +
	"persist rate-limit redirect retries retry-on server server-state-file-name server-template source stats " +
	"stick stick-table tcp-check tcp-request tcp-response timeout transparent unique-id-format unique-id-header " +
	"use_backend use-fcgi-app use-server"

const haproxyOptions = "abortonclose accept-invalid-http-request accept-invalid-http-response allbackups checkcache " +
	"clitcpka contstats disable-h2-upgrade dontlog-normal dontlognull forwardfor h1-case-adjust-bogus-client " +
	"h1-case-adjust-bogus-server http-buffer-request http-ignore-probes http-keep-alive http-no-delay " +
	"http-pretend-keepalive http-restrict-req-hdr-names http-server-close http-use-proxy-header httpchk httpclose " +
	"httplog httpslog http_proxy independent-streams ldap-check external-check log-health-checks log-separate-errors " +
	"logasap mysql-check nolinger originalto persist pgsql-check prefer-last-server redispatch redis-check " +
	"smtpchk socket-stats splice-auto splice-request splice-response spop-check srvtcpka ssl-hello-chk tcp-check " +
	"tcp-smart-accept tcp-smart-connect tcpka tcplog transparent idle-close-on-response"

const haproxyBindOptions = "accept-netscaler-cip accept-proxy allow-0rtt alpn ca-file ca-ignore-err ca-sign-file " +
	"ca-sign-pass ca-verify-file ciphers ciphersuites crl-file crt crt-ignore-err crt-list curves defer-accept ecdhe " +
	"expose-fd force-sslv3 force-tlsv10 force-tlsv11 force-tlsv12 force-tlsv13 generate-certificates gid group id " +
	"interface level maxconn mss namespace nice no-ca-names no-sslv3 no-tls-tickets no-tlsv10 no-tlsv11 no-tlsv12 " +
	"no-tlsv13 npn prefer-client-ciphers process proto quic-cc-algo quic-force-retry severity-output sigalgs " +
	"client-sigalgs ssl ssl-max-ver ssl-min-ver strict-sni tcp-ut tfo thread tls-ticket-keys transparent verify " +
	"accept-netscaler-cip"

const haproxyServerOptions = "addr agent-check agent-send agent-inter agent-addr agent-port allow-0rtt alpn " +
	"ca-file check-send-proxy check-alpn check-proto check-sni check-ssl check-via-socks4 ciphers ciphersuites " +
	"cookie crl-file crt curves error-limit fastinter id init-addr force-sslv3 force-tlsv10 force-tlsv11 force-tlsv12 " +
	"force-tlsv13 log-proto maxqueue max-reuse minconn namespace no-agent-check no-ssl-reuse no-sslv3 no-tls-tickets " +
	"no-tlsv10 no-tlsv11 no-tlsv12 no-tlsv13 no-verifyhost no-tfo non-stick npn observe on-error on-marked-down " +
	"on-marked-up pool-conn-name pool-low-conn pool-max-conn pool-purge-delay port proto redir resolve-net " +
	"resolve-opts resolve-prefer resolvers send-proxy send-proxy-v2 send-proxy-v2-ssl send-proxy-v2-ssl-cn " +
	"proxy-v2-options slowstart sni source ssl ssl-max-ver ssl-min-ver ssl-reuse stick socks4 tcp-ut tfo track " +
	"verify verifyhost ws sigalgs client-sigalgs shard"
