#!/usr/bin/env bash
# The lab's "systemctl start|stop mariadb" for one host folder: runs inside the host's
# namespace (started there by lab.sh, or over SSH by osbackup's restore).
# Usage: db.sh start|stop|status <host dir> [mariadbd options, e.g. --wsrep-new-cluster]
set -uo pipefail
cmd=${1:?start|stop|status}; dir=${2:?host dir}; shift 2
cnf=$dir/my.cnf
ping() { mariadb-admin --defaults-file="$cnf" --connect-timeout=2 ping >/dev/null 2>&1; }
pid() { [ -s "$dir/mysqld.pid" ] && cat "$dir/mysqld.pid"; }
case $cmd in
  start)
    if ping; then exit 0; fi
    setsid /usr/sbin/mariadbd --defaults-file="$cnf" "$@" </dev/null >>"$dir/stdout.log" 2>&1 &
    bg=$!
    for _ in $(seq 1 ${DB_START_TRIES:-300}); do
      ping && exit 0
      if ! kill -0 "$bg" 2>/dev/null; then echo "mariadbd in $dir exited; last log lines:" >&2; tail -n 15 "$dir/mysqld.err" >&2; exit 1; fi
      sleep 0.2
    done
    echo "mariadbd in $dir did not answer within 60 s" >&2; tail -n 15 "$dir/mysqld.err" >&2; exit 1 ;;
  stop)
    p=$(pid) || exit 0
    kill -0 "$p" 2>/dev/null || { rm -f "$dir/mysqld.pid"; exit 0; }
    kill -TERM "$p"
    for _ in $(seq 1 600); do kill -0 "$p" 2>/dev/null || exit 0; sleep 0.1; done
    echo "mariadbd $p did not stop within 60 s" >&2; exit 1 ;;
  status) ping ;;
  *) echo "usage: db.sh start|stop|status <host dir>" >&2; exit 2 ;;
esac
