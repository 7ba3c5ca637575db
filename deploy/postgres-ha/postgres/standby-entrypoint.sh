#!/bin/sh
# The synchronous standby: cloned from the primary once (pg_basebackup -R writes
# primary_conninfo with application_name=$STANDBY_NAME), then streams from it.
set -eu
PGDATA=/var/lib/postgresql/data
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  chown postgres:postgres "$PGDATA"
  export PGPASSWORD="$REPLICATION_PASSWORD"
  gosu postgres pg_basebackup \
    -d "host=$PRIMARY_HOST port=5432 user=replicator application_name=$STANDBY_NAME" \
    -D "$PGDATA" -R -X stream -c fast
fi
exec gosu postgres postgres -D "$PGDATA" -c hot_standby=on
