#!/usr/bin/env bash
# DNS over TLS and DNS over HTTPS: portsd next to NSD (DoT) and BIND (DoT and DoH) on this
# machine, one core each, the same exported zone and query file as compare.sh, dnsperf's `dot`
# and `doh` modes on long-lived connections and with a new connection every RECONNECT_EVERY
# queries. Reports queries/s and the server's CPU time per answered query, and portsd's ratios
# to the best peer. See benches/README.md. Everything started here is stopped on exit.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
TOOL=(python3 "$BENCH_DIR/benchtool.py")

# Knobs (environment). Defaults keep a whole run under about three minutes on 2 cores.
ROUNDS=${ROUNDS:-3}                      # rounds per load; the servers take turns in each
DURATION=${DURATION:-5}                  # seconds per dnsperf run
CLIENTS=${CLIENTS:-10}                   # dnsperf -c (connections) on long-lived connections
OUTSTANDING=${OUTSTANDING:-100}          # dnsperf -q (queries in flight, all connections) on them
RECONNECT_EVERY=${RECONNECT_EVERY:-100}  # queries per connection in the reconnecting runs; 0 skips them
RECONNECT_CLIENTS=${RECONNECT_CLIENTS:-100}          # dnsperf -c in the reconnecting runs
RECONNECT_OUTSTANDING=${RECONNECT_OUTSTANDING:-1000} # dnsperf -q in the reconnecting runs
DOH_METHODS=${DOH_METHODS:-GET}          # GET, POST or "GET POST"; empty skips DoH
QUERY_COUNT=${QUERY_COUNT:-100000}
QUERY_SEED=${QUERY_SEED:-4242}
ZONE=${ZONE:-ports.local}
SERVERS=${SERVERS:-"portsd nsd bind"}
BIND_WORKERS=${BIND_WORKERS:-1}          # named -n
PORTSD_ARGS=${PORTSD_ARGS:-}             # extra flags for `portsd serve`
# PORTSD=path runs that binary instead of building this tree (lib.sh).
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}
# shellcheck source=benches/lib.sh
source "$BENCH_DIR/lib.sh"

# Connection limits above what dnsperf opens, so no server turns clients away.
CONNECTION_LIMIT=$((RECONNECT_CLIENTS > CLIENTS ? RECONNECT_CLIENTS * 2 + 100 : CLIENTS * 2 + 100))
declare -A DOT_PORT=() DOH_PORT=()
NOTES=()

# A self-signed P-256 certificate for 127.0.0.1, made for this run in the work directory
# (removed on exit). dnsperf does not verify it.
make_certificate() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
		-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
		-keyout "$WORK_DIR/key.pem" -out "$WORK_DIR/cert.pem" 2>/dev/null
}

# Whether this portsd build serves DoH (`--https` lands with the DoH work).
portsd_has_https() { "$PORTSD" serve --help | grep -q -- '--https'; }

# --- servers ----------------------------------------------------------------------------------

portsd_command() {
	local name=portsd
	local args=(serve --listen "127.0.0.1:${SERVER_PORT[$name]}" --zone "$ZONE"
		--tls "127.0.0.1:${DOT_PORT[$name]}" --tls-cert "$WORK_DIR/cert.pem" --tls-key "$WORK_DIR/key.pem"
		--tcp-max-connections "$CONNECTION_LIMIT")
	[[ -n "${DOH_PORT[$name]:-}" ]] &&
		args+=(--https "127.0.0.1:${DOH_PORT[$name]}" --http-max-connections "$CONNECTION_LIMIT")
	# shellcheck disable=SC2086 # PORTSD_ARGS is a list of flags
	echo "$PORTSD" "${args[@]}" $PORTSD_ARGS
}

# NSD's bench sections (lib.sh) plus a second server clause for the TLS socket: NSD serves TLS
# on the interfaces given with @tls-port.
nsd_command() {
	local dir=$WORK_DIR/nsd
	mkdir -p "$dir"
	{
		nsd_server_sections "${SERVER_PORT[nsd]}" "$dir"
		cat <<-EOF
		server:
		  ip-address: 127.0.0.1@${DOT_PORT[nsd]}
		  tls-port: ${DOT_PORT[nsd]}
		  tls-service-key: "$WORK_DIR/key.pem"
		  tls-service-pem: "$WORK_DIR/cert.pem"
		  tcp-count: $CONNECTION_LIMIT
		zone:
		  name: $ZONE
		  zonefile: "$WORK_DIR/zone.txt"
		EOF
	} >"$dir/nsd.conf"
	nsd-checkconf "$dir/nsd.conf" >&2
	echo nsd -d -c "$dir/nsd.conf"
}

# BIND as a primary with recursion off: plain DNS for the readiness check and the answer
# comparison, DoT on one port and DoH (HTTP/2, /dns-query) on another, one worker thread.
bind_command() {
	local dir=$WORK_DIR/bind
	mkdir -p "$dir"
	local doh=""
	[[ -n "${DOH_PORT[bind]:-}" ]] &&
		doh="listen-on port ${DOH_PORT[bind]} tls bench http bench { 127.0.0.1; };"
	cat >"$dir/named.conf" <<-EOF
	options {
	  directory "$dir";
	  pid-file "$dir/named.pid";
	  session-keyfile "$dir/session.key";
	  listen-on port ${SERVER_PORT[bind]} { 127.0.0.1; };
	  listen-on port ${DOT_PORT[bind]} tls bench { 127.0.0.1; };
	  $doh
	  listen-on-v6 { none; };
	  recursion no;
	  notify no;
	  tcp-clients $CONNECTION_LIMIT;
	  http-listener-clients $CONNECTION_LIMIT;
	};
	tls bench { key-file "$WORK_DIR/key.pem"; cert-file "$WORK_DIR/cert.pem"; };
	http bench { endpoints { "/dns-query"; }; };
	controls { };
	zone "$ZONE" { type primary; file "$WORK_DIR/zone.txt"; };
	EOF
	named-checkconf "$dir/named.conf" >&2
	echo named -g -n "$BIND_WORKERS" -c "$dir/named.conf"
}

# --- measurements -----------------------------------------------------------------------------

RESULTS=$WORK_DIR/results.jsonl
QUERIES=$WORK_DIR/queries.txt

# The loads, one per line: kind, client, then the client's flags but the server and the
# duration ("PORT" stands for the server's port, "URIS" for its file of DoH URIs). dnsperf
# 2.10 opens a client's next connection only once every answer on the last one is in, so the
# reconnecting loads need many more clients to keep a server busy.
loads() {
	local method variant
	local -a variants=("-c $CLIENTS -q $OUTSTANDING")
	((RECONNECT_EVERY > 0)) && variants+=("-c $RECONNECT_CLIENTS -q $RECONNECT_OUTSTANDING -O num-queries-per-conn=$RECONNECT_EVERY")
	for variant in "${variants[@]}"; do
		local suffix=""
		[[ $variant == *num-queries-per-conn* ]] && suffix=-reconnect
		echo "dot$suffix dnsperf -m dot $variant"
		for method in $DOH_METHODS; do
			echo "doh-${method,,}$suffix dnsperf -m doh -O doh-uri=https://127.0.0.1:PORT/dns-query -O doh-method=$method $variant"
		done
		# The same GET load from h2load, which reads every response of a connection; for the
		# reconnecting load, h2load run again and again, each run on new connections.
		[[ " $DOH_METHODS " == *" GET "* ]] || continue
		if [[ -z $suffix ]]; then
			echo "doh-get-h2load h2load -c $CLIENTS -m $((OUTSTANDING / CLIENTS)) -t 1 -i URIS"
		else
			echo "doh-get-h2load-reconnect h2load-repeat --clients $RECONNECT_CLIENTS --per-connection $RECONNECT_EVERY --streams $((RECONNECT_OUTSTANDING / RECONNECT_CLIENTS)) --uris URIS"
		fi
	done
}

# Client $5 against server $1 over port $2 for DURATION seconds; $3 kind, $4 round, the rest
# the client's flags.
measure() {
	local name=$1 port=$2 kind=$3 round=$4 client=$5
	shift 5
	local command=("$client")
	case $client in
	dnsperf) command+=(-s 127.0.0.1 -p "$port" -d "$QUERIES" -l "$DURATION") ;;
	h2load) command+=(-D "$DURATION") ;;
	h2load-repeat) command=("${TOOL[@]}" h2load-repeat --duration "$DURATION") ;;
	esac
	"${TOOL[@]}" measure --server "$name" --kind "$kind" --round "$round" \
		--pid "${SERVER_PID[$name]}" --out "$RESULTS" -- "${CLIENT_PIN[@]}" "${command[@]}" "$@"
}

main() {
	local load
	load=$(cut -d' ' -f1 /proc/loadavg)
	ensure_packages nsd=nsd named=bind9 dnsperf=dnsperf h2load=nghttp2-client openssl=openssl
	mkdir -p "$RESULTS_DIR"
	build_portsd
	make_certificate
	log "zone from portsd export-zone"
	"$PORTSD" export-zone --zone "$ZONE" >"$WORK_DIR/zone.txt"
	"${TOOL[@]}" queries --zone-file "$WORK_DIR/zone.txt" --zone "$ZONE" --out "$QUERIES" \
		--count "$QUERY_COUNT" --seed "$QUERY_SEED" >&2

	local name
	for name in $SERVERS; do
		SERVER_PORT[$name]=$("${TOOL[@]}" free-port)
		DOT_PORT[$name]=$("${TOOL[@]}" free-port)
		case $name in
		bind) [[ -n "$DOH_METHODS" ]] && DOH_PORT[$name]=$("${TOOL[@]}" free-port) ;;
		portsd)
			if [[ -z "$DOH_METHODS" ]]; then :
			elif portsd_has_https; then DOH_PORT[$name]=$("${TOOL[@]}" free-port)
			else
				NOTES+=("portsd's DoH skipped: this build has no --https flag")
				log "${NOTES[-1]}"
			fi
			;;
		esac
		# shellcheck disable=SC2046 # the command line is split on purpose
		case $name in
		portsd) start_server portsd $(portsd_command) ;;
		nsd) start_server nsd $(nsd_command) ;;
		bind) start_server bind $(bind_command) ;;
		*)
			log "unknown server $name (portsd, nsd and bind are known)"
			exit 2
			;;
		esac
	done

	local agree_args=()
	for name in $SERVERS; do agree_args+=(--server "$name=${SERVER_PORT[$name]}"); done
	log "checking that the servers give the same answers (plain DNS)"
	"${TOOL[@]}" agree --queries "$QUERIES" "${agree_args[@]}" --out "$RESULTS" >&2

	for name in "${!DOH_PORT[@]}"; do
		"${TOOL[@]}" doh-uris --queries "$QUERIES" --port "${DOH_PORT[$name]}" --out "$WORK_DIR/doh-uris-$name.txt"
	done

	local kind client flags round port
	while read -r kind client flags; do
		log "$kind: $ROUNDS rounds x ${DURATION}s, $client $flags"
		for round in $(seq "$ROUNDS"); do
			for name in $(rotated "$round"); do
				if [[ $kind == dot* ]]; then port=${DOT_PORT[$name]}; else port=${DOH_PORT[$name]:-}; fi
				[[ -n $port ]] || continue
				local these=${flags//PORT/$port}
				# shellcheck disable=SC2086 # the flags are a list
				measure "$name" "$port" "$kind" "$round" "$client" ${these//URIS/$WORK_DIR/doh-uris-$name.txt}
			done
		done
	done < <(loads)
	stop_servers

	local versions="dnsperf $(dnsperf -h 2>&1 | sed -n 's/^Version //p')"
	has_server nsd && versions+=", NSD $(nsd -v 2>&1 | sed -n 's/^NSD version //p')"
	has_server bind && versions+=", BIND $(named -v | awk '{ print $2 }')"
	versions+=", portsd $PORTSD (tree $(git -C "$REPO_DIR" describe --always --dirty 2>/dev/null || echo '?'))"
	local meta_args note
	mapfile -t meta_args < <(machine_meta "$load")
	for note in "${NOTES[@]}"; do meta_args+=(--meta "note=$note"); done
	"${TOOL[@]}" tls-report --results "$RESULTS" \
		--json-out "$RESULTS_DIR/tls.json" --text-out "$RESULTS_DIR/tls.txt" \
		"${meta_args[@]}" \
		--meta "servers=$SERVERS" \
		--meta "versions=$versions" \
		--meta "zone=$ZONE" \
		--meta "setup=NSD server-count 1 (DoT), BIND named -n $BIND_WORKERS (DoT, DoH), portsd serve with its defaults but --tcp-max-connections (and --http-max-connections with DoH)${PORTSD_ARGS:+ and $PORTSD_ARGS}; each server allows $CONNECTION_LIMIT connections; a P-256 self-signed certificate; servers on CPUs ${SERVER_CPUS:-any}, dnsperf on CPUs ${CLIENT_CPUS:-any}" \
		--meta "load=$ROUNDS rounds x ${DURATION}s per load; long-lived connections: dnsperf -c $CLIENTS -q $OUTSTANDING; reconnecting (-reconnect): -c $RECONNECT_CLIENTS -q $RECONNECT_OUTSTANDING -O num-queries-per-conn=$RECONNECT_EVERY; doh-get-h2load: h2load -c $CLIENTS -m $((OUTSTANDING / CLIENTS)), GET URIs of the same names; doh-get-h2load-reconnect: h2load runs of $RECONNECT_CLIENTS new connections x $RECONNECT_EVERY requests, -m $((RECONNECT_OUTSTANDING / RECONNECT_CLIENTS)), one after another; $QUERY_COUNT names, seed $QUERY_SEED"
	cp "$RESULTS" "$RESULTS_DIR/tls.jsonl"
	log "results: $RESULTS_DIR/tls.txt, tls.json, tls.jsonl"
}

main "$@"
