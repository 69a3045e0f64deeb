#!/usr/bin/env bash
# Debian packages the tests and pages use: Chromium (the real-browser tests), Fashion-MNIST (a training data set) and
# openssl (the certificate of make run-https, for the camera on a classroom network).
# Installs them when this machine has apt-get and we are root. Otherwise it says what is missing and goes on — except
# in CI (CI set, as .ci/run sets it), where a missing package would turn into skipped tests: there it fails, with why.
set -u
missing() {
  want=()
  [ -x "${CHROMIUM:-/usr/bin/chromium}" ] || want+=(chromium)
  [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || want+=(dataset-fashion-mnist)
  command -v openssl >/dev/null 2>&1 || want+=(openssl)  # make run-https's certificate
}
missing
[ ${#want[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "Installing Debian packages: ${want[*]}"
  if ! { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}" >/dev/null; }; then
    echo "WARNING: apt-get could not install ${want[*]}"
  fi
  missing
  [ ${#want[@]} -eq 0 ] && exit 0
fi
echo "Missing Debian packages: ${want[*]}. Install them (sudo apt-get install ${want[*]}) for the browser tests" \
     "(chromium) and the Fashion-MNIST data set, or set CHROMIUM=/path/to/chromium."
if [ -n "${CI:-}" ]; then
  echo "CI needs them: without them tests would be skipped, so the run stops here." >&2
  exit 1
fi
exit 0
