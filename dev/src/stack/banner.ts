/** The text a newcomer sees once everything answers: a token and commands that work as printed. */
export function renderBanner(input: {
  edgeUrl: string;
  token: string;
  owner: string;
  adminToken: string;
  originUrl: string;
  connectUrl: string;
  nginxUrl: string | undefined;
  nginxNote: string;
  auditLog: string;
}): string {
  const { edgeUrl, token } = input;
  const provisionBody = JSON.stringify({
    service: "chittyid",
    credentialPath: "services/chittyid/service_token",
    purpose: "trying ChittyConnect",
  });
  const lines = [
    "",
    "━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━",
    " ChittyConnect is up (local stack). Ctrl-C stops everything.",
    "",
    `   edge (wrangler dev)   ${edgeUrl}`,
    `   nginx                 ${input.nginxUrl ?? "not used"} ${input.nginxNote}`,
    `   origin                ${input.originUrl}`,
    `   dev 1Password Connect ${input.connectUrl}`,
    `   audit log             ${input.auditLog}`,
    "",
    ` Token for owner ${input.owner} (credentials:provision, credentials:rotate, usage:read,`,
    "   sessions:read, sessions:write, documents:read, documents:write; bound to the service chittyid;",
    "   valid 30 days):",
    `   ${token}`,
    "",
    " Provision a credential through the edge:",
    `   curl -s ${edgeUrl}/api/v1/credentials/provision \\`,
    `     -H 'Authorization: Bearer ${token}' -H 'Content-Type: application/json' \\`,
    `     -d '${provisionBody}'`,
    "",
    " Or with the command-line client (in this folder): the value goes into one process's environment",
    "   only, sealed on the way, masked in its output:",
    `   export CHITTYCONNECT_URL=${edgeUrl} CHITTYCONNECT_TOKEN=${token}`,
    "   echo 'X=chittyconnect://services/chittyid/service_token?service=chittyid' > refs.env",
    "   npx chittyconnect run --env-file refs.env -- node -e 'console.log(process.env.X.length)'",
    "",
    " See the attempt in the audit log:",
    `   curl -s '${edgeUrl}/api/v1/credentials/audit?limit=5' -H 'Authorization: Bearer ${token}'`,
    "",
    " Health of every hop:",
    `   curl -s ${edgeUrl}/api/v1/status`,
    "",
    " Mint more tokens with the admin token:",
    `   curl -s ${edgeUrl}/api/v1/admin/tokens -H 'Authorization: Bearer ${input.adminToken}' \\`,
    `     -H 'Content-Type: application/json' -d '{"owner":"${input.owner}","scopes":["credentials:provision"],"services":["chittyid"]}'`,
    "",
    " For the README's examples (they use $EDGE, $TOKEN and $ADMIN_TOKEN), paste into your shell:",
    `   export EDGE=${edgeUrl}`,
    `   export TOKEN=${token}`,
    `   export ADMIN_TOKEN=${input.adminToken}`,
    "━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━",
    "",
  ];
  return lines.join("\n");
}
