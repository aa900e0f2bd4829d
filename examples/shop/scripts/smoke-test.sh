#!/bin/sh
# Smoke test after a deploy: the environment's router answers with the service's JSON.
set -eu
url="${1:?usage: smoke-test.sh URL}"
node -e '
  const url = process.argv[1];
  fetch(url).then(async (res) => {
    const body = await res.text();
    if (!res.ok) throw new Error(`${url} answered ${res.status}: ${body}`);
    const json = JSON.parse(body);
    if (json.service !== "web") throw new Error(`unexpected answer: ${body}`);
    console.log(`smoke test passed: ${url} is ${json.service} ${json.version}`);
  }).catch((err) => { console.error(String(err)); process.exit(1); });
' "$url"
