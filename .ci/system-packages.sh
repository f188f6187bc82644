#!/usr/bin/env bash
# Installs the Debian packages Panel needs when run as root; otherwise prints the apt-get line.
#   run:  WeasyPrint's libraries (PDF agendas)
#   test: those plus Debian's chromium (browser tests), libatomic1 (Playwright's driver),
#         poppler-utils (reading PDFs in tests), faketime (make test-dates),
#         openjdk-17-jre-headless (the Nu HTML Checker, vnu-jar from npm),
#         nginx (tests/ops/test_nginx.py puts it in front of gunicorn, as deploy/ does),
#         dovecot-imapd (tests/meetings/test_calendar_replies.py starts its own IMAP server from
#         it, unprivileged, on 127.0.0.1; Debian also enables its system service, which the tests
#         do not use: `systemctl disable --now dovecot` if it is not wanted)
set -euo pipefail
mode=${1:-run}
pkgs=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-liberation)
if [ "$mode" = test ]; then pkgs+=(chromium libatomic1 poppler-utils faketime openjdk-17-jre-headless nginx dovecot-imapd); fi
if [ "$mode" = ci ]; then pkgs+=(chromium libatomic1 poppler-utils postgresql faketime openjdk-17-jre-headless nginx dovecot-imapd); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
line="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" = 0 ]; then
  echo "Installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  $line -qq
else
  echo "Panel needs these Debian packages. Ask an administrator to run:" >&2
  echo "  sudo $line" >&2
  [ "$mode" = run ] && exit 0 || exit 1
fi
