# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_portsd_global_optspecs
    string join \n h/help V/version
end

function __fish_portsd_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_portsd_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_portsd_using_subcommand
    set -l cmd (__fish_portsd_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c portsd -n "__fish_portsd_needs_command" -s h -l help -d 'Print help'
complete -c portsd -n "__fish_portsd_needs_command" -s V -l version -d 'Print version'
complete -c portsd -n "__fish_portsd_needs_command" -f -a "serve" -d 'Serve the zone over UDP and TCP'
complete -c portsd -n "__fish_portsd_needs_command" -f -a "lookup" -d 'Print what the table says about `443/tcp`, `443`, `https/tcp` or `https`'
complete -c portsd -n "__fish_portsd_needs_command" -f -a "search" -d 'Print the uses matching the words, best first (what WORDS.search.<zone> answers)'
complete -c portsd -n "__fish_portsd_needs_command" -f -a "explain" -d 'Print this host\'s listening sockets (TCP and UDP, as `ss -tulpn` lists them) with the known uses of their ports; with `-`, copy standard input adding the uses of the ports it mentions'
complete -c portsd -n "__fish_portsd_needs_command" -f -a "export-zone" -d 'Print the whole zone as an RFC 1035 master file'
complete -c portsd -n "__fish_portsd_needs_command" -f -a "check" -d 'Load and validate the data; print counts and problems'
complete -c portsd -n "__fish_portsd_needs_command" -f -a "convert-wikipedia" -d 'Convert the Wikipedia port table (markdown) into `ports.tsv` on standard output'
complete -c portsd -n "__fish_portsd_needs_command" -f -a "update-data" -d 'Download IANA\'s registry into DIR, check it with the loader `serve` uses, and replace the file atomically; print the records added, removed and changed'
complete -c portsd -n "__fish_portsd_needs_command" -f -a "seed-data" -d 'Link into DIR each data file it lacks, from the first FROM directory holding it'
complete -c portsd -n "__fish_portsd_needs_command" -f -a "man" -d 'Write the man pages of portsd and of each subcommand into DIR'
complete -c portsd -n "__fish_portsd_needs_command" -f -a "completions" -d 'Print the completion script for SHELL on standard output'
complete -c portsd -n "__fish_portsd_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l zone -d 'Zone to serve; repeatable (`ports.local,ports.internal`): every zone answers from the one table, each with its own apex, serial, digest and journal. In the file, one name or a list' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l ttl -d 'TTL of every record, also the negative-caching TTL' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l data -d 'Data directory [default: the data compiled into the binary]' -r -F
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l services -d 'The system\'s services database, services(5) format, or `none` [default: /etc/services when it exists]' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l frequencies -d 'nmap\'s port frequencies (`nmap-services` format), which rank the search and make the top.PROTOCOL answers, or `none` [default: /usr/share/nmap/nmap-services when it exists]' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l ns-name -d 'The zone\'s name server [default: ns.<zone>]' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l ns-address -d 'Address(es) of the name server, served as glue [default: the first --listen address, or 127.0.0.1 when that is a wildcard]' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l soa-refresh -d 'The SOA\'s REFRESH: seconds between a secondary\'s checks of the serial' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l soa-retry -d 'The SOA\'s RETRY: seconds before a secondary tries again after a failed check; at most the refresh' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l soa-expire -d 'The SOA\'s EXPIRE: seconds after which a secondary that cannot reach the primary stops answering; at least refresh plus retry. Also the EDNS EXPIRE answered (RFC 7314)' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l soa-minimum -d 'The SOA\'s MINIMUM: how long negative answers are cached (RFC 2308); the SOA record\'s own TTL is the smaller of it and the TTL [default: the TTL]' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l state-dir -d 'Directory where the served serial is kept across restarts (file `serial`), so that a serial stepped past the data\'s date never goes back [default: none]' -r -F
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l listen -d 'Address and port to serve UDP and TCP on; repeatable' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l config -d 'Configuration file; the default one is read only when it exists' -r -F
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l log-queries -d 'Log one line per query; `--log-queries=false` turns it off again' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l tcp-max-connections -d 'Most TCP connections served at once' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l tcp-idle-timeout -d 'Seconds a TCP connection may stay idle' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l tcp-max-queries -d 'Queries answered on one TCP connection before it is closed; 0: no limit' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l allow -d 'Only these networks may query; repeatable [default: everyone]' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l deny -d 'These networks may not query; repeatable' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l rate-limit -d 'UDP responses per second per client /24 (IPv4) or /56 (IPv6); 0 turns rate limiting off' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l rate-limit-slip -d 'Every Nth rate-limited response is sent truncated (TC) instead of dropped, so real clients retry over TCP; 0 never' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l rate-limit-exempt -d 'Networks never rate limited; repeatable; replaces the default' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l allow-transfer -d 'Networks allowed to transfer the zone (AXFR, IXFR); repeatable [default: nobody]' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l tsig-key -d 'TSIG key file in the form BIND\'s tsig-keygen writes; repeatable. With keys, transfers must be signed, and every signed request is checked [default: none]' -r -F
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l notify -d 'Secondary to send NOTIFY to when the serial changes (at start and on reload), signed with the first TSIG key when keys are configured; repeatable [default: none]' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l catalog -d 'Serve a catalog zone (RFC 9432, version 2) of the zones served under this name, e.g. `catalog.invalid`: Knot and BIND secondaries configured with it alone transfer every zone it lists; transferred and notified like the zones [default: none]' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l max-transfers -d 'Zone transfers served at once; more are refused' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l journal-max-bytes -d 'The most bytes the IXFR differences kept may take, in memory and in the state directory\'s journal; the oldest are dropped first' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l http -d 'Serve HTTP on ADDR:PORT: the JSON API under /v1/, the page at /, Prometheus metrics at /metrics, DNS over HTTPS (in clear) at /dns-query; repeatable [default: off]' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l dnstap -d 'Send every query answered and its response as dnstap (AUTH_QUERY, AUTH_RESPONSE) in Frame Streams to a collector at unix:PATH or tcp:ADDR:PORT; events are dropped and counted, never waited for, when it is slow or away [default: off]' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l metrics -d 'Deprecated: the same as --http ADDR:PORT, which serves /metrics too [default: off]' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l http-allow-origin -d 'The Access-Control-Allow-Origin header of HTTP answers (the data is public); `none` leaves it out' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l http-rate-limit -d 'HTTP requests per second per client /24 (IPv4) or /56 (IPv6), also the burst; more get 429. 0 turns the limit off; the networks of --rate-limit-exempt are exempt' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l http-max-connections -d 'Most HTTP connections served at once; a client arriving past it takes the place of the connection idle longest' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l tls -d 'Address and port to serve DNS over TLS on (RFC 7858; usually port 853); repeatable [default: none]' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l https -d 'Serve HTTPS on ADDR:PORT (usually port 443): everything --http serves, DNS over HTTPS at /dns-query included, over TLS with --tls-cert and --tls-key; repeatable [default: none]' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l tls-cert -d 'PEM certificate chain for DNS over TLS and HTTPS, the server\'s certificate first; reread on reload' -r -F
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l tls-key -d 'PEM private key of the certificate (PKCS#8, PKCS#1 or SEC1); reread on reload' -r -F
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l watch -d 'Reload when the files in the data directory change (needs --data); `--watch=false` turns it off again' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l udp-threads -d 'Threads answering UDP, each with its own socket per address (SO_REUSEPORT), or, under socket activation, the most that share out the passed sockets; 0: one per CPU portsd may run on' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l identity -d 'The answer to CHAOS TXT `id.server` and `hostname.bind`; `none` hides it (REFUSED) [default: the host name]' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l version-string -d 'The answer to CHAOS TXT `version.bind` and `version.server`; `none` hides it (REFUSED) [default: portsd and its version]' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l nsid -d 'The NSID (RFC 5001) sent to clients that ask for it, written as in NSD: hex digits (`6e7331`), or `ascii_` and the text (`ascii_ns1`) [default: off]' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -l cookie-secret -d 'The secret DNS server cookies are made with (RFC 9018): 32 hex digits, and while a rotation is under way `,` and the previous secret. Give every instance of an anycast group the same one; prefer the environment or the config file to the command line, which other users can read [default: random at each start]' -r
complete -c portsd -n "__fish_portsd_using_subcommand serve" -s h -l help -d 'Print help'
complete -c portsd -n "__fish_portsd_using_subcommand lookup" -l data -d 'Data directory [default: the data compiled into the binary]' -r -F
complete -c portsd -n "__fish_portsd_using_subcommand lookup" -l services -d 'The system\'s services database, services(5) format, or `none` [default: /etc/services when it exists]' -r
complete -c portsd -n "__fish_portsd_using_subcommand lookup" -l frequencies -d 'nmap\'s port frequencies (`nmap-services` format), which rank the search and make the top.PROTOCOL answers, or `none` [default: /usr/share/nmap/nmap-services when it exists]' -r
complete -c portsd -n "__fish_portsd_using_subcommand lookup" -l json -d 'Print a JSON array, one object per use (schema in docs/names-and-answers.md)'
complete -c portsd -n "__fish_portsd_using_subcommand lookup" -s h -l help -d 'Print help'
complete -c portsd -n "__fish_portsd_using_subcommand search" -l data -d 'Data directory [default: the data compiled into the binary]' -r -F
complete -c portsd -n "__fish_portsd_using_subcommand search" -l services -d 'The system\'s services database, services(5) format, or `none` [default: /etc/services when it exists]' -r
complete -c portsd -n "__fish_portsd_using_subcommand search" -l frequencies -d 'nmap\'s port frequencies (`nmap-services` format), which rank the search and make the top.PROTOCOL answers, or `none` [default: /usr/share/nmap/nmap-services when it exists]' -r
complete -c portsd -n "__fish_portsd_using_subcommand search" -l json -d 'Print a JSON array, one object per use (schema in docs/names-and-answers.md)'
complete -c portsd -n "__fish_portsd_using_subcommand search" -s h -l help -d 'Print help'
complete -c portsd -n "__fish_portsd_using_subcommand explain" -l data -d 'Data directory [default: the data compiled into the binary]' -r -F
complete -c portsd -n "__fish_portsd_using_subcommand explain" -l services -d 'The system\'s services database, services(5) format, or `none` [default: /etc/services when it exists]' -r
complete -c portsd -n "__fish_portsd_using_subcommand explain" -l frequencies -d 'nmap\'s port frequencies (`nmap-services` format), which rank the search and make the top.PROTOCOL answers, or `none` [default: /usr/share/nmap/nmap-services when it exists]' -r
complete -c portsd -n "__fish_portsd_using_subcommand explain" -l json -d 'Print a JSON array, one object per socket or port found, each with its `uses` as `lookup --json` prints them (schema in docs/names-and-answers.md)'
complete -c portsd -n "__fish_portsd_using_subcommand explain" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c portsd -n "__fish_portsd_using_subcommand export-zone" -l zone -d 'Zone to serve; repeatable (`ports.local,ports.internal`): every zone answers from the one table, each with its own apex, serial, digest and journal. In the file, one name or a list' -r
complete -c portsd -n "__fish_portsd_using_subcommand export-zone" -l ttl -d 'TTL of every record, also the negative-caching TTL' -r
complete -c portsd -n "__fish_portsd_using_subcommand export-zone" -l data -d 'Data directory [default: the data compiled into the binary]' -r -F
complete -c portsd -n "__fish_portsd_using_subcommand export-zone" -l services -d 'The system\'s services database, services(5) format, or `none` [default: /etc/services when it exists]' -r
complete -c portsd -n "__fish_portsd_using_subcommand export-zone" -l frequencies -d 'nmap\'s port frequencies (`nmap-services` format), which rank the search and make the top.PROTOCOL answers, or `none` [default: /usr/share/nmap/nmap-services when it exists]' -r
complete -c portsd -n "__fish_portsd_using_subcommand export-zone" -l ns-name -d 'The zone\'s name server [default: ns.<zone>]' -r
complete -c portsd -n "__fish_portsd_using_subcommand export-zone" -l ns-address -d 'Address(es) of the name server, served as glue [default: the first --listen address, or 127.0.0.1 when that is a wildcard]' -r
complete -c portsd -n "__fish_portsd_using_subcommand export-zone" -l soa-refresh -d 'The SOA\'s REFRESH: seconds between a secondary\'s checks of the serial' -r
complete -c portsd -n "__fish_portsd_using_subcommand export-zone" -l soa-retry -d 'The SOA\'s RETRY: seconds before a secondary tries again after a failed check; at most the refresh' -r
complete -c portsd -n "__fish_portsd_using_subcommand export-zone" -l soa-expire -d 'The SOA\'s EXPIRE: seconds after which a secondary that cannot reach the primary stops answering; at least refresh plus retry. Also the EDNS EXPIRE answered (RFC 7314)' -r
complete -c portsd -n "__fish_portsd_using_subcommand export-zone" -l soa-minimum -d 'The SOA\'s MINIMUM: how long negative answers are cached (RFC 2308); the SOA record\'s own TTL is the smaller of it and the TTL [default: the TTL]' -r
complete -c portsd -n "__fish_portsd_using_subcommand export-zone" -l state-dir -d 'Directory where the served serial is kept across restarts (file `serial`), so that a serial stepped past the data\'s date never goes back [default: none]' -r -F
complete -c portsd -n "__fish_portsd_using_subcommand export-zone" -s h -l help -d 'Print help'
complete -c portsd -n "__fish_portsd_using_subcommand check" -l data -d 'Data directory [default: the data compiled into the binary]' -r -F
complete -c portsd -n "__fish_portsd_using_subcommand check" -l services -d 'The system\'s services database, services(5) format, or `none` [default: /etc/services when it exists]' -r
complete -c portsd -n "__fish_portsd_using_subcommand check" -l frequencies -d 'nmap\'s port frequencies (`nmap-services` format), which rank the search and make the top.PROTOCOL answers, or `none` [default: /usr/share/nmap/nmap-services when it exists]' -r
complete -c portsd -n "__fish_portsd_using_subcommand check" -s h -l help -d 'Print help'
complete -c portsd -n "__fish_portsd_using_subcommand convert-wikipedia" -s h -l help -d 'Print help'
complete -c portsd -n "__fish_portsd_using_subcommand update-data" -l url -d 'Where to download the registry from (HTTPS or HTTP)' -r
complete -c portsd -n "__fish_portsd_using_subcommand update-data" -l timeout -d 'Seconds the whole download may take' -r
complete -c portsd -n "__fish_portsd_using_subcommand update-data" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c portsd -n "__fish_portsd_using_subcommand seed-data" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c portsd -n "__fish_portsd_using_subcommand man" -s h -l help -d 'Print help'
complete -c portsd -n "__fish_portsd_using_subcommand completions" -s h -l help -d 'Print help'
complete -c portsd -n "__fish_portsd_using_subcommand help; and not __fish_seen_subcommand_from serve lookup search explain export-zone check convert-wikipedia update-data seed-data man completions help" -f -a "serve" -d 'Serve the zone over UDP and TCP'
complete -c portsd -n "__fish_portsd_using_subcommand help; and not __fish_seen_subcommand_from serve lookup search explain export-zone check convert-wikipedia update-data seed-data man completions help" -f -a "lookup" -d 'Print what the table says about `443/tcp`, `443`, `https/tcp` or `https`'
complete -c portsd -n "__fish_portsd_using_subcommand help; and not __fish_seen_subcommand_from serve lookup search explain export-zone check convert-wikipedia update-data seed-data man completions help" -f -a "search" -d 'Print the uses matching the words, best first (what WORDS.search.<zone> answers)'
complete -c portsd -n "__fish_portsd_using_subcommand help; and not __fish_seen_subcommand_from serve lookup search explain export-zone check convert-wikipedia update-data seed-data man completions help" -f -a "explain" -d 'Print this host\'s listening sockets (TCP and UDP, as `ss -tulpn` lists them) with the known uses of their ports; with `-`, copy standard input adding the uses of the ports it mentions'
complete -c portsd -n "__fish_portsd_using_subcommand help; and not __fish_seen_subcommand_from serve lookup search explain export-zone check convert-wikipedia update-data seed-data man completions help" -f -a "export-zone" -d 'Print the whole zone as an RFC 1035 master file'
complete -c portsd -n "__fish_portsd_using_subcommand help; and not __fish_seen_subcommand_from serve lookup search explain export-zone check convert-wikipedia update-data seed-data man completions help" -f -a "check" -d 'Load and validate the data; print counts and problems'
complete -c portsd -n "__fish_portsd_using_subcommand help; and not __fish_seen_subcommand_from serve lookup search explain export-zone check convert-wikipedia update-data seed-data man completions help" -f -a "convert-wikipedia" -d 'Convert the Wikipedia port table (markdown) into `ports.tsv` on standard output'
complete -c portsd -n "__fish_portsd_using_subcommand help; and not __fish_seen_subcommand_from serve lookup search explain export-zone check convert-wikipedia update-data seed-data man completions help" -f -a "update-data" -d 'Download IANA\'s registry into DIR, check it with the loader `serve` uses, and replace the file atomically; print the records added, removed and changed'
complete -c portsd -n "__fish_portsd_using_subcommand help; and not __fish_seen_subcommand_from serve lookup search explain export-zone check convert-wikipedia update-data seed-data man completions help" -f -a "seed-data" -d 'Link into DIR each data file it lacks, from the first FROM directory holding it'
complete -c portsd -n "__fish_portsd_using_subcommand help; and not __fish_seen_subcommand_from serve lookup search explain export-zone check convert-wikipedia update-data seed-data man completions help" -f -a "man" -d 'Write the man pages of portsd and of each subcommand into DIR'
complete -c portsd -n "__fish_portsd_using_subcommand help; and not __fish_seen_subcommand_from serve lookup search explain export-zone check convert-wikipedia update-data seed-data man completions help" -f -a "completions" -d 'Print the completion script for SHELL on standard output'
complete -c portsd -n "__fish_portsd_using_subcommand help; and not __fish_seen_subcommand_from serve lookup search explain export-zone check convert-wikipedia update-data seed-data man completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
