#!/usr/bin/env bash
# Renders a weaksup report.html in a real browser (headless Chromium) and checks it:
#   scripts/report_check.sh runs/demo/report.html [screenshot.png]
# - installs Debian's `chromium` when it is missing and apt-get can (skips with a message where
#   neither a browser nor apt-get is available: exit 0, "SKIPPED");
# - fails on any console message of level warning or error (the page has no script: a console
#   message means a broken element or a blocked resource) and on any external resource request;
# - saves a full-page screenshot and fails unless it shows a laid-out page (its PNG is at least
#   1200 px tall and not a blank image).
set -euo pipefail
html=${1:?usage: scripts/report_check.sh REPORT.html [SCREENSHOT.png]}
shot=${2:-${html%.html}.png}
[ -f "$html" ] || { echo "report_check: no file $html" >&2; exit 1; }
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "report_check: installing chromium (Debian package)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; } || true
        browser=$(command -v chromium || true)
    fi
fi
if [ -z "$browser" ]; then
    echo "report_check: SKIPPED (no chromium, and it cannot be installed here)"
    exit 0
fi
url="file://$(cd "$(dirname "$html")" && pwd)/$(basename "$html")"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# The page height: as tall as the content (the page is a single column; 12000 px is ample).
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --enable-logging=stderr --v=0 \
    --window-size=1400,12000 --screenshot="$shot" "$url" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
if grep -E 'CONSOLE|Failed to load resource|net::ERR_' "$log" | grep -v 'dbus' >&2; then
    echo "report_check: FAILED: the browser reported the messages above" >&2
    exit 1
fi
if grep -Eo '(src|href)="(https?:)?//[^"]*"' "$html" >&2; then
    echo "report_check: FAILED: external resources (above); the report must be self-contained" >&2
    exit 1
fi
python3 - "$shot" <<'PY'
import struct, sys, zlib
path = sys.argv[1]
data = open(path, "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", data[16:24])
# Decompress the image data and count rows that are not a single colour (laid-out content).
idat = b"".join(data[i + 8:i + 8 + struct.unpack(">I", data[i:i + 4])[0]]
                for i in range(8, len(data)) if data[i + 4:i + 8] == b"IDAT")
raw = zlib.decompress(idat)
bpp = 4 if data[25] == 6 else 3
stride = w * bpp + 1
rows = [raw[r * stride + 1:(r + 1) * stride] for r in range(h)]
# Filtered bytes: a uniform row filtered with "Sub"/"Up" is all zeros after its first pixel.
busy = sum(1 for row in rows if len(set(row[bpp:])) > 1)
print(f"report_check: screenshot {path}: {w}x{h} px, {busy} rows with content")
if h < 1200 or busy < 600:
    sys.exit("report_check: FAILED: the screenshot looks blank")
PY
echo "report_check: OK ($html)"
