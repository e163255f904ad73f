#!/usr/bin/env bash
# The failover loop admins script today, one call at a time (as a PowerShell or `az rest` loop):
# for each domain, read its federation settings (the backup), convert it to managed, read it back.
# Usage: sequential-client.sh GRAPH_URL CA_FILE HEADERS_FILE DOMAINS_FILE
# HEADERS_FILE holds the Authorization header (kept out of the process list); DOMAINS_FILE one domain a line.
set -euo pipefail
graph=$1 ca=$2 headers=$3 list=$4
mkdir -p "${TMPDIR:-/tmp}"
while read -r d; do
  [ -n "$d" ] || continue
  curl -sS --fail --cacert "$ca" -H @"$headers" "$graph/v1.0/domains/$d/federationConfiguration" > /dev/null
  curl -sS --fail --cacert "$ca" -H @"$headers" -X PATCH --data '{"authenticationType":"Managed"}' "$graph/v1.0/domains/$d" > /dev/null
  curl -sS --fail --cacert "$ca" -H @"$headers" "$graph/v1.0/domains/$d" > /dev/null
done < "$list"
