#!/usr/bin/env bash
# Debian packages the project needs beyond Python, installed only when missing (sourced by the
# two README commands; nothing is downloaded at run time):
#   fonts-noto-core, fonts-noto-cjk  letters and annexes print Latin, Cyrillic, Arabic (shaped,
#                                    right to left) and CJK markings with Noto, not as empty boxes
#   fonts-noto-mono                  markings quoted as `code` in annex texts
#   libpango-1.0-0, libpangoft2-1.0-0, libharfbuzz-subset0
#                                    WeasyPrint's text layout and font subsetting (present on most
#                                    machines; missing on a bare Debian)
#   chromium, poppler-utils          (tests only) the browser tests; reading PDFs back
# Usage: bash scripts/debian-packages.sh [--tests]
set -euo pipefail

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for package in fonts-noto-core fonts-noto-cjk fonts-noto-mono libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ "${1:-}" = "--tests" ]; then
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
fi
if [ "${#missing[@]}" -gt 0 ]; then
    echo "Installing Debian packages: ${missing[*]}"
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
