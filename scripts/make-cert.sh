#!/usr/bin/env bash
# A self-signed certificate for serving the app over https on a classroom network (make run-https): browsers give a
# page the camera only over https or on localhost. Valid for a year, for localhost and this machine's names and
# addresses. Students' browsers warn once about the self-signed certificate ("Advanced" → "Proceed").
# Usage: scripts/make-cert.sh DIR   (writes DIR/cert.pem and DIR/key.pem; keeps existing ones)
set -euo pipefail
dir="${1:-.certs}"
[ -f "$dir/cert.pem" ] && [ -f "$dir/key.pem" ] && exit 0
command -v openssl >/dev/null || { echo "openssl is needed to make a certificate (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$dir"
names="DNS:localhost,IP:127.0.0.1,DNS:$(hostname)"
for ip in $(hostname -I 2>/dev/null || true); do names="$names,IP:$ip"; done
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=CNN Playground" -addext "subjectAltName=$names" \
  -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
chmod 600 "$dir/key.pem"
echo "certificate for $names in $dir"
