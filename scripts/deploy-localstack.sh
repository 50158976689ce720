#!/usr/bin/env bash
# Deploys the API-keys variant of the stack (api.auth "apiKeys": no Cognito, which LocalStack Community does not have)
# to a LocalStack on localhost:4566 with cdklocal, makes a first admin key straight in the stack's table, and prints
# the API's LocalStack URL (…/restapis/<id>/<stage>/_user_request_/) and that key.
# Written to LocalStack's documented behaviour and NOT run on the project's machines: they have no LocalStack (and no
# Docker engine to run one). docs/auth.md.
set -euo pipefail
for arg in "$@"; do
  if [ "$arg" = "--help" ] || [ "$arg" = "-h" ]; then
    echo "Usage: npm run deploy:localstack"
    echo
    echo "Deploys the API-keys variant of the stack (api.auth \"apiKeys\": no Cognito) to a LocalStack on http://localhost:4566"
    echo "(LOCALSTACK_ENDPOINT to change) with cdklocal (aws-cdk-local), writes a first admin key to its table, and prints the"
    echo "API's LocalStack URL (.../restapis/<id>/<stage>/_user_request_/) and that key. STACK_NAME picks the stack (AgentStack)."
    echo "Written to LocalStack's documented behaviour; not run on the project's machines (no LocalStack there)."
    echo "  -h, --help   this text"
    exit 0
  fi
done
cd "$(dirname "$0")/.."
ENDPOINT=${LOCALSTACK_ENDPOINT:-http://localhost:4566}
if ! curl -fsS "$ENDPOINT/_localstack/health" >/dev/null 2>&1; then
  echo "LocalStack is not reachable on $ENDPOINT (start it first: https://docs.localstack.cloud)." >&2
  exit 2
fi
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
export AWS_REGION=$AWS_DEFAULT_REGION
STACK=${STACK_NAME:-AgentStack}
mkdir -p cdk.out
# The project's config with api.auth "apiKeys" (every other setting kept).
CONFIG=cdk.out/localstack.config.json
node -e '
  const fs = require("node:fs");
  const src = process.env.AGENT_CONFIG || "agent.config.json";
  const cfg = fs.existsSync(src) ? JSON.parse(fs.readFileSync(src, "utf8")) : {};
  cfg.api = { ...(cfg.api || {}), auth: "apiKeys" };
  for (const k of ["userPoolId", "userPoolClientId", "authDomain", "domainPrefix"]) delete cfg.api[k];
  fs.writeFileSync(process.argv[1], JSON.stringify(cfg, null, 2));
' "$CONFIG"
export AGENT_CONFIG=$CONFIG
npx --yes aws-cdk-local bootstrap
npx --yes aws-cdk-local deploy "$STACK" -c stackName="$STACK" --require-approval never --outputs-file cdk.out/localstack-outputs.json
# The REST API's id is the host part of the ApiUrl output (https://<id>.execute-api.<region>.amazonaws.com/<stage>/).
read -r API_ID STAGE < <(node -e '
  const out = JSON.parse(require("node:fs").readFileSync("cdk.out/localstack-outputs.json", "utf8"))[process.argv[1]];
  const url = new URL(out.ApiUrl);
  console.log(url.hostname.split(".")[0], url.pathname.split("/").filter(Boolean)[0]);
' "$STACK")
URL="$ENDPOINT/restapis/$API_ID/$STAGE/_user_request_/"
# The first admin key, written to the stack's table with the (LocalStack) credentials.
KEY=$(AWS_ENDPOINT_URL=$ENDPOINT npx tsx bin/agent.ts keys create --user localstack-admin --admin --stack "$STACK" --region "$AWS_REGION" --json | node -e 'let s="";process.stdin.on("data",(c)=>s+=c).on("end",()=>console.log(JSON.parse(s).key))')
echo "Deployed $STACK to LocalStack."
echo "API:  $URL"
echo "Key:  $KEY   (an admin key: shown once)"
echo "Try:  curl -s -H \"Authorization: Bearer $KEY\" -H 'content-type: application/json' -d '{\"input\":\"What is 12.5% of 3480?\"}' ${URL}runs"
echo "More keys: npx agent keys create --user <id> --api $URL --token $KEY"
