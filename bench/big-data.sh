#!/usr/bin/env bash
# Builds the big bench database once and keeps its datadir: `big-data.sh <rows> <dir>` leaves a
# cleanly shut down MariaDB datadir in <dir>/data (the lab's schema and generator, <rows>
# nova.instances rows and the tables scaled from them; ~1.9 KB of datadir a row, compressing
# about 3.5:1 with zstd). It runs its own mariadbd on a socket in <dir>, outside the lab, so it
# can be built while the lab is busy. A finished build is marked <dir>/ready and never rebuilt.
set -euo pipefail
rows=${1:?rows}; dir=${2:?dir}
here=$(cd "$(dirname "$0")/../test/lab" && pwd)
[ -e "$dir/ready" ] && { echo "big-data: $dir is ready ($(du -sh "$dir/data" | cut -f1))"; exit 0; }
rm -rf "$dir"; mkdir -p "$dir/data" "$dir/tmp"
cnf=$dir/my.cnf
printf '%s\n' "[client]" "socket=$dir/mysqld.sock" "user=root" \
  "[mariadbd]" "user=$(id -un)" "datadir=$dir/data" "socket=$dir/mysqld.sock" "pid-file=$dir/mysqld.pid" \
  "log-error=$dir/mysqld.err" "tmpdir=$dir/tmp" "skip-networking" "innodb_buffer_pool_size=4G" \
  "innodb_log_file_size=1G" "innodb_flush_log_at_trx_commit=0" "max_allowed_packet=64M" >"$cnf"
mariadb-install-db --defaults-file="$cnf" --auth-root-authentication-method=socket --skip-test-db >"$dir/install.log" 2>&1
setsid /usr/sbin/mariadbd --defaults-file="$cnf" </dev/null >>"$dir/stdout.log" 2>&1 &
for _ in $(seq 1 300); do mariadb-admin --defaults-file="$cnf" ping >/dev/null 2>&1 && break; sleep 0.2; done
m=(mariadb --defaults-file="$cnf")
"${m[@]}" <"$here/schema.sql"
t0=$(date +%s)
bash "$here/load.sql.sh" "$rows" | "${m[@]}" -D keystone
echo "big-data: loaded $rows rows in $(( $(date +%s) - t0 )) s"
# a slow shutdown leaves no work to the lab server that opens this datadir later
"${m[@]}" -e "SET GLOBAL innodb_fast_shutdown=0"
mariadb-admin --defaults-file="$cnf" shutdown
touch "$dir/ready"
echo "big-data: $dir/data is $(du -sh "$dir/data" | cut -f1)"
