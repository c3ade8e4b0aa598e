#!/usr/bin/env bash
# The HTTP API and page beside DNS, in one run on this machine: portsd pinned to one core
# (lib.sh), the load generators on the other. h2load (nghttp2-client) drives HTTP/1.1
# keep-alive and HTTP/2 (h2c, prior knowledge); dnsperf drives the same questions over DNS/UDP
# (443.tcp, the search the results page makes, and PORT.tcp for the PAGES ports in turn).
# Port pages are kept once rendered (src/serve/http/page/cache.rs), so the port page is loaded
# twice: one page asked again and again (kept), and the pages of PAGES ports in turn, each
# rendered anew (the cache holds about 80 of them). h2load gives every connection the same
# list of paths, so connections in step would find the pages the others just rendered: the
# rotation runs on one connection with 10 requests pipelined (-m 10), and the kept page is
# also loaded that way, so that the two differ in the rendering alone.
# For each: requests a second, portsd's CPU time per request (from /proc, user + system), and
# the p99 latency (h2load's per-request log; dnsperf's latency histogram is not used: its
# report has no p99, so DNS gets the mean). Writes a Markdown table to stdout and to
# benches/results/http.md. See benches/README.md.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
TOOL=(python3 "$BENCH_DIR/benchtool.py")
REQUESTS=${REQUESTS:-50000}        # h2load -n per HTTP run
CLIENTS=${CLIENTS:-10}             # h2load -c: connections
DURATION=${DURATION:-10}           # seconds of dnsperf
OUTSTANDING=${OUTSTANDING:-100}    # dnsperf -q
PAGES=${PAGES:-2000}               # ports 1-PAGES/tcp in turn for the pages rendered anew
ZONE=${ZONE:-ports.local}
SERVERS=portsd
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}
# shellcheck source=benches/lib.sh
source "$BENCH_DIR/lib.sh"

# CPU seconds (user + system) process $1 has used.
cpu_seconds() {
	awk '{ split($0, a, ") "); split(a[2], f, " "); printf "%.2f\n", (f[12] + f[13]) / 100 }' "/proc/$1/stat"
}

# h2load against path $1 with the extra flags that follow; prints "requests seconds p99_ms".
http_run() {
	local path=$1 log=$WORK_DIR/h2load.log
	shift
	rm -f "$log"
	local out
	out=$("${CLIENT_PIN[@]}" h2load -n "$REQUESTS" -c "$CLIENTS" -t 1 --log-file="$log" "$@" \
		"http://127.0.0.1:$HTTP_PORT$path")
	local ok seconds
	ok=$(sed -n 's/.* \([0-9]*\) succeeded.*/\1/p' <<<"$out")
	seconds=$(sed -n 's/^finished in \([0-9.]*\)s.*/\1/p' <<<"$out")
	# The log: start time, status, microseconds per request.
	local p99
	p99=$(awk '{ print $3 }' "$log" | sort -n | awk '{ v[NR] = $1 } END { i = int(NR * 0.99); if (i < 1) i = 1; printf "%.3f", v[i] / 1000 }')
	echo "$ok $seconds $p99"
}

main() {
	ensure_packages h2load=nghttp2-client dnsperf=dnsperf
	build_portsd
	SERVER_PORT[portsd]=$("${TOOL[@]}" free-port)
	HTTP_PORT=$("${TOOL[@]}" free-port)
	start_server portsd "$PORTSD" serve --listen "127.0.0.1:${SERVER_PORT[portsd]}" --zone "$ZONE" \
		--http "127.0.0.1:$HTTP_PORT" --udp-threads 1
	local pid=${SERVER_PID[portsd]}
	local rows=()
	row() { rows+=("| $1 | $2 | $3 | $4 | $5 |"); }

	# DNS/UDP: the same questions (443.tcp, and the search a results page makes), for
	# DURATION seconds each; each HTTP load is compared with the one it asks the same as.
	local -A dns_cpu
	local kind name before after out queries qps latency
	while IFS='|' read -r kind name; do
		case $kind in
		ports) seq "$PAGES" | awk -v zone="$ZONE" '{ printf "%s.tcp.%s TXT\n", $1, zone }' ;;
		*) printf '%s.%s TXT\n' "$name" "$ZONE" ;;
		esac >"$WORK_DIR/queries"
		before=$(cpu_seconds "$pid")
		out=$("${CLIENT_PIN[@]}" dnsperf -s 127.0.0.1 -p "${SERVER_PORT[portsd]}" -d "$WORK_DIR/queries" \
			-q "$OUTSTANDING" -l "$DURATION" -c 1)
		after=$(cpu_seconds "$pid")
		queries=$(sed -n 's/^ *Queries completed: *\([0-9]*\).*/\1/p' <<<"$out")
		qps=$(sed -n 's/^ *Queries per second: *\([0-9.]*\).*/\1/p' <<<"$out")
		latency=$(sed -n 's/^ *Average Latency (s): *\([0-9.]*\).*/\1/p' <<<"$out")
		dns_cpu[$kind]=$(awk -v c="$after" -v b="$before" -v n="$queries" 'BEGIN { printf "%.2f", (c - b) / n * 1e6 }')
		row "DNS/UDP $name TXT (dnsperf -q $OUTSTANDING)" "${qps%.*}" "${dns_cpu[$kind]}" \
			"mean $(awk -v l="$latency" 'BEGIN { printf "%.3f", l * 1000 }')" "1.00"
	done <<-EOF
		port|443.tcp
		search|remote.desktop.search
		ports|PORT.tcp (ports 1-$PAGES in turn)
	EOF
	seq "$PAGES" | awk -v base="http://127.0.0.1:$HTTP_PORT" '{ printf "%s/port/%s/tcp\n", base, $1 }' \
		>"$WORK_DIR/pages"

	local path flags base ok seconds p99 cpu
	while IFS='|' read -r name path flags base; do
		before=$(cpu_seconds "$pid")
		# shellcheck disable=SC2086 # flags is a list
		read -r ok seconds p99 < <(http_run "$path" $flags)
		after=$(cpu_seconds "$pid")
		cpu=$(awk -v c="$after" -v b="$before" -v n="$ok" 'BEGIN { printf "%.2f", (c - b) / n * 1e6 }')
		row "$name" "$(awk -v n="$ok" -v s="$seconds" 'BEGIN { printf "%d", n / s }')" "$cpu" "$p99" \
			"$(awk -v c="$cpu" -v d="${dns_cpu[$base]}" 'BEGIN { printf "%.2f", c / d }') ($base)"
	done <<-EOF
		HTTP/1.1 keep-alive /v1/ports/443/tcp|/v1/ports/443/tcp|--h1|port
		HTTP/2 h2c /v1/ports/443/tcp|/v1/ports/443/tcp|-m 10|port
		HTTP/1.1 keep-alive /v1/search?q=minecraft|/v1/search?q=minecraft|--h1|port
		HTTP/1.1 keep-alive port page /port/443/tcp, kept|/port/443/tcp|--h1|port
		HTTP/1.1 port page /port/443/tcp, kept, -c 1 -m 10|/port/443/tcp|--h1 -c 1 -m 10|port
		HTTP/1.1 port pages /port/PORT/tcp rendered anew, -c 1 -m 10|/port/1/tcp|--h1 -c 1 -m 10 -i $WORK_DIR/pages|ports
		HTTP/1.1 keep-alive results page /?q=remote+desktop|/?q=remote+desktop|--h1|search
	EOF

	mkdir -p "$RESULTS_DIR"
	local file
	file=$RESULTS_DIR/http.md
	{
		echo "# HTTP beside DNS, $(date -u '+%Y-%m-%d %H:%M') UTC"
		echo
		echo "portsd $("$PORTSD" --version | awk '{ print $2 }') on CPU ${SERVER_CPUS:-any}, load generators on ${CLIENT_CPUS:-any};"
		echo "$(h2load --version | head -n 1), $CLIENTS connections, $REQUESTS requests a run; dnsperf ${DURATION}s at -q $OUTSTANDING."
		echo "CPU per request: portsd's user + system time over the run divided by the requests answered."
		echo
		echo "Each HTTP load's CPU is compared with the DNS/UDP question asking the same (port, search, or"
		echo "the ports 1-$PAGES/tcp in turn). \`-c 1 -m 10\`: one connection, 10 requests pipelined."
		echo
		echo "| load | requests/s | CPU µs/request | p99 ms | CPU vs DNS/UDP |"
		echo "|---|---:|---:|---:|---:|"
		printf '%s\n' "${rows[@]}"
	} | tee "$file"
	log "written to $file"
}

main "$@"
