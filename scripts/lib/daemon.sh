# shellcheck shell=bash
# Start and recognise the local daemons (etcd, the Kubernetes components,
# containerd, socat) by a pid that is really theirs.
#
# `$!` of a background `setsid nohup bin` is, for a moment, a shell that has not
# yet exec'd the binary: a check of that pid's command line then reads "not
# running" and a healthy start is reported as a crash (seen on a loaded machine).
# Here the child writes its own pid and execs the binary in place (same pid),
# and the start returns only once /proc/<pid>/exe *is* the binary, or fails
# with the daemon's last log lines when it died first.
#
#   dbm_daemon_start <pidfile> <logfile> <binary> [args...]
#   dbm_daemon_alive <pidfile> <binary>     0 when the recorded pid runs that binary
#   dbm_daemon_stop  <pidfile> <binary>     TERM, then KILL after 10 s; removes the pidfile
#   dbm_port_free    <port> <variable> <what>   fails naming the variable when the port is taken
# Does not change the caller's shell options.

# The binary a pid runs now ("" when it is gone), without the " (deleted)" of a replaced file.
dbm_pid_exe() {
  local exe
  exe="$(readlink "/proc/$1/exe" 2>/dev/null)" || return 0
  printf '%s' "${exe% (deleted)}"
}

dbm_daemon_alive() {
  local pidfile="$1" want pid
  [[ -s "$pidfile" ]] || return 1
  pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  want="$(readlink -f "$2")"
  [[ "$(dbm_pid_exe "$pid")" == "$want" ]]
}

dbm_daemon_start() {
  local pidfile="$1" logfile="$2" bin="$3"
  shift 3
  local want
  want="$(readlink -f "$bin")"
  [[ -x "$want" ]] || { echo "daemon: $bin is not an executable" >&2; return 1; }
  rm -f "$pidfile"
  # The lock descriptors of the cluster and node scripts (7, 9) stay closed in the daemon.
  # shellcheck disable=SC2016 # $$, $0 and $@ belong to the child shell
  setsid nohup bash -c 'echo $$ >"$0.tmp" && mv -f "$0.tmp" "$0" && exec "$@"' "$pidfile" "$want" "$@" \
    >"$logfile" 2>&1 </dev/null 7<&- 9<&- &
  local launcher=$! deadline=$((SECONDS + 30)) pid=""
  while ((SECONDS < deadline)); do
    [[ -n "$pid" ]] || pid="$(cat "$pidfile" 2>/dev/null || true)"
    if [[ -n "$pid" && "$(dbm_pid_exe "$pid")" == "$want" ]]; then return 0; fi
    # Gone before (or right after) exec: the launcher and the recorded pid both dead.
    if ! kill -0 "$launcher" 2>/dev/null && { [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null; }; then
      break
    fi
    sleep 0.05
  done
  echo "daemon: ${bin##*/} exited at start (log: $logfile); its last lines:" >&2
  tail -n 20 "$logfile" >&2 || true
  return 1
}

dbm_daemon_stop() {
  local pidfile="$1" bin="$2" pid
  if dbm_daemon_alive "$pidfile" "$bin"; then
    pid="$(cat "$pidfile")"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do [[ -n "$(dbm_pid_exe "$pid")" ]] || break; sleep 0.1; done
    if [[ -n "$(dbm_pid_exe "$pid")" ]]; then kill -KILL "$pid" 2>/dev/null || true; sleep 0.2; fi
  fi
  rm -f "$pidfile"
}

# Something accepts connections on 127.0.0.1:<port> (or <host>:<port>).
dbm_port_in_use() { (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null; }

dbm_port_free() {
  local port="$1" var="$2" what="$3" host="${4:-127.0.0.1}"
  if dbm_port_in_use "$port" "$host"; then
    local who=""
    command -v ss >/dev/null && who="$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'users:(("[^"]*"' | head -n1 | cut -d'"' -f2)"
    echo "port $host:$port (the $what) is already taken${who:+ by $who}: stop that program or choose another port with $var=<port>" >&2
    return 1
  fi
}
