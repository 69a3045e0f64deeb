#!/usr/bin/env bash
# Debian packages the tests and pages use: Chromium (browser tests) and Fashion-MNIST (a training data set).
# Installs them when this machine has apt-get and we are root; otherwise says what is missing.
set -u
want=()
[ -x /usr/bin/chromium ] || want+=(chromium)
[ -d /usr/share/datasets/fashion-mnist ] || want+=(dataset-fashion-mnist)
[ ${#want[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "Installing Debian packages: ${want[*]}"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}" >/dev/null \
    || echo "WARNING: apt-get could not install ${want[*]}"
else
  echo "NOTE: missing Debian packages ${want[*]} and no root apt-get here: install them (sudo apt-get install" \
       "${want[*]}) for the browser tests (Chromium) and the Fashion-MNIST data set; or set CHROMIUM=/path/to/chromium."
fi
exit 0
